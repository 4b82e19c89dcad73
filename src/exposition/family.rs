//! Grouping of a parser's entries into metric families with their metadata.
//!
//! A family starts at a HELP, TYPE or UNIT line for a new name, or at a sample
//! whose name does not belong to the current family (the family name itself or
//! the family name plus one of its type's suffixes, see
//! [`MetricType::suffixes`]); such a sample opens an untyped family of its own,
//! as Prometheus treats samples without metadata.

use std::borrow::Cow;

use super::{Entry, MetricType, ParseError, Sample};

/// A metric family: its metadata and its samples in exposition order.
#[derive(Debug, Clone, PartialEq)]
pub struct Family<'a> {
    pub name: Cow<'a, str>,
    pub kind: MetricType,
    pub help: Option<Cow<'a, str>>,
    pub unit: Option<Cow<'a, str>>,
    pub samples: Vec<Sample<'a>>,
}

impl<'a> Family<'a> {
    fn new(name: Cow<'a, str>) -> Self {
        Family { name, kind: MetricType::Unknown, help: None, unit: None, samples: Vec::new() }
    }

    /// Whether a sample named `name` belongs to this family.
    pub fn owns(&self, name: &str) -> bool {
        match name.strip_prefix(self.name.as_ref()) {
            Some("") => true,
            Some(suffix) => self.kind.suffixes().contains(&suffix),
            None => false,
        }
    }
}

/// Collects a parser's entries into families; stops at the first error.
pub fn group_families<'a>(
    entries: impl IntoIterator<Item = Result<Entry<'a>, ParseError>>,
) -> Result<Vec<Family<'a>>, ParseError> {
    let mut families: Vec<Family<'a>> = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = match &entry {
            Entry::Help { name, .. } | Entry::Type { name, .. } | Entry::Unit { name, .. } => name,
            Entry::Sample(s) => &s.name,
        };
        let continues = families.last().is_some_and(|f| match &entry {
            Entry::Sample(_) => f.owns(name),
            _ => f.name == *name && f.samples.is_empty(),
        });
        if !continues {
            families.push(Family::new(name.clone()));
        }
        let family = families.last_mut().expect("BUG: a family was just pushed");
        match entry {
            Entry::Help { help, .. } => family.help = Some(help),
            Entry::Type { kind, .. } => family.kind = kind,
            Entry::Unit { unit, .. } => family.unit = Some(unit),
            Entry::Sample(s) => family.samples.push(s),
        }
    }
    Ok(families)
}
