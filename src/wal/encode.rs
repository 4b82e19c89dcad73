//! The writer's side of the record format: the current segment's series
//! table and the batch encoder.
//!
//! Nothing here allocates per sample once a segment has seen its series: the
//! output buffer and the ref scratch vector are reused, and a series' ref is
//! read from the series itself (see
//! [`Series::wal_ref`](crate::labels::Series)), with no lookup: one pointer
//! comparison with the table's entry confirms it.

use super::record::{
    begin_record, finish_record, put_varint, put_xor, put_zigzag, varint_len, FLAG_SAME_TIMESTAMP,
    MAX_PAYLOAD, SAMPLES, SERIES,
};
use super::LiveSeries;
use crate::labels::Labels;
use crate::scrape::SeriesSample;

/// A Series record is closed once its payload passes this size.
const SERIES_RECORD_TARGET: usize = 1 << 20;
/// Samples per Samples record; larger batches take several records.
pub(crate) const MAX_SAMPLES_PER_RECORD: usize = 1 << 16;

/// The current segment's value state: ref (index) -> previous value. The
/// segment's series, by ref, are the [`LiveSeries`] table `encode` is given.
#[derive(Default)]
pub(crate) struct Encoder {
    prev_bits: Vec<u64>,
    refs: Vec<u32>,
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
    /// Forgets every series: the next segment starts afresh (with an empty
    /// table).
    pub(crate) fn reset(&mut self) {
        self.prev_bits.clear();
    }

    /// Number of series the current segment has declared.
    #[cfg(test)]
    pub(crate) fn series_count(&self) -> usize {
        self.prev_bits.len()
    }

    /// Appends the records for `samples` to `buf`: one Series record for the
    /// series this segment has not seen (split when large), then the Samples
    /// record(s). The series it declares are added to `table` (the segment's
    /// table, which readers see up to `published`: the caller publishes
    /// them once the records are written). On error the table may hold
    /// series whose record was not written: the caller must start a new
    /// segment.
    pub(crate) fn encode(
        &mut self,
        samples: &[SeriesSample],
        buf: &mut Vec<u8>,
        table: &mut LiveSeries,
    ) -> Result<(), usize> {
        assert_eq!(table.series.len(), self.prev_bits.len(), "BUG: table of another segment");
        self.refs.clear();
        let mut open: Option<usize> = None;
        for s in samples {
            // A recorded ref may come from an older segment, where it meant
            // another series: the table says whether it is this one's.
            if let Some(r) = s.series.wal_ref().filter(|&r| table.is(r, &s.series)) {
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
            s.series.set_wal_ref(r);
            table.push(s.series.clone());
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
