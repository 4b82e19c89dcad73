//! The bytes of a [`Labels`](super::Labels): held inline when short (most
//! label sets of a target's series are 10 to 20 bytes of symbol numbers),
//! on the heap otherwise. Inline, a [`Series`](super::Series) and its labels
//! are one allocation instead of two.

/// The longest buffer held inline: the enum is then 24 bytes, as large as
/// its heap form (a boxed slice and a tag).
const INLINE: usize = 22;

#[derive(Clone, Debug)]
pub(super) enum SymBuf {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

const _: () = assert!(std::mem::size_of::<SymBuf>() == 24);

impl SymBuf {
    pub(super) fn new(b: &[u8]) -> SymBuf {
        if b.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            SymBuf::Inline { len: b.len() as u8, bytes }
        } else {
            SymBuf::Heap(Box::from(b))
        }
    }

    #[inline]
    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            SymBuf::Inline { len, bytes } => &bytes[..usize::from(*len)],
            SymBuf::Heap(b) => b,
        }
    }
}

impl Default for SymBuf {
    fn default() -> SymBuf {
        SymBuf::Inline { len: 0, bytes: [0; INLINE] }
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
            assert_eq!(matches!(b, SymBuf::Inline { .. }), len <= INLINE, "len {len}");
            assert!(b == b.clone());
        }
        assert!(SymBuf::new(b"ab") != SymBuf::new(b"abc"));
        assert!(SymBuf::default() == SymBuf::new(b""));
    }
}
