//! The formatter never panics, refuses exactly what has syntax errors, and is
//! idempotent on what it formats.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = flowc_grammar::parse(text);
    match flowc_grammar::format(text) {
        Ok(once) => {
            assert!(parsed.errors.is_empty(), "formatted a file with syntax errors");
            assert_eq!(flowc_grammar::format(&once).as_deref(), Ok(once.as_str()), "not idempotent");
        }
        Err(_) => assert!(!parsed.errors.is_empty(), "refused a file without syntax errors"),
    }
});
