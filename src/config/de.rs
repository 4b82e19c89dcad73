//! serde helpers shared by the config types.
//!
//! Errors raised here are raised *inside* the YAML deserializer's own calls
//! (from a visitor or a key seed), so serde_yaml stamps them with the line and
//! column of the offending key or value and with its key path.

use crate::labels::is_valid_label_name;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

/// `deserialize_with` for a string-keyed map that rejects repeated keys, as
/// Prometheus' strict YAML decoding does (serde_yaml would keep the last one).
pub fn unique_map<'de, D, V>(d: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    d.deserialize_map(MapVisitor { labels: false, value: PhantomData })
}

/// `deserialize_with` for a label map (`labels`, `external_labels`): unique
/// keys that are valid label names.
pub fn label_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_map(MapVisitor { labels: true, value: PhantomData })
}

struct MapVisitor<V> {
    labels: bool,
    value: PhantomData<V>,
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
    type Value = BTreeMap<String, V>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        let mut seen = BTreeSet::new();
        while let Some(key) = map.next_key_seed(KeySeed { seen: &seen, labels: self.labels })? {
            let value = map.next_value()?;
            seen.insert(key.clone());
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// Reads one map key, failing on a repeat or (for label maps) a bad name.
struct KeySeed<'a> {
    seen: &'a BTreeSet<String>,
    labels: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_string(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        if self.labels && !is_valid_label_name(key) {
            return Err(E::custom(format!("{key:?} is not a valid label name")));
        }
        if self.seen.contains(key) {
            return Err(E::custom(format!("mapping key {key:?} already defined")));
        }
        Ok(key.to_owned())
    }
}

/// Reads a string and converts it with `parse`. A failure is raised inside
/// the deserializer's own call, so it carries the value's position (an error
/// returned after `String::deserialize` would get the enclosing mapping's).
pub fn parse_str<'de, D, T, F>(d: D, expecting: &'static str, parse: F) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&str) -> Result<T, String>,
{
    d.deserialize_str(ParseStr { expecting, parse })
}

struct ParseStr<F> {
    expecting: &'static str,
    parse: F,
}

impl<T, F: FnOnce(&str) -> Result<T, String>> Visitor<'_> for ParseStr<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

/// `deserialize_with` for a list that may be written empty (`targets:` with
/// every entry commented out): YAML null reads as an empty list.
pub fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// `deserialize_with` that records that a key was written, whatever its value
/// (null included); used for Prometheus keys tern accepts and ignores.
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d)?;
    Ok(true)
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`, ..." so
/// that it leads with the closest known field, when one is near, and does not
/// list the keys tern refuses by name. Other messages pass unchanged.
pub fn tidy_unknown_field(message: &str) -> String {
    const UNKNOWN: &str = "unknown field `";
    let Some(start) = message.find(UNKNOWN) else {
        return message.to_owned();
    };
    let (prefix, rest) = message.split_at(start + UNKNOWN.len());
    let Some((field, tail)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let Some(list) = tail.strip_prefix(", expected ") else {
        return message.to_owned();
    };
    // Field names are the odd pieces between backticks.
    let known: Vec<&str> = (list.split('`').skip(1).step_by(2))
        .filter(|name| !unsupported::NAMES.contains(name))
        .collect();
    let quoted: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
    let expected = match quoted.as_slice() {
        [] => return message.to_owned(),
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        many => format!("one of {}", many.join(", ")),
    };
    let hint =
        closest(field, &known).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default();
    format!("{prefix}{field}`{hint}, expected {expected}")
}

/// The candidate nearest to `word` by edit distance, if it is near enough to
/// be a likely misspelling.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = 2.max(word.len() / 4);
    (candidates.iter())
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over bytes (field names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            row.push(substitute.min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

/// A visitor that fails on whatever value it is given, with `message`; used to
/// reject Prometheus features tern does not implement, at their position.
pub struct Reject(pub &'static str);

impl Reject {
    /// Runs the rejection on the value `d` is about to read.
    pub fn value<'de, D: Deserializer<'de>, T>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self).map(|never| match never {})
    }
}

/// A type with no values: what a [`Reject`] visitor "produces".
pub enum Never {}

impl<'de> Visitor<'de> for Reject {
    type Value = Never;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Never, E> {
        Err(E::custom(self.0))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Never, E> {
        Err(E::custom(self.0))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Never, E> {
        Err(E::custom(self.0))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Never, E> {
        Err(E::custom(self.0))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Never, E> {
        Err(E::custom(self.0))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Never, E> {
        Err(E::custom(self.0))
    }
    fn visit_none<E: de::Error>(self) -> Result<Never, E> {
        Err(E::custom(self.0))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Never, A::Error> {
        Err(de::Error::custom(self.0))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Never, A::Error> {
        Err(de::Error::custom(self.0))
    }
}

/// Declares marker types named after Prometheus keys that tern does not
/// support. Reading one fails with "<key> is not supported by tern" at the
/// key's value, e.g. a field `consul_sd_configs: unsupported::consul_sd_configs`.
macro_rules! unsupported_keys {
    ($($key:ident),* $(,)?) => {
        /// The keys rejected by name.
        pub const NAMES: &[&str] = &[$(stringify!($key)),*];

        $(
            #[allow(non_camel_case_types)]
            #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
            pub struct $key;

            impl<'de> serde::Deserialize<'de> for $key {
                fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    super::Reject(concat!(stringify!($key), " is not supported by tern")).value(d)
                }
            }
        )*
    };
}

/// Keys of Prometheus' configuration that tern rejects by name, so that the
/// error says "not supported" rather than "unknown field".
pub mod unsupported {
    unsupported_keys!(
        // Service discovery mechanisms other than static, file and kubernetes.
        azure_sd_configs,
        consul_sd_configs,
        digitalocean_sd_configs,
        docker_sd_configs,
        dockerswarm_sd_configs,
        dns_sd_configs,
        ec2_sd_configs,
        eureka_sd_configs,
        gce_sd_configs,
        hetzner_sd_configs,
        http_sd_configs,
        ionos_sd_configs,
        kuma_sd_configs,
        lightsail_sd_configs,
        linode_sd_configs,
        marathon_sd_configs,
        nerve_sd_configs,
        nomad_sd_configs,
        openstack_sd_configs,
        ovhcloud_sd_configs,
        puppetdb_sd_configs,
        scaleway_sd_configs,
        serverset_sd_configs,
        stackit_sd_configs,
        triton_sd_configs,
        uyuni_sd_configs,
        vultr_sd_configs,
        // remote_write authentication other than basic, bearer, oauth2, sigv4.
        azuread,
        google_iam,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Maps {
        #[serde(default, deserialize_with = "label_map")]
        labels: BTreeMap<String, String>,
        #[serde(default, deserialize_with = "unique_map")]
        other: BTreeMap<String, Vec<String>>,
    }

    #[track_caller]
    fn check(yaml: &str, want: Result<&str, &str>) {
        let got = serde_yaml::from_str::<Maps>(yaml)
            .map(|m| format!("{:?} {:?}", m.labels, m.other))
            .map_err(|e| e.to_string());
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(got), Err(want)) => assert!(got.contains(want), "{got:?} lacks {want:?}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn label_maps_check_names_and_repeats() {
        check("labels: {a: x, _b: '1'}", Ok(r#"{"_b": "1", "a": "x"} {}"#));
        check("labels:\n", Ok("{} {}"));
        check(
            "labels:\n  a: x\n  1a: y\n",
            Err("labels: \"1a\" is not a valid label name at line 3 column 3"),
        );
        check("labels: {a.b: x}", Err("\"a.b\" is not a valid label name"));
        check(
            "labels:\n  a: x\n  a: y\n",
            Err("mapping key \"a\" already defined at line 3 column 3"),
        );
        check("other: {x-y: [a]}", Ok(r#"{} {"x-y": ["a"]}"#));
        check("other: {a: [], a: []}", Err("mapping key \"a\" already defined"));
    }

    #[test]
    fn unknown_field_messages_suggest_and_drop_refused_keys() {
        let tidy = |m: &str| tidy_unknown_field(m);
        assert_eq!(
            tidy("a[0]: unknown field `target`, expected `targets` or `labels`"),
            "a[0]: unknown field `target` (did you mean `targets`?), expected `targets` or `labels`"
        );
        assert_eq!(
            tidy(
                "unknown field `scrape_intreval`, expected one of `job_name`, `scrape_interval`, \
                  `consul_sd_configs`"
            ),
            "unknown field `scrape_intreval` (did you mean `scrape_interval`?), expected \
             `job_name` or `scrape_interval`"
        );
        assert_eq!(
            tidy("unknown field `zzz`, expected one of `a`, `b`, `c`, `azuread`"),
            "unknown field `zzz`, expected one of `a`, `b`, `c`"
        );
        assert_eq!(tidy("invalid type: map"), "invalid type: map");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
