//! Grammar productions shared by the text and OpenMetrics parsers.
//!
//! Productions work on one line (`&[u8]` without its `\n`) and are `nom`
//! parsers: they return the rest of the input and the recognised slice.
//! Escapes are kept as written; the `unescape_*` functions undo them only when
//! a backslash is present, so the common case borrows.

use std::borrow::Cow;

use nom::bytes::complete::take_while1;
use nom::error::{Error, ErrorKind as NomErrorKind};
use nom::{IResult, Input, Parser};

/// Byte classes as lookup tables: one load per byte on the hot path.
const fn class_table(start: bool, colon: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = c.is_ascii_alphabetic()
            || c == b'_'
            || (colon && c == b':')
            || (!start && c.is_ascii_digit());
        i += 1;
    }
    t
}

static METRIC_NAME_START: [bool; 256] = class_table(true, true);
static METRIC_NAME_CHAR: [bool; 256] = class_table(false, true);
static LABEL_NAME_START: [bool; 256] = class_table(true, false);
static LABEL_NAME_CHAR: [bool; 256] = class_table(false, false);

/// `[a-zA-Z_:]`: first character of a metric name.
#[inline]
pub fn is_metric_name_start(c: u8) -> bool {
    METRIC_NAME_START[c as usize]
}

/// `[a-zA-Z0-9_:]`: later characters of a metric name.
#[inline]
pub fn is_metric_name_char(c: u8) -> bool {
    METRIC_NAME_CHAR[c as usize]
}

/// `[a-zA-Z_]`: first character of a label name.
#[inline]
pub fn is_label_name_start(c: u8) -> bool {
    LABEL_NAME_START[c as usize]
}

/// `[a-zA-Z0-9_]`: later characters of a label name.
#[inline]
pub fn is_label_name_char(c: u8) -> bool {
    LABEL_NAME_CHAR[c as usize]
}

fn fail(i: &[u8]) -> nom::Err<Error<&[u8]>> {
    nom::Err::Error(Error::new(i, NomErrorKind::Verify))
}

/// `metricname = [a-zA-Z_:][a-zA-Z0-9_:]*`
#[inline]
pub fn metric_name(i: &[u8]) -> IResult<&[u8], &[u8]> {
    match i.first() {
        Some(&c) if is_metric_name_start(c) => {
            let len = 1 + i[1..].iter().take_while(|&&c| is_metric_name_char(c)).count();
            Ok((&i[len..], &i[..len]))
        }
        _ => Err(fail(i)),
    }
}

/// `labelname = [a-zA-Z_][a-zA-Z0-9_]*`
#[inline]
pub fn label_name(i: &[u8]) -> IResult<&[u8], &[u8]> {
    match i.first() {
        Some(&c) if is_label_name_start(c) => {
            let len = 1 + i[1..].iter().take_while(|&&c| is_label_name_char(c)).count();
            Ok((&i[len..], &i[..len]))
        }
        _ => Err(fail(i)),
    }
}

/// `quoted = '"' ( '\' any | [^"\] )* '"'`: returns the content between the
/// quotes with escapes as written.
pub fn quoted(i: &[u8]) -> IResult<&[u8], &[u8]> {
    if i.first() != Some(&b'"') {
        return Err(fail(i));
    }
    let body = &i[1..];
    let mut pos = 0;
    while let Some(off) = memchr::memchr2(b'"', b'\\', &body[pos..]) {
        let at = pos + off;
        if body[at] == b'"' {
            return Ok((&body[at + 1..], &body[..at]));
        }
        // A backslash escapes the next byte, whatever it is.
        if at + 1 >= body.len() {
            break;
        }
        pos = at + 2;
    }
    Err(fail(i))
}

/// `digits = 1*DIGIT`: the length of the run of ASCII digits at the start.
#[inline]
fn digit_run(i: &[u8]) -> usize {
    i.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// `[SIGN]`: the length (0 or 1) of an optional `+` or `-`.
#[inline]
fn sign_len(i: &[u8]) -> usize {
    usize::from(matches!(i.first(), Some(b'+' | b'-')))
}

/// OpenMetrics `realnumber`:
///
/// ```text
/// realnumber = [SIGN] 1*DIGIT [ "." *DIGIT ] [ "e" [SIGN] 1*DIGIT ]
///            / [SIGN] *DIGIT "." 1*DIGIT [ "e" [SIGN] 1*DIGIT ]
/// ```
///
/// `e` in either case (RFC 5234 strings are case-insensitive). An exponent
/// marker without digits is not consumed, so the caller sees it as rest.
pub fn realnumber(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let mut n = sign_len(i);
    let int = digit_run(&i[n..]);
    n += int;
    let mut frac = 0;
    if i.get(n) == Some(&b'.') {
        frac = digit_run(&i[n + 1..]);
        if int + frac > 0 {
            n += 1 + frac;
        }
    }
    if int + frac == 0 {
        return Err(fail(i));
    }
    if matches!(i.get(n), Some(b'e' | b'E')) {
        let sign = sign_len(&i[n + 1..]);
        let exp = digit_run(&i[n + 1 + sign..]);
        if exp > 0 {
            n += 1 + sign + exp;
        }
    }
    Ok((&i[n..], &i[..n]))
}

/// OpenMetrics `number`:
///
/// ```text
/// number = realnumber / [SIGN] ( "inf" / "infinity" ) / "nan"   ; words in any case
/// ```
pub fn number(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let word = |w: &[u8], at: usize| {
        i.get(at..at + w.len()).is_some_and(|s| s.eq_ignore_ascii_case(w)).then_some(at + w.len())
    };
    let sign = sign_len(i);
    let special =
        word(b"infinity", sign).or_else(|| word(b"inf", sign)).or_else(|| word(b"nan", 0));
    match special {
        Some(n) => Ok((&i[n..], &i[..n])),
        None => realnumber(i),
    }
}

/// `blank = [ \t]*`
#[inline]
pub fn blanks(i: &[u8]) -> &[u8] {
    let n = i.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    &i[n..]
}

/// `blank = [ \t]+`, required.
pub fn blanks1(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|c| c == b' ' || c == b'\t').parse(i)
}

/// A run of bytes up to the next blank (or `{`, which only a label set uses).
#[inline]
pub fn token(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let n = i.iter().take_while(|&&c| !matches!(c, b' ' | b'\t' | b'{')).count();
    if n == 0 {
        return Err(fail(i));
    }
    Ok((&i[n..], &i[..n]))
}

/// Splits `i` at the first byte where `pred` fails, without `nom` (hot path).
#[inline]
pub fn split_while(i: &[u8], pred: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let n = i.iter_elements().take_while(|&c| pred(c)).count();
    i.split_at(n)
}

/// Validates UTF-8.
#[inline]
pub fn utf8(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// The `&str` view of `part`, a sub-slice of `whole`'s bytes that starts and
/// ends on character boundaries (the grammar's delimiters are ASCII).
#[inline]
pub fn sub<'a>(whole: &'a str, part: &[u8]) -> &'a str {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    &whole[start..start + part.len()]
}

/// Undoes the label-value escapes `\\`, `\"` and `\n`, left to right; any
/// other backslash sequence is kept as written (as Prometheus does).
pub fn unescape_label(s: &str) -> Cow<'_, str> {
    unescape(s, true)
}

/// Undoes the HELP escapes `\\` and `\n`; any other backslash sequence is kept.
pub fn unescape_help(s: &str) -> Cow<'_, str> {
    unescape(s, false)
}

fn unescape(s: &str, quote: bool) -> Cow<'_, str> {
    if memchr::memchr(b'\\', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let mut ahead = chars.clone();
        match ahead.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars = ahead;
    }
    Cow::Owned(out)
}

/// Label-section re-lexing for [`super::Labels`]: a bare label name or a
/// quoted string at the start of `s`, unescaped, and the rest.
pub fn split_name_or_quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    if s.starts_with('"') {
        return split_quoted(s);
    }
    let (_, name) = label_name(s.as_bytes()).ok()?;
    Some((Cow::Borrowed(&s[..name.len()]), &s[name.len()..]))
}

/// A quoted string at the start of `s`, unescaped, and the rest.
pub fn split_quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let (rest, inner) = quoted(s.as_bytes()).ok()?;
    let inner_len = inner.len();
    let consumed = s.len() - rest.len();
    let raw = &s[1..1 + inner_len];
    Some((unescape_label(raw), &s[consumed..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_unescape(input: &str, label: &str, help: &str) {
        assert_eq!(unescape_label(input), label, "label escapes of {input:?}");
        assert_eq!(unescape_help(input), help, "help escapes of {input:?}");
    }

    #[test]
    fn unescape_undoes_only_the_defined_escapes() {
        check_unescape("plain", "plain", "plain");
        check_unescape(r"a\\b", r"a\b", r"a\b");
        check_unescape(r"a\nb", "a\nb", "a\nb");
        check_unescape(r#"a\"b"#, "a\"b", r#"a\"b"#);
        check_unescape(r"a\tb", r"a\tb", r"a\tb");
        check_unescape(r"a\\nb", "a\\nb", "a\\nb");
        check_unescape(r"trailing\", r"trailing\", r"trailing\");
        check_unescape(r"é\n☃", "é\n☃", "é\n☃");
    }

    #[test]
    fn quoted_stops_at_the_first_unescaped_quote() {
        assert_eq!(quoted(br#""ab" x"#), Ok((&b" x"[..], &b"ab"[..])));
        assert_eq!(quoted(br#""a\"b"x"#), Ok((&b"x"[..], &br#"a\"b"#[..])));
        assert_eq!(quoted(br#""a\\"x"#), Ok((&b"x"[..], &br"a\\"[..])));
        assert!(quoted(br#""unterminated"#).is_err());
        assert!(quoted(br#""ends in escape\""#).is_err());
        assert!(quoted(b"bare").is_err());
    }

    #[track_caller]
    fn check_number(input: &str, real: Option<&str>, number_: Option<&str>) {
        let got = realnumber(input.as_bytes()).ok().map(|(_, n)| n);
        assert_eq!(got, real.map(str::as_bytes), "realnumber of {input:?}");
        let got = number(input.as_bytes()).ok().map(|(_, n)| n);
        assert_eq!(got, number_.map(str::as_bytes), "number of {input:?}");
    }

    #[test]
    fn numbers_follow_the_openmetrics_abnf() {
        check_number("1", Some("1"), Some("1"));
        check_number("-0042 x", Some("-0042"), Some("-0042"));
        check_number("+1.5e-3", Some("+1.5e-3"), Some("+1.5e-3"));
        check_number("1.", Some("1."), Some("1."));
        check_number(".5E+2", Some(".5E+2"), Some(".5E+2"));
        check_number("1e", Some("1"), Some("1"));
        check_number("1e+", Some("1"), Some("1"));
        check_number("0x1p3", Some("0"), Some("0"));
        check_number(".", None, None);
        check_number("-", None, None);
        check_number("e5", None, None);
        check_number("Inf", None, Some("Inf"));
        check_number("-infinity", None, Some("-infinity"));
        check_number("+Infinityx", None, Some("+Infinity"));
        check_number("NaN", None, Some("NaN"));
        check_number("-NaN", None, None);
    }

    #[test]
    fn names_follow_their_character_classes() {
        assert_eq!(metric_name(b"a:b_c1 x"), Ok((&b" x"[..], &b"a:b_c1"[..])));
        assert!(metric_name(b"1abc").is_err());
        assert_eq!(label_name(b"_a1=x"), Ok((&b"=x"[..], &b"_a1"[..])));
        assert!(label_name(b":a").is_err());
    }
}
