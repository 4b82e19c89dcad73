//! The writer: appends batches, rotates and seals segments, fsyncs, enforces
//! the size bound and deletes what every cursor has passed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{error, warn};

use super::cursor::{sync_dir, Cursor};
use super::encode::Encoder;
use super::error::WalError;
use super::metrics::WalMetrics;
use super::open::{clamp, recover, validate};
use super::reader::WalReader;
use super::segment::{samples_after, segment_path};
use super::{DroppedSegment, FsyncPolicy, OpenReport, Position, SegmentInfo, Shared, WalOptions};
use crate::scrape::SeriesSample;

/// How many deleted segments readers can still ask about.
const DROPPED_MEMORY: usize = 1024;
/// How often appends let go of the series no other stage holds (a pass over
/// the segment's table).
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// The write-ahead log (see the module doc). One owner appends.
pub struct Wal {
    shared: Arc<Shared>,
    max_size: u64,
    segment_size: u64,
    fsync: FsyncPolicy,
    /// The segment being written; `None` after a failed write, until the next
    /// append starts a new one.
    active: Option<Active>,
    next_segment: u64,
    head: Position,
    head_tx: watch::Sender<Position>,
    encoder: Encoder,
    buf: Vec<u8>,
    last_sync: Instant,
    last_forget: Instant,
    total_bytes: u64,
}

struct Active {
    number: u64,
    path: PathBuf,
    file: File,
    size: u64,
    samples: u64,
    /// Written since the last fsync.
    dirty: bool,
}

impl Wal {
    /// Opens (creating if needed) the WAL in `options.dir`: scans and repairs
    /// every segment, loads the cursors and starts a new segment.
    pub fn open(options: WalOptions, metrics: WalMetrics) -> Result<(Wal, OpenReport), WalError> {
        validate(&options)?;
        let recovered = recover(&options, metrics)?;
        let mut report = recovered.report;
        let total_bytes = recovered.shared.state().segments.values().map(|s| s.file_len).sum();
        let head = Position { segment: recovered.next_segment, offset: 0 };
        let mut wal = Wal {
            shared: recovered.shared,
            max_size: options.max_size,
            segment_size: options.effective_segment_size(),
            fsync: options.fsync,
            active: None,
            next_segment: recovered.next_segment,
            head,
            head_tx: watch::Sender::new(head),
            encoder: Encoder::default(),
            buf: Vec::new(),
            last_sync: Instant::now(),
            last_forget: Instant::now(),
            total_bytes,
        };
        wal.start_segment()?;
        wal.shared.metrics.bytes.set(wal.total_bytes as i64);
        wal.enforce_size_bound();
        let state = wal.shared.state();
        report.segments = state.segments.len();
        report.bytes = wal.total_bytes;
        report.head = wal.head;
        drop(state);
        Ok((wal, report))
    }

    /// The end of the last appended batch.
    pub fn head(&self) -> Position {
        self.head
    }

    /// A receiver of the head, updated after every append.
    pub fn subscribe(&self) -> watch::Receiver<Position> {
        self.head_tx.subscribe()
    }

    /// Appends one batch (a scrape's samples) and returns the position after
    /// it. The batch is handed to the OS with one `write`, so a process crash
    /// after this returns loses nothing; power loss is covered per
    /// [`FsyncPolicy`]. Errors leave the log consistent: the batch is not in
    /// it (an fsync failure is logged, not returned: the batch is written).
    pub fn append(&mut self, samples: &[SeriesSample]) -> Result<Position, WalError> {
        if samples.is_empty() {
            return Ok(self.head);
        }
        if self.active.as_ref().is_none_or(|a| a.size >= self.segment_size) {
            self.start_segment()?;
        }
        self.buf.clear();
        let encoded = self.encoder.encode(samples, &mut self.buf, &mut self.shared.live());
        if let Err(size) = encoded {
            self.abandon_segment();
            return Err(WalError::SeriesTooLarge { size });
        }
        let active = self.active.as_mut().expect("BUG: start_segment sets active");
        if let Err(e) = active.file.write_all(&self.buf) {
            let err = WalError::io_at(&active.path, active.size, "write segment")(e);
            self.abandon_segment();
            return Err(err);
        }
        let written = self.buf.len() as u64;
        {
            let mut live = self.shared.live();
            live.published = live.series.len();
            if self.last_forget.elapsed() >= FORGET_EVERY {
                live.forget_unused();
                self.last_forget = Instant::now();
            }
            self.shared.metrics.series.set(live.held as i64);
        }
        active.size += written;
        active.samples += samples.len() as u64;
        active.dirty = true;
        self.head = Position { segment: active.number, offset: active.size };
        self.total_bytes += written;
        let metrics = &self.shared.metrics;
        metrics.appended_samples.inc_by(samples.len() as u64);
        metrics.appended_bytes.inc_by(written);
        metrics.bytes.set(self.total_bytes as i64);
        let due = match self.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval(every) => self.last_sync.elapsed() >= every,
            FsyncPolicy::Never => false,
        };
        if due {
            if let Err(e) = self.sync() {
                error!(error = %e, "WAL fsync failed; recent samples may not survive a power loss");
            }
        }
        self.head_tx.send_replace(self.head);
        self.enforce_size_bound();
        Ok(self.head)
    }

    /// Lets go of the series of the segment being written that no other
    /// stage holds (appends do so about once a minute); returns how many.
    pub fn forget_unused_series(&mut self) -> usize {
        let mut live = self.shared.live();
        let n = live.forget_unused();
        self.shared.metrics.series.set(live.held as i64);
        n
    }

    /// fsyncs what was appended since the last fsync (whatever the policy).
    /// The app calls it on a timer and at shutdown.
    pub fn sync(&mut self) -> Result<(), WalError> {
        self.last_sync = Instant::now();
        let Some(active) = self.active.as_mut().filter(|a| a.dirty) else {
            return Ok(());
        };
        let file = &active.file;
        self.shared
            .metrics
            .timed_fsync(|| file.sync_data())
            .map_err(WalError::io(&active.path, "fsync segment"))?;
        active.dirty = false;
        Ok(())
    }

    /// The cursor of endpoint `name`: its committed position if it has one
    /// (from disk or this process), else the oldest data.
    pub fn register_cursor(&self, name: &str) -> Cursor {
        let mut state = self.shared.state();
        let oldest = state.segments.keys().next().copied().unwrap_or(self.head.segment);
        if let Some(c) = state.cursors.get(name).cloned() {
            let p = c.position();
            let clamped = clamp(name, p, &state, oldest, self.head);
            if clamped != p {
                c.set_position(clamped);
            }
            return c;
        }
        let start = Position { segment: oldest, offset: 0 };
        let c = Cursor::new(name, &self.shared.cursor_dir, start, self.shared.metrics.clone());
        state.cursors.insert(name.to_owned(), c.clone());
        c
    }

    /// Forgets the cursors (and deletes the files) of every endpoint not in
    /// `keep`, so that they no longer pin segments. Returns their names.
    pub fn forget_cursors_except<S: AsRef<str>>(
        &self,
        keep: &[S],
    ) -> Result<Vec<String>, WalError> {
        let gone: Vec<Cursor> = {
            let mut state = self.shared.state();
            let names: Vec<String> = state
                .cursors
                .keys()
                .filter(|n| !keep.iter().any(|k| k.as_ref() == n.as_str()))
                .cloned()
                .collect();
            names.iter().filter_map(|n| state.cursors.remove(n)).collect()
        };
        let mut names = Vec::with_capacity(gone.len());
        for c in gone {
            c.forget();
            let path = c.path();
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(WalError::io(&path, "remove cursor")(e)),
            }
            names.push(c.name().to_owned());
        }
        Ok(names)
    }

    /// A reader from `cursor`'s committed position.
    pub fn reader(&self, cursor: &Cursor) -> WalReader {
        WalReader::new(self.shared.clone(), self.head_tx.subscribe(), cursor.position())
    }

    /// Deletes the oldest segments that every known cursor has passed (none
    /// when there is no cursor). Returns how many were deleted.
    pub fn truncate_acknowledged(&mut self) -> Result<usize, WalError> {
        let passed: Vec<u64> = {
            let state = self.shared.state();
            let Some(min) = state.cursors.values().map(Cursor::position).min() else {
                return Ok(0);
            };
            state
                .segments
                .iter()
                .take_while(|(&n, info)| {
                    self.is_sealed(n)
                        && (min.segment > n || (min.segment == n && min.offset >= info.readable))
                })
                .map(|(&n, _)| n)
                .collect()
        };
        for &n in &passed {
            self.delete_segment(n)?;
        }
        Ok(passed.len())
    }

    /// Neither being written nor holding the head.
    fn is_sealed(&self, n: u64) -> bool {
        n < self.head.segment && self.active.as_ref().is_none_or(|a| a.number != n)
    }

    /// Seals the current segment (if any) and creates the next one.
    fn start_segment(&mut self) -> Result<(), WalError> {
        if let Some(old) = self.active.take() {
            self.seal(old);
        }
        let n = self.next_segment;
        self.encoder.reset();
        self.shared.live().reset(n);
        let path = segment_path(&self.shared.dir, n);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(WalError::io(&path, "create segment"))?;
        if self.fsync != FsyncPolicy::Never {
            sync_dir(&self.shared.dir, &self.shared.metrics)?;
        }
        self.next_segment += 1;
        let mut state = self.shared.state();
        state.segments.insert(n, SegmentInfo::default());
        self.shared.metrics.segments.set(state.segments.len() as i64);
        drop(state);
        self.active = Some(Active { number: n, path, file, size: 0, samples: 0, dirty: false });
        Ok(())
    }

    fn seal(&self, mut old: Active) {
        if old.dirty && self.fsync != FsyncPolicy::Never {
            let file = &old.file;
            if let Err(e) = self.shared.metrics.timed_fsync(|| file.sync_data()) {
                error!(file = %old.path.display(), error = %e, "WAL fsync failed when sealing a segment");
            }
            old.dirty = false;
        }
        let info = SegmentInfo { readable: old.size, file_len: old.size, samples: old.samples };
        self.shared.state().segments.insert(old.number, info);
    }

    /// After a failed append: cut the segment back to its last batch and
    /// seal it; the next append starts a new segment with fresh state.
    fn abandon_segment(&mut self) {
        let Some(old) = self.active.take() else { return };
        if let Err(e) = old.file.set_len(old.size) {
            // Readers stop at the sealed length; the next open reports the rest.
            error!(file = %old.path.display(), error = %e, "cannot cut back a failed WAL write");
        }
        self.seal(old);
        self.encoder.reset();
        // Series whose declaration was not written; the next append starts
        // a new segment (and table) anyway.
        let mut live = self.shared.live();
        let published = live.published;
        live.series.truncate(published);
    }

    fn enforce_size_bound(&mut self) {
        while self.total_bytes > self.max_size {
            let oldest = self.shared.state().segments.keys().next().copied();
            let Some(n) = oldest.filter(|&n| self.is_sealed(n)) else { return };
            if let Err(e) = self.drop_segment(n) {
                error!(error = %e, "cannot delete a WAL segment to keep the size bound");
                return;
            }
        }
    }

    /// Deletes segment `n` for the size bound, counting what cursors lose.
    fn drop_segment(&mut self, n: u64) -> Result<(), WalError> {
        let (info, positions) = {
            let state = self.shared.state();
            let info = state.segments.get(&n).copied().unwrap_or_default();
            (info, state.cursors.values().map(Cursor::position).collect::<Vec<_>>())
        };
        let path = segment_path(&self.shared.dir, n);
        let mut dropped = DroppedSegment { samples: info.samples, after: Vec::new() };
        for p in positions.iter().filter(|p| p.segment == n && p.offset > 0) {
            let left = samples_after(&path, p.offset, info.readable).unwrap_or(info.samples);
            dropped.after.push((p.offset, left));
        }
        // What the slowest cursor had not passed (everything with no cursor).
        let lost = match positions.iter().min() {
            None => info.samples,
            Some(p) if p.segment < n => info.samples,
            Some(p) if p.segment == n => dropped.samples_after(p.offset),
            Some(_) => 0,
        };
        self.delete_segment(n)?;
        let metrics = &self.shared.metrics;
        metrics.segments_dropped.inc();
        metrics.samples_dropped.inc_by(lost);
        if lost > 0 {
            error!(file = %path.display(), samples = lost, max_size = self.max_size,
                "WAL size bound reached: deleted a segment that was not fully sent");
        } else {
            warn!(file = %path.display(), max_size = self.max_size,
                "WAL size bound reached: deleted the oldest segment");
        }
        let mut state = self.shared.state();
        state.dropped.insert(n, dropped);
        while state.dropped.len() > DROPPED_MEMORY {
            state.dropped.pop_first();
        }
        Ok(())
    }

    fn delete_segment(&mut self, n: u64) -> Result<(), WalError> {
        let path = segment_path(&self.shared.dir, n);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(WalError::io(&path, "delete segment")(e)),
        }
        let mut state = self.shared.state();
        if let Some(info) = state.segments.remove(&n) {
            self.total_bytes -= info.file_len;
        }
        let metrics = &self.shared.metrics;
        metrics.segments.set(state.segments.len() as i64);
        metrics.bytes.set(self.total_bytes as i64);
        Ok(())
    }
}
