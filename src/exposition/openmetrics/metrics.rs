//! Metrics and MetricPoints within one family (OpenMetrics 1.0, "Metric",
//! "MetricPoint" and "Histogram").
//!
//! A metric is the label set of its samples without the label that tells the
//! samples of one point apart (`le` on buckets, `quantile` on quantiles, the
//! state label of a stateset; an info family is one metric). Invariants
//! checked here:
//!
//! - The samples of a metric are contiguous: once the family moves on to
//!   another label set, an earlier one may not come back.
//! - Within a metric, either every sample has a timestamp or none has, and
//!   timestamps do not go backwards (info families excepted, as the
//!   conformance suite's reference parser does).
//! - A histogram or gaugehistogram point (a metric at one timestamp) has
//!   increasing `le` thresholds ending at `+Inf`, cumulative bucket counts,
//!   `_count`/`_gcount` if and only if `_sum`/`_gsum`, the count equal to the
//!   `+Inf` bucket, no `_sum` with negative thresholds and a negative `_gsum`
//!   only with them.
//!
//! Nothing here allocates per sample: the previous sample's labels live in a
//! reused buffer, and the set of metrics already seen (one entry per metric,
//! cleared per family) maps a hash of the label set to the label text of the
//! body, which is re-lexed only to confirm a hash hit.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::super::{ErrorKind, ParseError};
use super::sample::{split_labels, RawLabel, Unescaped};
use super::validate::Role;

/// Which labels of a sample do not identify its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Skip<'a> {
    Nothing,
    Label(&'a [u8]),
    All,
}

impl Skip<'_> {
    fn keeps(self, l: &RawLabel<'_>) -> bool {
        match self {
            Skip::Nothing => true,
            Skip::Label(name) => l.name != name,
            Skip::All => false,
        }
    }
}

/// The metrics of the current family.
#[derive(Debug, Clone, Default)]
pub(super) struct Metrics<'a> {
    prev: Option<Prev<'a>>,
    prev_labels: Vec<RawLabel<'a>>,
    seen: HashMap<u64, Seen<'a>, BuildHasherDefault<PreHashed>>,
    relexed: Vec<RawLabel<'a>>,
}

#[derive(Debug, Clone, Copy)]
struct Prev<'a> {
    skip: Skip<'a>,
    secs: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Seen<'a> {
    label_text: &'a str,
    skip: Skip<'a>,
}

impl<'a> Metrics<'a> {
    /// Forgets the family's metrics; keeps the buffers.
    pub fn reset(&mut self) {
        self.prev = None;
        self.seen.clear();
    }

    /// Records a sample. Returns whether it belongs to the same MetricPoint as
    /// the previous sample (same metric, same timestamp).
    pub fn track(
        &mut self,
        labels: &[RawLabel<'a>],
        label_text: &'a str,
        skip: Skip<'a>,
        secs: Option<f64>,
        ordered: bool,
    ) -> Result<bool, ErrorKind> {
        let continues = match self.prev {
            Some(p) if same_metric(&self.prev_labels, p.skip, labels, skip) => Some(p),
            _ => None,
        };
        let same_point = match continues {
            Some(p) => {
                if p.secs.is_some() != secs.is_some() {
                    return Err(ErrorKind::Invalid(
                        "a metric mixes samples with and without timestamps",
                    ));
                }
                if ordered && matches!((p.secs, secs), (Some(a), Some(b)) if b < a) {
                    return Err(ErrorKind::Invalid("timestamps go backwards within a metric"));
                }
                p.secs == secs
            }
            None => {
                self.first_of_metric(labels, label_text, skip)?;
                false
            }
        };
        self.prev_labels.clear();
        self.prev_labels.extend_from_slice(labels);
        self.prev = Some(Prev { skip, secs });
        Ok(same_point)
    }

    /// "Metrics MUST NOT be interleaved": a label set the family left earlier
    /// may not come back.
    fn first_of_metric(
        &mut self,
        labels: &[RawLabel<'a>],
        label_text: &'a str,
        skip: Skip<'a>,
    ) -> Result<(), ErrorKind> {
        let hash = metric_hash(labels, skip);
        match self.seen.entry(hash) {
            MapEntry::Vacant(slot) => {
                slot.insert(Seen { label_text, skip });
            }
            MapEntry::Occupied(slot) => {
                let seen = *slot.get();
                split_labels(seen.label_text, &mut self.relexed);
                if same_metric(&self.relexed, seen.skip, labels, skip) {
                    return Err(ErrorKind::Invalid(
                        "metric interleaved: its label set appeared earlier in the family",
                    ));
                }
                // A hash collision between two metrics: the first one keeps the slot.
            }
        }
        Ok(())
    }
}

/// Whether two samples' label sets, without their skipped labels, are equal.
/// Written order usually agrees, so that is tried first.
fn same_metric(a: &[RawLabel<'_>], a_skip: Skip<'_>, b: &[RawLabel<'_>], b_skip: Skip<'_>) -> bool {
    let mut ai = a.iter().filter(|l| a_skip.keeps(l));
    let mut bi = b.iter().filter(|l| b_skip.keeps(l));
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.name == y.name && x.same_value(y) => continue,
            _ => break,
        }
    }
    // Names are unique within a label set, so equal sizes and every label of
    // `a` found in `b` make the sets equal.
    let a_len = a.iter().filter(|l| a_skip.keeps(l)).count();
    let b_len = b.iter().filter(|l| b_skip.keeps(l)).count();
    a_len == b_len
        && a.iter()
            .filter(|l| a_skip.keeps(l))
            .all(|x| b.iter().any(|y| b_skip.keeps(y) && x.name == y.name && x.same_value(y)))
}

/// An order-independent hash of a label set without its skipped labels.
fn metric_hash(labels: &[RawLabel<'_>], skip: Skip<'_>) -> u64 {
    labels
        .iter()
        .filter(|l| skip.keeps(l))
        .map(|l| mix(fnv(fnv(FNV_OFFSET, l.name.iter().copied()), Unescaped::new(l.value))))
        .fold(0, u64::wrapping_add)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `h`, with a separator at the end so
/// that ("ab", "c") and ("a", "bc") differ.
pub(super) fn fnv(h: u64, bytes: impl Iterator<Item = u8>) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let h = bytes.fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    (h ^ 0xff).wrapping_mul(PRIME)
}

/// The splitmix64 finaliser: spreads FNV's bits before the hashes are summed.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hasher for keys that are hashes already.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = mix(fnv(self.0, bytes.iter().copied()));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The histogram or gaugehistogram point being read.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Point {
    open: bool,
    /// The line of the point's last sample, where its errors are reported.
    line: usize,
    le: Option<f64>,
    bucket: f64,
    count: Option<f64>,
    negative_le: bool,
    sum: bool,
    gsum: bool,
    negative_gsum: bool,
}

impl Point {
    /// Adds a sample of a histogram family; `le` is the bucket threshold.
    pub fn observe(
        &mut self,
        same_point: bool,
        role: Role,
        le: Option<f64>,
        value: f64,
        line: usize,
    ) -> Result<(), ParseError> {
        if !same_point {
            self.close()?;
            *self = Point { open: true, ..Point::default() };
        }
        self.line = line;
        let invalid = |why| ParseError { line, kind: ErrorKind::Invalid(why) };
        match role {
            Role::Bucket => {
                let le = le.expect("BUG: a bucket's le was checked");
                if self.le.is_some_and(|prev| le <= prev) {
                    return Err(invalid("bucket le thresholds must increase, without repeats"));
                }
                if value < self.bucket {
                    return Err(invalid("bucket counts must not decrease: buckets are cumulative"));
                }
                self.negative_le |= le < 0.0;
                self.le = Some(le);
                self.bucket = value;
            }
            Role::Count | Role::GCount => self.count = Some(value),
            Role::Sum => self.sum = true,
            Role::GSum => {
                self.gsum = true;
                self.negative_gsum |= value < 0.0;
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends the point being read, if any, and checks it as a whole.
    pub fn close(&mut self) -> Result<(), ParseError> {
        if !std::mem::take(&mut self.open) {
            return Ok(());
        }
        let why = if self.le != Some(f64::INFINITY) {
            "histogram point has no le=\"+Inf\" bucket"
        } else if self.count.is_some_and(|c| c != self.bucket) {
            "histogram _count/_gcount must equal the +Inf bucket"
        } else if self.sum && self.count.is_none() {
            "histogram _sum needs a _count"
        } else if self.gsum && self.count.is_none() {
            "gaugehistogram _gsum needs a _gcount"
        } else if self.count.is_some() && !(self.sum || self.gsum) {
            "histogram _count/_gcount needs a _sum/_gsum"
        } else if self.negative_le && self.sum {
            "histogram with negative le thresholds must not have a _sum"
        } else if self.negative_gsum && !self.negative_le {
            "gaugehistogram _gsum may be negative only with negative le thresholds"
        } else {
            return Ok(());
        };
        Err(ParseError { line: self.line, kind: ErrorKind::Invalid(why) })
    }
}
