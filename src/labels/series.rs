//! A series as the pipeline passes it, from the scrape stage through the
//! WAL to the remote queues: its final label set, the label set's stable
//! hash, and the WAL writer's reference to it. Shared ([`SharedSeries`]), so
//! each series' labels exist once in memory whatever holds them.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use super::Labels;

/// A shared series: a reference-counted pointer without weak references,
/// so the allocation is the 32-byte `Series` and an 8-byte count (40 bytes,
/// the allocator's 48-byte class; with `std::sync::Arc`'s two counts it
/// would be 48 bytes, served from the 64-byte class).
pub type SharedSeries = triomphe::Arc<Series>;

/// 32 bytes, label buffer included when short.
pub struct Series {
    labels: Labels,
    hash: u64,
    /// `ref + 1` of the last WAL segment that declared this series (0:
    /// none), a hint the WAL writer checks against its table of the
    /// segment it writes (an older segment's ref may point elsewhere).
    wal_ref: AtomicU32,
}

impl Series {
    pub fn new(labels: Labels) -> Self {
        let hash = labels.stable_hash();
        Series::with_hash(labels, hash)
    }

    /// `hash` is `labels.stable_hash()`, computed by the caller (tests pass
    /// others to make collisions).
    pub fn with_hash(labels: Labels, hash: u64) -> Self {
        Series { labels, hash, wal_ref: AtomicU32::new(0) }
    }

    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// `labels().stable_hash()`, computed once.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The ref the WAL writer last gave this series, in some segment: the
    /// caller checks that its segment's ref is this series.
    pub(crate) fn wal_ref(&self) -> Option<u32> {
        self.wal_ref.load(Ordering::Relaxed).checked_sub(1)
    }

    /// Records the ref the WAL writer gave this series. A ref too large to
    /// record (`u32::MAX`) records none: the series is declared again.
    pub(crate) fn set_wal_ref(&self, r: u32) {
        self.wal_ref.store(r.checked_add(1).unwrap_or(0), Ordering::Relaxed);
    }
}

const _: () = assert!(std::mem::size_of::<Series>() == 32);

/// Asks the processor to start loading `series` into the cache: for loops
/// over many series (whose memory is rarely cached) to call a few
/// iterations ahead of their use. A hint only; nothing elsewhere than x86-64.
#[inline]
pub fn prefetch(series: &SharedSeries) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of x86-64; a prefetch of any address is a
        // hint that never faults.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(SharedSeries::as_ptr(series).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = series;
}

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
