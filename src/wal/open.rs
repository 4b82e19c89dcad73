//! `Wal::open`: scan and repair the segments, load the cursors, start a new
//! segment.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing::{error, warn};

use super::cursor::{self, Cursor};
use super::error::WalError;
use super::metrics::WalMetrics;
use super::segment::{self, segment_path};
use super::{Damage, OpenReport, Position, SegmentInfo, Shared, State, WalOptions};

/// The segments found at open, repaired, and what was found.
pub(crate) struct Recovered {
    pub(crate) shared: Arc<Shared>,
    pub(crate) report: OpenReport,
    /// The number the new segment takes.
    pub(crate) next_segment: u64,
}

pub(crate) fn validate(options: &WalOptions) -> Result<(), WalError> {
    if options.max_size == 0 {
        return Err(WalError::InvalidOptions("max_size must be positive"));
    }
    if options.effective_segment_size() == 0 {
        return Err(WalError::InvalidOptions("segment_size must be positive"));
    }
    Ok(())
}

pub(crate) fn recover(options: &WalOptions, metrics: WalMetrics) -> Result<Recovered, WalError> {
    let dir = options.dir.clone();
    let cursor_dir = dir.join("cursors");
    std::fs::create_dir_all(&cursor_dir).map_err(WalError::io(&cursor_dir, "create directory"))?;
    let mut report = OpenReport::default();
    let listing = segment::list(&dir)?;
    for path in &listing.junk {
        warn!(file = %path.display(), "ignoring a file in the WAL directory that is not a segment");
    }
    report.ignored_files = listing.junk;
    let segments = scan_segments(&dir, &listing.segments, &metrics, &mut report)?;

    let files = cursor::load(&cursor_dir)?;
    for path in &files.junk {
        warn!(file = %path.display(), "ignoring a file in the WAL cursor directory");
    }
    report.ignored_files.extend(files.junk);
    let highest_cursor = files.cursors.iter().filter_map(|(_, p)| p.map(|p| p.segment)).max();
    let next_segment = listing.highest.max(highest_cursor).unwrap_or(0).saturating_add(1);

    let shared = Arc::new(Shared {
        live: Mutex::default(),
        dir,
        cursor_dir: cursor_dir.clone(),
        metrics: metrics.clone(),
        state: Mutex::new(State { segments, ..State::default() }),
    });
    // The new segment bounds every cursor: clamp with its head in place.
    let head = Position { segment: next_segment, offset: 0 };
    {
        let mut state = shared.state();
        let oldest = state.segments.keys().next().copied().unwrap_or(next_segment);
        for (name, position) in files.cursors {
            let path = cursor_dir.join(cursor::encode_name(&name));
            let position = match position {
                Some(p) => clamp(&name, p, &state, oldest, head),
                None => {
                    warn!(cursor = %name, file = %path.display(),
                        "WAL cursor file does not parse; starting at the oldest data");
                    report.bad_cursors.push(path);
                    Position { segment: oldest, offset: 0 }
                }
            };
            let c = Cursor::new(&name, &cursor_dir, position, metrics.clone());
            state.cursors.insert(name, c);
        }
    }
    Ok(Recovered { shared, report, next_segment })
}

fn scan_segments(
    dir: &Path,
    numbers: &[u64],
    metrics: &WalMetrics,
    report: &mut OpenReport,
) -> Result<BTreeMap<u64, SegmentInfo>, WalError> {
    let mut segments = BTreeMap::new();
    for (i, &n) in numbers.iter().enumerate() {
        let path = segment_path(dir, n);
        let scan = segment::scan(&path)?;
        metrics.replayed_records.inc_by(scan.records);
        let mut info = SegmentInfo {
            readable: scan.valid_len,
            file_len: scan.file_len,
            samples: scan.samples,
        };
        if let Some((offset, kind)) = scan.damage {
            metrics.corrupt_records.inc();
            let last = i + 1 == numbers.len();
            if last {
                truncate(&path, scan.valid_len, metrics)?;
                metrics.truncations.inc();
                info.file_len = scan.valid_len;
                warn!(file = %path.display(), offset, error = %kind,
                    cut = scan.file_len - scan.valid_len,
                    "WAL segment has a damaged tail; truncated at the last good record");
            } else {
                error!(file = %path.display(), offset, error = %kind,
                    unreadable = scan.file_len - offset,
                    "WAL segment damaged; the rest of it is skipped");
            }
            report.damage.push(Damage { path, offset, kind, truncated: last });
        }
        report.records += scan.records;
        report.samples += scan.samples;
        segments.insert(n, info);
    }
    Ok(segments)
}

fn truncate(path: &Path, len: u64, metrics: &WalMetrics) -> Result<(), WalError> {
    let file = OpenOptions::new().write(true).open(path).map_err(WalError::io(path, "open"))?;
    file.set_len(len).map_err(WalError::io_at(path, len, "truncate"))?;
    metrics.timed_fsync(|| file.sync_all()).map_err(WalError::io(path, "fsync"))
}

/// Where a cursor read from disk, or kept across deletions, may stand.
pub(crate) fn clamp(
    name: &str,
    p: Position,
    state: &State,
    oldest: u64,
    head: Position,
) -> Position {
    let start = Position { segment: oldest, offset: 0 };
    if p > head {
        warn!(cursor = %name, position = %p, head = %head,
            "WAL cursor is beyond the end of the log; starting at the oldest data");
        return start;
    }
    if p.segment < oldest {
        warn!(cursor = %name, position = %p, oldest = %start,
            "WAL cursor points into a deleted segment; moving to the oldest one");
        return start;
    }
    match state.segments.get(&p.segment) {
        Some(info) if p.segment < head.segment && p.offset > info.readable => {
            let end = Position { segment: p.segment, offset: info.readable };
            warn!(cursor = %name, position = %p, end = %end,
                "WAL cursor is past its segment's readable end; moving to that end");
            end
        }
        _ => p,
    }
}
