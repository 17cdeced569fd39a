//! The parser never panics and never fails: any text gives a tree and errors.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = flowc_grammar::parse(text);
        for e in &parsed.errors {
            assert!(e.span.end as usize <= text.len(), "spans stay inside the text");
        }
    }
});
