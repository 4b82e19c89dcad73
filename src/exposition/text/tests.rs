use super::*;
use crate::exposition::{format_value, Entry, ErrorKind};

/// Renders entries compactly: `HELP name text`, `TYPE name kind`, and
/// `name{a="b"} value [ts]` with labels as read back through `Sample::labels`.
fn render(body: &str) -> Result<Vec<String>, ParseError> {
    TextParser::new(body.as_bytes())
        .map(|e| {
            e.map(|e| match e {
                Entry::Help { name, help } => format!("HELP {name} {help:?}"),
                Entry::Type { name, kind } => format!("TYPE {name} {}", kind.as_str()),
                Entry::Unit { name, unit } => format!("UNIT {name} {unit}"),
                Entry::Sample(s) => {
                    let labels: Vec<String> =
                        s.labels().map(|l| format!("{}={:?}", l.name, l.value)).collect();
                    let ts = s.timestamp_ms.map(|t| format!(" @{t}")).unwrap_or_default();
                    format!("{}{{{}}} {}{ts}", s.name, labels.join(","), format_value(s.value))
                }
            })
        })
        .collect()
}

#[track_caller]
fn check(body: &str, want: &[&str]) {
    match render(body) {
        Ok(got) => assert_eq!(got, want, "body: {body:?}"),
        Err(e) => panic!("body {body:?} failed: {e}"),
    }
}

#[track_caller]
fn check_err(body: &str, line: usize, want: &str) {
    match render(body) {
        Ok(got) => panic!("body {body:?} parsed as {got:?}, want error {want:?}"),
        Err(e) => {
            assert_eq!(e.line, line, "error line for {body:?}: {e}");
            let msg = e.kind.to_string();
            assert!(msg.contains(want), "error for {body:?} is {msg:?}, want {want:?}");
        }
    }
}

#[test]
fn samples_with_and_without_labels() {
    check("up 1\n", &["up{} 1"]);
    check("up{} 1\n", &["up{} 1"]);
    check("up{job=\"a\",instance=\"b:1\"} 0\n", &[r#"up{job="a",instance="b:1"} 0"#]);
    check("no_newline_at_end 3", &["no_newline_at_end{} 3"]);
    check("a:b_c 1\n", &["a:b_c{} 1"]);
}

#[test]
fn trailing_comma_and_blanks_inside_braces() {
    check(
        "http_requests_total{job=\"recommender\",path=\"/user/product\",} 86.0\n",
        &[r#"http_requests_total{job="recommender",path="/user/product"} 86"#],
    );
    check("m{ a = \"1\" , b=\"2\" } 1\n", &[r#"m{a="1",b="2"} 1"#]);
    // Prometheus accepts labels without a comma between them.
    check("m{a=\"1\" b=\"2\"} 1\n", &[r#"m{a="1",b="2"} 1"#]);
    check("m {a=\"1\"} 1\n", &[r#"m{a="1"} 1"#]);
    check("m{a=\"1\"}1\n", &[r#"m{a="1"} 1"#]);
}

#[test]
fn label_value_escapes() {
    check(
        r#"m{a="x\\y",b="q\"q",c="l\nl",d="t\tt"} 1"#,
        &[r#"m{a="x\\y",b="q\"q",c="l\nl",d="t\\tt"} 1"#],
    );
    check("m{a=\"é☃\",b=\"}{,=\"} 1\n", &[r#"m{a="é☃",b="}{,="} 1"#]);
    check("m{a=\"\"} 1\n", &[r#"m{a=""} 1"#]);
}

#[test]
fn special_values_and_timestamps() {
    check(
        "a NaN\nb +Inf\nc -Inf\nd 1.5e3 1395066363000\ne -0.5 0\nf Inf\ng 1e-300\n",
        &[
            "a{} NaN",
            "b{} +Inf",
            "c{} -Inf",
            "d{} 1500 @1395066363000",
            "e{} -0.5 @0",
            "f{} +Inf",
            "g{} 1e-300",
        ],
    );
    check("a 1 \t\n", &["a{} 1"]);
    check("a 1 2 \n", &["a{} 1 @2"]);
}

#[test]
fn help_and_type_lines() {
    check(
        "# HELP m Some help.\n# TYPE m counter\nm 1\n",
        &[r#"HELP m "Some help.""#, "TYPE m counter", "m{} 1"],
    );
    check(r"# HELP m a\\b\nc\td", &[r#"HELP m "a\\b\nc\\td""#]);
    check("# HELP m  two spaces\n", &[r#"HELP m " two spaces""#]);
    check("# HELP m\n", &[r#"HELP m """#]);
    check("# HELP m \n", &[r#"HELP m """#]);
    for (t, want) in [
        ("counter", "counter"),
        ("gauge", "gauge"),
        ("histogram", "histogram"),
        ("summary", "summary"),
        ("untyped", "unknown"),
    ] {
        check(&format!("# TYPE m {t}\n"), &[&format!("TYPE m {want}")]);
    }
    check("\t# HELP m x\n", &[r#"HELP m "x""#]);
}

#[test]
fn comments_and_blank_lines_are_skipped() {
    check("# just a comment\n\n   \n#HELP not metadata\n# HELPER x\n# HELP\nm 1\n", &["m{} 1"]);
    check("# TYPE\n# EOF\n", &[]);
    check("", &[]);
}

#[test]
fn quoted_utf8_names() {
    check(r#"{"my.metric","a.b"="v"} 1"#, &[r#"my.metric{a.b="v"} 1"#]);
    check(r#"{"a.b"="v","my.metric"} 1"#, &[r#"my.metric{a.b="v"} 1"#]);
    check(r#"m{"a.b"="v"} 1"#, &[r#"m{a.b="v"} 1"#]);
    check(
        "# HELP \"my.metric\" help\n# TYPE \"my.metric\" gauge\n",
        &[r#"HELP my.metric "help""#, "TYPE my.metric gauge"],
    );
    check(r#"{"esc\"aped"} 1"#, &[r#"esc"aped{} 1"#]);
}

#[test]
fn histogram_and_summary_families_keep_le_and_quantile_as_written() {
    check(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
        &[
            "TYPE h histogram",
            r#"h_bucket{le="1"} 1"#,
            r#"h_bucket{le="+Inf"} 2"#,
            "h_sum{} 3",
            "h_count{} 2",
        ],
    );
    check("s{quantile=\"0.5\"} 1\n", &[r#"s{quantile="0.5"} 1"#]);
}

#[test]
fn errors_name_the_line_and_what_was_expected() {
    check_err("a 1\nb{c=\"d\" 1\n", 2, "expected label name or '}'");
    check_err("a{b=\"c\"\n", 1, "expected label name or '}'");
    check_err("a{b=c} 1\n", 1, "expected quoted label value");
    check_err("a{b} 1\n", 1, "expected '=' after label name");
    check_err("a{,} 1\n", 1, "expected label name or '}'");
    check_err("a{b=\"1\",,} 1\n", 1, "expected label name or '}'");
    check_err("a{b=\"1} 1\n", 1, "expected quoted label value");
    check_err("a\n", 1, "expected value after metric");
    check_err("a{}\n", 1, "expected value after metric");
    check_err("a abc\n", 1, "invalid value: not a float");
    check_err("a 0x1p3\n", 1, "invalid value: not a float");
    check_err("a 1_000\n", 1, "invalid value: not a float");
    check_err("a +NaN\n", 1, "invalid value: not a float");
    check_err("a 1e999\n", 1, "out of float64 range");
    check_err("a 1 -5\n", 1, "integer millisecond timestamp");
    check_err("a 1 1.5\n", 1, "integer millisecond timestamp");
    check_err("a 1 2 3\n", 1, "end of line after timestamp");
    check_err("a 1 99999999999999999999\n", 1, "integer millisecond timestamp");
    check_err("1a 1\n", 1, "expected metric name");
    check_err("{a=\"b\"} 1\n", 1, "metric name");
    check_err("m{\"x\"} 1\n", 1, "metric name given twice");
    check_err("{\"x\",\"y\"} 1\n", 1, "metric name given twice");
    check_err("# TYPE m gaugee\n", 1, "invalid metric type");
    check_err("# TYPE m counter \n", 1, "invalid metric type");
    check_err("# TYPE m\n", 1, "invalid metric type");
    check_err("# HELP 1m x\n", 1, "expected metric name after HELP");
    check_err("# TYPE \n", 1, "expected metric name after TYPE");
    check_err("a 1\r\n", 1, "invalid value");
}

#[test]
fn invalid_utf8_is_refused_where_it_matters_only() {
    let mut body = b"# comment \xff\xfe\nm{a=\"".to_vec();
    body.extend_from_slice(b"\xff\"} 1\n");
    let err = TextParser::new(&body).collect::<Result<Vec<_>, _>>().unwrap_err();
    assert_eq!(
        err,
        ParseError { line: 2, kind: ErrorKind::Invalid("sample line is not valid UTF-8") }
    );
    let err = TextParser::new(b"# HELP m \xff\n").collect::<Result<Vec<_>, _>>().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Invalid("help text is not valid UTF-8"));
}

#[test]
fn parsing_stops_after_the_first_error() {
    let mut p = TextParser::new(b"a 1\nbad\nc 1\n");
    assert!(matches!(p.next(), Some(Ok(_))));
    assert!(matches!(p.next(), Some(Err(ParseError { line: 2, .. }))));
    assert!(p.next().is_none());
}

#[test]
fn series_text_is_the_raw_name_and_label_set() {
    let body = b"m{a=\"x\\\\y\" , b=\"2\",} 1 5\nn 2\n";
    let samples: Vec<_> = TextParser::new(body)
        .filter_map(|e| match e.unwrap() {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(samples[0].series, r#"m{a="x\\y" , b="2",}"#);
    assert_eq!(samples[1].series, "n");
}

#[test]
fn labels_borrow_unless_an_escape_is_present() {
    let body = b"m{a=\"plain\",b=\"esc\\\"aped\"} 1\n";
    let Some(Ok(Entry::Sample(s))) = TextParser::new(body).next() else { panic!("no sample") };
    let labels: Vec<_> = s.labels().collect();
    assert!(matches!(labels[0].value, Cow::Borrowed("plain")));
    assert!(matches!(labels[1].value, Cow::Owned(_)));
    assert!(matches!(s.name, Cow::Borrowed("m")));
}
