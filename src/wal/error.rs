//! The WAL's error type and the kinds of damage a segment can hold.

use std::io;
use std::path::PathBuf;

/// Why a record could not be read. Plain data: building one does not
/// allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// The file ends inside a record (a write that did not finish).
    #[error("record cut short")]
    Torn,
    /// The length field is 0-sized or larger than any record the writer makes.
    #[error("impossible record length {0}")]
    BadLength(u32),
    /// The checksum does not match the record's bytes.
    #[error("checksum mismatch")]
    BadCrc,
    /// The checksum matches but the type byte is not one this version writes.
    #[error("unknown record type {0}")]
    UnknownType(u8),
    /// The checksum matches but the payload breaks the record grammar.
    #[error("malformed payload: {0}")]
    BadPayload(&'static str),
}

/// A WAL error, with the file (and offset) it concerns.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("{path}: {op}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path} at offset {offset}: {op}: {source}", path = path.display())]
    IoAt {
        path: PathBuf,
        offset: u64,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path} at offset {offset}: {kind}", path = path.display())]
    Corrupt { path: PathBuf, offset: u64, kind: Corruption },
    #[error("a label set of {size} bytes does not fit in a WAL record")]
    SeriesTooLarge { size: usize },
    #[error("invalid WAL options: {0}")]
    InvalidOptions(&'static str),
}

impl WalError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| WalError::Io { path, op, source }
    }

    pub(crate) fn io_at(
        path: impl Into<PathBuf>,
        offset: u64,
        op: &'static str,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| WalError::IoAt { path, offset, op, source }
    }
}
