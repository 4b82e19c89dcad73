//! Fuzz target: the Text parser on arbitrary bytes must never panic, and
//! every label of every accepted sample must be readable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern::exposition::{Entry, Format, Parser};

fuzz_target!(|body: &[u8]| {
    for entry in Parser::new(Format::Text, body) {
        if let Ok(Entry::Sample(s)) = entry {
            for label in s.labels() {
                assert!(!label.name.is_empty());
            }
            if let Some(e) = &s.exemplar {
                let _ = e.labels().count();
            }
        }
    }
});
