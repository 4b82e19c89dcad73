//! `/api/v1/targets` in Prometheus' JSON shape.

use serde_json::{json, Map, Value};

use crate::config::duration::format_duration;
use crate::labels::Labels;
use crate::scrape::manager::TargetsView;
use crate::scrape::status;

fn labels_json(labels: &Labels) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|l| (l.name.to_owned(), Value::String(l.value.to_owned())))
            .collect::<Map<_, _>>(),
    )
}

/// The response body for `state` (`active`, `dropped` or `any`) and an
/// optional scrape pool filter.
pub fn render(view: &TargetsView, state: &str, pool: Option<&str>) -> Value {
    let want = |job: &str| pool.is_none_or(|p| p == job);
    let show_active = state.eq_ignore_ascii_case("active")
        || state.eq_ignore_ascii_case("any")
        || state.is_empty();
    let show_dropped = state.eq_ignore_ascii_case("dropped")
        || state.eq_ignore_ascii_case("any")
        || state.is_empty();
    let active: Vec<Value> = if show_active {
        view.active
            .iter()
            .filter(|a| want(&a.job))
            .map(|a| {
                let s = status::read(&a.status);
                let last_scrape = s.last_scrape.map_or_else(
                    || "0001-01-01T00:00:00Z".to_owned(),
                    |t| humantime::format_rfc3339_nanos(t).to_string(),
                );
                json!({
                    "discoveredLabels": labels_json(&a.target.discovered),
                    "labels": labels_json(&a.target.labels),
                    "scrapePool": a.job.as_ref(),
                    "scrapeUrl": a.target.url,
                    "globalUrl": a.target.url,
                    "lastError": s.last_error,
                    "lastScrape": last_scrape,
                    "lastScrapeDuration": s.last_scrape_duration_secs,
                    "health": s.health.as_str(),
                    "scrapeInterval": format_duration(a.target.interval),
                    "scrapeTimeout": format_duration(a.target.timeout),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let dropped: Vec<Value> = if show_dropped {
        view.dropped
            .iter()
            .filter(|(job, _)| want(job))
            .map(|(_, d)| json!({ "discoveredLabels": labels_json(&d.discovered) }))
            .collect()
    } else {
        Vec::new()
    };
    json!({ "status": "success", "data": { "activeTargets": active, "droppedTargets": dropped } })
}
