//! The `global` block: defaults for every job and labels for every series.

use super::de::label_map;
use super::duration;
use super::scrape::{protocols, ScrapeProtocol};
use super::size::ByteSize;
use super::validate::{KeyPath, Problems};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// `global`: defaults that jobs inherit, and labels added to every series sent.
/// Values left out (or 0) read as Prometheus' defaults after loading.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How often to scrape targets by default (default 1m).
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub scrape_interval: Duration,
    /// Scrape timeout by default (default 10s, or `scrape_interval` when shorter).
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub scrape_timeout: Duration,
    /// Formats jobs ask for by default, most wanted first (default
    /// `[OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText0.0.4]`).
    #[serde(default, deserialize_with = "protocols")]
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// Rule evaluation interval (default 1m). Accepted; tern evaluates no rules.
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub evaluation_interval: Duration,
    /// Accepted; tern evaluates no rules.
    #[serde(default, deserialize_with = "duration::deserialize")]
    pub rule_query_offset: Duration,
    /// Accepted; tern runs no queries.
    #[serde(default)]
    pub query_log_file: Option<PathBuf>,
    /// Accepted; tern does not log scrape failures to a file yet.
    #[serde(default)]
    pub scrape_failure_log_file: Option<PathBuf>,
    /// Labels added to every series sent to remote_write. Values may refer to
    /// environment variables as `$NAME` or `${NAME}` (`$$` is a literal `$`).
    #[serde(default, deserialize_with = "label_map")]
    pub external_labels: BTreeMap<String, String>,
    /// Default `body_size_limit` for jobs (0 = unlimited).
    #[serde(default)]
    pub body_size_limit: ByteSize,
    /// Default `sample_limit` for jobs (0 = unlimited).
    #[serde(default)]
    pub sample_limit: u64,
    /// Default `target_limit` for jobs (0 = unlimited).
    #[serde(default)]
    pub target_limit: u64,
    /// Default `label_limit` for jobs (0 = unlimited).
    #[serde(default)]
    pub label_limit: u64,
    /// Default `label_name_length_limit` for jobs (0 = unlimited).
    #[serde(default)]
    pub label_name_length_limit: u64,
    /// Default `label_value_length_limit` for jobs (0 = unlimited).
    #[serde(default)]
    pub label_value_length_limit: u64,
    /// Default `keep_dropped_targets` for jobs (0 = keep all).
    #[serde(default)]
    pub keep_dropped_targets: u64,
}

impl Default for GlobalConfig {
    /// The global block of a config that has none.
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
            scrape_protocols: ScrapeProtocol::DEFAULT.to_vec(),
            evaluation_interval: DEFAULT_EVALUATION_INTERVAL,
            rule_query_offset: Duration::ZERO,
            query_log_file: None,
            scrape_failure_log_file: None,
            external_labels: BTreeMap::new(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
        }
    }
}

const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

impl GlobalConfig {
    /// Fills in defaults and checks the block, as Prometheus'
    /// `GlobalConfig.UnmarshalYAML`; expands environment variables in
    /// `external_labels` with `env`, warning about empty ones.
    pub(crate) fn resolve(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
        p: &mut Problems,
        warnings: &mut Vec<(KeyPath, String)>,
    ) {
        let at = KeyPath::root().key("global");
        if self.scrape_interval.is_zero() {
            self.scrape_interval = DEFAULT_SCRAPE_INTERVAL;
        }
        if self.scrape_timeout > self.scrape_interval {
            p.add(at.key("scrape_timeout"), "global scrape timeout greater than scrape interval");
        }
        if self.scrape_timeout.is_zero() {
            self.scrape_timeout = DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval);
        }
        if self.evaluation_interval.is_zero() {
            self.evaluation_interval = DEFAULT_EVALUATION_INTERVAL;
        }
        if self.scrape_protocols.is_empty() {
            self.scrape_protocols = ScrapeProtocol::DEFAULT.to_vec();
        }
        for (name, value) in &mut self.external_labels {
            let mut empty = Vec::new();
            *value = expand_env(value, &mut |var| {
                let found = env(var).unwrap_or_default();
                if found.is_empty() {
                    empty.push(var.to_owned());
                }
                found
            });
            for var in empty {
                warnings.push((
                    at.key("external_labels").key(name),
                    format!(
                        "external label {name:?}: environment variable {var:?} is empty or unset"
                    ),
                ));
            }
        }
    }
}

/// Expands `$NAME` and `${NAME}` in `s` with `lookup`, with the rules of Go's
/// `os.Expand` that Prometheus uses: `$$` is `$`; `$` followed by anything
/// else that is not a name stays; a malformed `${...` is dropped.
pub(crate) fn expand_env(s: &str, lookup: &mut dyn FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if after.is_empty() {
            out.push('$');
            return out;
        }
        let (name, consumed) = shell_name(after);
        match name {
            Some("$") => out.push('$'),
            Some(name) => out.push_str(&lookup(name)),
            None if consumed == 0 => out.push('$'),
            None => {} // bad syntax such as `${}`: dropped
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// The variable name at the start of `s` (the text after a `$`) and how many
/// bytes it spans; `None` with 0 bytes when there is no name.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let special = |b: u8| b"*#$@!?-".contains(&b) || b.is_ascii_digit();
    let bytes = s.as_bytes();
    if bytes[0] == b'{' {
        if bytes.len() > 2 && special(bytes[1]) && bytes[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        return match s.find('}') {
            Some(1) => (None, 2),
            Some(close) => (Some(&s[1..close]), close + 1),
            None => (None, 1),
        };
    }
    if special(bytes[0]) {
        return (Some(&s[..1]), 1);
    }
    let len = bytes.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
    if len == 0 {
        (None, 0)
    } else {
        (Some(&s[..len]), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, want: &str) {
        let got = expand_env(input, &mut |name| match name {
            "HOST" => "h1".to_owned(),
            "A_B" => "ab".to_owned(),
            _ => String::new(),
        });
        assert_eq!(got, want, "expand_env({input:?})");
    }

    #[test]
    fn expands_environment_like_go_os_expand() {
        check("plain", "plain");
        check("$HOST", "h1");
        check("${HOST}-x", "h1-x");
        check("a-$A_B.c", "a-ab.c");
        check("$$HOST", "$HOST");
        check("$UNSET!", "!");
        check("cost $", "cost $");
        check("a $ b", "a $ b");
        check("x${}y", "xy");
        check("x${HOST", "xHOST");
        check("é$HOST", "éh1");
    }
}
