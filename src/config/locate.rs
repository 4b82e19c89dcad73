//! Finds the line and column of a key path in a YAML document.
//!
//! serde_yaml keeps positions only in its errors. To place a problem found
//! after deserialising, the document is read again with a visitor that walks
//! down the key path and fails on purpose where the path ends: serde_yaml
//! stamps that failure with the position of the key (or list item) reached.
//! The document has already been read once without error, so any error here
//! is the deliberate one. Anchors, flow style and quoting are all handled by
//! serde_yaml itself.

use super::validate::{KeyPath, Seg};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Line and column (1-based) of the deepest part of `at` present in `text`:
/// the key for a path ending in a key, the item for one ending in an index.
/// `(1, 1)` when not even the first step is present.
pub(crate) fn locate(text: &str, at: &KeyPath) -> (usize, usize) {
    let segs = at.segs();
    (1..=segs.len()).rev().find_map(|len| find(text, &segs[..len])).unwrap_or((1, 1))
}

fn find(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let found = Walk { path }.deserialize(serde_yaml::Deserializer::from_str(text));
    let location = found.err()?.location()?;
    Some((location.line(), location.column()))
}

const HERE: &str = "here";

/// Walks down `path` from the value it is given. When the path is absent it
/// reads the whole value, since serde_yaml checks that mappings and
/// sequences are read to their end.
struct Walk<'a> {
    path: &'a [Seg],
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.path.split_first() else {
            return self.end();
        };
        while let Some(hit) = map.next_key_seed(KeyMatch { want, last: rest.is_empty() })? {
            if hit {
                return map.next_value_seed(Walk { path: rest });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(want), rest)) = self.path.split_first() else {
            return self.end();
        };
        for _ in 0..*want {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        if seq.next_element_seed(Walk { path: rest })?.is_some() {
            // Not found below: the sequence must still be read to its end.
            while seq.next_element::<IgnoredAny>()?.is_some() {}
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.end()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.end()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.end()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.end()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.end()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.end()
    }
}

impl Walk<'_> {
    /// At a value: fail here if the path ends here, else the path is absent.
    fn end<E: de::Error>(&self) -> Result<(), E> {
        if self.path.is_empty() {
            Err(E::custom(HERE))
        } else {
            Ok(())
        }
    }
}

/// Reads a mapping key: true when it is the wanted one, and a (deliberate)
/// error instead when it is the wanted one and the last step of the path.
struct KeyMatch<'a> {
    want: &'a str,
    last: bool,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        match (key == self.want, self.last) {
            (true, true) => Err(E::custom(HERE)),
            (hit, _) => Ok(hit),
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: a
    static_configs:
      - targets: [x, y]
  - job_name: \"b\"
    basic_auth: {username: u, password: p}
    static_configs:
      - targets:
          - z
";

    #[track_caller]
    fn check(path: KeyPath, want: (usize, usize)) {
        assert_eq!(locate(DOC, &path), want, "locate({path})");
    }

    #[test]
    fn finds_keys_items_and_falls_back_to_parents() {
        let root = KeyPath::root();
        let jobs = root.key("scrape_configs");
        check(root.key("global").key("scrape_interval"), (2, 3));
        check(jobs.clone(), (3, 1));
        check(jobs.index(1), (7, 5));
        check(jobs.index(1).key("job_name"), (7, 5));
        check(jobs.index(1).key("basic_auth").key("password"), (8, 31));
        check(jobs.index(0).key("static_configs").index(0).key("targets").index(1), (6, 22));
        check(jobs.index(1).key("static_configs").index(0).key("targets").index(0), (11, 13));
        // Absent keys fall back to the nearest present ancestor.
        check(jobs.index(0).key("scrape_timeout"), (4, 5));
        check(jobs.index(7).key("job_name"), (3, 1));
        check(root.key("remote_write").index(0), (1, 1));
    }
}
