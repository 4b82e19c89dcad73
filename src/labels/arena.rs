//! Blocks for the symbol table's strings: small ones packed into pages,
//! larger ones from the global allocator. Packed, the few hundred strings a
//! remote-write request resolves over and over sit in a few kilobytes
//! instead of one malloc chunk each among the series, so they stay in the
//! processor's caches. A freed block goes on a free list of its
//! size class and is reused by the next string of that class; pages are
//! never given back (the table's strings are few and long-lived, and churn
//! of similar strings reuses the same blocks).
//!
//! Not thread-safe by itself: the symbol table calls it under its lock.

use std::alloc::{self, Layout};
use std::ptr::{self, NonNull};

/// Blocks are multiples of this (and aligned to it).
const GRAIN: usize = 8;
/// The largest block the arena packs; larger ones go to the allocator.
const MAX_BLOCK: usize = 128;
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

    /// The size class of `layout` if the arena packs it.
    fn class(layout: Layout) -> Option<usize> {
        (layout.size() <= MAX_BLOCK && layout.align() <= GRAIN)
            .then(|| layout.size().div_ceil(GRAIN).max(1))
    }

    /// An uninitialized block for `layout`: packed in a page when small,
    /// else from the global allocator.
    pub(super) fn alloc(&mut self, layout: Layout) -> NonNull<u8> {
        let Some(class) = Self::class(layout) else {
            assert_ne!(layout.size(), 0, "BUG: zero-sized arena block");
            // SAFETY: not zero-sized (checked).
            let p = unsafe { alloc::alloc(layout) };
            return NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        };
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

    /// Gives back a block `alloc(layout)` returned: for reuse when packed,
    /// to the global allocator otherwise.
    ///
    /// SAFETY: `block` came from this arena's `alloc` with the same `layout`
    /// and is not used after this call.
    pub(super) unsafe fn free(&mut self, block: NonNull<u8>, layout: Layout) {
        let Some(class) = Self::class(layout) else {
            // SAFETY: from `alloc::alloc(layout)` in `alloc` (the caller's word).
            unsafe { alloc::dealloc(block.as_ptr(), layout) };
            return;
        };
        // SAFETY: every block has room for a pointer (GRAIN bytes at least)
        // and is aligned for one.
        unsafe { block.as_ptr().cast::<*mut u8>().write(self.free[class]) };
        self.free[class] = block.as_ptr();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 4).unwrap()
    }

    #[test]
    fn blocks_are_packed_disjoint_and_reused_by_size_class() {
        let mut arena = Arena::new();
        let sizes = [8, 9, 16, 24, 100, MAX_BLOCK, 1, MAX_BLOCK + 1, 4000];
        let mut blocks: Vec<(NonNull<u8>, usize)> = Vec::new();
        for round in 0..3000 {
            let size = sizes[round % sizes.len()];
            let b = arena.alloc(layout(size));
            assert_eq!(b.as_ptr() as usize % 4, 0);
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
        let (a, c) = (arena.alloc(layout(16)), arena.alloc(layout(16)));
        assert_eq!(c.as_ptr() as usize - a.as_ptr() as usize, 16);
        // A freed block is the next one of its class; other classes differ.
        let (b, size) = blocks[4];
        // SAFETY: from `alloc(layout(size))`, not used again.
        unsafe { arena.free(b, layout(size)) };
        assert_ne!(arena.alloc(layout(8)), b);
        assert_eq!(arena.alloc(layout(size)), b);
        // Large blocks go back to the allocator.
        for &(b, size) in blocks.iter().filter(|(_, size)| *size > MAX_BLOCK) {
            // SAFETY: from `alloc(layout(size))`, not used again.
            unsafe { arena.free(b, layout(size)) };
        }
    }
}
