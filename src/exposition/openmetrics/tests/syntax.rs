//! Line syntax: structure, metadata lines, samples, labels, numbers, exemplars.

use super::*;

#[test]
fn body_must_end_with_eof() {
    check_body("# EOF\n", ok(&[]));
    check_body("# EOF", ok(&[]));
    check_body("a 1\n# EOF", ok(&["a 1"]));
    check_body("", expected(1, "'# EOF' as the last line"));
    check_body("a 1\n", expected(2, "'# EOF' as the last line"));
    check_body("a 1", expected(2, "'# EOF' as the last line"));
    check_body("# EOF\na 1\n", invalid(2, "text after '# EOF'"));
    check_body("# EOF\n\n", invalid(2, "text after '# EOF'"));
    check_body("# EOF \n", invalid(1, "'# EOF' must stand alone on the last line"));
    check_body("# EOFblah", invalid(1, "'# EOF' must stand alone on the last line"));
    check_body("# EOF\r\n", invalid(1, "'# EOF' must stand alone on the last line"));
}

#[test]
fn lines_are_never_blank_comments_or_indented() {
    check("a 1\n\nb 1\n", invalid(2, "blank line"));
    check("\n", invalid(1, "blank line"));
    check("# a comment\n", invalid(1, HASH_LINE));
    check("#a_sum 0\n", invalid(1, HASH_LINE));
    check("# FOO a x\n", invalid(1, HASH_LINE));
    check(" a 1\n", expected(1, "metric name at the start of a sample"));
    check(" # HELP a x\n", expected(1, "metric name at the start of a sample"));
    check("\u{feff}a 1\n", expected(1, "metric name at the start of a sample"));
    check("a 1\r\n", invalid(1, NOT_A_NUMBER));
}

#[test]
fn the_first_error_is_reported_once() {
    let mut p = OpenMetricsParser::new(b"a 1\nb x\nc 1\n# EOF\n");
    assert!(matches!(p.next(), Some(Ok(Entry::Sample(_)))));
    assert_eq!(p.line(), 1);
    let err = p.next().expect("an error").expect_err("b x does not parse");
    assert_eq!(err, ParseError { line: 2, kind: ErrorKind::Invalid(NOT_A_NUMBER) });
    assert!(p.next().is_none());
    assert!(p.next().is_none());
}

#[test]
fn line_is_that_of_the_last_entry() {
    let mut p = OpenMetricsParser::new(b"# TYPE a gauge\n# HELP a x\na 1\n# EOF\n");
    let mut lines = Vec::new();
    while let Some(entry) = p.next() {
        entry.unwrap();
        lines.push(p.line());
    }
    assert_eq!(lines, [1, 2, 3]);
}

#[test]
fn metadata_lines() {
    check(
        "# TYPE a_seconds counter\n# UNIT a_seconds seconds\n# HELP a_seconds Some help.\n",
        ok(&["TYPE a_seconds counter", "UNIT a_seconds seconds", r#"HELP a_seconds "Some help.""#]),
    );
    check(
        r#"# HELP a x\\y\nz\"q\t"r\
"#,
        ok(&[r#"HELP a "x\\y\nz\"q\\t\"r\\""#]),
    );
    check("# HELP a \n# UNIT a \n", ok(&[r#"HELP a """#, "UNIT a "]));
    check("# HELP a he\0lp\n", ok(&[r#"HELP a "he\0lp""#]));
    check("# HELP\n", expected(1, "' ' and a metric name"));
    check("# HELP \n", expected(1, "a metric name"));
    check("# HELP a\n", expected(1, "' ' after the metric name"));
    check("# HELP a\tx\n", expected(1, "' ' after the metric name"));
    check("# HELP  a x\n", expected(1, "a metric name"));
    check("# HELP 0a x\n", expected(1, "a metric name"));
    check("# help a x\n", invalid(1, HASH_LINE));
}

#[test]
fn text_must_be_utf8() {
    let err = |line, why| Err(ParseError { line, kind: ErrorKind::Invalid(why) });
    assert_eq!(parse_bytes(b"# HELP a \xff\n# EOF\n"), err(1, "HELP text is not valid UTF-8"));
    assert_eq!(parse_bytes(b"a{x=\"\xff\"} 1\n# EOF\n"), err(1, "label set is not valid UTF-8"));
    assert_eq!(
        parse_bytes(b"# TYPE a counter\na_total 1 # {x=\"\xc3\"} 1\n# EOF\n"),
        err(2, "label set is not valid UTF-8")
    );
}

#[test]
fn sample_syntax() {
    check("a 1\nb{} 2\nc{x=\"y\",z=\"\"} 3\n", ok(&["a 1", "b 2", r#"c{x="y",z=""} 3"#]));
    check("a:b_c9 1\n", ok(&["a:b_c9 1"]));
    check("0a 1\n", expected(1, "metric name at the start of a sample"));
    check("a.b 1\n", expected(1, "' ' and a value after the series"));
    check("a\n", expected(1, "' ' and a value after the series"));
    check("a \n", expected(1, "a value"));
    check("a  1\n", expected(1, "a value"));
    check("a\t1\n", expected(1, "' ' and a value after the series"));
    check("a 1 \n", expected(1, "a timestamp or '#' after ' '"));
    check("a 1\t\n", invalid(1, NOT_A_NUMBER));
    check("a {x=\"y\"} 1\n", invalid(1, NOT_A_NUMBER));
    check("a{x=\"y\"}1\n", expected(1, "' ' and a value after the series"));
    check("a 1 2 3\n", expected(1, "end of line or ' # ' and an exemplar"));
}

#[test]
fn label_sets_follow_the_abnf() {
    check(
        r#"a{a="1",b="b{a}z",c="} # x # ",d="\\\"\n\z"} 1
"#,
        ok(&[r#"a{a="1",b="b{a}z",c="} # x # ",d="\\\"\n\\z"} 1"#]),
    );
    check("a{x=\"é☃\"} 1\n", ok(&["a{x=\"é☃\"} 1"]));
    check("a{a=\"1\",a=\"2\"} 1\n", invalid(1, "label name repeated in one label set"));
    check("a{a=\"1\",b=\"2\",} 1\n", expected(1, "label name"));
    check("a{a=\"1\",,b=\"2\"} 1\n", expected(1, "label name"));
    check("a{a=\"1\"b=\"2\"} 1\n", expected(1, "',' or '}' after a label value"));
    check("a{a=\"1\", b=\"2\"} 1\n", expected(1, "label name"));
    check("a{ a=\"1\"} 1\n", expected(1, "label name"));
    check("a{a =\"1\"} 1\n", expected(1, "'=' after the label name"));
    check("a{1=\"1\"} 1\n", expected(1, "label name"));
    check("a{a:b=\"1\"} 1\n", expected(1, "'=' after the label name"));
    check("a{a} 1\n", expected(1, "'=' after the label name"));
    check("a{a=1} 1\n", expected(1, "'\"' opening the label value"));
    check("a{a='1'} 1\n", expected(1, "'\"' opening the label value"));
    check("a{a=\"1} 1\n", expected(1, "'\"' closing the label value"));
    check("a{\"a\"=\"1\"} 1\n", expected(1, "label name"));
}

#[test]
fn labels_exceeding_sixteen_are_still_checked_for_repeats() {
    let names: Vec<String> = (0..20).map(|i| format!("l{i}=\"v\"")).collect();
    let ok_body = format!("a{{{}}} 1\n# EOF\n", names.join(","));
    assert_eq!(parse_all(&ok_body).map(|e| e.len()), Ok(1));
    let dup_body = format!("a{{{},l3=\"w\"}} 1\n# EOF\n", names.join(","));
    assert_eq!(
        parse_all(&dup_body),
        Err(ParseError {
            line: 1,
            kind: ErrorKind::Invalid("label name repeated in one label set")
        })
    );
}

#[test]
fn values_follow_the_number_production() {
    check(
        "a 1.5\nb -0.0\nc +Inf\nd -Inf\ne NaN\nf 0042\ng 1.2e-1\nh .5\ni 5.\nj 9223372036854775808\n",
        ok(&[
            "a 1.5",
            "b -0",
            "c +Inf",
            "d -Inf",
            "e NaN",
            "f 42",
            "g 0.12",
            "h 0.5",
            "i 5",
            "j 9.223372036854776e+18",
        ]),
    );
    check("a inf\nb -infinity\n", ok(&["a +Inf", "b -Inf"]));
    for bad in ["a", "1_2", "0x1", "0x1p-3", "0X1", "0b1", "0o1", "+NaN", "1e", "1.2.3", "--1"] {
        let got = parse_all(&format!("a {bad}\n# EOF\n"));
        assert_eq!(
            got,
            Err(ParseError { line: 1, kind: ErrorKind::Invalid(NOT_A_NUMBER) }),
            "{bad}"
        );
    }
    check("a 1e400\n", invalid(1, "invalid value: out of float64 range"));
}

#[test]
fn timestamps_are_float_seconds_truncated_to_ms() {
    check(
        "a{x=\"1\"} 1 000\na{x=\"2\"} 1 0.0\na{x=\"3\"} 1 1.1\na{x=\"4\"} 1 1.5e3\n\
         a{x=\"5\"} 1 -1.1\na{x=\"6\"} 1 1395066363.5\na{x=\"7\"} 1 1.005\n",
        ok(&[
            r#"a{x="1"} 1 @0"#,
            r#"a{x="2"} 1 @0"#,
            r#"a{x="3"} 1 @1100"#,
            r#"a{x="4"} 1 @1500000"#,
            r#"a{x="5"} 1 @-1100"#,
            r#"a{x="6"} 1 @1395066363500"#,
            r#"a{x="7"} 1 @1004"#,
        ]),
    );
    check("a 1 12345678901234567890.1234567890\n", ok(&["a 1 @9223372036854775807"]));
    for bad in ["z", "1z", "1_2", "1.1.1", "NaN", "Inf", "-Inf", "0x1p-3", "1e"] {
        let got = parse_all(&format!("a 1 {bad}\n# EOF\n"));
        assert_eq!(got, Err(ParseError { line: 1, kind: ErrorKind::Invalid(BAD_TS) }), "{bad}");
    }
    check("a 1  1\n", expected(1, "a timestamp or '#' after ' '"));
    check("a 1 1e400\n", invalid(1, "invalid timestamp: out of float64 range"));
}

#[test]
fn samples_keep_their_series_and_label_text() {
    let body = b"# TYPE a counter\na_total{x=\"1\",y=\"\\\"\"} 2 3 # {t=\"u\"} 4\n# EOF\n";
    let samples: Vec<_> = OpenMetricsParser::new(body)
        .filter_map(|e| match e.unwrap() {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(samples.len(), 1);
    let s = &samples[0];
    assert_eq!(s.series, r#"a_total{x="1",y="\""}"#);
    assert_eq!(s.label_text, r#"x="1",y="\"""#);
    assert!(matches!(s.name, Cow::Borrowed("a_total")));
    let exemplar = s.exemplar.as_ref().unwrap();
    assert_eq!(exemplar.label_text, r#"t="u""#);
    assert_eq!((exemplar.value, exemplar.timestamp_ms), (4.0, None));
}

#[test]
fn exemplar_syntax() {
    let counter = |tail: &str| format!("# TYPE a counter\na_total 1{tail}\n");
    check(&counter(" #"), expected(2, "end of line or ' # ' and an exemplar"));
    check(&counter("# {} 1"), invalid(2, NOT_A_NUMBER));
    check(&counter(" #{} 1"), expected(2, "end of line or ' # ' and an exemplar"));
    check(&counter(" # {}1"), expected(2, "' ' and a value after the exemplar's label set"));
    check(&counter(" # {} 1 "), expected(2, "a timestamp or '#' after ' '"));
    check(&counter(" # {} 1 1 "), expected(2, "end of line after the exemplar timestamp"));
    check(&counter(" # {}  "), expected(2, "a value"));
    check(&counter(" 1 # id=\"a\"} 1"), expected(2, "'{' opening the exemplar's label set"));
    check(&counter(" # {} 0x1p-3"), invalid(2, NOT_A_NUMBER));
    check(&counter(" # {} 1 NaN"), invalid(2, BAD_TS));
    check(&counter(" # {} 1 Inf"), invalid(2, BAD_TS));
    check(&counter(" # {a=\"1\",a=\"2\"} 1"), invalid(2, "label name repeated in one label set"));
    check(&counter(" # {a=\"1\",} 1"), expected(2, "label name"));
    check(&counter(" # {} 1 1 # {} 1"), expected(2, "end of line after the exemplar timestamp"));
}

#[test]
fn exemplar_labels_hold_at_most_128_code_points() {
    let exemplar =
        |value: &str| format!("# TYPE a counter\na_total 1 # {{a=\"{value}\"}} 1\n# EOF\n");
    let ascii_127 = "x".repeat(127);
    assert!(parse_all(&exemplar(&ascii_127)).is_ok(), "1 + 127 characters");
    let too_long = parse_all(&exemplar(&"x".repeat(128)));
    let over = ErrorKind::Invalid("exemplar label names and values exceed 128 characters together");
    assert_eq!(too_long, Err(ParseError { line: 2, kind: over }));
    // 127 code points, 381 bytes.
    assert!(parse_all(&exemplar(&"☃".repeat(127))).is_ok(), "wide characters count once");
    // An escape is one character once undone: 126 + `\n` = 127.
    assert!(parse_all(&exemplar(&format!("{}\\n", "x".repeat(126)))).is_ok());
    assert!(parse_all(&exemplar(&format!("{}\\n", "x".repeat(127)))).is_err());
}
