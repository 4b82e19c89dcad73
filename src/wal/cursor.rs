//! Cursors: one durable read position per remote endpoint, in
//! `cursors/<name>`.
//!
//! File format, one line: `v1 <segment> <offset> <crc32c>\n`, the checksum
//! (lower-case hex) taken over `v1 <segment> <offset>`. A commit writes
//! `.tmp-<name>`, fsyncs it, renames it over `<name>` and fsyncs the
//! directory, so a crash leaves the old or the new position, never a mix.
//! Names are percent-encoded into file names: bytes outside
//! `[A-Za-z0-9_.-]`, a leading `.`, and `%` itself become `%XX`; the empty
//! name is `%`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::error::WalError;
use super::metrics::WalMetrics;
use super::Position;

const TMP_PREFIX: &str = ".tmp-";

/// A durable read position, shared by the WAL (which may not delete what a
/// cursor has not passed) and the endpoint that commits it. Clones share it.
#[derive(Debug, Clone)]
pub struct Cursor {
    pub(crate) inner: Arc<CursorInner>,
}

#[derive(Debug)]
pub(crate) struct CursorInner {
    name: String,
    dir: PathBuf,
    file_name: String,
    committed: Mutex<Position>,
    /// Serialises commits of the same cursor.
    io: Mutex<()>,
    /// Set by `forget_cursors_except`: later commits do not recreate the file.
    forgotten: AtomicBool,
    metrics: WalMetrics,
}

impl Cursor {
    pub(crate) fn new(name: &str, dir: &Path, position: Position, metrics: WalMetrics) -> Self {
        Cursor {
            inner: Arc::new(CursorInner {
                name: name.to_owned(),
                dir: dir.to_owned(),
                file_name: encode_name(name),
                committed: Mutex::new(position),
                io: Mutex::new(()),
                forgotten: AtomicBool::new(false),
                metrics,
            }),
        }
    }

    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The last committed position: every sample up to it is done.
    pub fn position(&self) -> Position {
        *self.inner.committed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_position(&self, position: Position) {
        *self.inner.committed.lock().unwrap_or_else(PoisonError::into_inner) = position;
    }

    pub(crate) fn forget(&self) {
        self.inner.forgotten.store(true, Ordering::SeqCst);
    }

    pub(crate) fn path(&self) -> PathBuf {
        self.inner.dir.join(&self.inner.file_name)
    }

    /// Records durably that every sample up to `position` (a [`WalSample`]'s
    /// `end`) is done. Blocks for a write, two fsyncs and a rename; cheap
    /// enough to call every second. Committing the current position again
    /// does nothing.
    ///
    /// [`WalSample`]: super::WalSample
    pub fn commit(&self, position: Position) -> Result<(), WalError> {
        let inner = &*self.inner;
        let _io = inner.io.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.forgotten.load(Ordering::SeqCst) || self.position() == position {
            return Ok(());
        }
        let tmp = inner.dir.join(format!("{TMP_PREFIX}{}", inner.file_name));
        let mut file = File::create(&tmp).map_err(WalError::io(&tmp, "create cursor"))?;
        file.write_all(format_cursor(position).as_bytes())
            .map_err(WalError::io(&tmp, "write cursor"))?;
        inner
            .metrics
            .timed_fsync(|| file.sync_all())
            .map_err(WalError::io(&tmp, "fsync cursor"))?;
        drop(file);
        let path = self.path();
        std::fs::rename(&tmp, &path).map_err(WalError::io(&path, "rename cursor"))?;
        sync_dir(&inner.dir, &inner.metrics)?;
        self.set_position(position);
        Ok(())
    }
}

/// fsyncs a directory, so that renames and new files in it survive a crash.
pub(crate) fn sync_dir(dir: &Path, metrics: &WalMetrics) -> Result<(), WalError> {
    let d = File::open(dir).map_err(WalError::io(dir, "open directory"))?;
    metrics.timed_fsync(|| d.sync_all()).map_err(WalError::io(dir, "fsync directory"))
}

fn cursor_body(p: Position) -> String {
    format!("v1 {} {}", p.segment, p.offset)
}

pub(crate) fn format_cursor(p: Position) -> String {
    let body = cursor_body(p);
    format!("{body} {:08x}\n", crc32c::crc32c(body.as_bytes()))
}

pub(crate) fn parse_cursor(text: &[u8]) -> Option<Position> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('\n')?;
    let (body, crc) = text.rsplit_once(' ')?;
    if crc.len() != 8 || u32::from_str_radix(crc, 16).ok()? != crc32c::crc32c(body.as_bytes()) {
        return None;
    }
    let mut fields = body.strip_prefix("v1 ")?.split(' ');
    let segment = fields.next()?.parse().ok()?;
    let offset = fields.next()?.parse().ok()?;
    let p = Position { segment, offset };
    (fields.next().is_none() && cursor_body(p) == body).then_some(p)
}

fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

pub(crate) fn encode_name(name: &str) -> String {
    if name.is_empty() {
        return "%".to_owned();
    }
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        if is_plain(b) && !(i == 0 && b == b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`encode_name`]; `None` for names it would not produce
/// (temp files, foreign files).
pub(crate) fn decode_name(file_name: &str) -> Option<String> {
    if file_name == "%" {
        return Some(String::new());
    }
    let mut out = Vec::with_capacity(file_name.len());
    let mut bytes = file_name.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    let name = String::from_utf8(out).ok()?;
    (encode_name(&name) == file_name).then_some(name)
}

/// What `cursors/` holds.
pub(crate) struct CursorFiles {
    pub(crate) cursors: Vec<(String, Option<Position>)>,
    pub(crate) junk: Vec<PathBuf>,
}

/// Reads every cursor file; a file that does not parse is `None` (the caller
/// starts that cursor at the oldest data). Leftover temp files are removed.
pub(crate) fn load(dir: &Path) -> Result<CursorFiles, WalError> {
    let mut out = CursorFiles { cursors: Vec::new(), junk: Vec::new() };
    let entries = std::fs::read_dir(dir).map_err(WalError::io(dir, "list cursors"))?;
    for entry in entries {
        let entry = entry.map_err(WalError::io(dir, "list cursors"))?;
        let path = entry.path();
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            out.junk.push(path);
            continue;
        };
        if file_name.starts_with(TMP_PREFIX) {
            // A commit that crashed before its rename: the old file stands.
            let _ = std::fs::remove_file(&path);
            continue;
        }
        match decode_name(file_name) {
            Some(name) if entry.file_type().is_ok_and(|t| t.is_file()) => {
                let text = std::fs::read(&path).map_err(WalError::io(&path, "read cursor"))?;
                out.cursors.push((name, parse_cursor(&text)));
            }
            _ => out.junk.push(path),
        }
    }
    out.cursors.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_files_round_trip_and_reject_garbage() {
        let p = Position { segment: 12, offset: 34567 };
        let text = format_cursor(p);
        assert_eq!(text, format!("v1 12 34567 {:08x}\n", crc32c::crc32c(b"v1 12 34567")));
        assert_eq!(parse_cursor(text.as_bytes()), Some(p));
        for bad in [
            "",
            "garbage",
            "v1 12 34567\n",
            "v1 12 34568 00000000\n",
            &text.replace("34567", "34568"),
            &text.replace('\n', ""),
            "v1 012 34567 ffffffff\n",
        ] {
            assert_eq!(parse_cursor(bad.as_bytes()), None, "{bad:?}");
        }
        assert_eq!(parse_cursor(&[0xff, 0, 1]), None);
    }

    #[test]
    fn names_encode_to_safe_file_names_and_back() {
        for (name, file) in [
            ("primary", "primary"),
            ("amp-us-east-1.prod", "amp-us-east-1.prod"),
            ("", "%"),
            ("a/b", "a%2Fb"),
            ("..", "%2E."),
            ("50%", "50%25"),
            ("é", "%C3%A9"),
        ] {
            assert_eq!(encode_name(name), file, "{name:?}");
            assert_eq!(decode_name(file).as_deref(), Some(name), "{file:?}");
        }
        for foreign in ["%2e.", "%zz", "a%2", ".tmp-x", "%FF"] {
            assert_eq!(decode_name(foreign), None, "{foreign:?}");
        }
    }
}
