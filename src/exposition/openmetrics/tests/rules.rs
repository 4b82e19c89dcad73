//! Family rules: types and their samples, histogram points, clashes, metrics, timestamps.

use super::*;

#[test]
fn metric_types() {
    for (kind, body) in [
        ("counter", "a_total 1\n"),
        ("gauge", "a 1\n"),
        ("histogram", "a_bucket{le=\"+Inf\"} 1\n"),
        ("gaugehistogram", "a_bucket{le=\"+Inf\"} 1\n"),
        ("summary", "a_count 1\na_sum 1\n"),
        ("info", "a_info 1\n"),
        ("stateset", "a{a=\"x\"} 1\n"),
        ("unknown", "a 1\n"),
    ] {
        let input = format!("# TYPE a {kind}\n{body}");
        let got = parse_all(&format!("{input}# EOF\n"));
        assert!(got.is_ok(), "{input}: {got:?}");
    }
    const TYPES: &str = "TYPE must be counter, gauge, histogram, gaugehistogram, summary, info, \
                         stateset or unknown";
    check("# TYPE a untyped\n", invalid(1, TYPES));
    check("# TYPE a Counter\n", invalid(1, TYPES));
    check("# TYPE a gauge \n", invalid(1, TYPES));
    check("# TYPE a\n", expected(1, "' ' after the metric name"));
}

#[test]
fn units_are_a_suffix_and_not_on_info_or_stateset() {
    const SUFFIX: &str = "the family name must end in '_' and its unit";
    const NO_UNIT: &str = "info and stateset families must not have a unit";
    check("# UNIT a_s s\n", ok(&["UNIT a_s s"]));
    check("# UNIT a seconds\n", invalid(1, SUFFIX));
    check("# UNIT seconds seconds\n", invalid(1, SUFFIX));
    check("# UNIT _seconds seconds\n", ok(&["UNIT _seconds seconds"]));
    check("# UNIT a_seconds seconds \n", invalid(1, "a unit may only hold [a-zA-Z0-9_:]"));
    check("# TYPE x_u info\n# UNIT x_u u\n", invalid(2, NO_UNIT));
    check("# UNIT x_u u\n# TYPE x_u stateset\n", invalid(2, NO_UNIT));
    check("# TYPE x_u info\n# UNIT x_u \n", ok(&["TYPE x_u info", "UNIT x_u "]));
}

#[test]
fn metadata_comes_once_and_before_the_samples() {
    check("# HELP a x\n# HELP a x\n", invalid(2, "second HELP line for the family"));
    check("# TYPE a gauge\n# TYPE a gauge\n", invalid(2, "second TYPE line for the family"));
    check("# UNIT a_s s\n# UNIT a_s s\n", invalid(2, "second UNIT line for the family"));
    check("# HELP a \n# HELP a \n", invalid(2, "second HELP line for the family"));
    check("# TYPE a gauge\na 1\n# HELP a x\n", invalid(3, "metadata after the family's samples"));
    check("a 1\n# TYPE a gauge\n", invalid(2, "metadata after the family's samples"));
    check(
        "# HELP a x\n# TYPE a counter\na_total 1\n# TYPE b gauge\nb 2\n",
        ok(&[r#"HELP a "x""#, "TYPE a counter", "a_total 1", "TYPE b gauge", "b 2"]),
    );
}

#[test]
fn exemplars_on_counters_and_buckets() {
    check(
        "# TYPE a counter\na_total 0 123 # {a=\"b\"} 0.5\na_created 1 123\n",
        ok(&["TYPE a counter", r#"a_total 0 @123000 # {a="b"} 0.5"#, "a_created 1 @123000"]),
    );
    check(
        "# TYPE a counter\na_total{} 1 # {} 0.5 1.5\n",
        ok(&["TYPE a counter", "a_total 1 #  0.5 @1500"]),
    );
    check(
        "# TYPE a histogram\na_bucket{le=\"1\"} 0 # {id=\"x # y\"} 0.5\n\
         a_bucket{le=\"+Inf\"} 1 # {id=\"z\"} 4 123\n",
        ok(&[
            "TYPE a histogram",
            r#"a_bucket{le="1"} 0 # {id="x # y"} 0.5"#,
            r#"a_bucket{le="+Inf"} 1 # {id="z"} 4 @123000"#,
        ]),
    );
    check(
        "# TYPE a gaugehistogram\na_bucket{le=\"+Inf\"} 3 123 # {a=\"d\"} 4 123\n",
        ok(&["TYPE a gaugehistogram", r#"a_bucket{le="+Inf"} 3 @123000 # {a="d"} 4 @123000"#]),
    );
}

#[test]
fn exemplars_elsewhere_are_refused() {
    check("# TYPE a gauge\na 1 # {a=\"b\"} 1\n", invalid(2, EXEMPLAR_PLACE));
    check("a 1 # {a=\"b\"} 1\n", invalid(1, EXEMPLAR_PLACE));
    check("# TYPE a counter\na_created 1 # {a=\"b\"} 1\n", invalid(2, EXEMPLAR_PLACE));
    check("# TYPE a info\na_info 1 # {a=\"b\"} 1\n", invalid(2, EXEMPLAR_PLACE));
    check("# TYPE a stateset\na{a=\"b\"} 1 # {c=\"d\"} 1\n", invalid(2, EXEMPLAR_PLACE));
    check("# TYPE a histogram\na_sum 1 # {a=\"b\"} 0.5\n", invalid(2, EXEMPLAR_PLACE));
    check("# TYPE a summary\na_count 1 # {a=\"b\"} 0.5\n", invalid(2, EXEMPLAR_PLACE));
    check("# TYPE a_bucket gauge\na_bucket 1 # {a=\"b\"} 0.5\n", invalid(2, EXEMPLAR_PLACE));
}

#[test]
fn counters() {
    check(
        "# TYPE a counter\na_total 1\na_created 1.7e9\n",
        ok(&["TYPE a counter", "a_total 1", "a_created 1.7e+09"]),
    );
    check(
        "# TYPE a counter\na_total NaN\n",
        invalid(2, "counter _total must not be NaN or negative"),
    );
    check(
        "# TYPE a counter\na_total -1\n",
        invalid(2, "counter _total must not be NaN or negative"),
    );
    check("# TYPE a counter\na_total +Inf\n", ok(&["TYPE a counter", "a_total +Inf"]));
    check(
        "# TYPE a counter\na 1\n",
        invalid(2, "sample name lacks the suffix its family's type requires"),
    );
    check(
        "# TYPE a counter\na_total 1\na 1\n",
        invalid(3, "sample name lacks the suffix its family's type requires"),
    );
    // A name the counter does not own opens an unknown family of its own.
    check(
        "# TYPE a counter\na_total 1\na_bucket 1\n",
        ok(&["TYPE a counter", "a_total 1", "a_bucket 1"]),
    );
}

#[test]
fn gauges_and_unknown_families() {
    check(
        "# TYPE a gauge\na -1.5\na{x=\"y\"} NaN\n",
        ok(&["TYPE a gauge", "a -1.5", r#"a{x="y"} NaN"#]),
    );
    check("a_total 1\na_created 2\n", ok(&["a_total 1", "a_created 2"]));
    check("# TYPE a unknown\na 1\n", ok(&["TYPE a unknown", "a 1"]));
    check("# TYPE a gauge\na_total 1\n", ok(&["TYPE a gauge", "a_total 1"]));
}

#[test]
fn statesets_and_infos() {
    check(
        "# TYPE a stateset\na{a=\"x\"} 0\na{a=\"y\"} 1.0\n",
        ok(&["TYPE a stateset", r#"a{a="x"} 0"#, r#"a{a="y"} 1"#]),
    );
    check("# TYPE a stateset\na{a=\"x\"} 2\n", invalid(2, "stateset value must be 0 or 1"));
    check("# TYPE a stateset\na{a=\"x\"} NaN\n", invalid(2, "stateset value must be 0 or 1"));
    check("# TYPE a stateset\na 0\n", expected(2, "a label named after the stateset family"));
    check(
        "# TYPE a stateset\na{b=\"x\"} 0\n",
        expected(2, "a label named after the stateset family"),
    );
    check(
        "# TYPE a info\na_info{v=\"1\"} 1\na_info{v=\"2\"} 1.0\n",
        ok(&["TYPE a info", r#"a_info{v="1"} 1"#, r#"a_info{v="2"} 1"#]),
    );
    check("# TYPE a info\na_info 2\n", invalid(2, "info value must be 1"));
    check(
        "# TYPE a info\na 1\n",
        invalid(2, "sample name lacks the suffix its family's type requires"),
    );
}

#[test]
fn summaries() {
    check(
        "# TYPE a summary\na{quantile=\"0.5\"} 0.7\na{quantile=\"1\"} NaN\na_count 3\na_sum 2.5\na_created 1\n",
        ok(&[
            "TYPE a summary",
            r#"a{quantile="0.5"} 0.7"#,
            r#"a{quantile="1"} NaN"#,
            "a_count 3",
            "a_sum 2.5",
            "a_created 1",
        ]),
    );
    const QUANTILE: &str = "quantile must be a number from 0 to 1";
    check("# TYPE a summary\na 0\n", expected(2, "a quantile label on a summary quantile sample"));
    for q in ["-1", "1.01", "foo", "NaN", "+Inf", "1e400", ""] {
        let got = parse_all(&format!("# TYPE a summary\na{{quantile=\"{q}\"}} 0\n# EOF\n"));
        assert_eq!(got, Err(ParseError { line: 2, kind: ErrorKind::Invalid(QUANTILE) }), "{q}");
    }
    check(
        "# TYPE a summary\na{quantile=\"0.5\"} -1\n",
        invalid(2, "quantile value must not be negative"),
    );
    check("# TYPE a summary\na_sum -1\n", invalid(2, "_sum must not be NaN or negative"));
    check("# TYPE a summary\na_sum NaN\n", invalid(2, "_sum must not be NaN or negative"));
    check(
        "# TYPE a summary\na_count 1.5\n",
        invalid(2, "_count/_gcount must be a non-negative integer"),
    );
    check(
        "# TYPE a summary\na_count NaN\n",
        invalid(2, "_count/_gcount must be a non-negative integer"),
    );
    check(
        "# TYPE a summary\na_count{quantile=\"0.5\"} 1\n",
        invalid(2, "only quantile samples of a summary may have a quantile label"),
    );
}

#[test]
fn histogram_points() {
    check(
        "# TYPE a histogram\na_bucket{le=\"-1.0\"} 0\na_bucket{le=\"1e-04\"} 1\na_bucket{le=\"+Inf\"} 3\n",
        ok(&[
            "TYPE a histogram",
            r#"a_bucket{le="-1.0"} 0"#,
            r#"a_bucket{le="1e-04"} 1"#,
            r#"a_bucket{le="+Inf"} 3"#,
        ]),
    );
    let h = |body: &str| format!("# TYPE a histogram\n{body}");
    check(
        &h("a_bucket{le=\"1\"} 0\na_bucket{le=\"+Inf\"} 3\na_count 3\na_sum 2\na_created 1\n"),
        ok(&[
            "TYPE a histogram",
            r#"a_bucket{le="1"} 0"#,
            r#"a_bucket{le="+Inf"} 3"#,
            "a_count 3",
            "a_sum 2",
            "a_created 1",
        ]),
    );
    check(&h("a_sum 1\n"), invalid(2, "histogram point has no le=\"+Inf\" bucket"));
    check(&h("a_bucket{le=\"1\"} 0\n"), invalid(2, "histogram point has no le=\"+Inf\" bucket"));
    check(&h("a_bucket{le=\"+Inf\"} 0\na_sum 0\n"), invalid(3, "histogram _sum needs a _count"));
    check(
        &h("a_bucket{le=\"+Inf\"} 0\na_count 0\n"),
        invalid(3, "histogram _count/_gcount needs a _sum/_gsum"),
    );
    check(
        &h("a_count 1\na_bucket{le=\"+Inf\"} 0\na_sum 0\n"),
        invalid(4, "histogram _count/_gcount must equal the +Inf bucket"),
    );
    check(
        &h("a_bucket{le=\"2\"} 0\na_bucket{le=\"1\"} 0\n"),
        invalid(3, "bucket le thresholds must increase, without repeats"),
    );
    check(
        &h("a_bucket{le=\"1\"} 0\na_bucket{le=\"1.0\"} 0\n"),
        invalid(3, "bucket le thresholds must increase, without repeats"),
    );
    check(
        &h("a_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n"),
        invalid(3, "bucket counts must not decrease: buckets are cumulative"),
    );
    check(
        &h("a_bucket{le=\"-1\"} 0\na_bucket{le=\"+Inf\"} 0\na_count 0\na_sum 0\n"),
        invalid(5, "histogram with negative le thresholds must not have a _sum"),
    );
    check(&h("a_bucket 0\n"), expected(2, "an le label on a _bucket sample"));
    const LE: &str = "le must be a number or +Inf (not NaN, other spellings of infinity refused)";
    for le in ["+INF", "Inf", "inf", "NaN", "x", ""] {
        let got = parse_all(&format!("# TYPE a histogram\na_bucket{{le=\"{le}\"}} 0\n# EOF\n"));
        assert_eq!(got, Err(ParseError { line: 2, kind: ErrorKind::Invalid(LE) }), "{le}");
    }
    const COUNT: &str = "bucket count must be a non-negative integer";
    check(&h("a_bucket{le=\"+Inf\"} 1.5\n"), invalid(2, COUNT));
    check(&h("a_bucket{le=\"+Inf\"} -1\n"), invalid(2, COUNT));
    check(&h("a_bucket{le=\"+Inf\"} NaN\n"), invalid(2, COUNT));
    check(&h("a_bucket{le=\"+Inf\"} +Inf\n"), invalid(2, COUNT));
    check(
        &h("a_bucket{le=\"+Inf\"} 1\na_count{le=\"+Inf\"} 1\n"),
        invalid(3, "only _bucket samples of a histogram may have an le label"),
    );
}

#[test]
fn histogram_points_per_metric_and_timestamp() {
    check(
        "# TYPE a histogram\n\
         a_bucket{x=\"1\",le=\"+Inf\"} 1 1\na_count{x=\"1\"} 1 1\na_sum{x=\"1\"} 1 1\n\
         a_bucket{x=\"1\",le=\"+Inf\"} 2 2\na_count{x=\"1\"} 2 2\na_sum{x=\"1\"} 2 2\n\
         a_bucket{le=\"+Inf\",x=\"2\"} 0 1\n",
        ok(&[
            "TYPE a histogram",
            r#"a_bucket{x="1",le="+Inf"} 1 @1000"#,
            r#"a_count{x="1"} 1 @1000"#,
            r#"a_sum{x="1"} 1 @1000"#,
            r#"a_bucket{x="1",le="+Inf"} 2 @2000"#,
            r#"a_count{x="1"} 2 @2000"#,
            r#"a_sum{x="1"} 2 @2000"#,
            r#"a_bucket{le="+Inf",x="2"} 0 @1000"#,
        ]),
    );
    check(
        "# TYPE a histogram\na_bucket{x=\"1\",le=\"+Inf\"} 1\na_bucket{x=\"2\",le=\"1\"} 1\n",
        invalid(3, "histogram point has no le=\"+Inf\" bucket"),
    );
}

#[test]
fn gaugehistograms() {
    let g = |body: &str| format!("# TYPE a gaugehistogram\n{body}");
    check(
        &g("a_bucket{le=\"-1.0\"} 1\na_bucket{le=\"+Inf\"} 3\na_gcount 3\na_gsum -5\n"),
        ok(&[
            "TYPE a gaugehistogram",
            r#"a_bucket{le="-1.0"} 1"#,
            r#"a_bucket{le="+Inf"} 3"#,
            "a_gcount 3",
            "a_gsum -5",
        ]),
    );
    check(
        &g("a_bucket{le=\"+Inf\"} 0\na_gsum 0\n"),
        invalid(3, "gaugehistogram _gsum needs a _gcount"),
    );
    check(
        &g("a_bucket{le=\"+Inf\"} 1\na_gcount 1\na_gsum -1\n"),
        invalid(4, "gaugehistogram _gsum may be negative only with negative le thresholds"),
    );
    check(&g("a_bucket{le=\"+Inf\"} 1\na_gsum NaN\n"), invalid(3, "_gsum must not be NaN"));
    check(&g("a_gcount -1\n"), invalid(2, "_count/_gcount must be a non-negative integer"));
    // `a_count` is no gaugehistogram sample: it opens an unknown family.
    check(&g("a_count 1\n"), ok(&["TYPE a gaugehistogram", "a_count 1"]));
}

#[test]
fn family_names_never_clash() {
    check("# TYPE a counter\n# TYPE a counter\n", invalid(2, "second TYPE line for the family"));
    // A family without samples claims its names when it ends (here at `# EOF`).
    check("# TYPE a_created gauge\n# TYPE a counter\n", invalid(3, CLASH));
    check("# TYPE a histogram\n# TYPE a_bucket gauge\n", invalid(3, CLASH));
    check("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n", invalid(6, CLASH));
    check("a 1\nb 1\na 1\n", invalid(3, CLASH));
    check("# TYPE a counter\na_total 1\n# TYPE a_total gauge\na_total 1\n", invalid(4, CLASH));
    // `a_sum` after the summary `a` ended is a family of its own, and a clash.
    check("# TYPE a summary\nquantile{quantile=\"0\"} 0\na_sum 0\n", invalid(3, CLASH));
    check("# TYPE a counter\na_total 1\n# TYPE b gauge\nb 1\na_total 2\n", invalid(5, CLASH));
}

#[test]
fn metrics_are_contiguous_within_a_family() {
    const INTERLEAVED: &str = "metric interleaved: its label set appeared earlier in the family";
    check("# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n", invalid(4, INTERLEAVED));
    check(
        "# TYPE a summary\na_sum{x=\"1\"} 0\na_sum{x=\"2\"} 0\na_count{x=\"1\"} 0\n",
        invalid(4, INTERLEAVED),
    );
    check(
        "# TYPE a gauge\na{x=\"1\",y=\"2\"} 1\na{x=\"2\"} 1\na{y=\"2\",x=\"1\"} 1\n",
        invalid(4, INTERLEAVED),
    );
    // `\z` is kept as written, so it equals `\\z` once unescaped.
    check(
        "# TYPE a gauge\na{x=\"\\z\"} 1\na{x=\"2\"} 1\na{x=\"\\\\z\"} 1\n",
        invalid(4, INTERLEAVED),
    );
    check(
        "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"3\"} 1\n",
        ok(&["TYPE a gauge", r#"a{x="1"} 1"#, r#"a{x="2"} 1"#, r#"a{x="3"} 1"#]),
    );
}

#[test]
fn timestamps_within_a_metric() {
    check(
        "# TYPE a gauge\na 1 0\na 2 0\na 3 0.0000000001\n",
        ok(&["TYPE a gauge", "a 1 @0", "a 2 @0", "a 3 @0"]),
    );
    check("# TYPE a gauge\na 0 1\na 0 -1\n", invalid(3, BACKWARDS));
    check("# TYPE a gauge\na 0 -1\na 0 -1.1\n", invalid(3, BACKWARDS));
    check("# TYPE a gauge\na 0 1.0001\na 0 1.0\n", invalid(3, BACKWARDS));
    check("# TYPE a gauge\na 0\na 0 0\n", invalid(3, MIXED));
    check("# TYPE a gauge\na 0 0\na 0\n", invalid(3, MIXED));
    check(
        "# TYPE a gauge\na{x=\"1\",y=\"2\"} 0 2\na{y=\"2\",x=\"1\"} 0 1\n",
        invalid(3, BACKWARDS),
    );
    check(
        "# TYPE a gauge\na{x=\"1\"} 0 2\na{x=\"2\"} 0 1\n",
        ok(&["TYPE a gauge", r#"a{x="1"} 0 @2000"#, r#"a{x="2"} 0 @1000"#]),
    );
    check(
        "# TYPE a info\na_info{v=\"1\"} 1 1\na_info{v=\"2\"} 1 0\n",
        ok(&["TYPE a info", r#"a_info{v="1"} 1 @1000"#, r#"a_info{v="2"} 1 @0"#]),
    );
    check("# TYPE a info\na_info{v=\"1\"} 1 1\na_info{v=\"2\"} 1\n", invalid(3, MIXED));
    check("# TYPE a stateset\na{a=\"x\"} 1 5\na{a=\"y\"} 0 4\n", invalid(3, BACKWARDS));
}
