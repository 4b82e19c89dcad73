//! Small blocks packed into pages, for the symbol table's strings: the few
//! hundred strings a remote-write request resolves over and over sit in a
//! few kilobytes instead of one malloc chunk each among the series, so they
//! stay in the processor's caches. A freed block goes on a free list of its
//! size class and is reused by the next string of that class; pages are
//! never given back (the table's strings are few and long-lived, and churn
//! of similar strings reuses the same blocks).
//!
//! Not thread-safe by itself: the symbol table calls it under its lock.

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

/// Blocks are multiples of this (and aligned to it).
const GRAIN: usize = 8;
/// The largest block the arena serves; larger ones go to the allocator.
pub(super) const MAX_BLOCK: usize = 128;
const PAGE: usize = 16 << 10;

pub(super) struct Arena {
    /// The unused rest of the current page.
    next: *mut u8,
    left: usize,
    /// Freed blocks by size class (size / GRAIN), each linked to the next
    /// through its first word.
    free: [*mut u8; MAX_BLOCK / GRAIN + 1],
}

// SAFETY: the arena owns its pages; the symbol table only uses it under its
// lock, from whichever thread holds that.
unsafe impl Send for Arena {}

impl Arena {
    pub(super) const fn new() -> Arena {
        Arena { next: ptr::null_mut(), left: 0, free: [ptr::null_mut(); MAX_BLOCK / GRAIN + 1] }
    }

    fn class(size: usize) -> usize {
        assert!(size <= MAX_BLOCK, "BUG: arena block of {size} bytes");
        size.div_ceil(GRAIN).max(1)
    }

    /// A block of at least `size` bytes (at most [`MAX_BLOCK`]), aligned to
    /// 8 bytes, uninitialized.
    pub(super) fn alloc(&mut self, size: usize) -> NonNull<u8> {
        let class = Self::class(size);
        if let Some(block) = NonNull::new(self.free[class]) {
            // SAFETY: a freed block of this class holds the next one's
            // address in its first word (written by `free`).
            self.free[class] = unsafe { block.as_ptr().cast::<*mut u8>().read() };
            return block;
        }
        let bytes = class * GRAIN;
        if self.left < bytes {
            let layout = Layout::from_size_align(PAGE, GRAIN).expect("BUG: arena page layout");
            // SAFETY: the layout is not zero-sized.
            let page = unsafe { alloc::alloc(layout) };
            if page.is_null() {
                alloc::handle_alloc_error(layout);
            }
            // The old page's rest (under MAX_BLOCK bytes) stays unused.
            (self.next, self.left) = (page, PAGE);
        }
        let block = self.next;
        // SAFETY: `bytes <= left`, so the block is inside the page.
        self.next = unsafe { self.next.add(bytes) };
        self.left -= bytes;
        NonNull::new(block).expect("BUG: null arena page")
    }

    /// Gives back a block `alloc(size)` returned, for reuse.
    ///
    /// SAFETY: `block` came from this arena's `alloc` with the same `size`
    /// and is not used after this call.
    pub(super) unsafe fn free(&mut self, block: NonNull<u8>, size: usize) {
        let class = Self::class(size);
        // SAFETY: every block has room for a pointer (GRAIN bytes at least)
        // and is aligned for one.
        unsafe { block.as_ptr().cast::<*mut u8>().write(self.free[class]) };
        self.free[class] = block.as_ptr();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_packed_disjoint_and_reused_by_size_class() {
        let mut arena = Arena::new();
        let sizes = [8, 9, 16, 24, 100, MAX_BLOCK, 1];
        let mut blocks: Vec<(NonNull<u8>, usize)> = Vec::new();
        for round in 0..3000 {
            let size = sizes[round % sizes.len()];
            let b = arena.alloc(size);
            assert_eq!(b.as_ptr() as usize % GRAIN, 0);
            // SAFETY: a fresh block of `size` bytes.
            unsafe { ptr::write_bytes(b.as_ptr(), round as u8, size) };
            blocks.push((b, size));
        }
        // Every block still holds what was written: none overlaps another.
        for (round, &(b, size)) in blocks.iter().enumerate() {
            // SAFETY: live blocks of `size` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(b.as_ptr(), size) };
            assert!(bytes.iter().all(|&x| x == round as u8), "block {round} overwritten");
        }
        // Consecutive small blocks are neighbours in a page.
        let (a, c) = (arena.alloc(16), arena.alloc(16));
        assert_eq!(c.as_ptr() as usize - a.as_ptr() as usize, 16);
        // A freed block is the next one of its class; other classes differ.
        let (b, size) = blocks[4];
        // SAFETY: from `alloc(size)`, not used again.
        unsafe { arena.free(b, size) };
        assert_ne!(arena.alloc(8), b);
        assert_eq!(arena.alloc(size), b);
    }
}
