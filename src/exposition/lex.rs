//! Grammar productions shared by the text and OpenMetrics parsers.
//!
//! Productions work on one line (`&[u8]` without its `\n`) and are `nom`
//! parsers: they return the rest of the input and the recognised slice.
//! Escapes are kept as written; the `unescape_*` functions undo them only when
//! a backslash is present, so the common case borrows.

use std::borrow::Cow;

use nom::bytes::complete::{take_while, take_while1};
use nom::error::{Error, ErrorKind as NomErrorKind};
use nom::{IResult, Input, Parser};

/// `[a-zA-Z_:]`: first character of a metric name.
#[inline]
pub fn is_metric_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

/// `[a-zA-Z0-9_:]`: later characters of a metric name.
#[inline]
pub fn is_metric_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// `[a-zA-Z_]`: first character of a label name.
#[inline]
pub fn is_label_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

/// `[a-zA-Z0-9_]`: later characters of a label name.
#[inline]
pub fn is_label_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn fail(i: &[u8]) -> nom::Err<Error<&[u8]>> {
    nom::Err::Error(Error::new(i, NomErrorKind::Verify))
}

/// `metricname = [a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn metric_name(i: &[u8]) -> IResult<&[u8], &[u8]> {
    match i.first() {
        Some(&c) if is_metric_name_start(c) => {
            let (rest, _) = take_while(is_metric_name_char).parse(&i[1..])?;
            let len = i.len() - rest.len();
            Ok((rest, &i[..len]))
        }
        _ => Err(fail(i)),
    }
}

/// `labelname = [a-zA-Z_][a-zA-Z0-9_]*`
pub fn label_name(i: &[u8]) -> IResult<&[u8], &[u8]> {
    match i.first() {
        Some(&c) if is_label_name_start(c) => {
            let (rest, _) = take_while(is_label_name_char).parse(&i[1..])?;
            let len = i.len() - rest.len();
            Ok((rest, &i[..len]))
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
pub fn token(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_while1(|c| !matches!(c, b' ' | b'\t' | b'{')).parse(i)
}

/// Splits `i` at the first byte where `pred` fails, without `nom` (hot path).
#[inline]
pub fn split_while(i: &[u8], pred: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let n = i.iter_elements().take_while(|&c| pred(c)).count();
    i.split_at(n)
}

/// Validates UTF-8 with an ASCII fast path.
#[inline]
pub fn utf8(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
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
    if !s.contains('\\') {
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

    #[test]
    fn names_follow_their_character_classes() {
        assert_eq!(metric_name(b"a:b_c1 x"), Ok((&b" x"[..], &b"a:b_c1"[..])));
        assert!(metric_name(b"1abc").is_err());
        assert_eq!(label_name(b"_a1=x"), Ok((&b"=x"[..], &b"_a1"[..])));
        assert!(label_name(b":a").is_err());
    }
}
