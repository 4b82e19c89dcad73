//! `lowercase` / `uppercase` as Go's `strings.ToLower` / `strings.ToUpper`.
//!
//! Go maps each character on its own with Unicode's simple case mapping (one
//! character to one character). Rust's `char::to_lowercase`/`to_uppercase` give
//! the full mapping, which is the simple one except where it expands to several
//! characters (`ß` -> `SS`, `İ` -> `i̇`); for those, Go's single-character result
//! is used instead. `str::to_lowercase` is avoided because it also applies the
//! context-dependent final sigma rule, which Go does not.
//!
//! Characters that Unicode assigned after the version Go's tables were built
//! from may still map differently.

/// Go's `strings.ToLower`.
pub(super) fn to_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars().map(simple_lower).collect()
}

/// Go's `strings.ToUpper`.
pub(super) fn to_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars().map(simple_upper).collect()
}

fn simple_lower(c: char) -> char {
    let mut full = c.to_lowercase();
    match (full.next(), full.next()) {
        (Some(l), None) => l,
        // The only multi-character lowercase mapping: U+0130 (İ), whose simple
        // mapping is `i`.
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

fn simple_upper(c: char) -> char {
    let mut full = c.to_uppercase();
    match (full.next(), full.next()) {
        (Some(u), None) => u,
        _ => simple_upper_of_expanding(c),
    }
}

/// Simple uppercase mapping of the characters whose full mapping expands to
/// several characters (UnicodeData.txt): only Greek letters with ypogegrammeni
/// map to another character (their titlecase form); the rest (`ß`, ligatures,
/// ...) have no simple mapping and stay as they are.
fn simple_upper_of_expanding(c: char) -> char {
    let mapped = match c as u32 {
        cp @ (0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7) => cp + 8,
        0x1FB3 => 0x1FBC,
        0x1FC3 => 0x1FCC,
        0x1FF3 => 0x1FFC,
        _ => return c,
    };
    char::from_u32(mapped).expect("BUG: Greek titlecase letters are valid chars")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, lower: &str, upper: &str) {
        assert_eq!(to_lower(input), lower, "lower of {input:?}");
        assert_eq!(to_upper(input), upper, "upper of {input:?}");
    }

    #[test]
    fn ascii_maps_letters_only() {
        check("bAr123Foo", "bar123foo", "BAR123FOO");
        check("", "", "");
        check("a-b_c.D", "a-b_c.d", "A-B_C.D");
    }

    #[test]
    fn non_ascii_uses_simple_mapping() {
        check("Ärger", "ärger", "ÄRGER");
        // Go: ß has no simple uppercase mapping; Rust's full mapping is "SS".
        check("straße", "straße", "STRAßE");
        // Go: İ lowercases to plain i; Rust's full mapping adds U+0307.
        check("İ", "i", "İ");
        // No final-sigma rule in Go.
        check("ΟΔΟΣ", "οδοσ", "ΟΔΟΣ");
        // Ligatures stay; ypogegrammeni letters take their titlecase form.
        check("ﬁ", "ﬁ", "ﬁ");
        check("ᾳ", "ᾳ", "ᾼ");
        check("ᾀ", "ᾀ", "ᾈ");
    }
}
