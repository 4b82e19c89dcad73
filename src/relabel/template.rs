//! Replacement templates, expanded as Go's `Regexp.Expand` does.
//!
//! A template is parsed once (when the rule is built) into literal text and
//! group references, so expansion only copies. Go's rules:
//! - `$$` is a literal `$`;
//! - `$name` and `${name}` refer to a group, where a name is a non-empty run of
//!   Unicode letters, decimal digits and `_`; the unbraced form takes the longest
//!   run, so `$1x` names the group `1x` (which does not exist: it expands to
//!   nothing), and `${1}x` is group 1 followed by `x`;
//! - an all-digit name of at most 9 digits without a leading zero is a group
//!   number (`$0` is the whole match); any other name looks up named groups, the
//!   first one with that name that took part in the match;
//! - a reference to a group that does not exist or did not take part in the
//!   match expands to nothing;
//! - a `$` not followed by a valid reference (`$`, `$-`, `${}`, `${1`) is literal.

use std::sync::LazyLock;

use regex::{Captures, Regex};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// A group by number.
    Group(usize),
    /// Groups with one name, in order: the first that matched is used.
    Named(Vec<usize>),
}

/// Go's `extract`: letters (Unicode category L), decimal digits (Nd) and `_`.
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\p{L}\p{Nd}_]+").expect("BUG: template name pattern must compile")
});

impl Template {
    /// Parses `template` against a regex whose group `i` is named `names[i]`.
    pub(super) fn parse(template: &str, names: &[Option<String>]) -> Template {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = template;
        while let Some(i) = rest.find('$') {
            literal.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            if let Some(after) = rest.strip_prefix('$') {
                literal.push('$');
                rest = after;
                continue;
            }
            let Some((name, after)) = extract(rest) else {
                literal.push('$');
                continue;
            };
            rest = after;
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            match group_number(name) {
                Some(n) => pieces.push(Piece::Group(n)),
                None => {
                    let groups: Vec<usize> =
                        (0..names.len()).filter(|&g| names[g].as_deref() == Some(name)).collect();
                    if !groups.is_empty() {
                        pieces.push(Piece::Named(groups));
                    }
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Template { pieces }
    }

    /// The expansion when the template has no group references.
    pub(super) fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Literal(s)] => Some(s),
            _ => None,
        }
    }

    /// Appends the expansion for one match to `out`.
    pub(super) fn expand(&self, caps: &Captures<'_>, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(n) => {
                    if let Some(m) = caps.get(*n) {
                        out.push_str(m.as_str());
                    }
                }
                Piece::Named(groups) => {
                    if let Some(m) = groups.iter().find_map(|&g| caps.get(g)) {
                        out.push_str(m.as_str());
                    }
                }
            }
        }
    }
}

/// Go's `extract` after the `$`: the name and the text after the reference.
fn extract(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let len = NAME.find(body)?.end();
    let (name, after) = body.split_at(len);
    if braced {
        Some((name, after.strip_prefix('}')?))
    } else {
        Some((name, after))
    }
}

/// Go's number rule: all ASCII digits, no leading zero (except `0`), fewer than
/// ten digits.
fn group_number(name: &str) -> Option<usize> {
    let all_digits = name.bytes().all(|b| b.is_ascii_digit());
    if !all_digits || name.len() > 9 || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands `template` for `regex` (anchored) matching `input`.
    #[track_caller]
    fn check(regex: &str, names: &[Option<&str>], template: &str, input: &str, want: &str) {
        let re = Regex::new(&format!("^(?s:{regex})$")).unwrap();
        let names: Vec<Option<String>> = names.iter().map(|n| n.map(str::to_owned)).collect();
        let caps = re.captures(input).expect("test regex must match");
        let mut got = String::new();
        Template::parse(template, &names).expand(&caps, &mut got);
        assert_eq!(got, want, "template {template:?}");
    }

    #[test]
    fn numbered_references_in_both_forms() {
        let names = [None, None, None];
        check("(a+)-(b+)", &names, "$1", "aa-b", "aa");
        check("(a+)-(b+)", &names, "${2}", "aa-b", "b");
        check("(a+)-(b+)", &names, "x${1}y${2}z", "aa-b", "xaaybz");
        check("(a+)-(b+)", &names, "$0", "aa-b", "aa-b");
        check("f(.*)", &[None, None], "ch${1}-ch${1}", "foo", "choo-choo");
    }

    #[test]
    fn unbraced_name_is_longest_run() {
        let names = [None, None, None];
        // `$1x` is the group named "1x": absent, so empty.
        check("(a+)-(b+)", &names, "$1x", "aa-b", "");
        check("(a+)-(b+)", &names, "${1}x", "aa-b", "aax");
        // `$10` is group ten, not group one followed by "0".
        check("(a+)-(b+)", &names, "$10", "aa-b", "");
        check("(a+)-(b+)", &names, "x${1}y$2z", "aa-b", "xaay");
        check("(a+)-(b+)", &names, "$1_$2", "aa-b", "b");
        check("(a+)-(b+)", &names, "$1-$2", "aa-b", "aa-b");
        // Unicode letters continue a name as in Go.
        check("(a+)-(b+)", &names, "$1é", "aa-b", "");
    }

    #[test]
    fn dollar_forms_that_are_not_references_are_literal() {
        let names = [None, None];
        check("(a)", &names, "$$1", "a", "$1");
        check("(a)", &names, "$", "a", "$");
        check("(a)", &names, "a$-b", "a", "a$-b");
        check("(a)", &names, "${}", "a", "${}");
        check("(a)", &names, "${1", "a", "${1");
        check("(a)", &names, "${1 }", "a", "${1 }");
        check("(a)", &names, "$$$1", "a", "$a");
    }

    #[test]
    fn missing_or_unmatched_groups_expand_to_nothing() {
        let names = [None, None, None];
        check("(a)|(b)", &names, "[$1|$2]", "b", "[|b]");
        check("(a)", &[None, None], "[$3]", "a", "[]");
        check("(a)", &[None, None], "[$999999999]", "a", "[]");
        check("(a)", &[None, None], "[$01]", "a", "[]");
    }

    #[test]
    fn named_references_use_the_first_matching_group_of_that_name() {
        let names = [None, Some("x"), Some("x"), Some("y")];
        check("(a)|(b)|(c)", &names, "$x", "a", "a");
        check("(a)|(b)|(c)", &names, "${x}", "b", "b");
        check("(a)|(b)|(c)", &names, "<$y>", "c", "<c>");
        check("(a)|(b)|(c)", &names, "<$z>", "c", "<>");
        // A leading zero makes "01" a name, not a number.
        check("(a)", &[None, Some("01")], "$01", "a", "a");
    }

    #[test]
    fn literal_templates_are_recognised() {
        assert_eq!(Template::parse("job", &[None]).as_literal(), Some("job"));
        assert_eq!(Template::parse("a$$b", &[None]).as_literal(), Some("a$b"));
        assert_eq!(Template::parse("", &[None]).as_literal(), Some(""));
        assert_eq!(Template::parse("$1", &[None]).as_literal(), None);
        // A reference to a name that no group has is dropped at parse time.
        assert_eq!(Template::parse("a${nope}b", &[None]).as_literal(), None);
    }
}
