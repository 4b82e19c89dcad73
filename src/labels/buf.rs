//! The bytes of a [`Labels`](super::Labels): held inline when short (most
//! label sets of a target's series are 10 to 19 bytes of symbol numbers),
//! on the heap otherwise. Inline, a [`Series`](super::Series) and its labels
//! are one allocation instead of two.
//!
//! The buffer is 20 bytes with alignment 1, so that a `Series` (hash, WAL
//! ref and labels) is 32 bytes and its shared allocation (with the count)
//! is 40, which the allocator serves from its 48-byte class.

use std::ptr::{self, NonNull};

/// The longest buffer held inline.
const INLINE: usize = 19;
/// `tag` of the heap form (inline tags are lengths, at most `INLINE`).
const HEAP: u8 = u8::MAX;
/// Where the heap form keeps its pointer and length within `rest`.
const PTR_AT: usize = 3;
const LEN_AT: usize = PTR_AT + std::mem::size_of::<*mut u8>();

/// Inline: `tag` is the length and `rest` starts with the bytes. Heap:
/// `tag` is [`HEAP`] and `rest` holds (unaligned) the pointer and the `u32`
/// length of a boxed slice this buffer owns.
pub(super) struct SymBuf {
    tag: u8,
    rest: [u8; INLINE],
}

const _: () = assert!(std::mem::size_of::<SymBuf>() == 20);
const _: () = assert!(LEN_AT + 4 <= INLINE);

// SAFETY: the heap form owns its boxed slice, which is never written after
// construction; sharing or sending the buffer is sharing or sending that.
unsafe impl Send for SymBuf {}
// SAFETY: as above: no interior mutability.
unsafe impl Sync for SymBuf {}

impl SymBuf {
    pub(super) fn new(b: &[u8]) -> SymBuf {
        let mut buf = SymBuf { tag: 0, rest: [0; INLINE] };
        if b.len() <= INLINE {
            buf.tag = b.len() as u8;
            buf.rest[..b.len()].copy_from_slice(b);
            return buf;
        }
        let len = u32::try_from(b.len()).expect("BUG: label set over 4 GiB");
        let heap: *mut [u8] = Box::into_raw(Box::<[u8]>::from(b));
        buf.tag = HEAP;
        // SAFETY: both writes are inside `rest` (checked by the asserts
        // above) and unaligned writes need no alignment.
        unsafe {
            ptr::write_unaligned(buf.rest.as_mut_ptr().add(PTR_AT).cast(), heap.cast::<u8>());
            ptr::write_unaligned(buf.rest.as_mut_ptr().add(LEN_AT).cast(), len);
        }
        buf
    }

    /// The heap form's pointer and length.
    fn heap(&self) -> Option<(NonNull<u8>, usize)> {
        if self.tag != HEAP {
            return None;
        }
        // SAFETY: `new` wrote a pointer and a length at these offsets.
        let (p, len) = unsafe {
            (
                ptr::read_unaligned(self.rest.as_ptr().add(PTR_AT).cast::<*mut u8>()),
                ptr::read_unaligned(self.rest.as_ptr().add(LEN_AT).cast::<u32>()),
            )
        };
        Some((NonNull::new(p).expect("BUG: null heap label buffer"), len as usize))
    }

    #[inline]
    pub(super) fn as_slice(&self) -> &[u8] {
        match self.heap() {
            None => &self.rest[..usize::from(self.tag)],
            // SAFETY: the boxed slice this buffer owns, alive until `drop`.
            Some((p, len)) => unsafe { std::slice::from_raw_parts(p.as_ptr(), len) },
        }
    }
}

impl Drop for SymBuf {
    fn drop(&mut self) {
        if let Some((p, len)) = self.heap() {
            // SAFETY: from `Box::into_raw` in `new`, dropped once, here.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(p.as_ptr(), len)) });
        }
    }
}

impl Clone for SymBuf {
    fn clone(&self) -> SymBuf {
        SymBuf::new(self.as_slice())
    }
}

impl Default for SymBuf {
    fn default() -> SymBuf {
        SymBuf::new(&[])
    }
}

impl std::fmt::Debug for SymBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SymBuf").field(&self.as_slice()).finish()
    }
}

/// Equality and hashing are those of the bytes (whatever the form).
impl PartialEq for SymBuf {
    fn eq(&self, other: &SymBuf) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for SymBuf {}

impl std::hash::Hash for SymBuf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_buffers_are_inline_long_ones_on_the_heap_and_both_read_back() {
        for len in [0, 1, INLINE - 1, INLINE, INLINE + 1, 200] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let b = SymBuf::new(&bytes);
            assert_eq!(b.as_slice(), &bytes[..], "len {len}");
            assert_eq!(b.heap().is_none(), len <= INLINE, "len {len}");
            let c = b.clone();
            assert!(b == c);
            drop(b);
            assert_eq!(c.as_slice(), &bytes[..], "clone of len {len} outlives its original");
        }
        assert!(SymBuf::new(b"ab") != SymBuf::new(b"abc"));
        assert!(SymBuf::default() == SymBuf::new(b""));
    }

    #[test]
    fn buffers_move_between_threads() {
        let long: Vec<u8> = (0..64).collect();
        let b = SymBuf::new(&long);
        let back = std::thread::spawn(move || b).join().unwrap();
        assert_eq!(back.as_slice(), &long[..]);
    }
}
