//! The writer's side of the record format: the current segment's series
//! table and the batch encoder.
//!
//! Nothing here allocates per sample once a segment has seen its series: the
//! output buffer and the ref scratch vector are reused, and a series' ref is
//! read from the series itself (see [`Series::wal_ref`]), with no lookup.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};

use super::record::{
    begin_record, finish_record, put_varint, put_xor, put_zigzag, varint_len, FLAG_SAME_TIMESTAMP,
    MAX_PAYLOAD, SAMPLES, SERIES,
};
use crate::labels::{Labels, Series};
use crate::scrape::SeriesSample;

/// A Series record is closed once its payload passes this size.
const SERIES_RECORD_TARGET: usize = 1 << 20;
/// Samples per Samples record; larger batches take several records.
pub(crate) const MAX_SAMPLES_PER_RECORD: usize = 1 << 16;

/// Epochs of segment encoders, unique in the process: a series' recorded
/// ref is valid only for the encoder state of its epoch.
static NEXT_EPOCH: AtomicU32 = AtomicU32::new(1);

fn new_epoch() -> u32 {
    loop {
        let e = NEXT_EPOCH.fetch_add(1, Ordering::Relaxed);
        if e != 0 {
            return e;
        }
    }
}

/// The current segment's series: ref (index) -> previous value. Each series
/// carries the ref this encoder's epoch gave it.
pub(crate) struct Encoder {
    epoch: u32,
    prev_bits: Vec<u64>,
    refs: Vec<u32>,
    /// The series the last `encode` declared, in ref order.
    declared: Vec<Weak<Series>>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            epoch: new_epoch(),
            prev_bits: Vec::new(),
            refs: Vec::new(),
            declared: Vec::new(),
        }
    }
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
        self.epoch = new_epoch();
        self.prev_bits.clear();
        self.declared.clear();
    }

    /// The series the last `encode` declared (refs in order, following
    /// those declared before), to publish once its records are written.
    pub(crate) fn take_declared(&mut self) -> std::vec::Drain<'_, Weak<Series>> {
        self.declared.drain(..)
    }

    /// Number of series the current segment has declared.
    #[cfg(test)]
    pub(crate) fn series_count(&self) -> usize {
        self.prev_bits.len()
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
        self.declared.clear();
        let mut open: Option<usize> = None;
        for s in samples {
            if let Some(r) = s.series.wal_ref(self.epoch) {
                self.refs.push(r);
                continue;
            }
            let size = label_set_len(s.series.labels());
            if size + 20 > MAX_PAYLOAD {
                return Err(size);
            }
            if open.is_some_and(|start| buf.len() - start + size > SERIES_RECORD_TARGET) {
                finish_record(buf, open.take().expect("BUG: checked is_some"));
            }
            if open.is_none() {
                open = Some(begin_record(buf, SERIES));
            }
            let r =
                u32::try_from(self.prev_bits.len()).expect("BUG: 4 billion series in a segment");
            self.prev_bits.push(0);
            s.series.set_wal_ref(self.epoch, r);
            self.declared.push(Arc::downgrade(&s.series));
            self.refs.push(r);
            put_series(buf, r, s.series.labels());
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
            let prev = &mut self.prev_bits[r as usize];
            let bits = s.value.to_bits();
            put_xor(buf, bits ^ *prev);
            *prev = bits;
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
