//! Wall-clock time as the pipeline stamps samples: milliseconds since the
//! Unix epoch. One place, so that no stage reaches into another for it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
