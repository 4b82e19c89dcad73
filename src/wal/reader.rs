//! Readers: one per endpoint, from its cursor's position to the head,
//! across segments.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::Arc;

use tokio::sync::watch;
use tracing::{error, warn};

use super::decode::Decoder;
use super::error::{Corruption, WalError};
use super::record::{SAMPLES, SERIES};
use super::segment::{segment_path, Frame, FrameReader};
use super::{Position, Shared, WalSample};

/// Reads samples from a position on, in order, never past the published
/// head. Decoding a segment starts at its beginning (to rebuild its series
/// and values); records up to the start position are decoded but not
/// returned.
pub struct WalReader {
    shared: Arc<Shared>,
    head: watch::Receiver<Position>,
    segment: u64,
    /// The open segment; `None` before it is opened and once it is damaged.
    frames: Option<FrameReader>,
    /// The current segment had damage: nothing more to read in it.
    dead: bool,
    /// How far the current segment may be read, once it is sealed.
    sealed_limit: Option<u64>,
    /// Samples in records ending at or before this offset of the first
    /// segment were done before this reader started.
    skip_to: u64,
    /// End of the last record read.
    position: Position,
    /// Start of the last record read: while `pending` holds samples, they
    /// are that record's (it is drained before another is read).
    record_start: Position,
    decoder: Decoder,
    pending: VecDeque<WalSample>,
    skipped: u64,
}

/// What one step of reading did.
enum Step {
    /// Read a record or moved to another segment.
    Progress,
    /// At the head.
    Tail,
}

impl WalReader {
    pub(crate) fn new(
        shared: Arc<Shared>,
        head: watch::Receiver<Position>,
        from: Position,
    ) -> Self {
        WalReader {
            head,
            segment: from.segment,
            frames: None,
            dead: false,
            sealed_limit: None,
            skip_to: from.offset,
            position: from,
            record_start: from,
            decoder: Decoder::default(),
            shared,
            pending: VecDeque::new(),
            skipped: 0,
        }
    }

    /// The position after the last record read (pending samples included).
    pub fn position(&self) -> Position {
        self.position
    }

    /// Where the cursor may be committed once every sample read so far is
    /// delivered: after the last record read, or before it while some of
    /// its samples are still pending (a chunk may end inside a record; the
    /// rest must not be skipped after a restart).
    pub fn handed_out(&self) -> Position {
        if self.pending.is_empty() {
            self.position
        } else {
            self.record_start
        }
    }

    /// Samples this reader never saw because the size bound deleted their
    /// segment before it got there.
    pub fn skipped_samples(&self) -> u64 {
        self.skipped
    }

    /// Up to `max` samples; empty at the head (await [`WalReader::wait`]).
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<WalSample>, WalError> {
        let mut out = Vec::new();
        self.read_into(&mut out, max)?;
        Ok(out)
    }

    /// Like [`WalReader::next_batch`], appending to `out` (reuse it across
    /// calls). Returns the number of samples added.
    pub fn read_into(&mut self, out: &mut Vec<WalSample>, max: usize) -> Result<usize, WalError> {
        let mut added = 0;
        while added < max {
            if !self.pending.is_empty() {
                let n = (max - added).min(self.pending.len());
                out.extend(self.pending.drain(..n));
                added += n;
                continue;
            }
            if let Step::Tail = self.step()? {
                break;
            }
        }
        Ok(added)
    }

    /// Waits until the head moves (returns at once if it moved since the
    /// last read). False when the WAL was closed.
    pub async fn wait(&mut self) -> bool {
        self.head.changed().await.is_ok()
    }

    fn step(&mut self) -> Result<Step, WalError> {
        let head = *self.head.borrow_and_update();
        if self.segment > head.segment {
            return Ok(Step::Tail);
        }
        let sealed = self.segment < head.segment;
        if self.frames.is_none() && !self.dead && !self.open_segment()? {
            return Ok(self.next_segment(true));
        }
        let limit = match (sealed, self.sealed_limit) {
            (false, _) => head.offset,
            (true, Some(limit)) => limit,
            (true, None) => *self.sealed_limit.insert(self.readable_len()),
        };
        let segment = self.segment;
        let Some(frames) = self.frames.as_mut() else {
            // Damaged: wait for the writer to move on.
            return Ok(if sealed { self.next_segment(false) } else { Step::Tail });
        };
        frames.set_limit(limit);
        let result = match frames.next()? {
            Frame::End if sealed => return Ok(self.next_segment(false)),
            Frame::End => return Ok(Step::Tail),
            Frame::Damaged { offset, kind } => Err((offset, kind)),
            Frame::Record { kind, payload, end } => {
                let at = end - payload.len() as u64 - super::record::HEADER_LEN as u64;
                let r = match kind {
                    SERIES => {
                        let live = self.shared.live();
                        self.decoder.series(payload, Some(&live), segment).map(drop)
                    }
                    SAMPLES => {
                        let end = Position { segment, offset: end };
                        let out = (end.offset > self.skip_to).then_some(&mut self.pending);
                        self.decoder.samples(payload, end, out).map(drop)
                    }
                    _ => Err(Corruption::UnknownType(kind)),
                };
                self.record_start = Position { segment, offset: at };
                self.position = Position { segment, offset: end };
                r.map_err(|kind| (at, kind))
            }
        };
        if let Err((offset, kind)) = result {
            self.damaged(offset, kind);
        }
        Ok(Step::Progress)
    }

    /// Opens the current segment; false when it no longer exists.
    fn open_segment(&mut self) -> Result<bool, WalError> {
        if !self.shared.state().segments.contains_key(&self.segment) {
            return Ok(false);
        }
        let path = segment_path(&self.shared.dir, self.segment);
        match FrameReader::open(&path, 0, 0) {
            Ok(frames) => {
                self.frames = Some(frames);
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(WalError::io(&path, "open segment")(e)),
        }
    }

    /// How far a sealed segment may be read: its readable length, or the
    /// file's length once the size bound has deleted it under us.
    fn readable_len(&self) -> u64 {
        if let Some(info) = self.shared.state().segments.get(&self.segment) {
            return info.readable;
        }
        self.frames
            .as_ref()
            .map(FrameReader::file)
            .and_then(|f| File::metadata(f).ok())
            .map_or(0, |m| m.len())
    }

    /// Moves to the next segment that exists, counting the samples of the
    /// deleted ones in between (and of the current one when `missing`).
    fn next_segment(&mut self, missing: bool) -> Step {
        let state = self.shared.state();
        let next = state.segments.range(self.segment + 1..).next().map(|(&n, _)| n);
        let Some(next) = next else {
            return Step::Tail;
        };
        let mut skipped = 0;
        if missing {
            skipped +=
                state.dropped.get(&self.segment).map_or(0, |d| d.samples_after(self.skip_to));
        }
        skipped += state.dropped.range(self.segment + 1..next).map(|(_, d)| d.samples).sum::<u64>();
        drop(state);
        if skipped > 0 {
            warn!(
                from = self.segment,
                to = next,
                samples = skipped,
                "WAL reader skipped segments deleted by the size bound"
            );
            self.skipped += skipped;
        }
        self.segment = next;
        self.frames = None;
        self.dead = false;
        self.sealed_limit = None;
        self.skip_to = 0;
        self.position = Position { segment: next, offset: 0 };
        self.record_start = self.position;
        self.decoder.reset();
        Step::Progress
    }

    fn damaged(&mut self, offset: u64, kind: Corruption) {
        let path = self.frames.as_ref().map(|f| f.path().to_owned()).unwrap_or_default();
        error!(file = %path.display(), offset, error = %kind,
            "WAL reader found a damaged record; skipping the rest of the segment");
        self.shared.metrics.corrupt_records.inc();
        self.frames = None;
        self.dead = true;
    }
}
