//! Target files: a JSON or YAML list of `{targets: [...], labels: {...}}`.
//!
//! Grammar (as Prometheus' `targetgroup.Group` unmarshalers accept it):
//! - file       = null | [ group* ]          (an empty YAML document is an empty list)
//! - group      = { "targets"?: [ address | null ]* | null, "labels"?: { name: value | null } | null }
//! - name       = [a-zA-Z_][a-zA-Z0-9_]*
//! - value      = any UTF-8 string; in YAML any scalar, taken as written (`80` is `"80"`)
//!
//! Unknown keys are errors. A null or empty address is skipped and a null label
//! value is an absent label (Go's zero value), so every target holds
//! `__address__`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Deserializer};

use super::{FileSdError, FILEPATH_LABEL};
use crate::discovery::TargetGroup;
use crate::labels::LabelsBuilder;

/// The format a target file is read in, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Yaml,
}

impl Format {
    /// `.json`, `.yml`, `.yaml` in any case, as Prometheus.
    pub(super) fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Format::Json),
            "yml" | "yaml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// `group` of the grammar above.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "a target group")]
struct RawGroup {
    targets: Option<Vec<Option<String>>>,
    labels: Option<BTreeMap<LabelName, Option<String>>>,
}

/// `name` of the grammar above, validated while deserializing so that the
/// parser reports the position.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct LabelName(String);

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        if is_valid_label_name(&name) {
            Ok(LabelName(name))
        } else {
            Err(serde::de::Error::custom(format!("invalid label name {name:?}")))
        }
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, Prometheus' (legacy) label name rule.
pub(super) fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses a target file's content. `path` names the groups' sources
/// (`"{path}:{index}"`), the `__meta_filepath` label and any error.
pub fn parse_target_groups(path: &Path, content: &[u8]) -> Result<Vec<TargetGroup>, FileSdError> {
    let raw =
        match Format::of(path) {
            Some(Format::Json) => serde_json::from_slice::<Option<Vec<RawGroup>>>(content)
                .map_err(|e| FileSdError::Parse {
                    path: path.to_owned(),
                    line: Some(e.line()),
                    column: Some(e.column()),
                    message: e.to_string(),
                })?,
            Some(Format::Yaml) => serde_yaml::from_slice::<Option<Vec<RawGroup>>>(content)
                .map_err(|e| {
                    let location = e.location();
                    FileSdError::Parse {
                        path: path.to_owned(),
                        line: location.as_ref().map(|l| l.line()),
                        column: location.as_ref().map(|l| l.column()),
                        message: e.to_string(),
                    }
                })?,
            None => return Err(FileSdError::Extension { path: path.to_owned() }),
        };
    let path_str = path.to_string_lossy();
    let groups = raw
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, g)| build_group(&path_str, i, g))
        .collect();
    Ok(groups)
}

fn build_group(path: &str, index: usize, raw: RawGroup) -> TargetGroup {
    let mut labels = LabelsBuilder::default();
    for (name, value) in raw.labels.unwrap_or_default() {
        labels.set(name.0, value.unwrap_or_default());
    }
    // Set last: the file's path wins over a label of the same name in the file.
    labels.set(FILEPATH_LABEL, path);
    let targets = raw.targets.unwrap_or_default();
    TargetGroup::from_addresses(
        format!("{path}:{index}"),
        targets.iter().flatten().map(String::as_str),
        labels.build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders groups as `source: [addresses] labels` lines.
    fn render(groups: &[TargetGroup]) -> Vec<String> {
        groups
            .iter()
            .map(|g| {
                let targets: Vec<&str> =
                    g.targets.iter().map(|t| t.get("__address__").unwrap()).collect();
                format!("{}: [{}] {}", g.source, targets.join(" "), g.labels)
            })
            .collect()
    }

    /// `want`: Ok(rendered groups) or Err(substring of the error, line, column).
    #[track_caller]
    fn check(path: &str, content: &str, want: Result<&[&str], (&str, Option<usize>)>) {
        let got = parse_target_groups(Path::new(path), content.as_bytes());
        match (got, want) {
            (Ok(groups), Ok(want)) => assert_eq!(render(&groups), want),
            (Err(e), Err((msg, line))) => {
                let text = e.to_string();
                assert!(text.starts_with(&format!("{path}: ")), "error names the file: {text}");
                assert!(text.contains(msg), "{text:?} should contain {msg:?}");
                if let FileSdError::Parse { line: got_line, .. } = e {
                    assert_eq!(got_line, line, "line of {text:?}");
                }
            }
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn json_target_files() {
        check(
            "t.json",
            r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod", "__scheme__": "https"}},
                {"targets": ["c:3"]}]"#,
            Ok(&[
                r#"t.json:0: [a:1 b:2] {__meta_filepath="t.json", __scheme__="https", env="prod"}"#,
                r#"t.json:1: [c:3] {__meta_filepath="t.json"}"#,
            ]),
        );
        check("t.json", "[]", Ok(&[]));
        check("t.json", "null", Ok(&[]));
        check(
            "T.JSON",
            r#"[{"labels": {"a": "ü ☃ \"q\""}}]"#,
            Ok(&[r#"T.JSON:0: [] {__meta_filepath="T.JSON", a="ü ☃ \"q\""}"#]),
        );
        check(
            "t.json",
            r#"[{"targets": ["a:1", "", null], "labels": {"__meta_filepath": "x", "n": null}}]"#,
            Ok(&[r#"t.json:0: [a:1] {__meta_filepath="t.json"}"#]),
        );
        check("dir/t.json", "", Err(("EOF while parsing", Some(1))));
        check(
            "t.json",
            "[{\"targets\": [\"a:1\"],\n \"labls\": {}}]",
            Err(("unknown field `labls`", Some(2))),
        );
        check(
            "t.json",
            r#"[{"labels": {"1a": "x"}}]"#,
            Err(("invalid label name \"1a\"", Some(1))),
        );
        check(
            "t.json",
            r#"[{"labels": {"a-b": "x"}}]"#,
            Err(("invalid label name \"a-b\"", Some(1))),
        );
        check("t.json", r#"[{"labels": {"a": 1}}]"#, Err(("expected a string", Some(1))));
        check("t.json", "[null]", Err(("expected a target group", Some(1))));
        check("t.json", r#"{"targets": []}"#, Err(("expected a sequence", Some(1))));
        check("t.json", "[{\"targets\": [\"a:1\"]}", Err(("EOF while parsing a list", Some(1))));
    }

    #[test]
    fn yaml_target_files() {
        check(
            "s/t.yml",
            "- targets: ['a:1', b:2]\n  labels:\n    env: prod\n    port: 80\n    ratio: 1.0\n    gone: ~\n- targets: [c:3]\n",
            Ok(&[
                r#"s/t.yml:0: [a:1 b:2] {__meta_filepath="s/t.yml", env="prod", port="80", ratio="1.0"}"#,
                r#"s/t.yml:1: [c:3] {__meta_filepath="s/t.yml"}"#,
            ]),
        );
        check("t.yaml", "", Ok(&[]));
        check("t.yaml", "# only a comment\n", Ok(&[]));
        check("t.YAML", "[]", Ok(&[]));
        check(
            "t.yaml",
            "- targets:\n  labels:\n",
            Ok(&[r#"t.yaml:0: [] {__meta_filepath="t.yaml"}"#]),
        );
        check("t.yaml", "- targets: [a:1\n", Err(("did not find expected", Some(2))));
        check(
            "t.yaml",
            "- targets: [a:1]\n  lables: {}\n",
            Err(("unknown field `lables`", Some(2))),
        );
        // serde_yaml places errors in a mapping's keys at the mapping's start.
        check(
            "t.yaml",
            "- labels:\n    ok: x\n    bad.name: y\n",
            Err((".[0].labels: invalid label name \"bad.name\"", Some(2))),
        );
        check("t.yaml", "- null\n", Err(("expected a target group", Some(1))));
        check("t.yaml", "targets: [a:1]\n", Err(("expected a sequence", Some(1))));
    }

    #[test]
    fn other_extensions_are_rejected() {
        check("t.txt", "[]", Err(("must end in .json, .yml or .yaml", None)));
        check("t", "[]", Err(("must end in .json, .yml or .yaml", None)));
    }

    #[test]
    fn label_names() {
        for ok in ["a", "_", "__address__", "A_1", "z9"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é", "a b"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }
}
