//! Targets as Prometheus builds them from target groups (`PopulateLabels` in
//! Prometheus' `scrape/target.go`, 2.x semantics).
//!
//! For each discovered target: group labels under target labels; `job`,
//! `__scrape_interval__`, `__scrape_timeout__`, `__metrics_path__`,
//! `__scheme__` added unless set; `__param_<name>` from the job's `params`;
//! then `relabel_configs`. A dropped target is kept with its discovered labels
//! for the targets API. A kept one needs `__address__`; a missing port is
//! added from the scheme (80, 443) as Prometheus 2.x does; `__meta_*` labels
//! go; `instance` defaults to the address; interval and timeout may be
//! relabelled and are validated. The target's public labels are the ones
//! without the `__` prefix.

use std::time::Duration;

use crate::config::duration::{format_duration, parse_duration};
use crate::discovery::TargetGroup;
use crate::labels::{Labels, LabelsBuilder, RESERVED_PREFIX};
use crate::relabel;

use super::ScrapeJob;

const ADDRESS: &str = "__address__";
const SCHEME: &str = "__scheme__";
const METRICS_PATH: &str = "__metrics_path__";
const SCRAPE_INTERVAL: &str = "__scrape_interval__";
const SCRAPE_TIMEOUT: &str = "__scrape_timeout__";
const PARAM_PREFIX: &str = "__param_";
const META_PREFIX: &str = "__meta_";

/// A target to scrape: immutable, shared by its loop and the targets API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Public labels (no `__` prefix): added to every scraped series.
    pub labels: Labels,
    /// All labels after relabeling, `__address__` and the like included.
    pub full_labels: Labels,
    /// Labels as discovered, before relabeling.
    pub discovered: Labels,
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Stable identity: hash of the labels and the URL.
    pub hash: u64,
}

/// A target that relabeling dropped, kept for the targets API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTarget {
    pub discovered: Labels,
}

/// Why a discovered target could not become a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("no address")]
    NoAddress,
    #[error("invalid scheme: {0:?}")]
    InvalidScheme(String),
    #[error("{0:?} is not a valid hostname")]
    InvalidAddress(String),
    #[error("error parsing scrape interval: {0}")]
    Interval(String),
    #[error("error parsing scrape timeout: {0}")]
    Timeout(String),
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    #[error("scrape timeout cannot be greater than scrape interval ({0:?} > {1:?})")]
    TimeoutOverInterval(String, String),
    #[error("invalid target URL {0:?}")]
    Url(String),
}

/// What became of one discovered target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Populated {
    Active(Target),
    Dropped(DroppedTarget),
    Failed { discovered: Labels, error: TargetError },
}

/// Builds the targets of one group.
pub fn populate_group(job: &ScrapeJob, group: &TargetGroup) -> Vec<Populated> {
    group
        .targets
        .iter()
        .map(|t| {
            let mut b = group.labels.builder();
            for l in t {
                b.set(l.name, l.value);
            }
            populate(job, b)
        })
        .collect()
}

/// Builds one target from its merged discovered labels.
pub fn populate(job: &ScrapeJob, mut b: LabelsBuilder) -> Populated {
    let defaults = [
        ("job", job.name.to_string()),
        (SCRAPE_INTERVAL, format_duration(job.interval)),
        (SCRAPE_TIMEOUT, format_duration(job.timeout)),
        (METRICS_PATH, job.metrics_path.clone()),
        (SCHEME, job.scheme.clone()),
    ];
    for (name, value) in defaults {
        if !b.has(name) {
            b.set(name, value);
        }
    }
    for (name, values) in &job.params {
        if let Some(first) = values.first() {
            b.set(format!("{PARAM_PREFIX}{name}"), first.as_str());
        }
    }
    let discovered = b.clone().build();
    if !relabel::process(&job.relabel, &mut b) {
        return Populated::Dropped(DroppedTarget { discovered });
    }
    match finish(job, b, discovered.clone()) {
        Ok(target) => Populated::Active(target),
        Err(error) => Populated::Failed { discovered, error },
    }
}

fn finish(
    job: &ScrapeJob,
    mut b: LabelsBuilder,
    discovered: Labels,
) -> Result<Target, TargetError> {
    let mut address = b.get(ADDRESS).to_owned();
    if address.is_empty() {
        return Err(TargetError::NoAddress);
    }
    let scheme = b.get(SCHEME).to_owned();
    if needs_port(&address) {
        match scheme.as_str() {
            "http" | "" => address.push_str(":80"),
            "https" => address.push_str(":443"),
            _ => return Err(TargetError::InvalidScheme(scheme)),
        }
        b.set(ADDRESS, address.as_str());
    }
    if address.contains('/') {
        return Err(TargetError::InvalidAddress(address));
    }
    let interval_text = b.get(SCRAPE_INTERVAL).to_owned();
    let timeout_text = b.get(SCRAPE_TIMEOUT).to_owned();
    let interval =
        parse_duration(&interval_text).map_err(|e| TargetError::Interval(e.to_string()))?;
    let timeout = parse_duration(&timeout_text).map_err(|e| TargetError::Timeout(e.to_string()))?;
    if interval.is_zero() {
        return Err(TargetError::ZeroInterval);
    }
    if timeout.is_zero() {
        return Err(TargetError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(TargetError::TimeoutOverInterval(timeout_text, interval_text));
    }
    b.retain(|l| !l.name.starts_with(META_PREFIX));
    if !b.has("instance") {
        b.set("instance", address.as_str());
    }
    let full_labels = b.build();
    let url = target_url(job, &full_labels)?;
    let mut public = LabelsBuilder::default();
    for l in full_labels.iter().filter(|l| !l.name.starts_with(RESERVED_PREFIX)) {
        public.set(l.name, l.value);
    }
    let labels = public.build();
    let hash = labels.stable_hash() ^ Labels::from_pairs([("url", url.as_str())]).stable_hash();
    Ok(Target { labels, full_labels, discovered, url, interval, timeout, hash })
}

/// Whether Go's `net.SplitHostPort` would find the port missing (and only
/// that): `host`, `1.2.3.4`, `[::1]`, but not `::1` (ambiguous).
fn needs_port(address: &str) -> bool {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.ends_with(']') && !rest[..rest.len() - 1].contains(']');
    }
    !address.contains(':')
}

/// `scheme://address/metrics_path?params`, with `__param_<name>` labels
/// overriding the first value of the job's `params[name]`. Built as Go's
/// `url.URL.String()` builds it: the address exactly as given (a default port
/// stays), the path escaped, the query sorted by name.
fn target_url(job: &ScrapeJob, labels: &Labels) -> Result<String, TargetError> {
    if job.is_host() {
        return Ok(super::job::HOST_SCRAPE_URL.to_owned());
    }
    let scheme = labels.get(SCHEME).unwrap_or("http");
    let address = labels.get(ADDRESS).unwrap_or_default();
    let mut params: std::collections::BTreeMap<String, Vec<String>> =
        job.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    for l in labels.iter() {
        if let Some(name) = l.name.strip_prefix(PARAM_PREFIX) {
            let values = params.entry(name.to_owned()).or_default();
            match values.first_mut() {
                Some(first) => *first = l.value.to_owned(),
                None => values.push(l.value.to_owned()),
            }
        }
    }
    // `Url` escapes the path and the query; the authority is kept as written.
    let mut escaper = reqwest::Url::parse("http://x").expect("BUG: static URL");
    escaper.set_path(labels.get(METRICS_PATH).unwrap_or_default());
    for (name, values) in &params {
        for v in values {
            escaper.query_pairs_mut().append_pair(name, v);
        }
    }
    let mut url = format!("{scheme}://{address}{}", escaper.path());
    if let Some(q) = escaper.query() {
        url.push('?');
        url.push_str(q);
    }
    reqwest::Url::parse(&url).map_err(|_| TargetError::Url(url.clone()))?;
    Ok(url)
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
