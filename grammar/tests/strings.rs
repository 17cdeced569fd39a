//! Strings and templates read exactly as the reference says: escapes resolve,
//! runs of text stay whole, and `$` forms split into text and holes.

use flowc_grammar::ast::{Decl, StepStmtKind, TemplatePart, ValueKind};

/// The statements of the first step of the first workflow in `src`.
fn step_stmts(src: &str) -> Vec<StepStmtKind> {
    let parse = flowc_grammar::parse(src);
    assert!(parse.errors.is_empty(), "{:#?}", parse.errors);
    let wf = parse
        .file
        .decls
        .into_iter()
        .find_map(|d| match d {
            Decl::Workflow(w) => Some(w),
            _ => None,
        })
        .expect("a workflow");
    wf.steps()[0].stmts().cloned().collect()
}

/// A template's parts as (is_hole, text): the literal text, or the hole's expression.
fn parts(src: &str) -> Vec<(bool, String)> {
    let stmts = step_stmts(&format!("workflow w {{\n  step s {{\n    command \"{src}\"\n  }}\n}}\n"));
    let Some(StepStmtKind::Command(t)) = stmts.first() else { panic!("no command in {stmts:?}") };
    t.parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text { text, .. } => (false, text.clone()),
            TemplatePart::Hole(h) => (true, h.expr.text.clone()),
        })
        .collect()
}

#[test]
fn template_text_escapes_and_dollars() {
    assert_eq!(parts(r#"echo \"hi\" \\ \u{41}\n"#), vec![(false, "echo \"hi\" \\ A\n".to_string())]);
    assert_eq!(
        parts("cost $$5 and $HOME, $1, $(date), $?"),
        vec![(false, "cost $5 and $HOME, $1, $(date), $?".to_string())]
    );
    assert_eq!(parts(r"a \$ b"), vec![(false, "a $ b".to_string())]);
    assert_eq!(parts("$${VAR}"), vec![(false, "${VAR}".to_string())]);
}

#[test]
fn template_holes_split_the_text() {
    assert_eq!(
        parts("go ${inputs.x} then $a.b.c. done"),
        vec![
            (false, "go ".to_string()),
            (true, "inputs.x".to_string()),
            (false, " then ".to_string()),
            (true, "a.b.c".to_string()),
            (false, ". done".to_string()),
        ]
    );
    assert_eq!(parts("${ {'k': 'v}'}.k }"), vec![(true, " {'k': 'v}'}.k ".to_string())]);
}

#[test]
fn plain_strings_resolve_escapes_and_keep_dollars() {
    let stmts = step_stmts(
        "workflow w {\n  step s {\n    with { a: \"x ${y} \\\"q\\\" \\t $$\", b: \"\", c: \"multi\nline\" }\n  }\n}\n",
    );
    let Some(StepStmtKind::With(v)) = stmts.first() else { panic!("no with in {stmts:?}") };
    let fields = v.as_object().expect("an object");
    let text = |i: usize| match &fields[i].value.kind {
        ValueKind::String(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    };
    assert_eq!(text(0), "x ${y} \"q\" \t $$");
    assert_eq!(text(1), "");
    assert_eq!(text(2), "multi\nline");
}

/// A `"` ends the string even inside a single-quoted CEL string in a hole, as
/// the lexer (and so the formatter and brace matching) reads it; `\"` is how a
/// hole's CEL string holds a double quote.
#[test]
fn a_double_quote_ends_the_string_even_inside_a_hole() {
    let src = "workflow w {\n  step s {\n    command \"say ${'a\"b'}\"\n  }\n}\n";
    let codes: Vec<&str> = flowc_grammar::parse(src).errors.iter().map(|e| e.kind.code()).collect();
    // The hole is cut off at the `"`; the quote left over then opens a string
    // that never closes.
    assert_eq!(codes, vec!["E0109", "E0102"], "in {src}");
    assert_eq!(parts(r#"say ${'a\"b'}"#), vec![(false, "say ".to_string()), (true, r#"'a\"b'"#.to_string())]);
}
