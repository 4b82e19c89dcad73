//! Byte sizes as Prometheus parses `body_size_limit` (`units.Base2Bytes`).
//!
//! Grammar: one or more `<number><unit>` terms, where a number is digits with
//! an optional fraction (`1.5`) and a unit is one of `B`, `KB`, `MB`, `GB`,
//! `TB`, `PB`, `EB` or their IEC spellings `KiB` .. `EiB`. All multipliers are
//! powers of 1024 (`KB` = `KiB` = 1024). `kB` is rejected, as in Prometheus.
//! `0` and a YAML integer mean bytes; so, as a tern extension, does a string
//! of digits without a unit (Prometheus requires a unit there).

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// A size in bytes. `0` means "no limit" wherever a limit is configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// True for 0, which limits mean as "unlimited".
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

const UNITS: [(&str, u32); 13] = [
    ("B", 0),
    ("KB", 1),
    ("KiB", 1),
    ("MB", 2),
    ("MiB", 2),
    ("GB", 3),
    ("GiB", 3),
    ("TB", 4),
    ("TiB", 4),
    ("PB", 5),
    ("PiB", 5),
    ("EB", 6),
    ("EiB", 6),
];

/// Why a size string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    #[error(
        "invalid size {0:?}: expected a number and a unit (B, KB, MB, GB, TB, PB, EB), e.g. 10MB"
    )]
    Invalid(String),
    #[error("invalid size {text:?}: unknown unit {unit:?} (use B, KB, MB, GB, TB, PB or EB)")]
    UnknownUnit { text: String, unit: String },
    #[error("invalid size {0:?}: a size cannot be negative")]
    Negative(String),
    #[error("invalid size {0:?}: out of range")]
    OutOfRange(String),
}

/// Parses a size such as `10MB`, `512KiB`, `1.5GB`, `100B` or `1024`.
pub fn parse_size(text: &str) -> Result<ByteSize, SizeError> {
    if text.starts_with('-') {
        return Err(SizeError::Negative(text.to_owned()));
    }
    let body = text.strip_prefix('+').unwrap_or(text);
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        return body.parse().map(ByteSize).map_err(|_| SizeError::OutOfRange(text.to_owned()));
    }
    let mut rest = body;
    let mut total: u128 = 0;
    if rest.is_empty() {
        return Err(SizeError::Invalid(text.to_owned()));
    }
    while !rest.is_empty() {
        let (whole, frac, tail) = split_number(rest).ok_or(SizeError::Invalid(text.to_owned()))?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let unit = &tail[..unit_len];
        let power =
            UNITS.iter().find(|(name, _)| *name == unit).map(|(_, p)| *p).ok_or_else(|| {
                SizeError::UnknownUnit { text: text.to_owned(), unit: unit.to_owned() }
            })?;
        total += term_bytes(whole, frac, 1024u128.pow(power))
            .ok_or_else(|| SizeError::OutOfRange(text.to_owned()))?;
        if total > i64::MAX as u128 {
            return Err(SizeError::OutOfRange(text.to_owned()));
        }
        rest = &tail[unit_len..];
    }
    Ok(ByteSize(total as u64))
}

/// Splits `12.5MB..` into (`12`, `5`, `MB..`); None when there are no digits.
fn split_number(s: &str) -> Option<(&str, &str, &str)> {
    let whole_len = s.bytes().take_while(u8::is_ascii_digit).count();
    let (whole, rest) = s.split_at(whole_len);
    let (frac, rest) = match rest.strip_prefix('.') {
        Some(after) => {
            let n = after.bytes().take_while(u8::is_ascii_digit).count();
            after.split_at(n)
        }
        None => ("", rest),
    };
    (!whole.is_empty() || !frac.is_empty()).then_some((whole, frac, rest))
}

/// `whole.frac * multiplier`, truncated to whole bytes like Prometheus does.
fn term_bytes(whole: &str, frac: &str, multiplier: u128) -> Option<u128> {
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut bytes = whole.checked_mul(multiplier)?;
    // Only the first digits that can matter are kept (1024^6 < 10^19).
    let frac = &frac[..frac.len().min(19)];
    if !frac.is_empty() {
        let numerator: u128 = frac.parse().ok()?;
        bytes += numerator * multiplier / 10u128.pow(frac.len() as u32);
    }
    Some(bytes)
}

impl fmt::Display for ByteSize {
    /// Prints the largest exact base-2 unit, as Prometheus does (`10MiB`).
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut n = self.0;
        if n == 0 {
            return f.write_str("0B");
        }
        let mut unit = 0;
        while n.is_multiple_of(1024) && unit < 6 {
            n /= 1024;
            unit += 1;
        }
        let suffix = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"][unit];
        write!(f, "{n}{suffix}")
    }
}

impl<'de> de::Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size such as 10MB or 512KB")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
        parse_size(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
        u64::try_from(v).map(ByteSize).map_err(|_| E::custom(SizeError::Negative(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, want: Result<u64, SizeError>) {
        assert_eq!(parse_size(input).map(ByteSize::bytes), want, "parse_size({input:?})");
    }

    const KI: u64 = 1024;
    const MI: u64 = 1024 * 1024;
    const GI: u64 = 1024 * 1024 * 1024;

    #[test]
    fn parses_base2_sizes() {
        check("0", Ok(0));
        check("100B", Ok(100));
        check("512KB", Ok(512 * KI));
        check("512KiB", Ok(512 * KI));
        check("10MB", Ok(10 * MI));
        check("10MiB", Ok(10 * MI));
        check("1GB", Ok(GI));
        check("2TB", Ok(2 * 1024 * GI));
        check("1EB", Ok(1 << 60));
        check("1.5KB", Ok(1536));
        check("0.5MB", Ok(MI / 2));
        check(".5KB", Ok(512));
        check("1GB512MB", Ok(GI + 512 * MI));
        check("1024", Ok(1024));
        check("+1KB", Ok(1024));
    }

    #[test]
    fn rejects_bad_sizes() {
        let unknown =
            |t: &str, u: &str| Err(SizeError::UnknownUnit { text: t.into(), unit: u.into() });
        check("", Err(SizeError::Invalid(String::new())));
        check("MB", Err(SizeError::Invalid("MB".into())));
        check("10kB", unknown("10kB", "kB"));
        check("10mb", unknown("10mb", "mb"));
        check("10 MB", unknown("10 MB", " MB"));
        check("10M", unknown("10M", "M"));
        check("1.5", unknown("1.5", ""));
        check("-1MB", Err(SizeError::Negative("-1MB".into())));
        check("8EB", Err(SizeError::OutOfRange("8EB".into())));
        check("99999999999999999999", Err(SizeError::OutOfRange("99999999999999999999".into())));
    }

    #[test]
    fn displays_largest_exact_unit() {
        assert_eq!(ByteSize(0).to_string(), "0B");
        assert_eq!(ByteSize(10 * MI).to_string(), "10MiB");
        assert_eq!(ByteSize(1536).to_string(), "1536B");
        assert_eq!(ByteSize(3 * KI).to_string(), "3KiB");
    }

    #[test]
    fn deserializes_strings_and_integers() {
        #[derive(serde::Deserialize)]
        struct T {
            s: ByteSize,
        }
        let t: T = serde_yaml::from_str("s: 10MB").unwrap();
        assert_eq!(t.s, ByteSize(10 * MI));
        let t: T = serde_yaml::from_str("s: 4096").unwrap();
        assert_eq!(t.s, ByteSize(4096));
        let err = serde_yaml::from_str::<T>("s: -1").err().unwrap().to_string();
        assert!(err.contains("cannot be negative"), "{err}");
    }
}
