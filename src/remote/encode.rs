//! The body of a remote-write request: a `prometheus.WriteRequest` in
//! protobuf, compressed with snappy's block format (the specification,
//! "Protocol": "The block format MUST be used - the framed format MUST NOT").
//!
//! Contract of [`Encoder::encode`]:
//! - input: series as `(labels, samples)`; each label set is final and sorted
//!   by name with unique names and no empty values (what [`Labels`]
//!   guarantees), each series' samples are in timestamp order (the caller's
//!   duty, checked by a debug assertion);
//! - output: one `TimeSeries` per input item, in input order, labels in
//!   their (sorted) order, samples in their order. Values are sent bit for
//!   bit: the stale marker `0x7ff0000000000002`, other NaN payloads and
//!   `-0.0` survive;
//! - memory: the protobuf and the compressed buffers live in the encoder and
//!   only grow; in the steady state an encode allocates nothing.
//!
//! The protobuf is written by hand, straight into the reused buffer, with
//! prost's varint helpers: the generated [`prompb`] types would need owned
//! `String`s per label. The bytes are those prost writes for the same
//! message (a test checks it), except that `-0.0` is written where prost
//! would drop it as a default value.

use crate::labels::{LabelRef, Labels};
use crate::remote::prompb;
use prost::encoding::encoded_len_varint;
use prost::Message;

/// One sample of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleValue {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub value: f64,
}

/// Why a batch could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Snappy refuses inputs over about 4 GiB.
    #[error("snappy compression of {raw_len} bytes: {source}")]
    Snappy { raw_len: usize, source: snap::Error },
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
}

// Field keys, `(field number << 3) | wire type`, of proto/*.proto. Every
// field number is below 16, so each key is one byte.
const LEN: u8 = 2; // wire type: length-delimited
const I64: u8 = 1; // wire type: 64-bit
const VARINT: u8 = 0; // wire type: varint
const WRITE_REQUEST_TIMESERIES: u8 = 1 << 3 | LEN;
const TIME_SERIES_LABELS: u8 = 1 << 3 | LEN;
const TIME_SERIES_SAMPLES: u8 = 2 << 3 | LEN;
const LABEL_NAME: u8 = 1 << 3 | LEN;
const LABEL_VALUE: u8 = 2 << 3 | LEN;
const SAMPLE_VALUE: u8 = 1 << 3 | I64;
const SAMPLE_TIMESTAMP: u8 = 2 << 3 | VARINT;

/// Encodes batches into request bodies, reusing its buffers.
pub struct Encoder {
    raw: Vec<u8>,
    compressed: Vec<u8>,
    snappy: snap::raw::Encoder,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("raw_capacity", &self.raw.capacity())
            .field("compressed_capacity", &self.compressed.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder { raw: Vec::new(), compressed: Vec::new(), snappy: snap::raw::Encoder::new() }
    }
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The compressed body for `series` (see the module doc for the
    /// contract). The slice is valid until the next call.
    pub fn encode<'a, I>(&mut self, series: I) -> Result<&[u8], EncodeError>
    where
        I: IntoIterator<Item = (&'a Labels, &'a [SampleValue])>,
    {
        self.encode_with_external(series, &Labels::new())
    }

    /// As [`encode`](Self::encode), with `external` labels merged into every
    /// series while writing (a series' own label of the same name wins), so
    /// no merged copy of each label set has to exist in memory.
    pub fn encode_with_external<'a, I>(
        &mut self,
        series: I,
        external: &Labels,
    ) -> Result<&[u8], EncodeError>
    where
        I: IntoIterator<Item = (&'a Labels, &'a [SampleValue])>,
    {
        write_request(&mut self.raw, series, external);
        // 0 when the input is too big: `compress` then says so.
        let max = snap::raw::max_compress_len(self.raw.len());
        if self.compressed.len() < max {
            self.compressed.resize(max, 0);
        }
        let n = self
            .snappy
            .compress(&self.raw, &mut self.compressed)
            .map_err(|source| EncodeError::Snappy { raw_len: self.raw.len(), source })?;
        Ok(&self.compressed[..n])
    }

    /// The uncompressed protobuf of `series`, as [`encode`](Self::encode)
    /// compresses it. The slice is valid until the next call.
    pub fn encode_uncompressed<'a, I>(&mut self, series: I) -> &[u8]
    where
        I: IntoIterator<Item = (&'a Labels, &'a [SampleValue])>,
    {
        write_request(&mut self.raw, series, &Labels::new());
        &self.raw
    }

    /// Protobuf size of the last batch encoded, before compression.
    pub fn uncompressed_len(&self) -> usize {
        self.raw.len()
    }
}

/// Bytes one series adds to a `WriteRequest` before compression (its
/// field key and length included): lets a batcher bound request size.
pub fn encoded_len(labels: &Labels, samples: &[SampleValue]) -> usize {
    let body = time_series_len(labels, &Labels::new(), samples);
    1 + encoded_len_varint(body as u64) + body
}

/// Decompresses and decodes a request body (tests, receivers). It trusts
/// the length snappy announces: not for untrusted input without a limit.
pub fn decode(body: &[u8]) -> Result<prompb::WriteRequest, DecodeError> {
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(prompb::WriteRequest::decode(raw.as_slice())?)
}

fn write_request<'a, I>(buf: &mut Vec<u8>, series: I, external: &Labels)
where
    I: IntoIterator<Item = (&'a Labels, &'a [SampleValue])>,
{
    buf.clear();
    for (labels, samples) in series {
        debug_assert!(
            samples.windows(2).all(|w| w[0].timestamp_ms <= w[1].timestamp_ms),
            "BUG: samples of {labels} out of timestamp order"
        );
        buf.push(WRITE_REQUEST_TIMESERIES);
        // One pass: the body is written after room for a two-byte length
        // (bodies under 16 KiB, nearly all), then moved if its length takes
        // another number of bytes. Computing the length first would walk
        // every label set twice.
        let len_at = buf.len();
        buf.extend_from_slice(&[0, 0]);
        let body_at = buf.len();
        merged(labels, external, |l| write_label(buf, l));
        for sample in samples {
            buf.push(TIME_SERIES_SAMPLES);
            put_varint(buf, sample_len(sample) as u64);
            write_sample(buf, sample);
        }
        put_len_before(buf, len_at, body_at);
    }
}

fn write_label(buf: &mut Vec<u8>, label: LabelRef<'_>) {
    let (name, value) = (label.name.as_bytes(), label.value.as_bytes());
    let body = label_len(label);
    // Nearly every label: name and value under 128 bytes and the whole
    // message too, so every length is one byte. Written with one reserve.
    if body < 0x80 && !name.is_empty() {
        buf.reserve(2 + body);
        buf.extend_from_slice(&[TIME_SERIES_LABELS, body as u8, LABEL_NAME, name.len() as u8]);
        buf.extend_from_slice(name);
        if !value.is_empty() {
            buf.extend_from_slice(&[LABEL_VALUE, value.len() as u8]);
            buf.extend_from_slice(value);
        }
        return;
    }
    buf.push(TIME_SERIES_LABELS);
    put_varint(buf, body as u64);
    write_string(buf, LABEL_NAME, label.name);
    write_string(buf, LABEL_VALUE, label.value);
}

/// A protobuf varint (prost's `encode_varint` is generic over `BufMut` and
/// was not inlined here, at several calls per label).
#[inline]
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Writes the varint length of `buf[body_at..]` into the room reserved at
/// `len_at..body_at`, moving the body when the varint needs more or less.
fn put_len_before(buf: &mut Vec<u8>, len_at: usize, body_at: usize) {
    let body_len = buf.len() - body_at;
    let n = encoded_len_varint(body_len as u64);
    let room = body_at - len_at;
    if n != room {
        let new_body_at = len_at + n;
        if n > room {
            buf.resize(buf.len() + (n - room), 0);
        }
        buf.copy_within(body_at..body_at + body_len, new_body_at);
        buf.truncate(new_body_at + body_len);
    }
    // Written in place, byte by byte: a copy of one or two bytes from a
    // scratch array would be a `memcpy` call per TimeSeries.
    let mut v = body_len;
    for b in &mut buf[len_at..len_at + n] {
        *b = (v as u8 & 0x7f) | if v >= 0x80 { 0x80 } else { 0 };
        v >>= 7;
    }
}

/// Calls `f` with the labels of `own` and those of `external` whose names
/// `own` lacks, in name order (both are sorted). A plain loop, not an
/// iterator: a merging iterator's state (two peeked labels) went through
/// memory on every step, and this runs for every series sent.
fn merged<'a>(own: &'a Labels, external: &'a Labels, mut f: impl FnMut(LabelRef<'a>)) {
    let mut ext = external.iter();
    let mut next_ext = ext.next();
    for label in own {
        while let Some(x) = next_ext {
            match name_cmp(x.name, label.name) {
                std::cmp::Ordering::Less => f(x),
                std::cmp::Ordering::Equal => {}
                std::cmp::Ordering::Greater => break,
            }
            next_ext = ext.next();
        }
        f(label);
    }
    while let Some(x) = next_ext {
        f(x);
        next_ext = ext.next();
    }
}

/// `a.cmp(b)`, deciding on the first byte without a `memcmp` call when it
/// differs (label names nearly always do).
#[inline]
fn name_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Length of a `TimeSeries` message body.
fn time_series_len(labels: &Labels, external: &Labels, samples: &[SampleValue]) -> usize {
    let mut labels_len = 0;
    merged(labels, external, |l| labels_len += nested_len(label_len(l)));
    let samples: usize = samples.iter().map(|s| nested_len(sample_len(s))).sum();
    labels_len + samples
}

/// Bytes of a length-delimited field whose content is `len` bytes.
fn nested_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn label_len(label: LabelRef<'_>) -> usize {
    string_len(label.name) + string_len(label.value)
}

/// Proto3 leaves fields at their default value out: an empty string.
fn string_len(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        nested_len(s.len())
    }
}

fn write_string(buf: &mut Vec<u8>, key: u8, s: &str) {
    if !s.is_empty() {
        buf.push(key);
        put_varint(buf, s.len() as u64);
        buf.extend_from_slice(s.as_bytes());
    }
}

/// The value is left out only when its bits are all zero (`+0.0`), so that
/// `-0.0` keeps its sign; the timestamp when it is 0. int64 is a plain
/// varint on the wire: a negative timestamp takes 10 bytes.
fn sample_len(s: &SampleValue) -> usize {
    let value = if s.value.to_bits() == 0 { 0 } else { 9 };
    let timestamp =
        if s.timestamp_ms == 0 { 0 } else { 1 + encoded_len_varint(s.timestamp_ms as u64) };
    value + timestamp
}

fn write_sample(buf: &mut Vec<u8>, s: &SampleValue) {
    let bits = s.value.to_bits();
    if bits != 0 {
        buf.push(SAMPLE_VALUE);
        buf.extend_from_slice(&bits.to_le_bytes());
    }
    if s.timestamp_ms != 0 {
        buf.push(SAMPLE_TIMESTAMP);
        put_varint(buf, s.timestamp_ms as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::STALE_NAN_BITS;
    use proptest::prelude::*;

    type Batch = Vec<(Labels, Vec<SampleValue>)>;
    /// Series as (labels, (timestamp, value bits)), for exact comparison.
    type Flat = Vec<(Vec<(String, String)>, Vec<(i64, u64)>)>;

    fn sample(timestamp_ms: i64, value: f64) -> SampleValue {
        SampleValue { timestamp_ms, value }
    }

    fn node_batch() -> Batch {
        let base = Labels::from_pairs([("instance", "10.0.0.1:9100"), ("job", "node")]);
        let series = |pairs: &[(&str, &str)]| {
            let mut b = base.builder();
            for (n, v) in pairs {
                b.set(*n, *v);
            }
            b.build()
        };
        vec![
            (
                series(&[("__name__", "node_cpu_seconds_total"), ("cpu", "0"), ("mode", "idle")]),
                vec![sample(1_700_000_000_000, 123456.78), sample(1_700_000_015_000, 123470.01)],
            ),
            (series(&[("__name__", "node_load1")]), vec![sample(1_700_000_000_000, 0.42)]),
            (series(&[("__name__", "up")]), vec![sample(1_700_000_000_000, 1.0)]),
        ]
    }

    fn borrowed(batch: &Batch) -> impl Iterator<Item = (&Labels, &[SampleValue])> {
        batch.iter().map(|(l, s)| (l, s.as_slice()))
    }

    /// The same batch through prost's generated types.
    fn prost_message(batch: &Batch) -> prompb::WriteRequest {
        prompb::WriteRequest {
            timeseries: batch
                .iter()
                .map(|(labels, samples)| prompb::TimeSeries {
                    labels: labels
                        .iter()
                        .map(|l| prompb::Label {
                            name: l.name.to_owned(),
                            value: l.value.to_owned(),
                        })
                        .collect(),
                    samples: samples
                        .iter()
                        .map(|s| prompb::Sample { value: s.value, timestamp: s.timestamp_ms })
                        .collect(),
                    exemplars: vec![],
                })
                .collect(),
            metadata: vec![],
        }
    }

    /// Decoded series as (labels, (timestamp, value bits)) for exact comparison.
    fn decoded(req: &prompb::WriteRequest) -> Flat {
        req.timeseries
            .iter()
            .map(|ts| {
                (
                    ts.labels.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect(),
                    ts.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect(),
                )
            })
            .collect()
    }

    fn expected(batch: &Batch) -> Flat {
        batch
            .iter()
            .map(|(l, s)| {
                (
                    l.iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect(),
                    s.iter().map(|s| (s.timestamp_ms, s.value.to_bits())).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn uncompressed_bytes_match_prost_byte_for_byte() {
        let batch = node_batch();
        let mut enc = Encoder::new();
        let ours = enc.encode_uncompressed(borrowed(&batch)).to_vec();
        assert_eq!(ours, prost_message(&batch).encode_to_vec());
        assert_eq!(enc.uncompressed_len(), ours.len());
    }

    /// The series' length is written after its body, into two reserved
    /// bytes: bodies whose length takes one, two or three varint bytes (at
    /// and around each boundary) still match prost's bytes.
    #[test]
    fn series_of_every_length_size_match_prost_byte_for_byte() {
        let mut enc = Encoder::new();
        for value_len in [0, 80, 100, 110, 120, 16_250, 16_300, 16_400, 70_000] {
            let batch: Batch = vec![
                (Labels::from_pairs([("__name__", "a")]), vec![sample(1, 1.0)]),
                (
                    Labels::from_pairs([("__name__", "b"), ("v", &"x".repeat(value_len))]),
                    vec![sample(1_700_000_000_000, 2.0), sample(1_700_000_005_000, -0.5)],
                ),
                (Labels::from_pairs([("__name__", "c")]), vec![]),
            ];
            let ours = enc.encode_uncompressed(borrowed(&batch)).to_vec();
            assert_eq!(ours, prost_message(&batch).encode_to_vec(), "value of {value_len} bytes");
        }
    }

    #[test]
    fn body_decodes_with_snappy_block_format_and_prost() {
        let batch = node_batch();
        let mut enc = Encoder::new();
        let body = enc.encode(borrowed(&batch)).unwrap().to_vec();
        // Block format: no stream identifier chunk (0xff "sNaPpY") up front.
        assert_ne!(body[0], 0xff);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let req = prompb::WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(decoded(&req), expected(&batch));
        assert_eq!(decoded(&decode(&body).unwrap()), expected(&batch));
    }

    #[test]
    fn external_labels_are_merged_in_name_order_and_the_series_wins() {
        let own = Labels::from_pairs([("__name__", "up"), ("env", "dev")]);
        let external = Labels::from_pairs([("env", "prod"), ("replica", "a"), ("aaa", "1")]);
        let samples = [SampleValue { timestamp_ms: 1, value: 1.0 }];
        let mut enc = Encoder::new();
        let body = enc.encode_with_external([(&own, &samples[..])], &external).unwrap().to_vec();
        let req = decode(&body).unwrap();
        let got: Vec<(&str, &str)> =
            req.timeseries[0].labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
        assert_eq!(got, [("__name__", "up"), ("aaa", "1"), ("env", "dev"), ("replica", "a")]);
    }

    #[test]
    fn labels_go_out_sorted_by_name() {
        let batch = node_batch();
        let req = decode(Encoder::new().encode(borrowed(&batch)).unwrap()).unwrap();
        let names: Vec<_> = req.timeseries[0].labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "cpu", "instance", "job", "mode"]);
    }

    #[test]
    fn stale_nan_and_special_values_keep_their_bits() {
        let values = [
            f64::from_bits(STALE_NAN_BITS),
            f64::NAN,
            f64::from_bits(0x7ff8_0000_0000_0001),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::MIN_POSITIVE / 2.0,
            f64::MAX,
            -1e-300,
        ];
        let samples: Vec<_> =
            values.iter().enumerate().map(|(i, v)| sample(i as i64 * 1000 - 3000, *v)).collect();
        let batch = vec![(Labels::from_pairs([("__name__", "x")]), samples)];
        let req = decode(Encoder::new().encode(borrowed(&batch)).unwrap()).unwrap();
        assert_eq!(decoded(&req), expected(&batch));
        assert_eq!(req.timeseries[0].samples[0].value.to_bits(), 0x7ff0_0000_0000_0002);
    }

    #[test]
    fn empty_batch_is_an_empty_write_request() {
        let mut enc = Encoder::new();
        let body = enc.encode(std::iter::empty()).unwrap().to_vec();
        assert_eq!(decode(&body).unwrap(), prompb::WriteRequest::default());
        assert_eq!(enc.uncompressed_len(), 0);
    }

    #[test]
    fn encoded_len_is_the_bytes_each_series_adds() {
        let batch = node_batch();
        let total: usize = batch.iter().map(|(l, s)| encoded_len(l, s)).sum();
        assert_eq!(Encoder::new().encode_uncompressed(borrowed(&batch)).len(), total);
    }

    #[test]
    fn buffers_are_reused_across_calls() {
        let batch = node_batch();
        let mut enc = Encoder::new();
        enc.encode(borrowed(&batch)).unwrap();
        let (raw, compressed) = (enc.raw.as_ptr(), enc.compressed.as_ptr());
        for _ in 0..10 {
            enc.encode(borrowed(&batch)).unwrap();
        }
        assert_eq!(enc.raw.as_ptr(), raw);
        assert_eq!(enc.compressed.as_ptr(), compressed);
    }

    fn arb_batch() -> impl Strategy<Value = Batch> {
        let labels = prop::collection::btree_map("[a-z_]{1,8}", "\\PC{1,12}", 0..6)
            .prop_map(Labels::from_pairs);
        let samples =
            prop::collection::vec((any::<i64>(), any::<u64>()), 0..6).prop_map(|mut v| {
                v.sort_by_key(|(t, _)| *t);
                v.into_iter().map(|(t, bits)| sample(t, f64::from_bits(bits))).collect::<Vec<_>>()
            });
        prop::collection::vec((labels, samples), 0..8)
    }

    proptest! {
        #[test]
        fn any_batch_round_trips_bit_for_bit(batch in arb_batch()) {
            let mut enc = Encoder::new();
            let req = decode(enc.encode(borrowed(&batch)).unwrap()).unwrap();
            prop_assert_eq!(decoded(&req), expected(&batch));
            let total: usize = batch.iter().map(|(l, s)| encoded_len(l, s)).sum();
            prop_assert_eq!(enc.uncompressed_len(), total);
        }

        /// External labels merge like a map where the series' own win.
        #[test]
        fn external_labels_merge_as_a_map_where_the_series_wins(
            own in prop::collection::btree_map("[a-e_A-Z]{1,3}", "[xy]{1,2}", 0..6),
            external in prop::collection::btree_map("[a-e_A-Z]{1,3}", "[z]{1,2}", 0..4),
        ) {
            let mut want = external.clone();
            want.extend(own.clone());
            let want: Vec<(String, String)> = want.into_iter().collect();
            let own = Labels::from_pairs(own);
            let mut enc = Encoder::new();
            let samples = [sample(1, 1.0)];
            let body = enc
                .encode_with_external([(&own, &samples[..])], &Labels::from_pairs(external))
                .unwrap()
                .to_vec();
            let req = decode(&body).unwrap();
            let got: Vec<(String, String)> =
                req.timeseries[0].labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
            prop_assert_eq!(got, want);
        }
    }
}
