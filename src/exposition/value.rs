//! Sample values: parsing as Prometheus does (Go's `strconv.ParseFloat` on
//! decimal input, hex floats and `_` separators refused) and printing as the
//! Prometheus HTTP API does (Go's `strconv.FormatFloat(v, 'g', -1, 64)`).

/// Bit pattern of the staleness marker (Prometheus `value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Bit pattern of the NaN every parsed NaN is normalised to
/// (Prometheus `value.NormalNaN`), so a scraped NaN is never a stale marker.
pub const NORMAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0001;

/// Why a value did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    Syntax,
    OutOfRange,
}

/// Parses a sample value the way Prometheus' text parser does: an optional
/// sign, decimal digits with optional point and exponent, or (any case)
/// `Inf`/`Infinity` with optional sign, or an unsigned `NaN`.
pub fn parse_value(s: &[u8]) -> Result<f64, ValueError> {
    if let Some(v) = parse_small_int(s) {
        return Ok(v);
    }
    let (negative, unsigned) = match s.first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity") {
        return Ok(if negative { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if unsigned.eq_ignore_ascii_case(b"nan") {
        if unsigned.len() != s.len() {
            return Err(ValueError::Syntax);
        }
        return Ok(f64::from_bits(NORMAL_NAN_BITS));
    }
    if !unsigned
        .iter()
        .all(|&c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(ValueError::Syntax);
    }
    // Only ASCII is left, so this cannot fail.
    let text = std::str::from_utf8(s).map_err(|_| ValueError::Syntax)?;
    let v: f64 = text.parse().map_err(|_| ValueError::Syntax)?;
    if v.is_infinite() {
        return Err(ValueError::OutOfRange);
    }
    Ok(v)
}

/// Fast path for plain non-negative integers of up to 15 digits, which are
/// exact in an `f64`.
#[inline]
fn parse_small_int(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(n as f64)
}

/// Parses an int64 millisecond timestamp of the text format: digits only.
pub fn parse_timestamp_ms(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses an OpenMetrics sample or exemplar value: the `number` production
/// (`realnumber`, `[+-]inf(inity)`, `nan`, words in any case), then the float
/// as [`parse_value`] reads it (NaN normalised, out-of-range refused).
pub fn parse_om_value(s: &[u8]) -> Result<f64, ValueError> {
    if let Some(v) = parse_small_int(s) {
        return Ok(v);
    }
    match super::lex::number(s) {
        Ok(([], _)) => parse_value(s),
        _ => Err(ValueError::Syntax),
    }
}

/// Parses an OpenMetrics timestamp: `timestamp = realnumber`, seconds since
/// the epoch (so NaN and infinities are refused), finite as a float64.
pub fn parse_om_seconds(s: &[u8]) -> Result<f64, ValueError> {
    match super::lex::realnumber(s) {
        Ok(([], _)) => {}
        _ => return Err(ValueError::Syntax),
    }
    let text = std::str::from_utf8(s).map_err(|_| ValueError::Syntax)?;
    let secs: f64 = text.parse().map_err(|_| ValueError::Syntax)?;
    if secs.is_finite() {
        Ok(secs)
    } else {
        Err(ValueError::OutOfRange)
    }
}

/// Float seconds to integer milliseconds as Prometheus converts them
/// (`int64(ts * 1000)`): truncation toward zero. Beyond the int64 range Go's
/// conversion is implementation-defined; here it saturates.
pub fn seconds_to_ms(secs: f64) -> i64 {
    (secs * 1000.0) as i64
}

/// Formats a value as Prometheus' HTTP API does (Go `FormatFloat(v, 'g', -1,
/// 64)`): shortest round-trip digits, exponent form (`1e+06`) when the decimal
/// exponent is below -4 or at least 6; `NaN`, `+Inf`, `-Inf` for the special
/// values.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let sign = if v.is_sign_negative() { "-" } else { "" };
    if v == 0.0 {
        return format!("{sign}0");
    }
    // `{:e}` gives the shortest round-trip digits: "1.2345e6".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').expect("BUG: {:e} always has an exponent");
    let exp: i32 = exp.parse().expect("BUG: {:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        let zeros = "0".repeat((-point) as usize);
        format!("{sign}0.{zeros}{digits}")
    } else if point as usize >= digits.len() {
        let zeros = "0".repeat(point as usize - digits.len());
        format!("{sign}{digits}{zeros}")
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, want: Result<f64, ValueError>) {
        let got = parse_value(input.as_bytes());
        match (got, want) {
            (Ok(g), Ok(w)) if w.is_nan() => assert!(g.is_nan(), "{input:?}: got {g}"),
            (Ok(g), Ok(w)) => assert_eq!(g.to_bits(), w.to_bits(), "{input:?}"),
            (g, w) => assert_eq!(g, w, "{input:?}"),
        }
    }

    #[test]
    fn parse_value_accepts_what_go_parsefloat_accepts() {
        check("0", Ok(0.0));
        check("-0", Ok(-0.0));
        check("42", Ok(42.0));
        check("1.5", Ok(1.5));
        check("+1.5", Ok(1.5));
        check(".5", Ok(0.5));
        check("5.", Ok(5.0));
        check("1e3", Ok(1000.0));
        check("1E-3", Ok(0.001));
        check("2.5e+06", Ok(2.5e6));
        check("123456789012345678901234567890", Ok(1.2345678901234568e29));
        check("Inf", Ok(f64::INFINITY));
        check("+Inf", Ok(f64::INFINITY));
        check("-inf", Ok(f64::NEG_INFINITY));
        check("infinity", Ok(f64::INFINITY));
        check("-Infinity", Ok(f64::NEG_INFINITY));
        check("NaN", Ok(f64::NAN));
        check("nan", Ok(f64::NAN));
        check("4.9e-324", Ok(4.9e-324));
    }

    #[test]
    fn parse_value_refuses_what_prometheus_refuses() {
        check("", Err(ValueError::Syntax));
        check("+NaN", Err(ValueError::Syntax));
        check("-nan", Err(ValueError::Syntax));
        check("0x1p3", Err(ValueError::Syntax));
        check("0x10", Err(ValueError::Syntax));
        check("1_000", Err(ValueError::Syntax));
        check("1e", Err(ValueError::Syntax));
        check(".", Err(ValueError::Syntax));
        check("1.2.3", Err(ValueError::Syntax));
        check("abc", Err(ValueError::Syntax));
        check("1e400", Err(ValueError::OutOfRange));
        check("-1e400", Err(ValueError::OutOfRange));
    }

    #[test]
    fn parsed_nan_is_never_a_stale_marker() {
        let v = parse_value(b"NaN").unwrap();
        assert_eq!(v.to_bits(), NORMAL_NAN_BITS);
        assert_ne!(v.to_bits(), STALE_NAN_BITS);
    }

    #[test]
    fn timestamps_are_digits_only() {
        assert_eq!(parse_timestamp_ms(b"1395066363000"), Some(1395066363000));
        assert_eq!(parse_timestamp_ms(b"-1"), None);
        assert_eq!(parse_timestamp_ms(b"1.5"), None);
        assert_eq!(parse_timestamp_ms(b"99999999999999999999"), None);
    }

    #[test]
    fn openmetrics_values_follow_the_number_production() {
        assert_eq!(parse_om_value(b"0042"), Ok(42.0));
        assert_eq!(parse_om_value(b"1.5e3"), Ok(1500.0));
        assert_eq!(parse_om_value(b"-Inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_om_value(b"+infinity"), Ok(f64::INFINITY));
        assert!(parse_om_value(b"nan").unwrap().is_nan());
        assert_eq!(parse_om_value(b"+NaN"), Err(ValueError::Syntax));
        assert_eq!(parse_om_value(b"1_000"), Err(ValueError::Syntax));
        assert_eq!(parse_om_value(b"0x1p-3"), Err(ValueError::Syntax));
        assert_eq!(parse_om_value(b"0b1"), Err(ValueError::Syntax));
        assert_eq!(parse_om_value(b"1e400"), Err(ValueError::OutOfRange));
    }

    #[test]
    fn openmetrics_timestamps_are_real_seconds_truncated_to_ms() {
        assert_eq!(parse_om_seconds(b"1.5e3"), Ok(1500.0));
        assert_eq!(parse_om_seconds(b"-1.1"), Ok(-1.1));
        assert_eq!(parse_om_seconds(b"Inf"), Err(ValueError::Syntax));
        assert_eq!(parse_om_seconds(b"NaN"), Err(ValueError::Syntax));
        assert_eq!(parse_om_seconds(b"1e400"), Err(ValueError::OutOfRange));
        assert_eq!(seconds_to_ms(1395066363.5), 1395066363500);
        assert_eq!(seconds_to_ms(-1.1), -1100);
        assert_eq!(seconds_to_ms(1.005), 1004, "float truncation, as Prometheus");
        assert_eq!(seconds_to_ms(1e-10), 0);
        assert_eq!(seconds_to_ms(1.2345678901234567e19), i64::MAX);
    }

    #[test]
    fn format_value_matches_go_formatfloat_g() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123.456, "123.456"),
            (1e21, "1e+21"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for &(v, want) in cases {
            assert_eq!(format_value(v), want, "{v:?}");
        }
    }
}
