//! tern's own `wal:` block: the disk WAL between scraping and remote write.
//!
//! ```yaml
//! wal:
//!   max_size: 1GB        # oldest segments go first when full (default 1 GiB)
//!   fsync: interval      # interval (default) | always | never
//!   fsync_interval: 1s   # with `interval`: at most this much data exposed to power loss
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::duration;
use super::size::ByteSize;

/// When WAL data is flushed to stable storage. A process crash loses nothing
/// already appended in every mode; these differ on power loss.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncMode {
    /// At most `fsync_interval` of data exposed to power loss (default).
    #[default]
    Interval,
    /// After every append: nothing exposed, most disk work.
    Always,
    /// Left to the operating system.
    Never,
}

/// The `wal:` block.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// Bound on the WAL's size on disk (default 1GB = 1 GiB). When reached,
    /// the oldest segments are deleted even if not yet sent (logged, counted).
    pub max_size: ByteSize,
    /// The fsync policy.
    pub fsync: FsyncMode,
    /// With `fsync: interval`, the longest time appended data waits for an fsync.
    #[serde(deserialize_with = "duration::deserialize")]
    pub fsync_interval: Duration,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            max_size: ByteSize(1 << 30),
            fsync: FsyncMode::Interval,
            fsync_interval: Duration::from_secs(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    #[track_caller]
    fn check(yaml: &str, want: Result<WalConfig, &str>) {
        let got = load_str(yaml, "t.yml").map(|l| l.config.wal).map_err(|e| e.to_string());
        match (got, want) {
            (Ok(g), Ok(w)) => assert_eq!(g, w, "{yaml}"),
            (Err(g), Err(w)) => assert!(g.contains(w), "{yaml}: {g}"),
            (g, w) => panic!("{yaml}: got {g:?}, want {w:?}"),
        }
    }

    #[test]
    fn wal_block_defaults_and_values() {
        check("scrape_configs: []\n", Ok(WalConfig::default()));
        check(
            "wal: {max_size: 10MB, fsync: always, fsync_interval: 250ms}\n",
            Ok(WalConfig {
                max_size: ByteSize(10 << 20),
                fsync: FsyncMode::Always,
                fsync_interval: Duration::from_millis(250),
            }),
        );
        check(
            "wal: {fsync: never}\n",
            Ok(WalConfig { fsync: FsyncMode::Never, ..WalConfig::default() }),
        );
        check("wal: {max_sise: 1GB}\n", Err("t.yml:1:7: "));
        check("wal: {fsync: sometimes}\n", Err("unknown variant `sometimes`"));
    }
}
