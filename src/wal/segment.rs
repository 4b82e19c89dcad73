//! Segment files: names, directory listing, a chunked frame reader that never
//! reads past a limit, and the open-time scan.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::decode::sample_count;
use super::error::{Corruption, WalError};
use super::record::{check_frame, frame_len, HEADER_LEN, SAMPLES};

/// Bytes a frame reader asks the OS for at a time.
const CHUNK: usize = 256 << 10;

/// `00000001`, ...: zero-padded so that names sort as numbers do.
pub(crate) fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

pub(crate) fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(segment_name(n))
}

/// What a directory holds: segment numbers in order, and files that are not
/// segments (anything but a regular file named as [`segment_name`] names).
pub(crate) struct Listing {
    pub(crate) segments: Vec<u64>,
    pub(crate) junk: Vec<PathBuf>,
    /// The highest number any entry is named after, segment or not: a new
    /// segment must not collide with it.
    pub(crate) highest: Option<u64>,
}

pub(crate) fn list(dir: &Path) -> Result<Listing, WalError> {
    let mut listing = Listing { segments: Vec::new(), junk: Vec::new(), highest: None };
    let entries = std::fs::read_dir(dir).map_err(WalError::io(dir, "list directory"))?;
    for entry in entries {
        let entry = entry.map_err(WalError::io(dir, "list directory"))?;
        let name = entry.file_name();
        if name == "cursors" {
            continue;
        }
        let file_type = entry.file_type().map_err(WalError::io(entry.path(), "stat"))?;
        let number = name
            .to_str()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| Some((n.parse::<u64>().ok()?, n)));
        listing.highest = listing.highest.max(number.map(|(n, _)| n));
        match number {
            Some((n, name)) if file_type.is_file() && name == segment_name(n) => {
                listing.segments.push(n)
            }
            _ => listing.junk.push(entry.path()),
        }
    }
    listing.segments.sort_unstable();
    Ok(listing)
}

/// What the frame reader found next.
pub(crate) enum Frame<'a> {
    /// A record whose checksum and type are good; `end` is the offset after it.
    Record { kind: u8, payload: &'a [u8], end: u64 },
    /// The reader stands at its limit.
    End,
    /// The record at `offset` is damaged; nothing after it can be framed.
    Damaged { offset: u64, kind: Corruption },
}

/// Reads frames of one segment file through its own handle, in chunks, never
/// past `limit` (so never into bytes a writer may still be producing).
pub(crate) struct FrameReader {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    /// Index in `buf` of the next unread byte.
    start: usize,
    /// File offset of `buf[0]`.
    buf_off: u64,
    limit: u64,
}

impl FrameReader {
    /// A reader positioned at `offset` of `file`.
    pub(crate) fn new(file: File, path: PathBuf, offset: u64, limit: u64) -> Self {
        FrameReader { file, path, buf: Vec::new(), start: 0, buf_off: offset, limit }
    }

    pub(crate) fn open(path: &Path, offset: u64, limit: u64) -> std::io::Result<Self> {
        Ok(Self::new(File::open(path)?, path.to_owned(), offset, limit))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// File offset of the next frame.
    pub(crate) fn position(&self) -> u64 {
        self.buf_off + self.start as u64
    }

    pub(crate) fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    pub(crate) fn next(&mut self) -> Result<Frame<'_>, WalError> {
        let offset = self.position();
        if offset >= self.limit {
            return Ok(Frame::End);
        }
        if !self.fill(HEADER_LEN)? {
            return Ok(Frame::Damaged { offset, kind: Corruption::Torn });
        }
        let header: [u8; 8] =
            self.buf[self.start..self.start + 8].try_into().expect("BUG: 8-byte slice");
        let len = match frame_len(&header) {
            Ok(len) => len,
            Err(kind) => return Ok(Frame::Damaged { offset, kind }),
        };
        let total = HEADER_LEN + len;
        if !self.fill(total)? {
            return Ok(Frame::Damaged { offset, kind: Corruption::Torn });
        }
        let frame = &self.buf[self.start..self.start + total];
        match check_frame(frame) {
            Ok((kind, payload)) => {
                self.start += total;
                Ok(Frame::Record { kind, payload, end: offset + total as u64 })
            }
            Err(kind) => Ok(Frame::Damaged { offset, kind }),
        }
    }

    /// Makes `need` unread bytes available; false when the limit or the end
    /// of the file comes first.
    fn fill(&mut self, need: usize) -> Result<bool, WalError> {
        if self.buf.len() - self.start >= need {
            return Ok(true);
        }
        let offset = self.position();
        if offset + need as u64 > self.limit {
            return Ok(false);
        }
        // Drop consumed bytes, then read up to a chunk beyond `need`.
        self.buf.drain(..self.start);
        self.buf_off = offset;
        self.start = 0;
        let have = self.buf.len();
        let want = (need.max(CHUNK) as u64).min(self.limit - offset) as usize;
        self.buf.resize(want, 0);
        let read_at = offset + have as u64;
        let io = WalError::io_at(&self.path, read_at, "read segment");
        self.file.seek(SeekFrom::Start(read_at)).map_err(io)?;
        let mut filled = have;
        while filled < want {
            match self.file.read(&mut self.buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(have);
                    return Err(WalError::io_at(&self.path, read_at, "read segment")(e));
                }
            }
        }
        self.buf.truncate(filled);
        Ok(filled >= need)
    }
}

/// What the open-time scan of a segment found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Offset after the last good record.
    pub(crate) valid_len: u64,
    pub(crate) file_len: u64,
    pub(crate) records: u64,
    pub(crate) samples: u64,
    pub(crate) damage: Option<(u64, Corruption)>,
}

/// Checks every frame of a segment (length, checksum, type; the sample count
/// of Samples records) up to the first damaged one.
pub(crate) fn scan(path: &Path) -> Result<Scan, WalError> {
    let file = File::open(path).map_err(WalError::io(path, "open segment"))?;
    let file_len = file.metadata().map_err(WalError::io(path, "stat segment"))?.len();
    let mut frames = FrameReader::new(file, path.to_owned(), 0, file_len);
    let mut scan = Scan { valid_len: 0, file_len, records: 0, samples: 0, damage: None };
    loop {
        match frames.next()? {
            Frame::End => return Ok(scan),
            Frame::Damaged { offset, kind } => {
                scan.damage = Some((offset, kind));
                return Ok(scan);
            }
            Frame::Record { kind, payload, end } => {
                if kind == SAMPLES {
                    match sample_count(payload) {
                        Ok(n) => scan.samples += n,
                        Err(kind) => {
                            scan.damage = Some((scan.valid_len, kind));
                            return Ok(scan);
                        }
                    }
                }
                scan.records += 1;
                scan.valid_len = end;
            }
        }
    }
}

/// Samples in the records of a segment from `offset` (a record boundary) to
/// `limit`: what a cursor at `offset` had not yet passed.
pub(crate) fn samples_after(path: &Path, offset: u64, limit: u64) -> Result<u64, WalError> {
    let mut frames =
        FrameReader::open(path, offset, limit).map_err(WalError::io(path, "open segment"))?;
    let mut n = 0;
    while let Frame::Record { kind, payload, .. } = frames.next()? {
        if kind == SAMPLES {
            n += sample_count(payload).unwrap_or(0);
        }
    }
    Ok(n)
}
