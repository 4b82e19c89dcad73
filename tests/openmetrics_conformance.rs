//! The OpenMetrics project's parser conformance cases
//! (`../shared/testdata/openmetrics-parsers`, read in place): every body whose
//! `test.json` says `shouldParse: true` must parse to the end, every other body
//! must be refused.

use std::path::{Path, PathBuf};

use tern::exposition::openmetrics::OpenMetricsParser;
use tern::exposition::ParseError;

/// The suite at commit 296468b holds this many cases; fewer means the folder
/// is not the one the test was written for.
const EXPECTED_CASES: usize = 211;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    #[serde(rename = "type")]
    kind: String,
    file: String,
    should_parse: bool,
}

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/openmetrics-parsers")
}

/// Consumes every entry; the first error, if any.
fn parse(body: &[u8]) -> Result<usize, ParseError> {
    OpenMetricsParser::new(body).try_fold(0, |n, entry| entry.map(|_| n + 1))
}

#[test]
fn openmetrics_parser_agrees_with_every_conformance_case() {
    let dir = suite_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("conformance suite missing at {}: {e}", dir.display()));
    let mut cases: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.join("test.json").is_file())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= EXPECTED_CASES,
        "conformance suite at {} has {} cases, expected at least {EXPECTED_CASES}",
        dir.display(),
        cases.len()
    );

    let mut disagreements = Vec::new();
    for case_dir in &cases {
        let name = case_dir.file_name().unwrap().to_string_lossy().into_owned();
        let json = std::fs::read(case_dir.join("test.json")).unwrap();
        let case: Case = serde_json::from_slice(&json)
            .unwrap_or_else(|e| panic!("{name}/test.json does not describe a case: {e}"));
        assert_eq!(case.kind, "text", "{name}: only text cases are expected");
        let body = std::fs::read(case_dir.join(&case.file)).unwrap();
        match (case.should_parse, parse(&body)) {
            (true, Ok(_)) | (false, Err(_)) => {}
            (true, Err(e)) => disagreements.push(format!("{name}: should parse, refused: {e}")),
            (false, Ok(n)) => {
                disagreements.push(format!("{name}: should be refused, parsed to {n} entries"))
            }
        }
    }

    let agree = cases.len() - disagreements.len();
    println!("openmetrics conformance: {agree} of {} cases agree", cases.len());
    assert!(
        disagreements.is_empty(),
        "{} of {} conformance cases disagree:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}
