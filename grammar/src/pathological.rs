//! Inputs built to hurt a parser (deep and unclosed brackets wherever brackets go), for the grammar's and compiler's tests and the parse benchmark.

/// A file whose one step has this body.
pub fn in_step(body: &str) -> String {
    format!("workflow w {{\n  step s {{\n    {body}\n  }}\n}}\n")
}

/// Every shape, `n` times over.
pub fn shapes(n: usize) -> Vec<(&'static str, String)> {
    let r = |s: &str| s.repeat(n);
    vec![
        ("top-level [", r("[")),
        ("top-level (", r("(")),
        ("top-level {", r("{")),
        ("top-level [(", r("[(")),
        ("top-level [}", r("[}")),
        ("top-level ([{", r("([{")),
        ("in a workflow (", format!("workflow w {{\n{}}}\n", r("(\n"))),
        ("step headers with (", format!("workflow w {{\n{}}}\n", r("  step s (\n"))),
        ("data [", in_step(&format!("with {{ a: {} }}", r("[")))),
        ("data [ closed", in_step(&format!("with {{ a: {}{} }}", r("["), r("]")))),
        ("data {", in_step(&format!("with {{ a: {} }}", r("{")))),
        ("data {a:", in_step(&format!("with {{ a: {} }}", r("{a:")))),
        ("data (", in_step(&format!("with {{ a: {} }}", r("(")))),
        ("type [", in_step(&format!("output {}", r("[")))),
        ("type {a:", in_step(&format!("output {}", r("{a:")))),
        ("hole {", in_step(&format!("command \"${{{}", r("{")))),
        ("hole { closed", in_step(&format!("command \"${{{}{}\"", r("{"), r("}")))),
        ("hole (", in_step(&format!("command \"${{{}}}\"", r("(")))),
        ("hole [", in_step(&format!("command \"${{{}}}\"", r("[")))),
        ("hole quote", in_step(&format!("command \"${{{}}}\"", r("'{")))),
        ("holes", in_step(&format!("command \"{}\"", r("${")))),
        ("dollars", in_step(&format!("command \"{}\"", r("$")))),
        ("cel (", in_step(&format!("when `{}`", r("(")))),
        ("cel ( closed", in_step(&format!("when `{}1{}`", r("("), r(")")))),
        ("cel [", in_step(&format!("when `{}`", r("[")))),
        ("cel {", in_step(&format!("when `{}`", r("{")))),
        ("words", in_step(&r("x "))),
        ("commas", in_step(&r(","))),
        ("colons", in_step(&r(":"))),
        ("quotes", in_step(&r("\""))),
        ("arrows", in_step(&r("-> "))),
        ("statements", in_step(&r("timeout 5s\n    "))),
        ("recover on every line", in_step(&r("x ] )\n    "))),
    ]
}

