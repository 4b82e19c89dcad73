//! The scrape stage: targets from discovery, one loop per target, labelled
//! samples out.
//!
//! ```text
//! target groups ──► target::populate ──► Manager ──► ScrapeLoop (one per target)
//!                   (relabel_configs)    (per job)    fetch ► parse ► label ► batch ──► sink
//! ```
//!
//! The stage's output is a bounded channel of [`ScrapeBatch`]es: one scrape's
//! samples (automatic series and stale markers included). A loop waits for the
//! channel to take its batch before it counts the scrape as done, so a slow
//! consumer slows scraping down instead of losing samples.

use std::sync::Arc;

use crate::labels::{Labels, SharedSeries};

pub mod direct;
pub mod fetch;
pub mod job;
pub mod manager;
pub mod metrics;
pub mod series;
pub mod status;
pub mod target;
pub mod worker;

pub use job::ScrapeJob;
pub use manager::Manager;
pub use target::{DroppedTarget, Target};

/// One sample of a series (its final label set and hash).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSample {
    pub series: SharedSeries,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// One scrape's samples (or the stale markers of a target that went away).
#[derive(Debug)]
pub struct ScrapeBatch {
    pub job: Arc<str>,
    /// The target's public labels.
    pub target: Arc<Labels>,
    pub samples: Vec<SeriesSample>,
    /// Answered by the consumer once the batch is stored (appended to the
    /// WAL), with the samples handed back: the scrape counts as done then,
    /// and the loop frees them on its own thread, where their series'
    /// reference counts were raised (a free on another core costs each
    /// count's cache line a trip between cores). Dropping it unanswered also
    /// releases the loop (a consumer that does not store, as in tests).
    pub done: Option<tokio::sync::oneshot::Sender<Vec<SeriesSample>>>,
}

/// A copy of the samples, without the completion handle.
impl Clone for ScrapeBatch {
    fn clone(&self) -> Self {
        ScrapeBatch {
            job: self.job.clone(),
            target: self.target.clone(),
            samples: self.samples.clone(),
            done: None,
        }
    }
}

/// Per-scrape limits; 0 means no limit. Exceeding one fails the scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub sample_limit: usize,
    pub label_limit: usize,
    pub label_name_length_limit: usize,
    pub label_value_length_limit: usize,
    pub body_size_limit: usize,
}
