//! Go `regexp/syntax` (RE2 with Go's Perl flags) rewritten into `regex` crate syntax.
//!
//! Prometheus compiles relabel regexes with Go's `regexp`. The `regex` crate takes
//! almost the same RE2 syntax, but a few constructs parse or match differently;
//! [`translate`] rewrites a Go pattern so that it matches exactly what Go matches:
//!
//! - `\d \s \w \b` and their negations are ASCII-only in Go (Unicode in the `regex`
//!   crate), and Go's `\s` is `[\t\n\f\r ]` (no `\v`);
//! - a `{` that does not start a valid counted repetition (`{n}`, `{n,}`, `{n,m}`,
//!   no leading zeros) is a literal in Go, an error in the `regex` crate;
//! - `\Q...\E` quotes literal text (unsupported by the `regex` crate);
//! - every escaped ASCII punctuation character is a literal in Go (`\<` is `<`,
//!   not a word boundary); octal escapes `\0`, `\12`, `\123` are characters;
//! - inside a class, `[` (unless it opens `[:name:]`), `&&`, `--` and `~~` are
//!   literals in Go, nesting or set operators in the `regex` crate;
//! - `\p{^Greek}` negates; `(?)` is an empty flag group;
//! - capture-group names follow Go (`[A-Za-z0-9_]+`, duplicates allowed): groups
//!   are emitted unnamed and their Go names returned in [`Translated::names`].
//!
//! Go's own syntax errors that the `regex` crate would accept (nested repetition
//! `a**`, counts above 1000, flags other than `imsU`, `\C`, unknown escapes, bad
//! group names) are reported with Go's wording. Everything else (unbalanced
//! parentheses, unknown Unicode classes, ...) is left to the `regex` crate.

use std::fmt;

/// A pattern in `regex` crate syntax plus the Go names of its capture groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Translated {
    pub pattern: String,
    /// Index `i` is the name of group `i` (Go's `SubexpNames`); index 0 is the
    /// whole match and always `None`.
    pub names: Vec<Option<String>>,
}

/// A syntax error as Go's `regexp/syntax` words it: `code: `expr``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    code: &'static str,
    expr: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}`", self.code, self.expr)
    }
}

const INVALID_CHAR_RANGE: &str = "invalid character class range";
const INVALID_ESCAPE: &str = "invalid escape sequence";
const INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const MISSING_BRACKET: &str = "missing closing ]";
const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";

/// Go's POSIX class names (`[:name:]` inside a bracket expression).
const POSIX_CLASSES: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's largest counted repetition.
const MAX_REPEAT: i64 = 1000;

/// Rewrites the Go pattern `src` (without Prometheus' anchors) into `regex`
/// crate syntax.
pub(super) fn translate(src: &str) -> Result<Translated, SyntaxError> {
    let mut t = Translator {
        src,
        pos: 0,
        out: String::with_capacity(src.len() + 8),
        names: vec![None],
        last_repeat: None,
    };
    t.run()?;
    Ok(Translated { pattern: t.out, names: t.names })
}

struct Translator<'a> {
    src: &'a str,
    pos: usize,
    out: String,
    names: Vec<Option<String>>,
    /// Start of the previous token when it was a repetition operator (Go's
    /// `lastRepeat`): a repetition right after one is an error.
    last_repeat: Option<usize>,
}

fn err(code: &'static str, expr: &str) -> SyntaxError {
    SyntaxError { code, expr: expr.to_owned() }
}

impl<'a> Translator<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Go's `parse` main loop, one token per iteration.
    fn run(&mut self) -> Result<(), SyntaxError> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            let mut repeat = None;
            match c {
                '(' if self.rest().starts_with("(?") => self.perl_flags()?,
                '(' => {
                    self.pos += 1;
                    self.names.push(None);
                    self.out.push('(');
                }
                '|' | ')' | '^' | '$' | '.' => {
                    self.pos += 1;
                    self.out.push(c);
                }
                '[' => self.class()?,
                '*' | '+' | '?' => {
                    self.pos += 1;
                    self.out.push(c);
                    self.repeat_suffix()?;
                    repeat = Some(start);
                }
                '{' => match parse_repeat(self.rest()) {
                    Some((min, max, len)) => {
                        let text = &self.src[start..start + len];
                        // Go: counts up to 1000; max (-1: none) not below min.
                        let valid = (0..=MAX_REPEAT).contains(&min)
                            && max <= MAX_REPEAT
                            && (max < 0 || min <= max);
                        if !valid {
                            return Err(err(INVALID_REPEAT_SIZE, text));
                        }
                        self.out.push_str(text);
                        self.pos += len;
                        self.repeat_suffix()?;
                        repeat = Some(start);
                    }
                    // Not a repetition: a literal `{`.
                    None => {
                        self.pos += 1;
                        self.out.push_str("\\{");
                    }
                },
                '\\' => self.escape()?,
                _ => {
                    self.pos += c.len_utf8();
                    push_literal(&mut self.out, c);
                }
            }
            self.last_repeat = repeat;
        }
        Ok(())
    }

    /// After a repetition operator: the optional non-greedy `?`, then Go's
    /// nested-repetition check.
    fn repeat_suffix(&mut self) -> Result<(), SyntaxError> {
        if self.peek() == Some('?') {
            self.pos += 1;
            self.out.push('?');
        }
        match self.last_repeat {
            Some(last) => Err(err(INVALID_REPEAT_OP, &self.src[last..self.pos])),
            None => Ok(()),
        }
    }

    /// Go's `parsePerlFlags`: `(?P<name>`, `(?<name>`, `(?flags)`, `(?flags:`.
    fn perl_flags(&mut self) -> Result<(), SyntaxError> {
        let rest = self.rest();
        let starts_with_p = rest.len() > 4 && rest[2..].starts_with("P<");
        let starts_with_name = rest.len() > 3 && rest[2..].starts_with('<');
        if starts_with_p || starts_with_name {
            let name_start = if starts_with_p { 4 } else { 3 };
            let Some(end) = rest.find('>') else {
                return Err(err(INVALID_NAMED_CAPTURE, rest));
            };
            let name = &rest[name_start..end];
            if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
                return Err(err(INVALID_NAMED_CAPTURE, &rest[..=end]));
            }
            self.names.push(Some(name.to_owned()));
            self.out.push('(');
            self.pos += end + 1;
            return Ok(());
        }

        let mut negated = false;
        let mut saw_flag = false;
        let mut i = 2;
        for c in rest[2..].chars() {
            i += c.len_utf8();
            match c {
                'i' | 'm' | 's' | 'U' => saw_flag = true,
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' if !negated || saw_flag => {
                    let flags = canonical_flags(&rest[2..i - 1]);
                    match (flags.is_empty(), c) {
                        (true, ':') => self.out.push_str("(?:"),
                        // `(?)` changes nothing.
                        (true, _) => {}
                        (false, _) => {
                            self.out.push_str("(?");
                            self.out.push_str(&flags);
                            self.out.push(c);
                        }
                    }
                    self.pos += i;
                    return Ok(());
                }
                _ => break,
            }
        }
        Err(err(INVALID_PERL_OP, &rest[..i]))
    }

    /// A backslash outside a class.
    fn escape(&mut self) -> Result<(), SyntaxError> {
        let start = self.pos;
        let Some(c) = self.rest()[1..].chars().next() else {
            return Err(err(TRAILING_BACKSLASH, ""));
        };
        match c {
            'A' | 'z' => {
                self.pos += 2;
                self.out.push('\\');
                self.out.push(c);
            }
            // Go's word boundaries are ASCII ones.
            'b' => {
                self.pos += 2;
                self.out.push_str(r"(?-u:\b)");
            }
            'B' => {
                self.pos += 2;
                self.out.push_str(r"(?-u:\B)");
            }
            'C' => return Err(err(INVALID_ESCAPE, r"\C")),
            'Q' => {
                let text = &self.src[start + 2..];
                let (literal, len) = match text.find(r"\E") {
                    Some(i) => (&text[..i], i + 2),
                    None => (text, text.len()),
                };
                for ch in literal.chars() {
                    push_literal(&mut self.out, ch);
                }
                self.pos = start + 2 + len;
            }
            'p' | 'P' => {
                let class = self.unicode_class()?;
                self.out.push_str(&class);
            }
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.pos += 2;
                self.out.push_str(perl_class(c, false));
            }
            _ => match char::from_u32(self.single_escape()?) {
                Some(ch) => push_literal(&mut self.out, ch),
                // A surrogate code point (Go accepts `\x{D800}`): it never
                // occurs in a string, so this matches nothing.
                None => self.out.push_str(r"[^\x{0}-\x{10FFFF}]"),
            },
        }
        Ok(())
    }

    /// Go's `parseEscape`: one escaped character, as a code point (Go accepts
    /// surrogates here).
    fn single_escape(&mut self) -> Result<u32, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.next_char() else {
            return Err(err(TRAILING_BACKSLASH, ""));
        };
        let is_octal = |c: Option<char>| matches!(c, Some('0'..='7'));
        let code = match c {
            '1'..='7' if !is_octal(self.peek()) => None,
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            r = r * 8 + (d as u32 - '0' as u32);
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                Some(r)
            }
            'x' => self.hex_escape(),
            'a' => Some(0x07),
            'f' => Some(0x0C),
            'n' => Some(0x0A),
            'r' => Some(0x0D),
            't' => Some(0x09),
            'v' => Some(0x0B),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Some(c as u32),
            _ => None,
        };
        code.ok_or_else(|| err(INVALID_ESCAPE, &self.src[start..self.pos]))
    }

    /// After `\x`: two hex digits or `{hex+}` up to U+10FFFF.
    fn hex_escape(&mut self) -> Option<u32> {
        if self.peek() == Some('{') {
            self.pos += 1;
            let mut r: u32 = 0;
            let mut digits = 0;
            loop {
                let c = self.next_char()?;
                if c == '}' {
                    break;
                }
                r = r * 16 + c.to_digit(16)?;
                if r > 0x10FFFF {
                    return None;
                }
                digits += 1;
            }
            return (digits > 0).then_some(r);
        }
        let hi = self.next_char()?.to_digit(16);
        let lo = self.next_char()?.to_digit(16);
        Some(hi? * 16 + lo?)
    }

    /// Go's `parseUnicodeClass` at `\p` or `\P`: `\pL`, `\p{Greek}`, `\p{^Greek}`.
    fn unicode_class(&mut self) -> Result<String, SyntaxError> {
        let rest = self.rest();
        let mut negated = rest.as_bytes()[1] == b'P';
        let (seq, name) = match rest[2..].chars().next() {
            Some('{') => match rest.find('}') {
                Some(end) => (&rest[..=end], &rest[3..end]),
                None => return Err(err(INVALID_CHAR_RANGE, rest)),
            },
            Some(c) => (&rest[..2 + c.len_utf8()], &rest[2..2 + c.len_utf8()]),
            None => (rest, ""),
        };
        let name = match name.strip_prefix('^') {
            Some(n) => {
                negated = !negated;
                n
            }
            None => name,
        };
        // Go names are letters, `_`, `-` and spaces; the regex crate also takes
        // `Script=Greek` and the like, which Go rejects.
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
        {
            return Err(err(INVALID_CHAR_RANGE, seq));
        }
        self.pos += seq.len();
        Ok(format!("\\{}{{{}}}", if negated { 'P' } else { 'p' }, name))
    }

    /// Go's `parseClass`: a bracket expression, re-emitted item by item.
    fn class(&mut self) -> Result<(), SyntaxError> {
        let class_start = self.pos;
        self.pos += 1;
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut items = String::new();
        let mut first = true;
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return Err(err(MISSING_BRACKET, &self.src[class_start..]));
            }
            if rest.starts_with(']') && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if rest.len() > 2 && rest.starts_with("[:") {
                if let Some(i) = rest[2..].find(":]") {
                    let seq = &rest[..i + 4];
                    let inner = &rest[2..i + 2];
                    if !POSIX_CLASSES.contains(&inner.strip_prefix('^').unwrap_or(inner)) {
                        return Err(err(INVALID_CHAR_RANGE, seq));
                    }
                    items.push_str(seq);
                    self.pos += seq.len();
                    continue;
                }
            }
            if rest.starts_with(r"\p") || rest.starts_with(r"\P") {
                items.push_str(&self.unicode_class()?);
                continue;
            }
            if let Some(c @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) =
                rest.strip_prefix('\\').and_then(|r| r.chars().next())
            {
                items.push_str(perl_class(c, true));
                self.pos += 2;
                continue;
            }
            let range_start = self.pos;
            let lo = self.class_char(class_start)?;
            let mut hi = lo;
            let rest = self.rest();
            if rest.len() >= 2 && rest.starts_with('-') && !rest[1..].starts_with(']') {
                self.pos += 1;
                hi = self.class_char(class_start)?;
                if hi < lo {
                    return Err(err(INVALID_CHAR_RANGE, &self.src[range_start..self.pos]));
                }
            }
            push_class_range(&mut items, lo, hi);
        }
        if items.is_empty() {
            // Only surrogates: a class that matches nothing (or everything).
            items.push_str(r"\x{0}-\x{10FFFF}");
            self.out.push_str(if negated { "[" } else { "[^" });
        } else {
            self.out.push_str(if negated { "[^" } else { "[" });
        }
        self.out.push_str(&items);
        self.out.push(']');
        Ok(())
    }

    /// Go's `parseClassChar`, as a code point (surrogates included).
    fn class_char(&mut self, class_start: usize) -> Result<u32, SyntaxError> {
        match self.peek() {
            None => Err(err(MISSING_BRACKET, &self.src[class_start..])),
            Some('\\') => self.single_escape(),
            Some(c) => {
                self.pos += c.len_utf8();
                Ok(c as u32)
            }
        }
    }
}

/// Go flags `set-cleared` (already checked) without the repetitions that Go
/// allows and the regex crate rejects (`ii`, `s-s`): a flag both set and cleared
/// ends up cleared, as in Go.
fn canonical_flags(flags: &str) -> String {
    let (set, cleared) = flags.split_once('-').unwrap_or((flags, ""));
    let mut out: String =
        "imsU".chars().filter(|&f| set.contains(f) && !cleared.contains(f)).collect();
    if !cleared.is_empty() {
        out.push('-');
        out.extend("imsU".chars().filter(|&f| cleared.contains(f)));
    }
    out
}

/// Go's `parseRepeat` on text starting with `{`: `(min, max, length)`, max -1
/// for `{n,}`, min -1 when a number is too big. `None`: not a repetition.
fn parse_repeat(s: &str) -> Option<(i64, i64, usize)> {
    let mut rest = s.strip_prefix('{')?;
    let (mut min, after) = parse_int(rest)?;
    rest = after;
    let max;
    if let Some(after) = rest.strip_prefix(',') {
        rest = after;
        if rest.starts_with('}') {
            max = -1;
        } else {
            let (m, after) = parse_int(rest)?;
            rest = after;
            max = m;
            if m < 0 {
                min = -1;
            }
        }
    } else {
        max = min;
    }
    rest = rest.strip_prefix('}')?;
    Some((min, max, s.len() - rest.len()))
}

/// Go's `parseInt`: decimal digits without leading zeros; -1 when too big.
fn parse_int(s: &str) -> Option<(i64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || (digits >= 2 && s.starts_with('0')) {
        return None;
    }
    let mut n: i64 = 0;
    for b in s[..digits].bytes() {
        if n >= 100_000_000 {
            n = -1;
            break;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some((n, &s[digits..]))
}

/// Go's ASCII Perl classes, as a standalone class or as class items.
fn perl_class(c: char, in_class: bool) -> &'static str {
    match (c, in_class) {
        ('d', false) => "[0-9]",
        ('d', true) => "0-9",
        ('D', _) => "[^0-9]",
        ('s', false) => r"[\t\n\x0C\r\x20]",
        ('s', true) => r"\t\n\x0C\r\x20",
        ('S', _) => r"[^\t\n\x0C\r\x20]",
        ('w', false) => "[0-9A-Za-z_]",
        ('w', true) => "0-9A-Za-z_",
        ('W', _) => "[^0-9A-Za-z_]",
        _ => unreachable!("BUG: not a Perl class letter: {c}"),
    }
}

/// Appends `c` so that the regex crate reads it as that literal character, in
/// or out of a class.
fn push_literal(out: &mut String, c: char) {
    match c {
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
        | '#' | '&' | '-' | '~' => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_control() => {
            use std::fmt::Write;
            let _ = write!(out, "\\x{{{:X}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// Appends a class range, leaving out surrogate code points (Go accepts them in
/// ranges; they never occur in a string).
fn push_class_range(items: &mut String, lo: u32, hi: u32) {
    const SURROGATES: std::ops::RangeInclusive<u32> = 0xD800..=0xDFFF;
    let lo = if SURROGATES.contains(&lo) { 0xE000 } else { lo };
    let hi = if SURROGATES.contains(&hi) { 0xD7FF } else { hi };
    let (Some(lo_c), Some(hi_c)) = (char::from_u32(lo), char::from_u32(hi)) else {
        return;
    };
    if lo > hi {
        return;
    }
    push_literal(items, lo_c);
    if hi != lo {
        items.push('-');
        push_literal(items, hi_c);
    }
}

#[cfg(test)]
mod tests;
