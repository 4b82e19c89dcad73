//! A series as the pipeline passes it, from the scrape stage through the
//! WAL to the remote queues: its final label set, the label set's stable
//! hash, and the WAL writer's reference to it. Shared (`Arc<Series>`), so
//! each series' labels exist once in memory whatever holds them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Labels;

/// 40 bytes (56 with the `Arc`'s counts), label buffer included when short.
pub struct Series {
    labels: Labels,
    hash: u64,
    /// The WAL writer's `(epoch << 32) | (ref + 1)` for this series (0: none):
    /// the segment encoder of that epoch has declared the series as `ref`.
    wal_ref: AtomicU64,
}

impl Series {
    pub fn new(labels: Labels) -> Self {
        let hash = labels.stable_hash();
        Series::with_hash(labels, hash)
    }

    /// `hash` is `labels.stable_hash()`, computed by the caller (tests pass
    /// others to make collisions).
    pub fn with_hash(labels: Labels, hash: u64) -> Self {
        Series { labels, hash, wal_ref: AtomicU64::new(0) }
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// `labels().stable_hash()`, computed once.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The ref the WAL encoder of `epoch` gave this series, if any.
    pub(crate) fn wal_ref(&self, epoch: u32) -> Option<u32> {
        let v = self.wal_ref.load(Ordering::Relaxed);
        (v >> 32 == u64::from(epoch) && v as u32 != 0).then(|| v as u32 - 1)
    }

    /// Records the ref the WAL encoder of `epoch` gave this series.
    pub(crate) fn set_wal_ref(&self, epoch: u32, r: u32) {
        let v = u64::from(epoch) << 32 | u64::from(r.wrapping_add(1));
        self.wal_ref.store(v, Ordering::Relaxed);
    }
}

const _: () = assert!(std::mem::size_of::<Series>() == 40);

/// A series reads as its label set.
impl std::ops::Deref for Series {
    type Target = Labels;
    fn deref(&self) -> &Labels {
        &self.labels
    }
}

/// Series are equal when their label sets are.
impl PartialEq for Series {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.labels == other.labels
    }
}

impl fmt::Debug for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.labels, f)
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.labels, f)
    }
}
