//! Relabeling: Prometheus' `relabel_configs` and `metric_relabel_configs`.
//!
//! [`RelabelConfig`] is one rule as written in prometheus.yml. [`Rule`] is its
//! validated, compiled form: [`Rule::try_new`] runs Prometheus' checks (same
//! order, same wording) and compiles the regex once. [`process`] applies rules in
//! order to a [`LabelsBuilder`]; [`relabel`] does the same for a [`Labels`].
//!
//! # Semantics (Prometheus `model/relabel`, legacy label names as in 2.x)
//!
//! - The *source value* is the values of `source_labels` joined by `separator`;
//!   a missing label contributes an empty string. An empty value means "no
//!   label" throughout: setting a label to "" deletes it.
//! - `regex` is Go RE2 syntax, fully anchored as `^(?s:REGEX)$` (`.` matches a
//!   newline too). It is rewritten for the `regex` crate so that it matches what
//!   Go matches (ASCII `\d \s \w \b`, literal `{`, `\Q..\E`, ...: see
//!   `goregex.rs`).
//! - `replace`: if the regex matches the source value, `target_label` and
//!   `replacement` are expanded like Go's `Regexp.Expand` (`$1`, `${1}`, `$name`,
//!   `${name}`, `$$`; `$1x` names the absent group `1x` and expands to nothing,
//!   write `${1}x`: see `template.rs`). An expanded target that is not a valid
//!   label name skips the rule; an empty expanded value deletes the target. No
//!   match: nothing changes.
//! - `keep` / `drop`: drop the set unless / if the regex matches the source value.
//! - `keepequal` / `dropequal`: drop the set unless / if the source value equals
//!   the value of `target_label`.
//! - `hashmod`: `target_label` = the last 8 bytes of md5(source value) read as a
//!   big-endian u64, modulo `modulus`, in decimal.
//! - `labelmap`: every label whose name matches is copied to the name obtained by
//!   replacing the match with `replacement`; names and values are taken as they
//!   were before the rule. The new name is not validated (as in Prometheus; the
//!   scrape loop rejects invalid names later).
//! - `labeldrop` / `labelkeep`: remove the labels whose names match / don't match.
//! - `lowercase` / `uppercase`: `target_label` = the source value with each
//!   character case-mapped as Go's `strings.ToLower`/`ToUpper` (see `case.rs`).
//!
//! A rule that drops the set stops processing; the builder is then left in an
//! unspecified state (Prometheus returns an empty set).
//!
//! # Known differences from Prometheus
//!
//! - `labelmap` that maps two labels onto one name: the label iterated last
//!   wins. We iterate the builder's order (sorted for a builder made from
//!   [`Labels`], with labels set by earlier rules updated in place or appended);
//!   Prometheus iterates unmodified labels first, then labels set by earlier
//!   rules in the order they were first set. Only such collisions can differ.
//! - Validation compares values, not presence: `keepequal` with an explicit
//!   `regex: (.*)` or `labeldrop` with `source_labels: []` is accepted here and
//!   rejected by Prometheus (which compares its default regex by pointer).
//! - Regexes: the `regex` crate accepts a few things Go rejects (nested counted
//!   repetitions whose product exceeds 1000, Unicode property names Go lacks)
//!   and its Unicode tables may be newer than Go's.

mod case;
mod goregex;
mod template;

use std::fmt;

use md5::{Digest, Md5};
use regex::{Captures, Regex, Replacer};
use serde::Deserialize;

use crate::labels::{is_valid_label_name, Labels, LabelsBuilder};
use template::Template;

/// One `relabel_configs` / `metric_relabel_configs` entry, as written in
/// prometheus.yml. Defaults are Prometheus' own; a key given as null takes the
/// empty value (Go's zero value), as in Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` and matched by `regex`.
    #[serde(deserialize_with = "null_as_empty")]
    pub source_labels: Vec<String>,
    /// Separator between the joined source label values (default `;`).
    #[serde(deserialize_with = "null_as_empty")]
    pub separator: String,
    /// RE2 regular expression, fully anchored (default `(.*)`).
    #[serde(deserialize_with = "null_as_empty")]
    pub regex: String,
    /// Modulus for `hashmod`.
    #[serde(deserialize_with = "null_as_empty")]
    pub modulus: u64,
    /// Label written by `replace`, `hashmod`, `lowercase`, `uppercase`; compared by
    /// `keepequal`/`dropequal`.
    #[serde(deserialize_with = "null_as_empty")]
    pub target_label: String,
    /// Replacement with `$1` / `${1}` / `${name}` references (default `$1`).
    #[serde(deserialize_with = "null_as_empty")]
    pub replacement: String,
    /// The action (default `replace`).
    pub action: Action,
}

const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_REPLACEMENT: &str = "$1";

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: DEFAULT_REGEX.to_owned(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Action::Replace,
        }
    }
}

fn null_as_empty<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A relabel action. Prometheus accepts the names in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    /// The name as Prometheus spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    const ALL: [Action; 11] = [
        Action::Replace,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
        Action::Lowercase,
        Action::Uppercase,
    ];
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        if s.is_empty() {
            return Err(serde::de::Error::custom("relabel action cannot be empty"));
        }
        let lower = s.to_ascii_lowercase();
        Action::ALL.into_iter().find(|a| a.as_str() == lower).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown relabel action {}", go_quote(&s)))
        })
    }
}

/// Why a [`RelabelConfig`] is not a valid rule. Messages are Prometheus' own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    #[error("{} is not a valid label name", go_quote(.0))]
    InvalidSourceLabel(String),
    #[error("error parsing regexp {}: {reason}", go_quote(.regex))]
    InvalidRegex { regex: String, reason: String },
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    ZeroModulus,
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(Action),
    #[error("{} is invalid 'target_label' for {action} action", go_quote(.label))]
    InvalidTargetLabel { action: Action, label: String },
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(Action),
    #[error("{} is invalid 'replacement' for {action} action", go_quote(.replacement))]
    InvalidReplacement { action: Action, replacement: String },
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    EqualityExtraFields(Action),
    #[error("{0} action requires only 'regex', and no other fields")]
    LabelFilterExtraFields(Action),
}

/// A validated relabel rule with its regex and templates compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    config: RelabelConfig,
    regex: Regex,
    kind: Kind,
}

/// What a rule does, with the parts each action needs.
#[derive(Debug, Clone)]
enum Kind {
    Replace { target: Template, replacement: Template },
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap { replacement: Template },
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Rule {
    /// Validates `config` as Prometheus does and compiles it.
    pub fn try_new(config: &RelabelConfig) -> Result<Rule, RelabelError> {
        if let Some(bad) = config.source_labels.iter().find(|n| !is_valid_label_name(n)) {
            return Err(RelabelError::InvalidSourceLabel(bad.clone()));
        }
        let (regex, names) = compile_regex(&config.regex)?;
        validate(config)?;
        let kind = match config.action {
            Action::Replace => Kind::Replace {
                target: Template::parse(&config.target_label, &names),
                replacement: Template::parse(&config.replacement, &names),
            },
            Action::Keep => Kind::Keep,
            Action::Drop => Kind::Drop,
            Action::KeepEqual => Kind::KeepEqual,
            Action::DropEqual => Kind::DropEqual,
            Action::HashMod => Kind::HashMod,
            Action::LabelMap => {
                Kind::LabelMap { replacement: Template::parse(&config.replacement, &names) }
            }
            Action::LabelDrop => Kind::LabelDrop,
            Action::LabelKeep => Kind::LabelKeep,
            Action::Lowercase => Kind::Lowercase,
            Action::Uppercase => Kind::Uppercase,
        };
        Ok(Rule { config: config.clone(), regex, kind })
    }

    /// The configuration this rule was built from.
    pub fn config(&self) -> &RelabelConfig {
        &self.config
    }

    pub fn action(&self) -> Action {
        self.config.action
    }

    /// Applies this one rule; false when it drops the set.
    pub fn apply(&self, labels: &mut LabelsBuilder) -> bool {
        self.apply_with(labels, &mut String::new())
    }

    /// [`Rule::apply`] with a scratch buffer for the source value.
    fn apply_with(&self, lb: &mut LabelsBuilder, buf: &mut String) -> bool {
        let target = self.config.target_label.as_str();
        match &self.kind {
            Kind::LabelMap { replacement } => label_map(&self.regex, replacement, lb),
            Kind::LabelDrop => lb.retain(|l| !self.regex.is_match(&l.name)),
            Kind::LabelKeep => lb.retain(|l| self.regex.is_match(&l.name)),
            kind => {
                let val = self.source_value(lb, buf);
                match kind {
                    Kind::Keep => return self.regex.is_match(val),
                    Kind::Drop => return !self.regex.is_match(val),
                    Kind::KeepEqual => return lb.get(target) == val,
                    Kind::DropEqual => return lb.get(target) != val,
                    Kind::Replace { target, replacement } => {
                        replace(&self.regex, target, replacement, val, lb)
                    }
                    Kind::HashMod => lb.set(target, hash_mod(val, self.config.modulus).to_string()),
                    Kind::Lowercase => lb.set(target, case::to_lower(val)),
                    Kind::Uppercase => lb.set(target, case::to_upper(val)),
                    Kind::LabelMap { .. } | Kind::LabelDrop | Kind::LabelKeep => {
                        unreachable!("BUG: label-name actions are handled above")
                    }
                }
            }
        }
        true
    }

    /// The source label values joined by the separator, in `buf`.
    fn source_value<'b>(&self, lb: &LabelsBuilder, buf: &'b mut String) -> &'b str {
        buf.clear();
        for (i, name) in self.config.source_labels.iter().enumerate() {
            if i > 0 {
                buf.push_str(&self.config.separator);
            }
            buf.push_str(lb.get(name));
        }
        buf
    }
}

/// Rules compare by their configuration (for config reloads).
impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config
    }
}

impl Eq for Rule {}

/// Deserializes and validates in one step, so that a config loader reports a bad
/// rule at its position in the file.
impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let config = RelabelConfig::deserialize(d)?;
        Rule::try_new(&config).map_err(serde::de::Error::custom)
    }
}

/// Applies `rules` in order to `labels`; false as soon as one drops the set.
pub fn process(rules: &[Rule], labels: &mut LabelsBuilder) -> bool {
    let mut buf = String::new();
    rules.iter().all(|rule| rule.apply_with(labels, &mut buf))
}

/// Applies `rules` to `labels`: the relabeled set, or `None` when dropped.
pub fn relabel(rules: &[Rule], labels: &Labels) -> Option<Labels> {
    let mut builder = labels.builder();
    process(rules, &mut builder).then(|| builder.build())
}

/// Compiles `^(?s:REGEX)$` from Go syntax; also returns the group names.
fn compile_regex(go: &str) -> Result<(Regex, Vec<Option<String>>), RelabelError> {
    let invalid = |reason: String| RelabelError::InvalidRegex { regex: go.to_owned(), reason };
    // Prometheus wraps the text before parsing, so the wrapper takes part in the
    // parse: an unterminated `\Q` swallows `)$`, `a)\` ends in a literal `)`.
    let translated =
        goregex::translate(&format!("^(?s:{go})$")).map_err(|e| invalid(e.to_string()))?;
    let regex = Regex::new(&translated.pattern).map_err(|e| invalid(regex_reason(&e)))?;
    debug_assert_eq!(
        regex.captures_len(),
        translated.names.len(),
        "BUG: group count differs for {go:?}"
    );
    Ok((regex, translated.names))
}

/// The one-line cause of a `regex` crate error (its message spans several
/// lines, repeating the pattern with a caret under the fault).
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    match text.lines().rev().find_map(|l| l.strip_prefix("error: ")) {
        Some(reason) => reason.to_owned(),
        None => text,
    }
}

/// Prometheus' `Config.Validate`, check for check.
fn validate(c: &RelabelConfig) -> Result<(), RelabelError> {
    use Action::*;
    let action = c.action;
    let target = c.target_label.as_str();
    let invalid_target = || RelabelError::InvalidTargetLabel { action, label: target.to_owned() };
    if action == HashMod && c.modulus == 0 {
        return Err(RelabelError::ZeroModulus);
    }
    if matches!(action, Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual)
        && target.is_empty()
    {
        return Err(RelabelError::MissingTargetLabel(action));
    }
    if action == Replace {
        let valid = if target.contains('$') {
            is_valid_name_template(target)
        } else {
            is_valid_label_name(target)
        };
        if !valid {
            return Err(invalid_target());
        }
    }
    let single_target = matches!(action, Lowercase | Uppercase | KeepEqual | DropEqual);
    if single_target && !is_valid_label_name(target) {
        return Err(invalid_target());
    }
    if single_target && c.replacement != DEFAULT_REPLACEMENT {
        return Err(RelabelError::ReplacementNotAllowed(action));
    }
    if action == LabelMap && !is_valid_name_template(&c.replacement) {
        return Err(RelabelError::InvalidReplacement {
            action,
            replacement: c.replacement.clone(),
        });
    }
    if action == HashMod && !is_valid_label_name(target) {
        return Err(invalid_target());
    }
    let default_rest =
        c.modulus == 0 && c.separator == DEFAULT_SEPARATOR && c.replacement == DEFAULT_REPLACEMENT;
    if matches!(action, KeepEqual | DropEqual) && !(default_rest && c.regex == DEFAULT_REGEX) {
        return Err(RelabelError::EqualityExtraFields(action));
    }
    if matches!(action, LabelDrop | LabelKeep)
        && !(default_rest && c.source_labels.is_empty() && target.is_empty())
    {
        return Err(RelabelError::LabelFilterExtraFields(action));
    }
    Ok(())
}

/// Prometheus' `relabelTargetLegacy`,
/// `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`: a label name in which `$ref`
/// and `${ref}` may stand for characters. Equivalently: it starts with a
/// reference or `[a-zA-Z_]`, then any mix of references and `\w`.
fn is_valid_name_template(s: &str) -> bool {
    fn word_run(b: &[u8]) -> usize {
        b.iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count()
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let braced = b.get(i + 1) == Some(&b'{');
            let start = i + 1 + usize::from(braced);
            let n = word_run(&b[start..]);
            if n == 0 || (braced && b.get(start + n) != Some(&b'}')) {
                return false;
            }
            i = start + n + usize::from(braced);
        } else if b[i].is_ascii_alphabetic() || b[i] == b'_' || (i > 0 && b[i].is_ascii_digit()) {
            i += 1;
        } else {
            return false;
        }
    }
    !b.is_empty()
}

fn replace(
    regex: &Regex,
    target: &Template,
    replacement: &Template,
    val: &str,
    lb: &mut LabelsBuilder,
) {
    let Some(caps) = regex.captures(val) else {
        return;
    };
    let name = match target.as_literal() {
        Some(name) => name.to_owned(),
        None => {
            let mut name = String::new();
            target.expand(&caps, &mut name);
            name
        }
    };
    if !is_valid_label_name(&name) {
        return;
    }
    let mut value = String::new();
    replacement.expand(&caps, &mut value);
    if value.is_empty() {
        lb.del(&name);
    } else {
        lb.set(name, value);
    }
}

/// Prometheus' `sum64(md5(val))`: the last 8 bytes, big-endian, modulo.
fn hash_mod(val: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(val.as_bytes());
    let tail: [u8; 8] = digest[8..].try_into().expect("BUG: an md5 digest is 16 bytes");
    u64::from_be_bytes(tail) % modulus
}

/// Go's `ReplaceAllString` with a pre-parsed template.
struct ExpandTemplate<'t>(&'t Template);

impl Replacer for ExpandTemplate<'_> {
    fn replace_append(&mut self, caps: &Captures<'_>, dst: &mut String) {
        self.0.expand(caps, dst);
    }
}

fn label_map(regex: &Regex, replacement: &Template, lb: &mut LabelsBuilder) {
    // Collect first: the new labels must not be seen by this same rule.
    let mapped: Vec<(String, String)> = lb
        .iter()
        .filter(|l| !l.value.is_empty() && regex.is_match(&l.name))
        .map(|l| {
            (regex.replace_all(&l.name, ExpandTemplate(replacement)).into_owned(), l.value.clone())
        })
        .collect();
    for (name, value) in mapped {
        lb.set(name, value);
    }
}

/// Go's `%q` for the strings in error messages.
fn go_quote(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0C' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0B' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
