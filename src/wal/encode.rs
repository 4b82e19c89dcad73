//! The writer's side of the record format: the current segment's series
//! table and the batch encoder.
//!
//! Nothing here allocates per sample once a segment has seen its series: the
//! output buffer and the ref scratch vector are reused, the series lookup is
//! one hash-map probe keyed by the series hash (plus a pointer comparison of
//! the label sets, which the scrape cache shares).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::record::{
    begin_record, finish_record, put_varint, put_xor, put_zigzag, varint_len, FLAG_SAME_TIMESTAMP,
    MAX_PAYLOAD, SAMPLES, SERIES,
};
use crate::labels::Labels;
use crate::scrape::SeriesSample;

/// A Series record is closed once its payload passes this size.
const SERIES_RECORD_TARGET: usize = 1 << 20;
/// Samples per Samples record; larger batches take several records.
pub(crate) const MAX_SAMPLES_PER_RECORD: usize = 1 << 16;

/// Hasher for keys that are already hashes. FNV-1a's low bits are weak (the
/// map indexes buckets by them), so fold the high half in and multiply.
#[derive(Default)]
pub(crate) struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        (self.0 ^ (self.0 >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

pub(crate) type Prehashed = BuildHasherDefault<PrehashedHasher>;

struct WriterSeries {
    labels: Arc<Labels>,
    prev_bits: u64,
}

/// The current segment's series: ref (index) -> labels and previous value.
#[derive(Default)]
pub(crate) struct Encoder {
    by_hash: HashMap<u64, u32, Prehashed>,
    /// Further refs whose hash equals a key of `by_hash` (a 64-bit collision).
    collisions: HashMap<u64, Vec<u32>, Prehashed>,
    series: Vec<WriterSeries>,
    refs: Vec<u32>,
}

fn same_labels(a: &Arc<Labels>, b: &Arc<Labels>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// Encoded size of a label set in a Series record.
fn label_set_len(labels: &Labels) -> usize {
    let mut n = varint_len(labels.len() as u64);
    for l in labels {
        n += varint_len(l.name.len() as u64) + l.name.len();
        n += varint_len(l.value.len() as u64) + l.value.len();
    }
    n
}

impl Encoder {
    /// Forgets every series: the next segment starts afresh.
    pub(crate) fn reset(&mut self) {
        self.by_hash.clear();
        self.collisions.clear();
        self.series.clear();
    }

    /// Number of series the current segment has declared.
    #[cfg(test)]
    pub(crate) fn series_count(&self) -> usize {
        self.series.len()
    }

    fn lookup(&self, s: &SeriesSample) -> Option<u32> {
        let r = *self.by_hash.get(&s.hash)?;
        if same_labels(&self.series[r as usize].labels, &s.labels) {
            return Some(r);
        }
        let more = self.collisions.get(&s.hash)?;
        more.iter().copied().find(|&r| same_labels(&self.series[r as usize].labels, &s.labels))
    }

    fn insert(&mut self, s: &SeriesSample) -> u32 {
        let r = self.series.len() as u32;
        self.series.push(WriterSeries { labels: s.labels.clone(), prev_bits: 0 });
        match self.by_hash.entry(s.hash) {
            Entry::Occupied(_) => self.collisions.entry(s.hash).or_default().push(r),
            Entry::Vacant(v) => {
                v.insert(r);
            }
        }
        r
    }

    /// Appends the records for `samples` to `buf`: one Series record for the
    /// series this segment has not seen (split when large), then the Samples
    /// record(s). On error the table may hold series whose record was not
    /// written: the caller must start a new segment.
    pub(crate) fn encode(
        &mut self,
        samples: &[SeriesSample],
        buf: &mut Vec<u8>,
    ) -> Result<(), usize> {
        self.refs.clear();
        let mut open: Option<usize> = None;
        for s in samples {
            if let Some(r) = self.lookup(s) {
                self.refs.push(r);
                continue;
            }
            let size = label_set_len(&s.labels);
            if size + 20 > MAX_PAYLOAD {
                return Err(size);
            }
            if open.is_some_and(|start| buf.len() - start + size > SERIES_RECORD_TARGET) {
                finish_record(buf, open.take().expect("BUG: checked is_some"));
            }
            if open.is_none() {
                open = Some(begin_record(buf, SERIES));
            }
            let r = self.insert(s);
            self.refs.push(r);
            put_series(buf, r, &s.labels);
        }
        if let Some(start) = open {
            finish_record(buf, start);
        }
        let refs = std::mem::take(&mut self.refs);
        for (chunk, refs) in
            samples.chunks(MAX_SAMPLES_PER_RECORD).zip(refs.chunks(MAX_SAMPLES_PER_RECORD))
        {
            self.put_samples(buf, chunk, refs);
        }
        self.refs = refs;
        Ok(())
    }

    fn put_samples(&mut self, buf: &mut Vec<u8>, samples: &[SeriesSample], refs: &[u32]) {
        let start = begin_record(buf, SAMPLES);
        let base = samples[0].timestamp_ms;
        let same = samples.iter().all(|s| s.timestamp_ms == base);
        put_zigzag(buf, base);
        put_varint(buf, samples.len() as u64);
        buf.push(if same { FLAG_SAME_TIMESTAMP } else { 0 });
        let mut prev_ref = 0i64;
        for (s, &r) in samples.iter().zip(refs) {
            put_zigzag(buf, i64::from(r) - prev_ref);
            prev_ref = i64::from(r);
            if !same {
                put_zigzag(buf, s.timestamp_ms.wrapping_sub(base));
            }
            let series = &mut self.series[r as usize];
            let bits = s.value.to_bits();
            put_xor(buf, bits ^ series.prev_bits);
            series.prev_bits = bits;
        }
        finish_record(buf, start);
    }
}

/// One Series-record entry: ref, label count, then each name and value.
fn put_series(buf: &mut Vec<u8>, r: u32, labels: &Labels) {
    put_varint(buf, u64::from(r));
    put_varint(buf, labels.len() as u64);
    for l in labels {
        put_varint(buf, l.name.len() as u64);
        buf.extend_from_slice(l.name.as_bytes());
        put_varint(buf, l.value.len() as u64);
        buf.extend_from_slice(l.value.as_bytes());
    }
}
