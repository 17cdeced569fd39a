//! The CEL pre-checker never panics or overflows the stack: the text goes in
//! as a backtick expression and as a template hole, through the whole check.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else { return };
    if expr.contains(['`', '"', '\n']) {
        return; // would end the expression or the template: the parser's target covers that
    }
    let text = format!(
        "workflow w {{\n  input n: int = 1\n  step a {{\n    when `{expr}`\n    command \"echo ${{{expr}}}\"\n  }}\n}}\n"
    );
    let _ = flowc_compiler::check_files(&[("fuzz.flow", &text)]);
});
