//! The label-set type shared by relabeling, targets, scraping and (later) the
//! WAL and remote write.
//!
//! Invariants: a [`Labels`] is sorted by name and holds each name once; empty
//! values are not stored (in Prometheus an empty value means "no label").
//! [`LabelsBuilder`] is the mutable form used while relabeling; `build` sorts,
//! drops empty values and produces the immutable set.

use std::fmt;

mod arena;
mod buf;
mod series;
mod symbols;

use buf::SymBuf;

pub use series::{prefetch, Series, SharedSeries};
pub use symbols::stats as symbol_stats;

/// Name of the label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";
/// Prefix of labels that are internal to target building and dropped after it.
pub const RESERVED_PREFIX: &str = "__";

/// Whether `name` is a valid label name under Prometheus 2.x's (legacy) rule:
/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One label, owned (the builder's form).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// One label of a [`Labels`], borrowed from its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabelRef<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// An immutable, sorted label set, stored compactly: one allocation holding
/// every label as `varint(name symbol) varint(value symbol)`, in name order,
/// where a symbol stands for a string of the process' symbol table
/// ([`symbols`]: each distinct string is stored once and counted). A typical
/// series takes 10 to 20 bytes instead of the 100 or so of its text. The
/// encoding is canonical (one live symbol per string), so equality and
/// hashing are those of the bytes; ordering compares label by label, as a
/// sorted list of (name, value) pairs would. Short buffers are held inline
/// ([`SymBuf`]).
#[derive(Default, PartialEq, Eq, Hash)]
pub struct Labels(SymBuf);

impl Clone for Labels {
    fn clone(&self) -> Self {
        for sym in Symbols(self.0.as_slice()) {
            symbols::retain(sym);
        }
        Labels(self.0.clone())
    }
}

impl Drop for Labels {
    fn drop(&mut self) {
        for sym in Symbols(self.0.as_slice()) {
            symbols::release(sym);
        }
    }
}

/// The symbols of a [`Labels`] buffer, in order.
#[derive(Clone)]
struct Symbols<'a>(&'a [u8]);

impl Iterator for Symbols<'_> {
    type Item = u32;
    #[inline]
    fn next(&mut self) -> Option<u32> {
        let mut sym = 0u32;
        let mut shift = 0;
        for (i, &b) in self.0.iter().enumerate() {
            sym |= u32::from(b & 0x7f) << shift;
            if b < 0x80 {
                self.0 = &self.0[i + 1..];
                return Some(sym);
            }
            shift += 7;
        }
        None
    }
}

impl Labels {
    /// The empty set.
    pub fn new() -> Self {
        Labels(SymBuf::default())
    }

    /// Builds a set from pairs; later duplicates win, empty values are dropped.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut b = LabelsBuilder::default();
        for (n, v) in pairs {
            b.set(n, v);
        }
        b.build()
    }

    /// The set of `pairs`, which must be sorted by name, with unique names
    /// and no empty value (as a set's own iteration yields them). Checked.
    pub fn from_sorted<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let sorted = pairs.clone().zip(pairs.clone().skip(1)).all(|(a, b)| a.0 < b.0);
        if !sorted || pairs.clone().any(|(_, v)| v.is_empty()) {
            return Labels::from_pairs(pairs);
        }
        Labels::encode(pairs)
    }

    /// The compact form of `pairs`, already sorted, unique and non-empty.
    fn encode<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut buf: smallvec::SmallVec<[u8; 64]> = smallvec::SmallVec::new();
        for (n, v) in pairs {
            put_sym(&mut buf, symbols::intern(n));
            put_sym(&mut buf, symbols::intern(v));
        }
        // Label sets live as long as their series: no spare capacity.
        Labels(SymBuf::new(&buf))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|l| l.name == name).map(|l| l.value)
    }

    pub fn iter(&self) -> LabelsIter<'_> {
        LabelsIter { syms: Symbols(self.0.as_slice()) }
    }

    /// The number of labels (counted: label sets are small).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.as_slice().is_empty()
    }

    /// A mutable copy for relabeling.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder {
            labels: self
                .iter()
                .map(|l| Label { name: l.name.to_owned(), value: l.value.to_owned() })
                .collect(),
        }
    }

    /// A stable 64-bit hash (FNV-1a over `name 0xff value 0xff ...`): the same
    /// set hashes the same across processes and restarts.
    pub fn stable_hash(&self) -> u64 {
        Self::stable_hash_of(self.iter().map(|l| (l.name, l.value)))
    }

    /// [`stable_hash`](Self::stable_hash) of the set these sorted pairs
    /// (no empty values, no repeated names) would build, without building it.
    pub fn stable_hash_of<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
        let mut h = Fnv1a::default();
        for (name, value) in pairs {
            h.write(name.as_bytes());
            h.write(&[0xff]);
            h.write(value.as_bytes());
            h.write(&[0xff]);
        }
        h.0
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }
}

fn put_sym(buf: &mut smallvec::SmallVec<[u8; 64]>, mut sym: u32) {
    while sym >= 0x80 {
        buf.push((sym as u8 & 0x7f) | 0x80);
        sym >>= 7;
    }
    buf.push(sym as u8);
}

/// Iterates a [`Labels`] in name order.
#[derive(Clone)]
pub struct LabelsIter<'a> {
    syms: Symbols<'a>,
}

impl<'a> LabelsIter<'a> {
    #[inline]
    fn take_str(&mut self) -> Option<&'a str> {
        let sym = self.syms.next()?;
        // SAFETY: the `Labels` this iterator borrows for 'a holds a
        // reference to each of its symbols.
        Some(unsafe { symbols::resolve(sym) })
    }
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = LabelRef<'a>;
    #[inline]
    fn next(&mut self) -> Option<LabelRef<'a>> {
        let name = self.take_str()?;
        let value = self.take_str()?;
        Some(LabelRef { name, value })
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = LabelRef<'a>;
    type IntoIter = LabelsIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `{a="1", b="2"}`, as Prometheus prints label sets.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// A label set under construction: unsorted, names unique, values may be set
/// to empty (which deletes on `build`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    /// The value of `name`; empty when absent (Prometheus' convention).
    pub fn get(&self, name: &str) -> &str {
        self.labels.iter().find(|l| l.name == name).map_or("", |l| l.value.as_str())
    }

    /// Whether `name` is present with a non-empty value.
    pub fn has(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        match self.labels.iter_mut().find(|l| l.name == name) {
            Some(l) => l.value = value,
            None => self.labels.push(Label { name, value }),
        }
    }

    /// Deletes `name`.
    pub fn del(&mut self, name: &str) {
        self.labels.retain(|l| l.name != name);
    }

    /// Keeps only the labels for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Label) -> bool) {
        self.labels.retain(|l| keep(l));
    }

    /// The labels as they stand (unsorted, possibly with empty values).
    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.labels.iter()
    }

    /// The finished set: sorted, empty values dropped.
    pub fn build(mut self) -> Labels {
        self.labels.retain(|l| !l.value.is_empty());
        self.labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Labels::encode(self.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
    }
}

impl From<Labels> for LabelsBuilder {
    fn from(l: Labels) -> Self {
        l.builder()
    }
}

/// FNV-1a, 64 bit: tiny, stable across releases and platforms.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_sorts_dedups_and_drops_empty_values() {
        let l = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(l.to_string(), r#"{a="3", b="2"}"#);
        assert_eq!(l.get("a"), Some("3"));
        assert_eq!(l.get("c"), None);
    }

    #[test]
    fn builder_set_empty_deletes() {
        let mut b = Labels::from_pairs([("a", "1"), ("b", "2")]).builder();
        b.set("a", "");
        assert!(!b.has("a"));
        assert_eq!(b.build().to_string(), r#"{b="2"}"#);
    }

    #[test]
    fn label_name_validity_is_the_legacy_rule() {
        for ok in ["a", "_", "__name__", "job", "A9_z"] {
            assert!(is_valid_label_name(ok), "{ok:?}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é", "a b", "$1"] {
            assert!(!is_valid_label_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn stable_hash_depends_on_names_and_values_only() {
        let a = Labels::from_pairs([("a", "1"), ("b", "2")]);
        let b = Labels::from_pairs([("b", "2"), ("a", "1")]);
        let c = Labels::from_pairs([("a", "12")]);
        assert_eq!(a.stable_hash(), b.stable_hash());
        assert_ne!(a.stable_hash(), c.stable_hash());
        // Fixed across releases: the scrape offset of a target depends on it.
        assert_eq!(Labels::new().stable_hash(), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn the_compact_form_round_trips_long_and_unicode_strings() {
        let long = "x".repeat(300);
        let l = Labels::from_pairs([("b", long.as_str()), ("a", "é"), ("c", "")]);
        let pairs: Vec<(&str, &str)> = l.iter().map(|l| (l.name, l.value)).collect();
        assert_eq!(pairs, [("a", "é"), ("b", long.as_str())]);
        assert_eq!((l.len(), l.get("b"), l.get("c")), (2, Some(long.as_str()), None));
        assert_eq!(Labels::from_sorted(pairs.iter().copied()), l);
        // Unsorted input to from_sorted still builds the canonical set.
        assert_eq!(Labels::from_sorted([("b", long.as_str()), ("a", "é")].into_iter()), l);
        assert_eq!(l.builder().build(), l);
    }

    #[test]
    fn label_strings_are_stored_once_and_freed_with_their_last_set() {
        let (name, value) = ("symbols_test_name_a1", "symbols test value a1");
        let a = Labels::from_pairs([("__name__", name), ("v", value)]);
        let b = Labels::from_pairs([("v", value), ("__name__", name)]);
        assert_eq!(a.0, b.0, "equal sets share their symbols");
        let bytes = a.0.as_slice().len();
        assert!(bytes < name.len(), "symbols, not text: {bytes} bytes");
        let c = a.clone();
        drop((a, b));
        assert!(symbols::is_interned(name) && symbols::is_interned(value));
        assert_eq!(c.get("v"), Some(value));
        drop(c);
        assert!(!symbols::is_interned(name) && !symbols::is_interned(value));
        // A string interned again after it was freed works as new.
        let d = Labels::from_pairs([("__name__", name)]);
        assert_eq!(d.to_string(), format!("{{__name__={name:?}}}"));
    }

    #[test]
    fn symbols_stay_right_under_concurrent_churn() {
        let strings: Vec<String> = (0..64).map(|i| format!("symbols_churn_{i}")).collect();
        std::thread::scope(|scope| {
            for t in 0..4usize {
                let strings = &strings;
                scope.spawn(move || {
                    let mut held = Vec::new();
                    for i in 0..3000usize {
                        let (n, v) = (&strings[(i * 7 + t) % 64], &strings[(i * 13 + t * 5) % 64]);
                        let l = Labels::from_pairs([("a", n.as_str()), ("b", v.as_str())]);
                        assert_eq!((l.get("a"), l.get("b")), (Some(n.as_str()), Some(v.as_str())));
                        if i % 3 == 0 {
                            held.push(l.clone());
                        }
                        if held.len() > 20 {
                            let old: Labels = held.remove(i % 20);
                            assert!(old.get("a").unwrap().starts_with("symbols_churn_"));
                        }
                    }
                });
            }
        });
        assert!(strings.iter().all(|s| !symbols::is_interned(s)), "every string freed at the end");
    }

    #[test]
    fn order_is_label_by_label() {
        // Byte order of the compact form would put "b" (shorter) first.
        let a = Labels::from_pairs([("a", "zz")]);
        let b = Labels::from_pairs([("a", "zz"), ("b", "1")]);
        let c = Labels::from_pairs([("aa", "1")]);
        assert!(a < b && b < c, "{a} {b} {c}");
    }
}
