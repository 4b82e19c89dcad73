//! Prometheus durations: `1y2w3d4h5m6s7ms`.
//!
//! Grammar (as `model.ParseDuration` in prometheus/common accepts it): one or
//! more `<digits><unit>` terms, units in the order `y w d h m s ms`, each unit
//! at most once, no signs, no fractions, no spaces; or the bare string `0`.
//! A year is 365 days and a week 7 days; there are no leap seconds.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;
use std::time::Duration;

/// Units in the only order they may appear, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    #[error("duration out of range: {0:?}")]
    OutOfRange(String),
}

/// Parses a Prometheus duration (`1h30m`, `10s`, `0`).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let invalid = || DurationError::Invalid(text.to_owned());
    let mut rest = text;
    let mut next_unit = 0; // index into UNITS of the first unit still allowed
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let (number, tail) = rest.split_at(digits);
        let (unit_index, unit_len) = unit_at(tail).ok_or_else(invalid)?;
        if unit_index < next_unit {
            return Err(invalid()); // out of order or repeated
        }
        let value: u64 = number.parse().map_err(|_| DurationError::OutOfRange(text.to_owned()))?;
        total_ms = value
            .checked_mul(UNITS[unit_index].1)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| DurationError::OutOfRange(text.to_owned()))?;
        next_unit = unit_index + 1;
        rest = &tail[unit_len..];
    }
    // Prometheus keeps durations as int64 nanoseconds.
    if total_ms > i64::MAX as u64 / 1_000_000 {
        return Err(DurationError::OutOfRange(text.to_owned()));
    }
    Ok(Duration::from_millis(total_ms))
}

/// The unit at the start of `tail`: its index in `UNITS` and its length.
fn unit_at(tail: &str) -> Option<(usize, usize)> {
    // `ms` must win over `m`.
    if tail.starts_with("ms") {
        return Some((6, 2));
    }
    let first = tail.get(..1)?;
    UNITS[..6].iter().position(|(unit, _)| *unit == first).map(|i| (i, 1))
}

/// Formats a duration the way Prometheus prints it (`1h30m`, `0s`).
/// Sub-millisecond parts are dropped.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, len) in UNITS {
        let len = u128::from(len);
        if ms >= len {
            out.push_str(&format!("{}{unit}", ms / len));
            ms %= len;
        }
    }
    out
}

/// `deserialize_with` for a `Duration` field written in Prometheus syntax.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_str(DurationVisitor)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as 30s, 1m or 1h30m")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, want: Result<u64, DurationError>) {
        let got = parse_duration(input).map(|d| d.as_millis() as u64);
        assert_eq!(got, want, "parse_duration({input:?})");
    }

    fn invalid(s: &str) -> Result<u64, DurationError> {
        Err(DurationError::Invalid(s.to_owned()))
    }

    #[test]
    fn parses_prometheus_durations() {
        const S: u64 = 1000;
        check("0", Ok(0));
        check("0s", Ok(0));
        check("7ms", Ok(7));
        check("10s", Ok(10 * S));
        check("5m", Ok(300 * S));
        check("1h30m", Ok(5400 * S));
        check("1d", Ok(86_400 * S));
        check("1w", Ok(7 * 86_400 * S));
        check("1y", Ok(365 * 86_400 * S));
        check("1y2w3d4h5m6s7ms", Ok(((365 + 14 + 3) * 86_400 + 4 * 3600 + 5 * 60 + 6) * S + 7));
        check("1m1ms", Ok(60_001));
        check("090s", Ok(90 * S));
    }

    #[test]
    fn rejects_malformed_durations() {
        check("", Err(DurationError::Empty));
        check("10", invalid("10"));
        check("1h1y", invalid("1h1y"));
        check("1s1s", invalid("1s1s"));
        check("1ms1s", invalid("1ms1s"));
        check("1.5h", invalid("1.5h"));
        check("-1s", invalid("-1s"));
        check("1 s", invalid("1 s"));
        check("1S", invalid("1S"));
        check("s", invalid("s"));
        check("1us", invalid("1us"));
        check("1h ", invalid("1h "));
        check(
            "99999999999999999999s",
            Err(DurationError::OutOfRange("99999999999999999999s".into())),
        );
        check("300y", Err(DurationError::OutOfRange("300y".into())));
    }

    #[test]
    fn formats_like_prometheus() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(60_001)), "1m1ms");
        assert_eq!(format_duration(Duration::from_secs(8 * 86_400)), "1w1d");
    }

    #[test]
    fn deserializes_from_yaml_scalars() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[serde(deserialize_with = "deserialize")]
            d: Duration,
        }
        let t: T = serde_yaml::from_str("d: 15s").unwrap();
        assert_eq!(t.d, Duration::from_secs(15));
        let t: T = serde_yaml::from_str("d: 0").unwrap();
        assert_eq!(t.d, Duration::ZERO);
        let err = serde_yaml::from_str::<T>("d: 15").unwrap_err().to_string();
        assert!(err.contains("not a valid duration string: \"15\""), "{err}");
    }
}
