//! The `os` collector, as node_exporter 1.5's `os_release.go`:
//! `<root>/etc/os-release`, or `<root>/usr/lib/os-release` when the first is
//! absent (no data when both are), as `node_os_info` (constant 1, labeled by
//! the release fields) and `node_os_version` (the major.minor part of
//! `VERSION_ID`, only when there is one).

use std::collections::HashMap;

use super::procfile::LineError;
use super::{Collector, CollectorError, Context, Kind, MetricSet};

/// The os-release files node_exporter tries, in order, under the root.
const FILES: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// The `os-release` format (a subset of shell assignments, as
/// `go-envparse` reads it): `KEY=value` lines, `#` comments and blank lines
/// skipped, values unquoted or in double quotes (backslash escapes undone) or
/// single quotes (literal).
pub fn parse_os_release(text: &str) -> Result<HashMap<String, String>, LineError> {
    let mut env = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, raw)) = line.split_once('=') else {
            return Err(LineError::new(lineno, format!("missing '=' in {line:?}")));
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(LineError::new(lineno, format!("invalid key {key:?}")));
        }
        let value = unquote(raw)
            .ok_or_else(|| LineError::new(lineno, format!("unterminated quote in {line:?}")))?;
        env.insert(key.to_owned(), value);
    }
    Ok(env)
}

/// One value: `"..."` with escapes, `'...'` literal, or bare up to ` #`.
fn unquote(raw: &str) -> Option<String> {
    if let Some(rest) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => out.push(chars.next()?),
                c => out.push(c),
            }
        }
        None
    } else if let Some(rest) = raw.strip_prefix('\'') {
        rest.find('\'').map(|end| rest[..end].to_owned())
    } else {
        let bare = raw.split(" #").next().unwrap_or("").trim_end();
        Some(bare.replace('\\', ""))
    }
}

/// `^[0-9]+\.?[0-9]*` of `VERSION_ID` as a number, 0 when it does not match.
pub fn major_minor(version_id: &str) -> f64 {
    let int_len = version_id.bytes().take_while(u8::is_ascii_digit).count();
    if int_len == 0 {
        return 0.0;
    }
    let mut end = int_len;
    if version_id[end..].starts_with('.') {
        end += 1;
        end += version_id[end..].bytes().take_while(u8::is_ascii_digit).count();
    }
    version_id[..end].trim_end_matches('.').parse().unwrap_or(0.0)
}

/// The `os` collector.
#[derive(Debug, Default)]
pub struct Os;

impl Collector for Os {
    fn name(&self) -> &'static str {
        "os"
    }

    fn update(&self, ctx: &Context<'_>, out: &mut MetricSet) -> Result<(), CollectorError> {
        let mut found = None;
        for rel in FILES {
            let path = ctx.roots.root(rel);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    found = Some((path, text));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CollectorError::io(&path, e)),
            }
        }
        let Some((path, text)) = found else {
            return Err(CollectorError::NoData(format!(
                "no os-release file found ({})",
                FILES.join(",")
            )));
        };
        let env = parse_os_release(&text).map_err(|e| e.at(&path))?;
        let get = |k: &str| env.get(k).map(String::as_str).unwrap_or("");
        let info_labels = [
            ("build_id", "BUILD_ID"),
            ("id", "ID"),
            ("id_like", "ID_LIKE"),
            ("image_id", "IMAGE_ID"),
            ("image_version", "IMAGE_VERSION"),
            ("name", "NAME"),
            ("pretty_name", "PRETTY_NAME"),
            ("variant", "VARIANT"),
            ("variant_id", "VARIANT_ID"),
            ("version", "VERSION"),
            ("version_codename", "VERSION_CODENAME"),
            ("version_id", "VERSION_ID"),
        ]
        .map(|(label, key)| (label, get(key)));
        out.push(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, \
             name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            Kind::Gauge,
            &info_labels,
            1.0,
        );
        let version = major_minor(get("VERSION_ID"));
        if version > 0.0 {
            out.push(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                Kind::Gauge,
                &[("id", get("ID")), ("id_like", get("ID_LIKE")), ("name", get("NAME"))],
                version,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hostmetrics::procfile::testing::{fixture_roots, run, temp_roots, write};

    #[test]
    fn parses_quoting_comments_and_blank_lines() {
        let env = parse_os_release(
            "# c\n\nNAME=\"Debian \\\"GNU\\\"\"\nID=debian\nX='a \\ b'\nY=bare # note\n",
        )
        .unwrap();
        assert_eq!(env["NAME"], "Debian \"GNU\"");
        assert_eq!(env["ID"], "debian");
        assert_eq!(env["X"], "a \\ b");
        assert_eq!(env["Y"], "bare");
    }

    #[test]
    fn rejects_malformed_and_truncated_files() {
        assert_eq!(parse_os_release("ID=x\nNAME\n").unwrap_err().line, 2);
        assert!(parse_os_release("NAME=\"Debian GNU")
            .unwrap_err()
            .message
            .contains("unterminated"));
        assert!(parse_os_release("BAD KEY=1\n").is_err());
    }

    #[test]
    fn version_is_the_major_minor_prefix() {
        assert_eq!(major_minor("12"), 12.0);
        assert_eq!(major_minor("22.04"), 22.04);
        assert_eq!(major_minor("8.6.2"), 8.6);
        assert_eq!(major_minor("rolling"), 0.0);
        assert_eq!(major_minor(""), 0.0);
    }

    #[test]
    fn fixture_tree_yields_info_and_version() {
        let out = run(&Os, &fixture_roots()).unwrap();
        let text = out.to_text();
        assert!(text.contains("pretty_name=\"Debian GNU/Linux 12 (bookworm)\""), "{text}");
        assert_eq!(
            out.get(
                "node_os_version",
                &[("id", "debian"), ("id_like", ""), ("name", "Debian GNU/Linux")]
            ),
            Some(12.0)
        );
    }

    #[test]
    fn falls_back_to_usr_lib_and_reports_no_data_without_either() {
        let (_dir, roots) = temp_roots();
        assert!(matches!(run(&Os, &roots), Err(CollectorError::NoData(_))));
        write(roots.root("usr/lib/os-release"), "ID=arch\nNAME=Arch\n");
        let out = run(&Os, &roots).unwrap();
        assert!(out
            .get("node_os_version", &[("id", "arch"), ("id_like", ""), ("name", "Arch")])
            .is_none());
        assert!(out.to_text().contains("id=\"arch\""));
    }
}
