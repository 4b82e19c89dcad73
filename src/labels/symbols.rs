//! The process' label strings, each stored once: a label set holds small
//! integer symbols instead of its names and values (a series of six labels
//! shares its strings with every other series of the process: the metric
//! name with every target that exposes it, `job` and `instance` with every
//! series of the target).
//!
//! Invariants:
//! - One live symbol per distinct string: interning a string that has a live
//!   symbol returns that symbol, so two label sets are equal exactly when
//!   their symbol sequences are.
//! - A symbol is counted: every [`Labels`](super::Labels) that holds it
//!   holds one reference. The string is freed, and the symbol's number freed
//!   for reuse, when the last reference goes (series churn does not grow the
//!   table). A reference count only rises from zero under the index lock.
//! - Resolving a symbol takes no lock: the string's slot is in a chunk that
//!   never moves or goes away, and the string itself stays until its count
//!   is zero, which cannot happen while the label set resolving it exists.

use std::alloc::Layout;
use std::hash::BuildHasher;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::arena::Arena;

/// Slots per chunk (a chunk is allocated when the first of them is used).
const CHUNK_BITS: u32 = 12;
const CHUNK_SLOTS: usize = 1 << CHUNK_BITS;
/// Chunks: at most 2^28 live strings (one 512 KiB static array of pointers,
/// of which only the used part is ever touched).
const CHUNKS: usize = 1 << 16;

/// A string's allocation: this header, then its bytes.
#[repr(C)]
struct Header {
    refs: AtomicU32,
    len: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();

type Chunk = [AtomicPtr<Header>; CHUNK_SLOTS];

struct Index {
    /// (string hash, symbol) of every live symbol.
    map: hashbrown::HashTable<(u64, u32)>,
    /// Symbols whose string was freed, for reuse (keeps numbers small).
    free: Vec<u32>,
    /// The next never-used symbol.
    next: u32,
    /// Bytes of the live strings (headers included).
    bytes: usize,
    /// Where the strings live: short ones packed together in pages, longer
    /// ones allocated one by one.
    arena: Arena,
}

struct Table {
    chunks: [AtomicPtr<Chunk>; CHUNKS],
    index: Mutex<Index>,
    live: AtomicUsize,
}

static TABLE: Table = Table {
    chunks: [const { AtomicPtr::new(ptr::null_mut()) }; CHUNKS],
    index: Mutex::new(Index {
        map: hashbrown::HashTable::new(),
        free: Vec::new(),
        next: 0,
        bytes: 0,
        arena: Arena::new(),
    }),
    live: AtomicUsize::new(0),
};

fn hash_str(s: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5eed).hash_one(s)
}

fn index() -> MutexGuard<'static, Index> {
    TABLE.index.lock().unwrap_or_else(|p| p.into_inner())
}

/// The slot of symbol `sym`; `None` when its chunk was never allocated.
fn slot(sym: u32) -> Option<&'static AtomicPtr<Header>> {
    let chunk = TABLE.chunks.get((sym >> CHUNK_BITS) as usize)?.load(Ordering::Acquire);
    // SAFETY: chunks are allocated once, zero-initialized, and never freed.
    let chunk = unsafe { chunk.as_ref() }?;
    Some(&chunk[sym as usize & (CHUNK_SLOTS - 1)])
}

fn layout(len: usize) -> Layout {
    Layout::from_size_align(HEADER + len, std::mem::align_of::<Header>())
        .expect("BUG: label string too large for an allocation")
}

/// The string behind a live header.
///
/// SAFETY: `h` must point to a header written by `intern` that is not freed
/// for as long as the returned string is used.
unsafe fn text<'a>(h: NonNull<Header>) -> &'a str {
    let len = unsafe { h.as_ref() }.len as usize;
    let bytes = unsafe { std::slice::from_raw_parts(h.as_ptr().cast::<u8>().add(HEADER), len) };
    // SAFETY: `intern` copied these bytes from a `&str`.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// The symbol of `s`, with one more reference (give it back with `release`).
pub(super) fn intern(s: &str) -> u32 {
    let hash = hash_str(s);
    let mut index = index();
    if let Some((sym, h)) = find(&index, hash, s) {
        // SAFETY: live (indexed); the count may rise from zero only here,
        // under the lock.
        unsafe { h.as_ref() }.refs.fetch_add(1, Ordering::Relaxed);
        return sym;
    }
    let len = u32::try_from(s.len()).expect("BUG: label string over 4 GiB");
    let layout = layout(s.len());
    let h = index.arena.alloc(layout).cast::<Header>();
    let raw = h.as_ptr();
    // SAFETY: freshly allocated with room for the header and `len` bytes.
    unsafe {
        h.as_ptr().write(Header { refs: AtomicU32::new(1), len });
        ptr::copy_nonoverlapping(s.as_ptr(), raw.cast::<u8>().add(HEADER), s.len());
    }
    let sym = match index.free.pop() {
        Some(sym) => sym,
        None => {
            let sym = index.next;
            assert!((sym as usize) < CHUNKS * CHUNK_SLOTS, "over 2^28 distinct label strings");
            index.next += 1;
            sym
        }
    };
    let chunk = &TABLE.chunks[(sym >> CHUNK_BITS) as usize];
    if chunk.load(Ordering::Acquire).is_null() {
        let fresh: Box<Chunk> = Box::new([const { AtomicPtr::new(ptr::null_mut()) }; CHUNK_SLOTS]);
        chunk.store(Box::into_raw(fresh), Ordering::Release);
    }
    slot(sym).expect("BUG: chunk just allocated").store(raw, Ordering::Release);
    index.map.insert_unique(hash, (hash, sym), |&(h, _)| h);
    index.bytes += layout.size();
    TABLE.live.fetch_add(1, Ordering::Relaxed);
    sym
}

/// The live symbol of `s` (hash `hash`) and its header, if any.
fn find(index: &Index, hash: u64, s: &str) -> Option<(u32, NonNull<Header>)> {
    let &(_, sym) = index.map.find(hash, |&(h, sym)| {
        // SAFETY: the caller holds the index lock: indexed headers stay live.
        h == hash && header(sym).is_some_and(|h| unsafe { text(h) } == s)
    })?;
    Some((sym, header(sym)?))
}

/// The header in `sym`'s slot, if any (live while the caller holds the
/// index lock or a reference to `sym`).
#[inline]
fn header(sym: u32) -> Option<NonNull<Header>> {
    NonNull::new(slot(sym)?.load(Ordering::Acquire))
}

/// The header of a symbol the caller holds a reference to.
#[inline]
fn held(sym: u32) -> NonNull<Header> {
    header(sym).expect("BUG: label symbol used without a reference")
}

/// The string of a symbol the caller holds a reference to, borrowed for as
/// long as the caller's holder is.
///
/// SAFETY: the caller must hold a reference to `sym` (from `intern` or
/// `retain`) for all of `'a`.
#[inline]
pub(super) unsafe fn resolve<'a>(sym: u32) -> &'a str {
    // SAFETY: the caller's reference keeps the header live.
    unsafe { text(held(sym)) }
}

/// One more reference to `sym`, which the caller already holds one of.
#[inline]
pub(super) fn retain(sym: u32) {
    let h = held(sym);
    // SAFETY: the caller's reference keeps the header live; the count is
    // at least one, so this is not a rise from zero.
    unsafe { h.as_ref() }.refs.fetch_add(1, Ordering::Relaxed);
}

/// Gives back one reference; the last one frees the string.
#[inline]
pub(super) fn release(sym: u32) {
    let h = held(sym);
    // SAFETY: the reference being given back keeps the header live until here.
    if unsafe { h.as_ref() }.refs.fetch_sub(1, Ordering::AcqRel) == 1 {
        free_if_unused(sym, h);
    }
}

/// Frees `sym`'s string if no reference came back since its count reached
/// zero (`intern` may have found it again; another release may have freed
/// it, and the number may even hold a new string by now).
#[cold]
fn free_if_unused(sym: u32, h: NonNull<Header>) {
    let mut index = index();
    let slot = slot(sym).expect("BUG: symbol of an unallocated chunk");
    let current = slot.load(Ordering::Acquire);
    if current != h.as_ptr() {
        return;
    }
    // SAFETY: still in its slot, so not freed; the lock stops any rise.
    let header = unsafe { h.as_ref() };
    if header.refs.load(Ordering::Acquire) != 0 {
        return;
    }
    let len = header.len as usize;
    // SAFETY: live until freed below.
    let hash = hash_str(unsafe { text(h) });
    if let Ok(e) = index.map.find_entry(hash, |&(_, s)| s == sym) {
        e.remove();
    }
    slot.store(ptr::null_mut(), Ordering::Release);
    index.free.push(sym);
    let layout = layout(len);
    index.bytes -= layout.size();
    TABLE.live.fetch_sub(1, Ordering::Relaxed);
    // SAFETY: unreachable now: out of its slot and the index, no reference;
    // from the arena's `alloc` with this layout (`intern`).
    unsafe { index.arena.free(h.cast(), layout) };
}

/// Live strings and their bytes (for tern's own metrics).
pub fn stats() -> (usize, usize) {
    let bytes = index().bytes;
    (TABLE.live.load(Ordering::Relaxed), bytes)
}

/// Whether `s` has a live symbol (tests).
#[cfg(test)]
pub(super) fn is_interned(s: &str) -> bool {
    let hash = hash_str(s);
    find(&index(), hash, s).is_some()
}
