//! The write-ahead log between the scrape stage and remote write: scraped
//! batches go to disk in order, each remote endpoint reads them back through
//! its own durable cursor, and the directory stays under a size bound.
//!
//! ```text
//! scrape ──► Wal::append ──► segments on disk ──► WalReader (one per endpoint) ──► remote
//!                                   ▲                       │ after a 2xx
//!            truncate_acknowledged ─┴──── Cursor::commit ◄──┘
//! ```
//!
//! # On-disk format
//!
//! `<data-dir>/wal/` (the directory given as [`WalOptions::dir`]) holds:
//!
//! - segment files named by an increasing, zero-padded number (`00000001`,
//!   `00000002`, ...): the log, oldest first;
//! - `cursors/<name>`: one read position per remote endpoint (format in
//!   [`cursor`]; written atomically by temp file, fsync, rename, dir fsync).
//!
//! Anything else in the directory (other names, a number not written as the
//! WAL writes it, sub-directories, temp files) is ignored and listed in
//! [`OpenReport::ignored_files`]; a new segment's number is above any number
//! found there, so it never collides with such a file.
//!
//! A segment is a sequence of records, each framed as
//!
//! ```text
//! [len: u32 LE][crc32c: u32 LE][type: u8][payload: len bytes]
//! ```
//!
//! `len` counts the payload only; the Castagnoli CRC covers type and payload.
//! A length of more than 64 MiB, a checksum mismatch or an unknown type is
//! damage; zero-filled pages (type 0) therefore read as damage too. Integers
//! are LEB128 varints; signed ones zigzag-encoded first. Record types:
//!
//! - `1` Series: one or more entries `ref, label count, (name len, name,
//!   value len, value)*` until the payload ends. Refs are segment-local and
//!   dense: the n-th series declared in a segment has ref n (from 0).
//! - `2` Samples: `base timestamp (zigzag), count, flags`, then per sample
//!   `ref delta (zigzag, against the previous sample's ref in this record, the
//!   first against 0)`, `timestamp delta against base (zigzag; absent when
//!   flags bit 0 says every sample has the base timestamp)`, and the value:
//!   its f64 bits XOR the previous value of the same series in this segment
//!   (0 before the first), written as one `0` byte when the XOR is zero, else a
//!   control byte `0b10LLLTTT` (L leading and T trailing zero bytes) followed
//!   by the `8 - L - T` bytes between them, most significant first. Values
//!   are kept bit-exactly (StaleNaN `0x7ff0000000000002`, NaN payloads, -0.0).
//!
//! In steady state (same series in the same order, mostly unchanged gauges)
//! a sample costs a 1-byte ref delta and 1 to 4 value bytes.
//!
//! A batch is written as `[Series record (new series only)][Samples record]`
//! with one `write` call; batches over 65,536 samples take several Samples
//! records, and Series records are closed at about 1 MiB.
//!
//! # Invariants
//!
//! - Segments are self-contained: the series table and the previous-value
//!   state start empty in every segment, so any segment decodes from its start
//!   alone, and deleting old segments never breaks newer ones. A series gets a
//!   Series record the first time it appears in a segment.
//! - A [`Position`] `(segment, offset)` is the offset just after a record, or
//!   0. Positions order like the data: segment numbers only grow (a new
//!   number is above every segment and every cursor seen at open).
//! - The head (the end of the last published batch) only moves forward, and
//!   everything before it is fully written: readers never read past it.
//! - A segment is written only while it is the newest one. After a failed
//!   write the writer cuts the file back and starts a new segment at the next
//!   append, so damage can only sit at the tail of a segment.
//! - `open` always starts a new segment: a repaired tail is never appended to
//!   in place, and the new segment's state needs nothing from the old one.
//!
//! # Recovery at open
//!
//! Every segment is scanned (lengths, checksums, types, sample counts;
//! counted in `tern_wal_replayed_records_total`). The
//! last segment's tail after its last good record (a torn write, zeroes from
//! preallocated pages) is truncated: WARN, `tern_wal_corrupt_records_total`
//! and `tern_wal_truncations_total`. Damage in an older segment cannot be a
//! torn write; its readable length ends at the damage, readers skip the rest
//! (ERROR, counted), the file is left as it is for inspection. A cursor file
//! that does not parse starts at the oldest data (duplicates rather than
//! loss); a cursor past the end of its segment moves to that end; a cursor in
//! a deleted segment moves to the oldest one.
//!
//! # Durability
//!
//! `append` returns after the OS has the batch (a process crash loses
//! nothing). Power loss loses what was not fsynced: with
//! [`FsyncPolicy::Interval`] `append` fsyncs once the last fsync is older
//! than the interval and the app calls [`Wal::sync`] on a timer and at
//! shutdown; segments are fsynced when sealed and the directory when a
//! segment is created (except with [`FsyncPolicy::Never`]). A cursor commit is
//! always durable.
//!
//! # Size bound and deletion
//!
//! [`Wal::truncate_acknowledged`] deletes the oldest segments that every
//! known cursor (registered, or found on disk at open) has passed; with no
//! cursor at all it deletes nothing. When the segments' total size exceeds
//! `max_size`, `append` deletes the oldest segments regardless (never the
//! one being written): `tern_wal_segments_dropped_total`, and
//! `tern_wal_samples_dropped_total` for the samples the slowest cursor had not
//! passed (all of them with no cursor), logged at ERROR when that is not 0.
//! Each reader reports what it skipped itself in
//! [`WalReader::skipped_samples`].
//!
//! # Concurrency
//!
//! One process per directory (it is not locked: the app owns `--data-dir`).
//! One owner appends (`&mut Wal`). Readers and cursors are `Send + Sync`
//! handles for other tasks: readers open their own file handles and read only
//! up to the head published on a `tokio::sync::watch` channel, so they never
//! block the writer; a reader that already holds a segment open may finish it
//! even after the size bound deleted it. The writer and readers share a small
//! table of segments (lengths, sample counts) and cursors under a
//! `std::sync::Mutex` held for map operations only, never across I/O or
//! `.await`. Appends, reads and commits are blocking file I/O (page cache in
//! the common case).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::labels::SharedSeries;

pub mod cursor;
mod decode;
mod encode;
mod error;
mod metrics;
mod open;
mod reader;
mod record;
mod segment;
mod writer;

pub use cursor::Cursor;
pub use error::{Corruption, WalError};
pub use metrics::WalMetrics;
pub use reader::WalReader;
pub use writer::Wal;

/// A place in the log: the offset just after a record of a segment (or 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", segment::segment_name(self.segment), self.offset)
    }
}

/// One sample read back from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct WalSample {
    pub series: SharedSeries,
    pub timestamp_ms: i64,
    pub value: f64,
    /// The position after the record the sample came from: committing it
    /// means every sample of that record and before is done (a reader that
    /// stopped inside a record says where to commit: `WalReader::handed_out`).
    pub end: Position,
}

/// When segment data is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// From `append` once the last fsync is older than this (and from
    /// [`Wal::sync`]): at most this much data is exposed to power loss while
    /// appends go on.
    Interval(Duration),
    /// After every append.
    Always,
    /// Only when [`Wal::sync`] is called; segments and the directory never.
    Never,
}

/// How the WAL is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// The WAL directory (`<data-dir>/wal`); created if missing.
    pub dir: PathBuf,
    /// Bound on the total size of the segments.
    pub max_size: u64,
    /// A segment is sealed once it reaches this size (it may exceed it by
    /// one batch). `None`: `min(64 MiB, max_size / 8)`, at least 64 KiB.
    pub segment_size: Option<u64>,
    pub fsync: FsyncPolicy,
}

impl WalOptions {
    /// The defaults: 1 GiB, default segment size, fsync every second.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        WalOptions {
            dir: dir.into(),
            max_size: 1 << 30,
            segment_size: None,
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
        }
    }

    /// The segment size in force.
    pub fn effective_segment_size(&self) -> u64 {
        self.segment_size.unwrap_or_else(|| (self.max_size / 8).clamp(64 << 10, 64 << 20))
    }
}

/// Damage found at open, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub path: PathBuf,
    pub offset: u64,
    pub kind: Corruption,
    /// True when the file was cut back to `offset` (the last segment); false
    /// when readers skip from `offset` on (an older segment).
    pub truncated: bool,
}

/// What `open` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Segments kept, the new one included.
    pub segments: usize,
    pub bytes: u64,
    /// Good records and the samples they hold.
    pub records: u64,
    pub samples: u64,
    pub damage: Vec<Damage>,
    /// Files in the directory (or in `cursors/`) that are not the WAL's.
    pub ignored_files: Vec<PathBuf>,
    /// Cursor files that did not parse; those cursors start at the oldest data.
    pub bad_cursors: Vec<PathBuf>,
    /// Where appends go on.
    pub head: Position,
}

/// What the writer, readers and cursors share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The series of the segment being written, by ref: readers take them
    /// instead of building the label sets again.
    pub(crate) live: Mutex<LiveSeries>,
    pub(crate) dir: PathBuf,
    pub(crate) cursor_dir: PathBuf,
    pub(crate) metrics: WalMetrics,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn live(&self) -> MutexGuard<'_, LiveSeries> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The series the writer declared in segment `segment`, indexed by ref: the
/// writer's table (it checks a series' recorded ref against it) and the
/// readers' (a reader of the segment takes its series from it instead of
/// building them again). Readers see the first `published` entries, whose
/// records were written. An entry no other stage holds is let go (`None`)
/// by [`LiveSeries::forget_unused`]: that series can never be appended
/// again, and a reader rebuilds it from its record.
#[derive(Debug, Default)]
pub(crate) struct LiveSeries {
    pub(crate) segment: u64,
    pub(crate) series: Vec<Option<SharedSeries>>,
    pub(crate) published: usize,
    /// Entries that are `Some`.
    pub(crate) held: usize,
}

impl LiveSeries {
    /// The series of `r` in `segment`, if it is the live segment, the
    /// declaration of `r` is written and the series is still held.
    pub(crate) fn get(&self, segment: u64, r: u64) -> Option<SharedSeries> {
        if segment != self.segment {
            return None;
        }
        let r = usize::try_from(r).ok().filter(|&r| r < self.published)?;
        self.series.get(r)?.clone()
    }

    /// Whether ref `r` is `series` itself.
    pub(crate) fn is(&self, r: u32, series: &SharedSeries) -> bool {
        let entry = self.series.get(r as usize).and_then(Option::as_ref);
        entry.is_some_and(|t| SharedSeries::ptr_eq(t, series))
    }

    /// Adds the next ref's series.
    pub(crate) fn push(&mut self, series: SharedSeries) {
        self.series.push(Some(series));
        self.held += 1;
    }

    /// Starts the table of segment `segment`, empty.
    pub(crate) fn reset(&mut self, segment: u64) {
        self.segment = segment;
        self.series.clear();
        self.published = 0;
        self.held = 0;
    }

    /// Drops the entries of the published refs whose series nothing else
    /// holds (no scrape cache, queue or reader): it cannot be appended
    /// again, so only memory would keep it. Returns how many went.
    pub(crate) fn forget_unused(&mut self) -> usize {
        let mut n = 0;
        for entry in &mut self.series[..self.published] {
            // Only the table holds it, and the table is behind the lock this
            // `&mut` stands for: no one can take another reference meanwhile.
            if entry.as_ref().is_some_and(triomphe::Arc::is_unique) {
                *entry = None;
                n += 1;
            }
        }
        self.held -= n;
        n
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Every segment on disk, the one being written included.
    pub(crate) segments: BTreeMap<u64, SegmentInfo>,
    /// Segments the size bound deleted (the most recent ones), for readers
    /// to report what they skip.
    pub(crate) dropped: BTreeMap<u64, DroppedSegment>,
    pub(crate) cursors: BTreeMap<String, Cursor>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SegmentInfo {
    /// Bytes readers may read: the end of the last good record once sealed
    /// (the head bounds the segment being written).
    pub(crate) readable: u64,
    pub(crate) file_len: u64,
    pub(crate) samples: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DroppedSegment {
    pub(crate) samples: u64,
    /// Samples after each cursor position inside the segment at deletion.
    pub(crate) after: Vec<(u64, u64)>,
}

impl DroppedSegment {
    /// Samples after `offset`: exact for offset 0 and for cursor positions
    /// known at deletion, else the whole segment (an upper bound).
    pub(crate) fn samples_after(&self, offset: u64) -> u64 {
        if offset == 0 {
            return self.samples;
        }
        self.after.iter().find(|(o, _)| *o == offset).map_or(self.samples, |(_, n)| *n)
    }
}
