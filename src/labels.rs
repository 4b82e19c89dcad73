//! The label-set type shared by relabeling, targets, scraping and (later) the
//! WAL and remote write.
//!
//! Invariants: a [`Labels`] is sorted by name and holds each name once; empty
//! values are not stored (in Prometheus an empty value means "no label").
//! [`LabelsBuilder`] is the mutable form used while relabeling; `build` sorts,
//! drops empty values and produces the immutable set.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

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

/// One label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: String,
    pub value: String,
}

/// An immutable, sorted label set.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// The empty set.
    pub fn new() -> Self {
        Labels(Vec::new())
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

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A mutable copy for relabeling.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder { labels: self.0.clone() }
    }

    /// A stable 64-bit hash (FNV-1a over `name 0xff value 0xff ...`): the same
    /// set hashes the same across processes and restarts.
    pub fn stable_hash(&self) -> u64 {
        Self::stable_hash_of(self.0.iter().map(|l| (l.name.as_str(), l.value.as_str())))
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

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
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
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", l.name, l.value)?;
        }
        f.write_str("}")
    }
}

/// Shares label sets between the stages that hold them (the scrape stage's
/// series cache and the WAL readers), so that each exists once in memory.
/// Entries are weak: a label set lives as long as some stage holds it; dead
/// entries are swept as the table grows. A hash collision only costs sharing
/// (contents are compared), never correctness. Cheap to clone (one table).
#[derive(Clone, Default)]
pub struct Interner(Arc<Mutex<InternTable>>);

#[derive(Default)]
struct InternTable {
    map: HashMap<u64, Weak<Labels>>,
    inserts_since_sweep: usize,
}

impl Interner {
    fn table(&self) -> std::sync::MutexGuard<'_, InternTable> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The shared set with hash `hash` for which `same` holds, if any.
    pub fn get(&self, hash: u64, same: impl FnOnce(&Labels) -> bool) -> Option<Arc<Labels>> {
        self.table().map.get(&hash).and_then(Weak::upgrade).filter(|l| same(l))
    }

    /// Offers `labels` for sharing.
    pub fn insert(&self, hash: u64, labels: &Arc<Labels>) {
        let mut t = self.table();
        t.map.insert(hash, Arc::downgrade(labels));
        t.inserts_since_sweep += 1;
        if t.inserts_since_sweep > t.map.len().max(4096) {
            t.map.retain(|_, w| w.strong_count() > 0);
            t.inserts_since_sweep = 0;
        }
    }

    /// The shared copy of `labels` (hash `hash`), stored if new.
    pub fn intern(&self, labels: Labels, hash: u64) -> Arc<Labels> {
        if let Some(shared) = self.get(hash, |l| *l == labels) {
            return shared;
        }
        let labels = Arc::new(labels);
        self.insert(hash, &labels);
        labels
    }
}

impl fmt::Debug for Interner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Interner({} entries)", self.table().map.len())
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
        // Label sets live as long as their series: no spare capacity.
        self.labels.shrink_to_fit();
        Labels(self.labels)
    }
}

impl From<Labels> for LabelsBuilder {
    fn from(l: Labels) -> Self {
        LabelsBuilder { labels: l.0 }
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
    fn the_interner_shares_equal_sets_and_forgets_dead_ones() {
        let i = Interner::default();
        let a = Labels::from_pairs([("a", "1")]);
        let h = a.stable_hash();
        let first = i.intern(a.clone(), h);
        let second = i.intern(a.clone(), h);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(Labels::stable_hash_of([("a", "1")].into_iter()), h);
        // Same hash, other contents (a collision): not shared.
        let other = i.intern(Labels::from_pairs([("b", "2")]), h);
        assert_ne!(*other, a);
        drop((first, second, other));
        assert!(i.get(h, |_| true).is_none());
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
}
