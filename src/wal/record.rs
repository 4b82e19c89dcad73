//! Record framing and the primitive encodings shared by the encoder and the
//! decoder: LEB128 varints, zigzag, and the byte-level XOR value form.
//!
//! Frame: `[len: u32 LE][crc32c: u32 LE][type: u8][payload: len bytes]`, the
//! checksum covering the type byte and the payload.

use super::error::Corruption;

/// Bytes before the payload: length, checksum, type.
pub(crate) const HEADER_LEN: usize = 9;
/// The largest payload a reader accepts; the writer stays well below it.
pub(crate) const MAX_PAYLOAD: usize = 64 << 20;

/// Record types. 0 is never used, so zero-filled pages read as damage.
pub(crate) const SERIES: u8 = 1;
pub(crate) const SAMPLES: u8 = 2;

/// `flags` bit 0 of a Samples record: every sample has the base timestamp.
pub(crate) const FLAG_SAME_TIMESTAMP: u8 = 1;

/// Starts a record in `buf`; returns its start for [`finish_record`].
pub(crate) fn begin_record(buf: &mut Vec<u8>, kind: u8) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_LEN - 1]);
    buf.push(kind);
    start
}

/// Fills in the length and checksum of the record that starts at `start`.
pub(crate) fn finish_record(buf: &mut [u8], start: usize) {
    let len = buf.len() - start - HEADER_LEN;
    debug_assert!(len <= MAX_PAYLOAD, "BUG: record exceeds MAX_PAYLOAD");
    let crc = crc32c::crc32c(&buf[start + 8..]);
    buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// A checked frame header: the payload length.
pub(crate) fn frame_len(header: &[u8; 8]) -> Result<usize, Corruption> {
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    if len as usize > MAX_PAYLOAD {
        return Err(Corruption::BadLength(len));
    }
    Ok(len as usize)
}

/// Checks a whole frame (`header + type + payload`) and returns its type and
/// payload.
pub(crate) fn check_frame(frame: &[u8]) -> Result<(u8, &[u8]), Corruption> {
    let want = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    if crc32c::crc32c(&frame[8..]) != want {
        return Err(Corruption::BadCrc);
    }
    match frame[8] {
        kind @ (SERIES | SAMPLES) => Ok((kind, &frame[HEADER_LEN..])),
        other => Err(Corruption::UnknownType(other)),
    }
}

pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

pub(crate) fn put_zigzag(buf: &mut Vec<u8>, v: i64) {
    put_varint(buf, zigzag(v));
}

pub(crate) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes `x` (a value XOR its predecessor): one 0 byte when zero, else a
/// control byte `0b10LLLTTT` (L leading and T trailing zero bytes) and the
/// `8 - L - T` bytes between them, most significant first.
pub(crate) fn put_xor(buf: &mut Vec<u8>, x: u64) {
    if x == 0 {
        buf.push(0);
        return;
    }
    let lz = x.leading_zeros() as usize / 8;
    let tz = x.trailing_zeros() as usize / 8;
    buf.push(0x80 | (lz << 3) as u8 | tz as u8);
    buf.extend_from_slice(&x.to_be_bytes()[lz..8 - tz]);
}

/// A read position in a payload; every read is bounds-checked.
pub(crate) struct Input<'a> {
    pub(crate) rest: &'a [u8],
}

impl<'a> Input<'a> {
    pub(crate) fn new(rest: &'a [u8]) -> Self {
        Input { rest }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn byte(&mut self) -> Result<u8, Corruption> {
        let (&b, rest) = self.rest.split_first().ok_or(Corruption::BadPayload("truncated"))?;
        self.rest = rest;
        Ok(b)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Corruption> {
        if n > self.rest.len() {
            return Err(Corruption::BadPayload("truncated"));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    /// LEB128; rejects encodings longer than 10 bytes or overflowing 64 bits.
    pub(crate) fn varint(&mut self) -> Result<u64, Corruption> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(Corruption::BadPayload("varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Corruption::BadPayload("varint overflows 64 bits"))
    }

    pub(crate) fn zigzag(&mut self) -> Result<i64, Corruption> {
        self.varint().map(unzigzag)
    }

    /// A length that must fit in what is left of the payload.
    pub(crate) fn len(&mut self) -> Result<usize, Corruption> {
        let n = self.varint()?;
        if n > self.rest.len() as u64 {
            return Err(Corruption::BadPayload("length beyond payload"));
        }
        Ok(n as usize)
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, Corruption> {
        let n = self.len()?;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| Corruption::BadPayload("label not UTF-8"))
    }

    /// The inverse of [`put_xor`].
    pub(crate) fn xor(&mut self) -> Result<u64, Corruption> {
        let control = self.byte()?;
        if control == 0 {
            return Ok(0);
        }
        let (lz, tz) = (usize::from(control >> 3 & 7), usize::from(control & 7));
        if control & 0xc0 != 0x80 || lz + tz > 7 {
            return Err(Corruption::BadPayload("bad value control byte"));
        }
        let mut be = [0u8; 8];
        be[lz..8 - tz].copy_from_slice(self.bytes(8 - lz - tz)?);
        Ok(u64::from_be_bytes(be))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[track_caller]
    fn check_xor(x: u64, want_len: usize) {
        let mut buf = Vec::new();
        put_xor(&mut buf, x);
        assert_eq!(buf.len(), want_len, "{x:#x} -> {buf:x?}");
        let mut input = Input::new(&buf);
        assert_eq!(input.xor(), Ok(x));
        assert!(input.is_empty());
    }

    #[test]
    fn xor_form_keeps_only_the_middle_bytes() {
        check_xor(0, 1);
        check_xor(1, 2);
        check_xor(0x8000_0000_0000_0000, 2);
        check_xor(0x0000_0100_0000_0000, 2);
        check_xor(0x0001_0200_0000_0000, 3);
        check_xor(u64::MAX, 9);
        check_xor(0x7ff0_0000_0000_0002, 9);
    }

    #[test]
    fn bad_xor_control_bytes_are_errors() {
        for bad in [[0x40u8, 0, 0, 0, 0, 0, 0, 0, 0], [0x80 | 0x38 | 0x04, 0, 0, 0, 0, 0, 0, 0, 0]]
        {
            assert!(Input::new(&bad).xor().is_err(), "{bad:x?}");
        }
        assert!(Input::new(&[0x80]).xor().is_err(), "truncated");
    }

    #[test]
    fn overlong_varints_are_errors() {
        let mut ten = vec![0xff; 9];
        ten.push(0x01);
        assert_eq!(Input::new(&ten).varint(), Ok(u64::MAX));
        ten[9] = 0x02;
        assert!(Input::new(&ten).varint().is_err());
        assert!(Input::new(&[0x80; 11]).varint().is_err());
        assert!(Input::new(&[0x80]).varint().is_err());
    }

    #[test]
    fn frames_check_length_crc_and_type() {
        let mut buf = Vec::new();
        let start = begin_record(&mut buf, SAMPLES);
        buf.extend_from_slice(b"abc");
        finish_record(&mut buf, start);
        let header: [u8; 8] = buf[..8].try_into().unwrap();
        assert_eq!(frame_len(&header), Ok(3));
        assert_eq!(check_frame(&buf), Ok((SAMPLES, &b"abc"[..])));
        let mut bad = buf.clone();
        bad[10] ^= 1;
        assert_eq!(check_frame(&bad), Err(Corruption::BadCrc));
        assert_eq!(frame_len(&[0xff; 8]), Err(Corruption::BadLength(u32::MAX)));
        let zeros = [0u8; 9];
        assert_eq!(check_frame(&zeros), Err(Corruption::BadCrc));
    }

    proptest! {
        #[test]
        fn varints_and_zigzag_round_trip(v: u64, s: i64) {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            prop_assert_eq!(buf.len(), varint_len(v));
            put_zigzag(&mut buf, s);
            let mut input = Input::new(&buf);
            prop_assert_eq!(input.varint(), Ok(v));
            prop_assert_eq!(input.zigzag(), Ok(s));
            prop_assert!(input.is_empty());
        }

        #[test]
        fn xor_round_trips(x: u64) {
            let mut buf = Vec::new();
            put_xor(&mut buf, x);
            let mut input = Input::new(&buf);
            prop_assert_eq!(input.xor(), Ok(x));
            prop_assert!(input.is_empty());
        }
    }
}
