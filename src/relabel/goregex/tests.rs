use regex::Regex;

use super::*;

/// Compiles Go pattern `go` as Prometheus anchors it and matches `input`.
#[track_caller]
fn matches(go: &str, input: &str) -> bool {
    let t = translate(&format!("^(?s:{go})$")).unwrap_or_else(|e| panic!("{go:?}: {e}"));
    let re = Regex::new(&t.pattern).unwrap_or_else(|e| panic!("{go:?} -> {:?}: {e}", t.pattern));
    assert_eq!(re.captures_len(), t.names.len(), "group count of {go:?} -> {:?}", t.pattern);
    re.is_match(input)
}

/// `go` matches every input in `yes` and none in `no`.
#[track_caller]
fn check(go: &str, yes: &[&str], no: &[&str]) {
    for input in yes {
        assert!(matches(go, input), "{go:?} should match {input:?}");
    }
    for input in no {
        assert!(!matches(go, input), "{go:?} should not match {input:?}");
    }
}

/// `go` is a Go syntax error with exactly this message.
#[track_caller]
fn check_err(go: &str, want: &str) {
    match translate(go) {
        Ok(t) => panic!("{go:?} translated to {:?}, want error {want:?}", t.pattern),
        Err(e) => assert_eq!(e.to_string(), want, "{go:?}"),
    }
}

#[test]
fn perl_classes_are_ascii() {
    check(r"\w+", &["abc_09", "Z"], &["é", "ab-"]);
    check(r"\W", &["é", "-"], &["a", "_"]);
    check(r"\d+", &["0123456789"], &["٣", "a"]);
    check(r"\D", &["٣", "a"], &["5"]);
    // Go's \s has no \v.
    check(r"\s", &["\t", "\n", "\x0C", "\r", " "], &["\x0B", "\u{A0}", "\u{2003}"]);
    check(r"\S", &["\x0B", "\u{A0}"], &[" "]);
    check(r"[\w-]+", &["a-b_c"], &["é"]);
    check(r"[\d\s]+", &["1 2\t3"], &["٣", "\x0B"]);
    check(r"[^\w]", &["é", "-"], &["a"]);
    check(r"[\D]", &["a"], &["1"]);
    check(r"[\S]", &["a"], &[" "]);
    check(r"[\W]", &["-"], &["a"]);
}

#[test]
fn case_folded_perl_classes_include_fold_partners() {
    // Go folds \w under (?i): the Kelvin sign and long s join [kKsS].
    check(r"(?i)\w", &["\u{212A}", "\u{17F}"], &["é"]);
    check(r"(?i)\W", &["é"], &["\u{212A}"]);
}

#[test]
fn word_boundaries_are_ascii() {
    check(r"a\b.*", &["a-", "a é"], &["ab"]);
    check(r"é\b.*", &["éa"], &["é-", "é"]);
    check(r".*\Bb", &["ab"], &["-b"]);
}

#[test]
fn brace_without_repetition_is_literal() {
    check("a{bar}", &["a{bar}"], &["a"]);
    check("a{,3}", &["a{,3}"], &[]);
    check("a{01}", &["a{01}"], &["a"]);
    check("a{1", &["a{1"], &[]);
    check("a{ 2}", &["a{ 2}"], &[]);
    check("{", &["{"], &[]);
    check("}", &["}"], &[]);
    check("]", &["]"], &[]);
    check("${1}", &[], &["${1}"]);
    check(r"\$\{1\}", &["${1}"], &[]);
    check("[$]{1}", &["$"], &[]);
    check("a{2}", &["aa"], &["a", "a{2}"]);
    check("a{2,}", &["aa", "aaa"], &["a"]);
    check("a{1,2}?", &["a", "aa"], &["aaa"]);
    check("a{0}", &[""], &["a"]);
    check("a{1000}", &[&"a".repeat(1000)], &[]);
}

#[test]
fn quoted_text_is_literal() {
    check(r"\Q.*+\E", &[".*+"], &["ab"]);
    check(r"a\Q(b\E", &["a(b"], &[]);
    check(r"\Qa\Eb*", &["a", "abb"], &["aa"]);
    check(r"\Q\E", &[""], &[]);
}

#[test]
fn escapes() {
    // Escaped punctuation is always the character itself in Go.
    check(r"\<\>\!\%\_\#\&\~\-", &["<>!%_#&~-"], &[]);
    check(r"\101\x41\x{41}\0", &["AAA\0"], &[]);
    check(r"\12", &["\n"], &[]);
    check(r"\a\f\t\n\r\v", &["\x07\x0C\t\n\r\x0B"], &[]);
    check(r"\Aab\z", &["ab"], &[]);
    check(r"\pL+\p{Greek}\PL\p{^Greek}\P{^L}", &["éαα1aé"], &[]);
    check(r"[\p{Greek}\d]+", &["α1"], &["a"]);
    check(r"[^\pL]", &["1"], &["a"]);
    // A surrogate code point is accepted and never matches.
    check(r"a\x{D800}?", &["a"], &["a\u{FFFD}"]);
    check(r"[\x{D800}]|b", &["b"], &["\u{FFFD}"]);
}

#[test]
fn classes_take_brackets_and_operators_literally() {
    check("[]a]", &["]", "a"], &["b"]);
    check("[^]a]", &["b"], &["]", "a"]);
    check("[a-]", &["a", "-"], &["b"]);
    check("[-a]", &["a", "-"], &["b"]);
    check("[a&&b]", &["a", "&", "b"], &["c"]);
    check("[a~~b]", &["~"], &["c"]);
    check("[+--]", &["+", ",", "-"], &["."]);
    check("[a-c-e]", &["b", "-", "e"], &["d"]);
    check("[[a]", &["[", "a"], &["]"]);
    check("[[:alpha:]]", &["a", "Z"], &["1"]);
    check("[[:^alpha:]]", &["1", "é"], &["a"]);
    check("[[:space:]]", &["\x0B"], &["a"]);
    check("[[:word:].]", &["_", "."], &["-"]);
    check("[.*+?(){}|^$]+", &[".*+?(){}|^$"], &["a"]);
    check(r"[\]\\\-]", &["]", "\\", "-"], &["a"]);
    check(r"[\n-\r]", &["\x0B"], &["a"]);
    check("[é-ë]", &["ê"], &["e"]);
    // Negated classes match newline (Go's ClassNL).
    check("[^a]", &["\n"], &["a"]);
    check("[:alpha:]", &[":", "a", "h"], &["b"]);
}

#[test]
fn groups_and_flags() {
    let t = translate("(a)(?P<x>b)(?:c)(?<y>d)(?i:e)(?P<x>f)").unwrap();
    assert_eq!(t.names, vec![None, None, Some("x".into()), Some("y".into()), Some("x".into())]);
    // Go allows names starting with a digit; they are emitted unnamed.
    let t = translate("(?P<1x>a)").unwrap();
    assert_eq!(t.names, vec![None, Some("1x".into())]);
    check("(?P<1x>a)", &["a"], &[]);
    check("(?i)abc", &["ABC", "aBc"], &["abd"]);
    check("a(?i)b", &["aB"], &["AB"]);
    check("(?i:a)b", &["Ab"], &["AB"]);
    check("(?s-s:.)", &["x"], &["\n"]);
    check("(?ii)a", &["A"], &[]);
    check("(?i-i)a", &["a"], &["A"]);
    check("(?-s:.)", &["x"], &["\n"]);
    check("(?m)a$\nb", &["a\nb"], &[]);
    check("(?U)(a+)", &["aaa"], &[]);
    check("(?)a", &["a"], &[]);
    check("a.b", &["a\nb"], &[]);
    check("a|b", &["a", "b"], &["ab"]);
}

#[test]
fn unbalanced_parenthesis_behaves_as_in_prometheus() {
    // Prometheus wraps as `^(?s:` + regex + `)$`, so `a)|(b` compiles and is
    // not fully anchored.
    check("a)|(b", &["a", "b", "ab"], &["c"]);
    // `\)` escapes the wrapper's parenthesis; `a)` closes the wrapper early.
    check(r"a)\", &["a)"], &["a"]);
}

#[test]
fn go_syntax_errors() {
    check_err("a**", "invalid nested repetition operator: `**`");
    check_err("a*?+", "invalid nested repetition operator: `*?+`");
    check_err("a{2}{3}", "invalid nested repetition operator: `{2}{3}`");
    check_err("a+*", "invalid nested repetition operator: `+*`");
    check_err("a{1001}", "invalid repeat count: `{1001}`");
    check_err("a{2,1}", "invalid repeat count: `{2,1}`");
    check_err("a{1,1001}", "invalid repeat count: `{1,1001}`");
    check_err("a{1000000000}", "invalid repeat count: `{1000000000}`");
    check_err(r"\e", r"invalid escape sequence: `\e`");
    check_err(r"\1", r"invalid escape sequence: `\1`");
    check_err(r"\C", r"invalid escape sequence: `\C`");
    check_err(r"\Z", r"invalid escape sequence: `\Z`");
    check_err(r"\x{110000}", r"invalid escape sequence: `\x{110000`");
    check_err(r"\xZ1", r"invalid escape sequence: `\xZ1`");
    check_err(r"[\b]", r"invalid escape sequence: `\b`");
    check_err("a\\", "trailing backslash at end of expression: ``");
    check_err("(?x)a", "invalid or unsupported Perl syntax: `(?x`");
    check_err("(?i-)a", "invalid or unsupported Perl syntax: `(?i-)`");
    check_err("(?--i)a", "invalid or unsupported Perl syntax: `(?--`");
    check_err("(?P=n)", "invalid or unsupported Perl syntax: `(?P`");
    check_err("(?i", "invalid or unsupported Perl syntax: `(?i`");
    check_err("(?P<a-b>x)", "invalid named capture: `(?P<a-b>`");
    check_err("(?P<>x)", "invalid named capture: `(?P<>`");
    check_err("(?P<ab", "invalid named capture: `(?P<ab`");
    check_err("[a", "missing closing ]: `[a`");
    check_err("[]", "missing closing ]: `[]`");
    check_err("[[:alpha:]", "missing closing ]: `[[:alpha:]`");
    check_err("[z-a]", "invalid character class range: `z-a`");
    check_err("[[:foo:]]", "invalid character class range: `[:foo:]`");
    check_err(r"\p{Script=Greek}", r"invalid character class range: `\p{Script=Greek}`");
    check_err(r"\p{Greek", r"invalid character class range: `\p{Greek`");
    check_err(r"\p", r"invalid character class range: `\p`");
}

#[test]
fn literal_escaping_survives_every_ascii_character() {
    for b in 0u8..0x80 {
        let c = char::from(b);
        let mut escaped = String::new();
        push_literal(&mut escaped, c);
        let re = Regex::new(&format!("^{escaped}$"))
            .unwrap_or_else(|e| panic!("{c:?} -> {escaped:?}: {e}"));
        assert!(re.is_match(&c.to_string()), "{c:?} -> {escaped:?}");
        let re = Regex::new(&format!("^[{escaped}]$"))
            .unwrap_or_else(|e| panic!("[{c:?}] -> {escaped:?}: {e}"));
        assert!(re.is_match(&c.to_string()), "[{c:?}] -> {escaped:?}");
    }
}
