use proptest::prelude::*;

use super::*;

/// Parses a YAML list of rules; panics on an invalid one.
#[track_caller]
fn rules(yaml: &str) -> Vec<Rule> {
    let configs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).expect("test YAML must parse");
    configs
        .iter()
        .map(|c| Rule::try_new(c).unwrap_or_else(|e| panic!("{e}\nin:\n{yaml}")))
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Applies the YAML rules to `input`; `want` is `None` when the set is dropped.
#[track_caller]
fn check(yaml: &str, input: &[(&str, &str)], want: Option<&[(&str, &str)]>) {
    let got = relabel(&rules(yaml), &labels(input));
    assert_eq!(got, want.map(labels), "rules:\n{yaml}\ninput: {}", labels(input));
}

/// A single rule (YAML mapping) must be rejected with exactly `want`.
#[track_caller]
fn check_err(yaml: &str, want: &str) {
    let config: RelabelConfig = serde_yaml::from_str(yaml).expect("test YAML must parse");
    match Rule::try_new(&config) {
        Ok(_) => panic!("accepted, want error {want:?}:\n{yaml}"),
        Err(e) => assert_eq!(e.to_string(), want, "rule:\n{yaml}"),
    }
}

/// A single rule (YAML mapping) must be accepted.
#[track_caller]
fn check_ok(yaml: &str) {
    let config: RelabelConfig = serde_yaml::from_str(yaml).expect("test YAML must parse");
    if let Err(e) = Rule::try_new(&config) {
        panic!("rejected with {e}:\n{yaml}");
    }
}

const ABC: &[(&str, &str)] = &[("a", "foo"), ("b", "bar"), ("c", "baz")];

#[test]
fn replace_expands_groups_into_target() {
    check(
        "[{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}]",
        ABC,
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
    );
    // Rules see the effect of earlier rules; sources join with the separator.
    check(
        r"
- {source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}
- {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, replacement: '$1$2$2$3'}
",
        ABC,
        Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
    );
    check(
        "[{source_labels: [a, b], separator: '', regex: 'foobar', target_label: x, replacement: yes}]",
        ABC,
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("x", "yes")]),
    );
}

#[test]
fn replace_defaults_copy_the_joined_source_value() {
    check(
        "[{source_labels: [a, b], target_label: x}]",
        ABC,
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("x", "foo;bar")]),
    );
    // The regex is anchored: a partial match is no match.
    check("[{source_labels: [a], regex: 'o', target_label: x, replacement: hit}]", ABC, Some(ABC));
    check(
        "[{source_labels: [a], regex: '.*(o).*', target_label: x}]",
        ABC,
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("x", "o")]),
    );
}

#[test]
fn replace_without_match_changes_nothing() {
    check(
        "[{source_labels: [a], regex: 'f', target_label: b, replacement: new}]",
        &[("a", "boo")],
        Some(&[("a", "boo")]),
    );
}

#[test]
fn missing_source_labels_count_as_empty_strings() {
    check(
        "[{source_labels: [nope, a], target_label: x}]",
        &[("a", "1")],
        Some(&[("a", "1"), ("x", ";1")]),
    );
    check(
        "[{source_labels: [nope], regex: '', target_label: x, replacement: empty}]",
        &[("a", "1")],
        Some(&[("a", "1"), ("x", "empty")]),
    );
    // No source labels at all: the value is "" and a constant can be set.
    check(
        "[{target_label: env, replacement: prod}]",
        &[("a", "1")],
        Some(&[("a", "1"), ("env", "prod")]),
    );
}

#[test]
fn replace_with_empty_result_deletes_the_target() {
    // The default replacement `$1` of an empty source deletes the target.
    check(
        "[{source_labels: [nope], target_label: a}]",
        &[("a", "1"), ("b", "2")],
        Some(&[("b", "2")]),
    );
    check("[{target_label: b, replacement: ''}]", &[("a", "1"), ("b", "2")], Some(&[("a", "1")]));
    // A group that does not exist expands to nothing: delete.
    check(
        "[{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${3}'}]",
        &[("a", "some-name-value"), ("name", "old")],
        Some(&[("a", "some-name-value")]),
    );
}

#[test]
fn replace_target_may_reference_groups() {
    check(
        "[{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${1}', replacement: '${2}'}]",
        &[("a", "some-name-value")],
        Some(&[("a", "some-name-value"), ("name", "value")]),
    );
    check(
        "[{source_labels: [a], regex: '(?P<key>[a-z]+)=(?P<val>.*)', target_label: 'tag_$key', replacement: '$val'}]",
        &[("a", "env=prod")],
        Some(&[("a", "env=prod"), ("tag_env", "prod")]),
    );
}

#[test]
fn replace_skips_invalid_expanded_target_names() {
    // `${3}` is empty (no such group), `0` and `-x` are not label names.
    check(
        r"
- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${3}', replacement: '${1}'}
- {source_labels: [a], regex: 'some-([^-]+)-([^,]+)', target_label: '${2}', replacement: '${1}'}
- {source_labels: [a], regex: 'some-([^-]+)(-[^,]+)', target_label: '${2}', replacement: '${1}'}
",
        &[("a", "some-name-0")],
        Some(&[("a", "some-name-0")]),
    );
}

#[test]
fn replace_dollar_name_takes_the_longest_name() {
    // Go's Expand: `$1x` is the group named "1x", which does not exist.
    check(
        "[{source_labels: [a], regex: '(f)oo', target_label: x, replacement: '$1x'}]",
        &[("a", "foo")],
        Some(&[("a", "foo")]),
    );
    check(
        "[{source_labels: [a], regex: '(f)oo', target_label: x, replacement: '${1}x'}]",
        &[("a", "foo")],
        Some(&[("a", "foo"), ("x", "fx")]),
    );
    check(
        "[{source_labels: [a], regex: '(f)oo', target_label: x, replacement: '$$1'}]",
        &[("a", "foo")],
        Some(&[("a", "foo"), ("x", "$1")]),
    );
}

#[test]
fn real_world_tag_parsing() {
    check(
        r"
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)path:(/[^,]+).*', target_label: __metrics_path__, replacement: '${1}'}
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)job:([^,]+).*', target_label: job, replacement: '${1}'}
- {source_labels: [__meta_sd_tags], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', target_label: '${1}', replacement: '${2}'}
",
        &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
        Some(&[
            ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
            ("__metrics_path__", "/secret"),
            ("job", "some-job"),
            ("foo", "bar"),
        ]),
    );
}

#[test]
fn yaml_scalars_are_regex_text() {
    // As in Prometheus' Kubernetes example: an unquoted `true`.
    let rule = "[{source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], action: keep, regex: true}]";
    let on: &[(&str, &str)] = &[("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true")];
    check(rule, on, Some(on));
    check(rule, &[("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "false")], None);
    check(
        "[{source_labels: [code], action: keep, regex: 200}]",
        &[("code", "200")],
        Some(&[("code", "200")]),
    );
}

#[test]
fn regex_dot_matches_newline() {
    check(
        "[{source_labels: [a], regex: 'foo.bar', action: keep}]",
        &[("a", "foo\nbar")],
        Some(&[("a", "foo\nbar")]),
    );
}

#[test]
fn keep_and_drop() {
    let foo: &[(&str, &str)] = &[("a", "foo")];
    check("[{source_labels: [a], regex: 'f.*', action: keep}]", foo, Some(foo));
    check("[{source_labels: [a], regex: 'no-match', action: keep}]", foo, None);
    check("[{source_labels: [a], regex: '.*o.*', action: drop}]", foo, None);
    check("[{source_labels: [a], regex: 'no-match', action: drop}]", foo, Some(foo));
    // Anchored: `f|o` matches neither "foo" as a whole.
    check("[{source_labels: [a], regex: 'f|o', action: drop}]", foo, Some(foo));
    // A missing label is "", which the default regex matches.
    check("[{source_labels: [nope], action: drop}]", foo, None);
    check("[{source_labels: [nope], regex: '.+', action: keep}]", foo, None);
    // Dropping stops processing.
    check(
        "[{source_labels: [a], regex: '.*o.*', action: drop}, {target_label: x, replacement: y}]",
        foo,
        None,
    );
}

#[test]
fn keepequal_and_dropequal_compare_with_target_label() {
    let ports: &[(&str, &str)] =
        &[("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")];
    check(
        "[{source_labels: [__tmp_port], action: keepequal, target_label: __port1}]",
        ports,
        Some(ports),
    );
    check("[{source_labels: [__tmp_port], action: keepequal, target_label: __port2}]", ports, None);
    check("[{source_labels: [__tmp_port], action: dropequal, target_label: __port1}]", ports, None);
    check(
        "[{source_labels: [__tmp_port], action: dropequal, target_label: __port2}]",
        ports,
        Some(ports),
    );
    // Missing on both sides: "" == "".
    check("[{source_labels: [x], action: keepequal, target_label: y}]", ports, Some(ports));
}

#[test]
fn hashmod_matches_prometheus_values() {
    check(
        "[{source_labels: [c], target_label: d, action: hashmod, modulus: 1000}]",
        ABC,
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
    );
    check(
        "[{source_labels: [a], target_label: b, action: hashmod, modulus: 1000}]",
        &[("a", "foo\nbar")],
        Some(&[("a", "foo\nbar"), ("b", "734")]),
    );
    // Joined sources; an empty source still hashes.
    check(
        "[{source_labels: [x, y], target_label: h, action: hashmod, modulus: 7}]",
        &[("x", "a"), ("y", "b")],
        Some(&[("x", "a"), ("y", "b"), ("h", "2")]),
    );
    check(
        "[{source_labels: [nope], target_label: h, action: hashmod, modulus: 10}]",
        &[],
        Some(&[("h", "8")]),
    );
}

#[test]
fn labelmap_copies_matching_labels() {
    check(
        "[{regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}]",
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        Some(&[("a", "foo"), ("b1", "bar"), ("b2", "baz"), ("bar_b1", "bar"), ("bar_b2", "baz")]),
    );
    check(
        "[{regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}]",
        &[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
        ],
        Some(&[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
            ("my_bar", "aaa"),
            ("my_baz", "bbb"),
        ]),
    );
    // The usual Kubernetes form, default replacement `$1`, overwriting a label.
    check(
        "[{regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}]",
        &[("__meta_kubernetes_pod_label_app", "web"), ("app", "old")],
        Some(&[("__meta_kubernetes_pod_label_app", "web"), ("app", "web")]),
    );
}

#[test]
fn labelmap_uses_values_from_before_the_rule() {
    // a -> xa and xa -> xxa in one rule: xxa gets xa's old value.
    check(
        "[{regex: '(.*)', replacement: 'x$1', action: labelmap}]",
        &[("a", "1"), ("xa", "2")],
        Some(&[("a", "1"), ("xa", "1"), ("xxa", "2")]),
    );
    // New labels are not mapped again by the same rule.
    check(
        "[{regex: 'x_(.*)', replacement: 'x_x_$1', action: labelmap}]",
        &[("x_a", "1")],
        Some(&[("x_a", "1"), ("x_x_a", "1")]),
    );
}

#[test]
fn labeldrop_and_labelkeep_match_names() {
    let input: &[(&str, &str)] = &[("a", "foo"), ("b1", "bar"), ("b2", "baz")];
    check("[{regex: '(b.*)', action: labelkeep}]", input, Some(&[("b1", "bar"), ("b2", "baz")]));
    check("[{regex: '(b.*)', action: labeldrop}]", input, Some(&[("a", "foo")]));
    check(
        "[{regex: '__meta_.*', action: labeldrop}]",
        &[("__meta_x", "1"), ("__meta_y", "2"), ("job", "j")],
        Some(&[("job", "j")]),
    );
    // The default regex `(.*)` matches every name.
    check("[{action: labeldrop}]", input, Some(&[]));
    check("[{action: labelkeep}]", input, Some(input));
}

#[test]
fn labeldrop_then_replace_recreates_the_label() {
    // Prometheus issue 12283.
    check(
        r"
- {regex: '^__meta_kubernetes_pod_container_port_name$', action: labeldrop}
- {source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port], regex: '(.+)', replacement: metrics, target_label: __meta_kubernetes_pod_container_port_name}
- {source_labels: [__meta_kubernetes_pod_container_port_name], regex: '^metrics$', action: keep}
",
        &[
            ("__meta_kubernetes_pod_container_port_name", "foo"),
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
        ],
        Some(&[
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ]),
    );
}

#[test]
fn lowercase_and_uppercase() {
    check(
        r"
- {source_labels: [foo], action: uppercase, target_label: foo_uppercase}
- {source_labels: [foo], action: lowercase, target_label: foo_lowercase}
",
        &[("foo", "bAr123Foo")],
        Some(&[
            ("foo", "bAr123Foo"),
            ("foo_lowercase", "bar123foo"),
            ("foo_uppercase", "BAR123FOO"),
        ]),
    );
    // An empty source value deletes the target.
    check(
        "[{source_labels: [nope], action: lowercase, target_label: a}]",
        &[("a", "X")],
        Some(&[]),
    );
}

#[test]
fn go_regex_syntax_is_honoured() {
    // `\w` is ASCII in Go: "é" is not a word character.
    check("[{source_labels: [a], regex: '\\w+', action: keep}]", &[("a", "é")], None);
    // `{` that is not a repetition is a literal.
    check(
        "[{source_labels: [a], regex: '[$]{(\\w+)}', target_label: x}]",
        &[("a", "${foo}")],
        Some(&[("a", "${foo}"), ("x", "foo")]),
    );
    check("[{source_labels: [a], regex: '\\Q.*\\E', action: keep}]", &[("a", "abc")], None);
}

#[test]
fn process_reports_drops_and_applies_in_order() {
    let rules = rules(
        "[{target_label: a, replacement: '1'}, {source_labels: [a], regex: '1', action: drop}]",
    );
    let mut b = Labels::new().builder();
    assert!(!process(&rules, &mut b));
    let mut b = Labels::new().builder();
    assert!(process(&rules[..1], &mut b));
    assert_eq!(b.build(), labels(&[("a", "1")]));
    assert!(process(&[], &mut Labels::new().builder()));
}

#[test]
fn config_defaults_and_yaml_forms() {
    let config: RelabelConfig = serde_yaml::from_str("{}").unwrap();
    assert_eq!(config, RelabelConfig::default());
    assert_eq!(
        (config.separator.as_str(), config.regex.as_str(), config.replacement.as_str()),
        (";", "(.*)", "$1")
    );
    assert_eq!(config.action, Action::Replace);
    for (yaml, action) in [
        ("Replace", Action::Replace),
        ("KEEPEQUAL", Action::KeepEqual),
        ("labelMap", Action::LabelMap),
    ] {
        let config: RelabelConfig = serde_yaml::from_str(&format!("{{action: {yaml}}}")).unwrap();
        assert_eq!(config.action, action);
    }
    // Null values are Go's zero values.
    let config: RelabelConfig = serde_yaml::from_str(
        "{regex: null, replacement: ~, separator: null, modulus: null, source_labels: null}",
    )
    .unwrap();
    assert_eq!(
        (config.regex.as_str(), config.replacement.as_str(), config.separator.as_str()),
        ("", "", "")
    );
    assert_eq!((config.modulus, config.source_labels.len()), (0, 0));
}

#[test]
fn config_yaml_errors() {
    #[track_caller]
    fn check_yaml_err(yaml: &str, want: &str) {
        let err = serde_yaml::from_str::<RelabelConfig>(yaml).expect_err(yaml).to_string();
        assert!(err.contains(want), "{err:?} does not contain {want:?}");
    }
    check_yaml_err("{action: nope}", "unknown relabel action \"nope\"");
    check_yaml_err("{action: ''}", "relabel action cannot be empty");
    check_yaml_err("{action: null}", "relabel action cannot be empty");
    check_yaml_err("{target: x}", "unknown field `target`");
    // A Rule deserializes with validation.
    let err =
        serde_yaml::from_str::<Rule>("{action: hashmod, target_label: x}").unwrap_err().to_string();
    assert!(err.contains("relabel configuration for hashmod requires non-zero modulus"), "{err}");
    let rule: Rule = serde_yaml::from_str("{action: drop, regex: x}").unwrap();
    assert_eq!(rule.action(), Action::Drop);
    assert_eq!(rule.config().regex, "x");
}

#[test]
fn validation_errors_as_prometheus_words_them() {
    check_err(
        "{action: hashmod, target_label: x}",
        "relabel configuration for hashmod requires non-zero modulus",
    );
    check_ok("{action: hashmod, target_label: x, modulus: 1}");
    for action in ["replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"] {
        check_err(
            &format!("{{action: {action}, modulus: 1}}"),
            &format!("relabel configuration for {action} action requires 'target_label' value"),
        );
    }
    check_err("{target_label: 1bad}", r#""1bad" is invalid 'target_label' for replace action"#);
    check_ok("{target_label: good_1}");
    check_err("{target_label: '0${3}'}", r#""0${3}" is invalid 'target_label' for replace action"#);
    check_err("{target_label: '-${3}'}", r#""-${3}" is invalid 'target_label' for replace action"#);
    check_ok("{target_label: '${3}'}");
    check_err(
        "{action: lowercase, target_label: '${3}'}",
        r#""${3}" is invalid 'target_label' for lowercase action"#,
    );
    check_err(
        "{action: hashmod, modulus: 2, target_label: 'a-b'}",
        r#""a-b" is invalid 'target_label' for hashmod action"#,
    );
    check_err(
        "{action: lowercase, target_label: x, replacement: y}",
        "'replacement' can not be set for lowercase action",
    );
    check_err(
        "{action: uppercase, target_label: x, replacement: y}",
        "'replacement' can not be set for uppercase action",
    );
    check_ok("{action: uppercase, target_label: x, source_labels: [a]}");
    check_err(
        "{action: labelmap, replacement: '1x'}",
        r#""1x" is invalid 'replacement' for labelmap action"#,
    );
    check_ok("{action: labelmap, replacement: 'x_${1}'}");
    check_err(
        "{action: keepequal, target_label: x, regex: 'a'}",
        "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
    );
    check_err(
        "{action: dropequal, target_label: x, separator: ','}",
        "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
    );
    check_err(
        "{action: keepequal, target_label: x, replacement: y}",
        "'replacement' can not be set for keepequal action",
    );
    check_ok("{action: dropequal, target_label: x, source_labels: [a, b]}");
    check_err(
        "{action: labeldrop, source_labels: [a]}",
        "labeldrop action requires only 'regex', and no other fields",
    );
    check_err(
        "{action: labelkeep, target_label: a}",
        "labelkeep action requires only 'regex', and no other fields",
    );
    check_err(
        "{action: labeldrop, replacement: a}",
        "labeldrop action requires only 'regex', and no other fields",
    );
    check_ok("{action: labelkeep, regex: 'a|b'}");
    check_err("{action: keep, source_labels: ['a-b']}", r#""a-b" is not a valid label name"#);
    check_err("{action: keep, regex: '(a'}", r#"error parsing regexp "(a": unclosed group"#);
    check_err(
        "{action: keep, regex: 'a**'}",
        r#"error parsing regexp "a**": invalid nested repetition operator: `**`"#,
    );
    check_err(
        "{action: keep, regex: '\\e'}",
        r#"error parsing regexp "\\e": invalid escape sequence: `\e`"#,
    );
    check_ok("{action: keep, regex: 'a{bar}'}");
    // Prometheus wraps before parsing: an open `\Q` swallows the closing `)$`.
    check_err("{action: keep, regex: '\\Qa'}", r#"error parsing regexp "\\Qa": unclosed group"#);
    check_err(
        "{action: keep, regex: '[a'}",
        r#"error parsing regexp "[a": missing closing ]: `[a)$`"#,
    );
}

#[test]
fn target_template_validity_matches_prometheus() {
    let cases = [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
        ("", false),
        ("0a", false),
        ("$a$b", true),
        ("${a}9", true),
        ("é", false),
    ];
    for (s, valid) in cases {
        assert_eq!(is_valid_name_template(s), valid, "{s:?}");
    }
}

#[test]
fn go_quote_escapes_like_go() {
    assert_eq!(go_quote("a\"b\\c\n\x01é"), r#""a\"b\\c\n\x01é""#);
}

fn arb_labels() -> impl Strategy<Value = Labels> {
    proptest::collection::vec(("[a-c_][a-c0-9_]{0,3}", "[a-cé;\\n]{0,4}"), 0..6)
        .prop_map(Labels::from_pairs)
}

proptest! {
    #[test]
    fn labelkeep_everything_is_identity(input in arb_labels()) {
        prop_assert_eq!(relabel(&rules("[{regex: '.*', action: labelkeep}]"), &input), Some(input));
    }

    #[test]
    fn keep_and_drop_with_one_regex_partition_inputs(input in arb_labels(), regex in "[a-c;.*|]{0,5}") {
        let config = |action| RelabelConfig { source_labels: vec!["a".into(), "b".into()], regex: regex.clone(), action, ..Default::default() };
        // Random patterns may not compile; that is not what this checks.
        if let (Ok(keep), Ok(drop)) = (Rule::try_new(&config(Action::Keep)), Rule::try_new(&config(Action::Drop))) {
            let kept = relabel(&[keep], &input);
            let dropped = relabel(&[drop], &input);
            prop_assert!(kept.is_some() != dropped.is_some());
            prop_assert_eq!(kept.or(dropped), Some(input));
        }
    }

    #[test]
    fn default_replace_copies_the_source_value(input in arb_labels()) {
        let out = relabel(&rules("[{source_labels: [a], target_label: copy}]"), &input).unwrap();
        prop_assert_eq!(out.get("copy"), input.get("a"));
    }

    #[test]
    fn hashmod_stays_below_modulus(value in ".{0,20}", modulus in 1u64..1000) {
        prop_assert!(hash_mod(&value, modulus) < modulus);
    }
}
