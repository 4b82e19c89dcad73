//! The per-family rules of OpenMetrics 1.0 ("MetricFamily", "Metric types",
//! "Text format"), applied line by line as the parser reads.
//!
//! A family starts at a metadata line for a new name, or at a sample whose
//! name the current family does not own; such a sample opens a family of type
//! unknown named after itself. A family owns its name plus the suffixes of its
//! type (`_total` and `_created` for a counter, the bare name for a gauge, ...).
//! Every family claims its name with every suffix of its type, and no claim
//! may be made twice in a body: that catches a family name used twice, a
//! family split by another, and names that could clash ("a gauge called
//! foo_created as a counter called foo could create a foo_created").
//!
//! Checks that need the whole of a histogram point run when the point ends
//! (see [`super::metrics`]); the rest run on the sample's own line.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::super::{ErrorKind, MetricType, ParseError};
use super::metrics::{fnv, mix, Metrics, Point, PreHashed, Skip};
use super::sample::{RawLabel, SampleLine};

/// What a sample is within its family, by its name's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The family name itself: gauge, unknown, stateset, summary quantile.
    Bare,
    Total,
    Created,
    Bucket,
    Count,
    Sum,
    GCount,
    GSum,
    Info,
}

/// A metadata line's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Descriptor<'a> {
    Help,
    Type(MetricType),
    Unit(&'a str),
}

/// The family being read.
#[derive(Debug, Clone, Copy)]
struct Family<'a> {
    name: &'a str,
    kind: MetricType,
    typed: bool,
    help: bool,
    unit: Option<&'a str>,
    has_samples: bool,
}

impl<'a> Family<'a> {
    fn new(name: &'a str) -> Self {
        Family {
            name,
            kind: MetricType::Unknown,
            typed: false,
            help: false,
            unit: None,
            has_samples: false,
        }
    }

    /// The role of a sample named `name` if this family owns it.
    fn role_of(&self, name: &str) -> Option<Role> {
        use MetricType::*;
        let role = match (self.kind, name.strip_prefix(self.name)?) {
            (Gauge | Unknown | StateSet | Summary, "") => Role::Bare,
            (Counter, "_total") => Role::Total,
            (Counter | Histogram | Summary, "_created") => Role::Created,
            (Histogram | GaugeHistogram, "_bucket") => Role::Bucket,
            (Histogram | Summary, "_count") => Role::Count,
            (Histogram | Summary, "_sum") => Role::Sum,
            (GaugeHistogram, "_gcount") => Role::GCount,
            (GaugeHistogram, "_gsum") => Role::GSum,
            (Info, "_info") => Role::Info,
            _ => return None,
        };
        Some(role)
    }

    /// Labels that do not identify the metric a sample belongs to.
    fn skip(&self, role: Role) -> Skip<'a> {
        match (self.kind, role) {
            (MetricType::Info, _) => Skip::All,
            (MetricType::Summary, Role::Bare) => Skip::Label(b"quantile"),
            (MetricType::StateSet, _) => Skip::Label(self.name.as_bytes()),
            (MetricType::Histogram | MetricType::GaugeHistogram, Role::Bucket) => {
                Skip::Label(b"le")
            }
            _ => Skip::Nothing,
        }
    }

    fn is_histogram(&self) -> bool {
        matches!(self.kind, MetricType::Histogram | MetricType::GaugeHistogram)
    }
}

/// A sample name a family may produce: its name and one of its type's suffixes.
#[derive(Debug, Clone, Copy)]
struct Claim<'a> {
    name: &'a str,
    suffix: &'static str,
}

impl Claim<'_> {
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.name.bytes().chain(self.suffix.bytes())
    }
}

impl PartialEq for Claim<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name.len() + self.suffix.len() == other.name.len() + other.suffix.len()
            && self.bytes().eq(other.bytes())
    }
}

impl Eq for Claim<'_> {}

impl Hash for Claim<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(mix(fnv(0, self.bytes())));
    }
}

/// The rules' state across the body.
#[derive(Debug, Clone, Default)]
pub(super) struct Rules<'a> {
    family: Option<Family<'a>>,
    claims: HashSet<Claim<'a>, BuildHasherDefault<PreHashed>>,
    metrics: Metrics<'a>,
    point: Point,
}

impl<'a> Rules<'a> {
    /// A HELP, TYPE or UNIT line for family `name` on line `line`.
    pub fn descriptor(
        &mut self,
        name: &'a str,
        d: Descriptor<'a>,
        line: usize,
    ) -> Result<(), ParseError> {
        let at = |kind| ParseError { line, kind };
        match &self.family {
            Some(f) if f.name == name => {
                if f.has_samples {
                    return Err(at(ErrorKind::Invalid("metadata after the family's samples")));
                }
            }
            _ => {
                self.end_family(line)?;
                self.family = Some(Family::new(name));
            }
        }
        let f = self.family.as_mut().expect("BUG: a family was just opened");
        describe(f, d).map_err(at)
    }

    /// A sample on line `line`, with its labels.
    pub fn sample(
        &mut self,
        s: &SampleLine<'a>,
        labels: &[RawLabel<'a>],
        line: usize,
    ) -> Result<(), ParseError> {
        let at = |kind| ParseError { line, kind };
        let role = match self.family.as_ref().and_then(|f| f.role_of(s.name)) {
            Some(role) => role,
            None => {
                if self.family.as_ref().is_some_and(|f| f.typed && f.name == s.name) {
                    return Err(at(ErrorKind::Invalid(
                        "sample name lacks the suffix its family's type requires",
                    )));
                }
                self.end_family(line)?;
                self.family = Some(Family::new(s.name));
                Role::Bare
            }
        };
        let f = self.family.as_mut().expect("BUG: a family is open");
        if !f.has_samples {
            f.has_samples = true;
            let f = *f;
            claim(&mut self.claims, &f).map_err(at)?;
        }
        let f = self.family.as_ref().expect("BUG: a family is open");
        let le = check_sample(f, role, s, labels).map_err(at)?;
        let secs = s.timestamp.map(|t| t.secs);
        let ordered = f.kind != MetricType::Info;
        let same_point =
            self.metrics.track(labels, s.label_text, f.skip(role), secs, ordered).map_err(at)?;
        if f.is_histogram() {
            self.point.observe(same_point, role, le, s.value, line)?;
        }
        Ok(())
    }

    /// The end of the body (`# EOF` on line `line`): ends the last family.
    pub fn finish(&mut self, line: usize) -> Result<(), ParseError> {
        self.end_family(line)
    }

    fn end_family(&mut self, line: usize) -> Result<(), ParseError> {
        let Some(f) = self.family.take() else {
            return Ok(());
        };
        self.point.close()?;
        self.metrics.reset();
        if !f.has_samples {
            claim(&mut self.claims, &f).map_err(|kind| ParseError { line, kind })?;
        }
        Ok(())
    }
}

/// Applies a metadata line to its family: each kind once, the unit a suffix
/// of the name and absent from info and stateset families.
fn describe<'a>(f: &mut Family<'a>, d: Descriptor<'a>) -> Result<(), ErrorKind> {
    const NO_UNIT: ErrorKind =
        ErrorKind::Invalid("info and stateset families must not have a unit");
    let unitless = |kind| matches!(kind, MetricType::Info | MetricType::StateSet);
    match d {
        Descriptor::Help if f.help => Err(ErrorKind::Invalid("second HELP line for the family")),
        Descriptor::Help => {
            f.help = true;
            Ok(())
        }
        Descriptor::Type(_) if f.typed => {
            Err(ErrorKind::Invalid("second TYPE line for the family"))
        }
        Descriptor::Type(kind) => {
            if unitless(kind) && f.unit.is_some_and(|u| !u.is_empty()) {
                return Err(NO_UNIT);
            }
            f.typed = true;
            f.kind = kind;
            Ok(())
        }
        Descriptor::Unit(_) if f.unit.is_some() => {
            Err(ErrorKind::Invalid("second UNIT line for the family"))
        }
        Descriptor::Unit(unit) => {
            if !unit.is_empty() {
                if !f.name.strip_suffix(unit).is_some_and(|stem| stem.ends_with('_')) {
                    return Err(ErrorKind::Invalid("the family name must end in '_' and its unit"));
                }
                if unitless(f.kind) {
                    return Err(NO_UNIT);
                }
            }
            f.unit = Some(unit);
            Ok(())
        }
    }
}

/// Claims the sample names `f` may produce; fails when one was claimed before.
fn claim<'a>(
    claims: &mut HashSet<Claim<'a>, BuildHasherDefault<PreHashed>>,
    f: &Family<'a>,
) -> Result<(), ErrorKind> {
    let suffixes: &[&'static str] = match f.kind {
        MetricType::Counter => &["", "_total", "_created"],
        MetricType::Histogram => &["", "_bucket", "_count", "_sum", "_created"],
        MetricType::GaugeHistogram => &["", "_bucket", "_gcount", "_gsum"],
        MetricType::Summary => &["", "_count", "_sum", "_created"],
        MetricType::Info => &["", "_info"],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[""],
    };
    for &suffix in suffixes {
        if !claims.insert(Claim { name: f.name, suffix }) {
            return Err(ErrorKind::Invalid(
                "metric family clashes with an earlier one: a name used twice, \
                 families interleaved, or suffixes that overlap",
            ));
        }
    }
    Ok(())
}

/// The rules for one sample by family type and role. Returns a bucket's `le`.
fn check_sample(
    f: &Family<'_>,
    role: Role,
    s: &SampleLine<'_>,
    labels: &[RawLabel<'_>],
) -> Result<Option<f64>, ErrorKind> {
    use MetricType::*;
    let find = |name: &[u8]| labels.iter().find(|l| l.name == name).map(|l| l.value);
    let v = s.value;
    let mut le = None;
    match (f.kind, role) {
        (Counter, Role::Total) => not_negative(v, "counter _total must not be NaN or negative")?,
        (Histogram | GaugeHistogram, Role::Bucket) => {
            let raw = find(b"le").ok_or(ErrorKind::Expected("an le label on a _bucket sample"))?;
            le = Some(threshold(raw).ok_or(ErrorKind::Invalid(
                "le must be a number or +Inf (not NaN, other spellings of infinity refused)",
            ))?);
            whole(v, "bucket count must be a non-negative integer")?;
        }
        (_, Role::Count | Role::GCount) => {
            whole(v, "_count/_gcount must be a non-negative integer")?
        }
        (_, Role::Sum) => not_negative(v, "_sum must not be NaN or negative")?,
        (_, Role::GSum) if v.is_nan() => return Err(ErrorKind::Invalid("_gsum must not be NaN")),
        (Summary, Role::Bare) => {
            let raw = find(b"quantile")
                .ok_or(ErrorKind::Expected("a quantile label on a summary quantile sample"))?;
            if !threshold(raw).is_some_and(|q| (0.0..=1.0).contains(&q)) {
                return Err(ErrorKind::Invalid("quantile must be a number from 0 to 1"));
            }
            if v < 0.0 {
                return Err(ErrorKind::Invalid("quantile value must not be negative"));
            }
        }
        (StateSet, Role::Bare) => {
            if find(f.name.as_bytes()).is_none() {
                return Err(ErrorKind::Expected("a label named after the stateset family"));
            }
            if v != 0.0 && v != 1.0 {
                return Err(ErrorKind::Invalid("stateset value must be 0 or 1"));
            }
        }
        (Info, Role::Info) if v != 1.0 => return Err(ErrorKind::Invalid("info value must be 1")),
        _ => {}
    }
    if f.is_histogram() && role != Role::Bucket && find(b"le").is_some() {
        return Err(ErrorKind::Invalid("only _bucket samples of a histogram may have an le label"));
    }
    if f.kind == Summary && role != Role::Bare && find(b"quantile").is_some() {
        return Err(ErrorKind::Invalid(
            "only quantile samples of a summary may have a quantile label",
        ));
    }
    let exemplar_allowed = matches!(
        (f.kind, role),
        (Counter, Role::Total) | (Histogram | GaugeHistogram, Role::Bucket)
    );
    if s.exemplar.is_some() && !exemplar_allowed {
        return Err(ErrorKind::Invalid(
            "exemplars are only allowed on counter _total and histogram _bucket samples",
        ));
    }
    Ok(le)
}

/// Counter semantics: neither NaN nor negative.
fn not_negative(v: f64, why: &'static str) -> Result<(), ErrorKind> {
    if v.is_nan() || v < 0.0 {
        return Err(ErrorKind::Invalid(why));
    }
    Ok(())
}

/// "Count and bucket values MUST be integers", and counters.
fn whole(v: f64, why: &'static str) -> Result<(), ErrorKind> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
        return Err(ErrorKind::Invalid(why));
    }
    Ok(())
}

/// An `le` or `quantile` label value: an OpenMetrics number other than NaN,
/// infinity spelled only `+Inf` or `-Inf` ("Canonical Numbers": exposers MUST
/// write positive infinity as `+Inf`; other numbers are accepted as written).
fn threshold(raw: &[u8]) -> Option<f64> {
    match raw {
        b"+Inf" => Some(f64::INFINITY),
        b"-Inf" => Some(f64::NEG_INFINITY),
        _ => super::super::value::parse_om_value(raw).ok().filter(|v| v.is_finite()),
    }
}
