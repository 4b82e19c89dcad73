//! The reader's side of the record format: rebuilds a segment's series table
//! and value state from its records, in order, from the segment's start.

use std::collections::VecDeque;

use super::error::Corruption;
use super::record::{Input, FLAG_SAME_TIMESTAMP};
use super::{LiveSeries, Position, WalSample};
use crate::labels::{Labels, Series, SharedSeries};

struct DecodedSeries {
    series: SharedSeries,
    prev_bits: u64,
}

/// How many refs ahead of a sample's series the decoder prefetches.
const PREFETCH_AHEAD: usize = 4;

/// Decoding state of one segment. A record that fails to decode leaves the
/// state unusable for the rest of the segment (the caller stops there).
#[derive(Default)]
pub(crate) struct Decoder {
    series: Vec<DecodedSeries>,
}

impl Decoder {
    /// Forgets the segment: the next one starts afresh.
    pub(crate) fn reset(&mut self) {
        self.series.clear();
    }

    /// Applies a Series record of segment `segment`: entries `ref, count,
    /// (name, value)*` until the payload ends. Refs are dense: each must be
    /// the next unused one. A series the writer of this process declared
    /// (`live`) is taken from it instead of being built again.
    pub(crate) fn series(
        &mut self,
        payload: &[u8],
        live: Option<&LiveSeries>,
        segment: u64,
    ) -> Result<usize, Corruption> {
        let mut input = Input::new(payload);
        let mut n = 0;
        while !input.is_empty() {
            let r = input.varint()?;
            if r != self.series.len() as u64 {
                return Err(Corruption::BadPayload("series ref out of sequence"));
            }
            let count = input.len()?;
            let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(count.min(64));
            for _ in 0..count {
                let name = input.str()?;
                let value = input.str()?;
                pairs.push((name, value));
            }
            let series = match live.and_then(|l| l.get(segment, r)) {
                Some(shared) => {
                    debug_assert!(same_labels(shared.labels(), &pairs), "live series {r}");
                    shared
                }
                // Rebuilt and rehashed: damaged-but-valid input may be unsorted.
                None => SharedSeries::new(Series::new(Labels::from_sorted(pairs.iter().copied()))),
            };
            self.series.push(DecodedSeries { series, prev_bits: 0 });
            n += 1;
        }
        Ok(n)
    }

    /// Decodes a Samples record that ends at `end`, updating the value state;
    /// pushes the samples onto `out` when given (not when skipping records a
    /// cursor has already passed). On error nothing is pushed.
    pub(crate) fn samples(
        &mut self,
        payload: &[u8],
        end: Position,
        mut out: Option<&mut VecDeque<WalSample>>,
    ) -> Result<usize, Corruption> {
        let before = out.as_ref().map_or(0, |o| o.len());
        let result = self.samples_inner(payload, end, out.as_deref_mut());
        if result.is_err() {
            if let Some(out) = out {
                out.truncate(before);
            }
        }
        result
    }

    fn samples_inner(
        &mut self,
        payload: &[u8],
        end: Position,
        mut out: Option<&mut VecDeque<WalSample>>,
    ) -> Result<usize, Corruption> {
        let mut input = Input::new(payload);
        let base = input.zigzag()?;
        // Every sample takes at least two bytes: bounds the loop on bad input.
        let count = input.varint()?;
        if count > payload.len() as u64 / 2 {
            return Err(Corruption::BadPayload("sample count beyond payload"));
        }
        let flags = input.byte()?;
        if flags & !FLAG_SAME_TIMESTAMP != 0 {
            return Err(Corruption::BadPayload("unknown flags"));
        }
        let same = flags & FLAG_SAME_TIMESTAMP != 0;
        let mut r = 0i64;
        for _ in 0..count {
            r = r.wrapping_add(input.zigzag()?);
            let i = usize::try_from(r)
                .ok()
                .filter(|&i| i < self.series.len())
                .ok_or(Corruption::BadPayload("sample of an undeclared series"))?;
            // Refs mostly ascend one by one (a scrape's series in the order
            // they were declared): the series a few refs on, whose memory
            // is rarely cached, is loaded before its clone.
            if let Some(ahead) = self.series.get(i + PREFETCH_AHEAD) {
                crate::labels::prefetch(&ahead.series);
            }
            let series = &mut self.series[i];
            let timestamp_ms = if same { base } else { base.wrapping_add(input.zigzag()?) };
            let bits = input.xor()? ^ series.prev_bits;
            series.prev_bits = bits;
            if let Some(out) = out.as_deref_mut() {
                out.push_back(WalSample {
                    series: series.series.clone(),
                    timestamp_ms,
                    value: f64::from_bits(bits),
                    end,
                });
            }
        }
        if !input.is_empty() {
            return Err(Corruption::BadPayload("bytes after the last sample"));
        }
        Ok(count as usize)
    }
}

/// Whether `labels` are the decoded `pairs`.
fn same_labels(labels: &Labels, pairs: &[(&str, &str)]) -> bool {
    labels.iter().map(|l| (l.name, l.value)).eq(pairs.iter().copied())
}

/// The sample count of a Samples payload, read from its header only.
pub(crate) fn sample_count(payload: &[u8]) -> Result<u64, Corruption> {
    let mut input = Input::new(payload);
    input.zigzag()?;
    input.varint()
}

#[cfg(test)]
mod tests {
    use super::super::encode::Encoder;
    use super::super::record::{check_frame, frame_len, HEADER_LEN, SAMPLES, SERIES};
    use super::*;
    use crate::scrape::SeriesSample;
    use proptest::prelude::*;

    /// A sample of series `name`, one `Series` per name (as the scrape
    /// cache shares them).
    fn sample(name: &str, ts: i64, value: f64) -> SeriesSample {
        thread_local! {
            static SERIES: std::cell::RefCell<Vec<SharedSeries>> = Default::default();
        }
        let series = SERIES.with_borrow_mut(|all| {
            if let Some(s) = all.iter().find(|s| s.get("__name__") == Some(name)) {
                return s.clone();
            }
            let labels = Labels::from_pairs([("__name__", name), ("job", "node")]);
            all.push(SharedSeries::new(Series::new(labels)));
            all[all.len() - 1].clone()
        });
        SeriesSample { series, timestamp_ms: ts, value }
    }

    /// An encoder with its own segment table.
    #[derive(Default)]
    struct TestEncoder {
        enc: Encoder,
        table: LiveSeries,
    }

    impl TestEncoder {
        fn encode(&mut self, batch: &[SeriesSample], buf: &mut Vec<u8>) -> Result<(), usize> {
            self.enc.encode(batch, buf, &mut self.table)
        }

        fn reset(&mut self) {
            self.enc.reset();
            self.table.reset(0);
        }

        fn series_count(&self) -> usize {
            self.enc.series_count()
        }
    }

    /// Decodes every record of `buf` (one segment's bytes).
    fn decode_all(buf: &[u8]) -> Result<Vec<WalSample>, Corruption> {
        let mut d = Decoder::default();
        let mut out = VecDeque::new();
        let mut at = 0;
        while at < buf.len() {
            let header: [u8; 8] = buf[at..at + 8].try_into().unwrap();
            let end = at + HEADER_LEN + frame_len(&header)?;
            let (kind, payload) = check_frame(&buf[at..end])?;
            let pos = Position { segment: 1, offset: end as u64 };
            match kind {
                SERIES => d.series(payload, None, 1).map(drop)?,
                SAMPLES => d.samples(payload, pos, Some(&mut out)).map(drop)?,
                _ => unreachable!(),
            }
            at = end;
        }
        Ok(out.into())
    }

    #[test]
    fn batches_round_trip_bit_exactly() {
        let specials = [f64::from_bits(0x7ff0_0000_0000_0002), f64::NAN, f64::INFINITY];
        let batches = vec![
            vec![sample("a", 1000, 1.0), sample("b", 1000, -0.0), sample("a", 1000, 2.5)],
            vec![sample("b", 2000, specials[0]), sample("c", 1990, specials[1])],
            vec![sample("c", -5, specials[2]), sample("a", i64::MAX, f64::NEG_INFINITY)],
            vec![sample("a", i64::MIN, 0.0)],
        ];
        let mut enc = TestEncoder::default();
        let mut buf = Vec::new();
        for b in &batches {
            enc.encode(b, &mut buf).unwrap();
        }
        let got = decode_all(&buf).unwrap();
        let want: Vec<_> = batches.concat();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                (&*g.series, g.series.hash(), g.timestamp_ms),
                (&*w.series, w.series.hash(), w.timestamp_ms)
            );
            assert_eq!(g.value.to_bits(), w.value.to_bits());
        }
        assert_eq!(enc.series_count(), 3);
    }

    #[test]
    fn colliding_hashes_keep_series_apart() {
        let with_hash = |name: &str, hash: u64, v: f64| SeriesSample {
            series: SharedSeries::new(Series::with_hash(
                Labels::from_pairs([("__name__", name)]),
                hash,
            )),
            timestamp_ms: 1,
            value: v,
        };
        let (a, b) = (with_hash("a", 7, 1.0), with_hash("b", 7, 2.0));
        // Equal labels in another series object: declared again, still right.
        let c = with_hash("a", 7, 3.0);
        let mut enc = TestEncoder::default();
        let mut buf = Vec::new();
        enc.encode(&[a.clone(), b.clone(), c.clone()], &mut buf).unwrap();
        enc.encode(&[b.clone(), a.clone(), c], &mut buf).unwrap();
        assert_eq!(enc.series_count(), 3);
        let got = decode_all(&buf).unwrap();
        let names: Vec<_> =
            got.iter().map(|s| (s.series.get("__name__").unwrap(), s.value)).collect();
        let want = [("a", 1.0), ("b", 2.0), ("a", 3.0), ("b", 2.0), ("a", 1.0), ("a", 3.0)];
        assert_eq!(names, want);
        assert!(
            got.iter().all(|s| s.series.hash() == s.series.stable_hash()),
            "rehashed on decode"
        );
    }

    #[test]
    fn each_encoder_declares_the_series_it_has_not_written() {
        let batch = [sample("a", 1, 1.0), sample("b", 1, 2.0)];
        let (mut first, mut second) = (TestEncoder::default(), TestEncoder::default());
        let (mut buf1, mut buf2) = (Vec::new(), Vec::new());
        first.encode(&batch, &mut buf1).unwrap();
        // Another encoder (another WAL, or the next segment) sees the refs
        // the first one left in the series and must not use them.
        second.encode(&batch[1..], &mut buf2).unwrap();
        first.encode(&batch, &mut buf1).unwrap();
        second.encode(&batch, &mut buf2).unwrap();
        let names = |buf: &[u8]| -> Vec<String> {
            let got = decode_all(buf).unwrap();
            got.iter().map(|s| s.series.get("__name__").unwrap().to_owned()).collect()
        };
        assert_eq!(names(&buf1), ["a", "b", "a", "b"]);
        assert_eq!(names(&buf2), ["b", "a", "b"]);
        first.reset();
        let mut buf3 = Vec::new();
        first.encode(&batch, &mut buf3).unwrap();
        assert_eq!((first.series_count(), names(&buf3)), (2, vec!["a".into(), "b".into()]));
    }

    #[test]
    fn a_ref_left_by_an_older_segment_is_checked_not_trusted() {
        let (a, b) = (sample("a", 1, 1.0), sample("b", 1, 2.0));
        let mut enc = TestEncoder::default();
        enc.encode(&[a.clone(), b.clone()], &mut Vec::new()).unwrap();
        // The next segment: b is declared first, so a's old ref (0) now
        // names b in this segment's table, and a must be declared anew.
        enc.reset();
        let mut buf = Vec::new();
        enc.encode(std::slice::from_ref(&b), &mut buf).unwrap();
        enc.encode(&[a, b], &mut buf).unwrap();
        let got = decode_all(&buf).unwrap();
        let names: Vec<_> =
            got.iter().map(|s| (s.series.get("__name__").unwrap(), s.value)).collect();
        assert_eq!(names, [("b", 2.0), ("a", 1.0), ("b", 2.0)]);
        assert_eq!(enc.series_count(), 2);
    }

    #[test]
    fn unchanged_values_cost_two_bytes() {
        let batch: Vec<_> = (0..100).map(|i| sample(&format!("m{i}"), 5, i as f64)).collect();
        let mut enc = TestEncoder::default();
        let mut first = Vec::new();
        enc.encode(&batch, &mut first).unwrap();
        let mut second = Vec::new();
        enc.encode(&batch, &mut second).unwrap();
        // Header 9, base timestamp 1, count 1, flags 1, then ref delta + zero XOR.
        assert_eq!(second.len(), 9 + 3 + 100 * 2);
    }

    proptest! {
        #[test]
        fn decoders_never_panic_on_random_payloads(
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            series in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut d = Decoder::default();
            let _ = d.series(&series, None, 0);
            let mut out = VecDeque::new();
            let _ = d.samples(&payload, Position::default(), Some(&mut out));
            let _ = sample_count(&payload);
        }
    }
}
