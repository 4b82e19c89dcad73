//! What the targets API shows of a running target: health, last error, last
//! scrape time and duration. Written by the target's loop after each scrape,
//! read by the HTTP server; the lock is never held across an `.await`.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// A target's health, as Prometheus reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    #[default]
    Unknown,
    Up,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The last scrape of a target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetStatus {
    pub health: Health,
    pub last_error: String,
    pub last_scrape: Option<SystemTime>,
    pub last_scrape_duration_secs: f64,
    pub last_samples: usize,
}

/// Shared handle to a target's status.
pub type SharedStatus = Arc<Mutex<TargetStatus>>;

/// Reads a status, tolerating a poisoned lock (a panicked writer leaves the
/// last complete value).
pub fn read(status: &SharedStatus) -> TargetStatus {
    status.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Replaces a status.
pub fn write(status: &SharedStatus, value: TargetStatus) {
    *status.lock().unwrap_or_else(|p| p.into_inner()) = value;
}
