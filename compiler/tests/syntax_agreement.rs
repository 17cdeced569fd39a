//! `check` and `fmt` agree on what is a syntax error: over random mutations
//! of the example files, `check` reports an E01xx code exactly when the
//! formatter refuses, neither panics, and what the formatter accepts it
//! formats idempotently. Also the misplaced-statement and naming errors that
//! used to pass `check` silently.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use flowc_compiler::{Code, Diagnostic, check_files};

fn examples() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "flow") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                out.push((path, text));
            }
        }
    }
    out.sort();
    out
}

fn check(text: &str) -> Vec<Diagnostic> {
    check_files(&[("m.flow", text)])
}

fn is_syntax(code: Code) -> bool {
    code.as_str().starts_with("E01")
}

/// Text the mutations insert: brackets, quotes, holes, separators, keywords
/// and the characters that have tripped the splitter before.
const INSERTS: &[&str] = &[
    "{", "}", "[", "]", "(", ")", "\"", "`", "'", "${", "$", ":", ",", "-", "->", "=", "\n", " ", "//", "/*", "*/",
    "\u{FEFF}", "step x {}", "timeout 5s", "retry 3", "parallel p {", "gate", "\\", "#", "0", "x", "→", "é-",
];

/// One random edit of `text`, on a char boundary.
fn mutate(rng: &mut fastrand::Rng, text: &str) -> String {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let at = bounds[rng.usize(..bounds.len())];
    let to = bounds[rng.usize(bounds.iter().position(|&b| b == at).unwrap_or(0)..bounds.len())].min(at + 80);
    let to = if text.is_char_boundary(to) { to } else { at };
    match rng.u8(..5) {
        4 => {
            // At the start of a line's text, where statements begin and the
            // splitter cuts pieces.
            let starts: Vec<usize> = text
                .match_indices('\n')
                .map(|(i, _)| i + 1 + text[i + 1..].bytes().take_while(|b| *b == b' ').count())
                .collect();
            let at = starts.get(rng.usize(..starts.len().max(1))).copied().unwrap_or(0).min(text.len());
            format!("{}{}{}", &text[..at], INSERTS[rng.usize(..INSERTS.len())], &text[at..])
        }
        0 => format!("{}{}{}", &text[..at], INSERTS[rng.usize(..INSERTS.len())], &text[at..]),
        1 => format!("{}{}", &text[..at], &text[to..]),
        2 => format!("{}{}{}", &text[..to], &text[at..to], &text[to..]),
        _ => {
            // A long name where one was, like a step header grown by a paste.
            format!("{}{}{}", &text[..at], "n".repeat(rng.usize(1..300)), &text[at..])
        }
    }
}

/// The property for one text; `Err` says how it fails.
fn agree(text: &str) -> Result<(), String> {
    let checked = catch_unwind(AssertUnwindSafe(|| check(text))).map_err(|_| "check panicked".to_string())?;
    let formatted =
        catch_unwind(AssertUnwindSafe(|| flowc_grammar::format(text))).map_err(|_| "fmt panicked".to_string())?;
    let syntax: Vec<&Diagnostic> = checked.iter().filter(|d| is_syntax(d.code)).collect();
    match (&formatted, syntax.is_empty()) {
        (Ok(_), false) => return Err(format!("fmt formats it, check reports {:?}", syntax[0].message)),
        (Err(errors), true) => return Err(format!("check passes it, fmt refuses: {:?}", errors[0].message)),
        _ => {}
    }
    if let Ok(once) = formatted {
        let twice = catch_unwind(AssertUnwindSafe(|| flowc_grammar::format(&once)))
            .map_err(|_| "fmt panicked on its own output".to_string())?;
        if twice.as_ref() != Ok(&once) {
            return Err("fmt is not idempotent".into());
        }
    }
    Ok(())
}

#[test]
fn check_and_fmt_agree_on_mutated_examples() {
    // Deterministic, so a failure reproduces; FLOWC_MUTATIONS=N runs longer.
    let per_file: usize = std::env::var("FLOWC_MUTATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let mut rng = fastrand::Rng::with_seed(0x5eed_f10c);
    let mut failures = Vec::new();
    for (path, text) in examples() {
        for _ in 0..per_file {
            let mut m = text.clone();
            for _ in 0..rng.usize(1..4) {
                m = mutate(&mut rng, &m);
            }
            if let Err(why) = agree(&m) {
                failures.push(format!("{}: {why}\n--- text ---\n{m}\n", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} disagreements; the first:\n{}", failures.len(), failures[0]);
}

#[test]
fn byte_order_marks_only_start_a_file() {
    let wf = "workflow w {\n  step s {\n    command \"echo\"\n  }\n}\n";
    assert_eq!(agree(&format!("\u{FEFF}{wf}")), Ok(()));
    assert!(check(&format!("\u{FEFF}{wf}")).iter().all(|d| !is_syntax(d.code)));
    for text in [format!("{wf}\u{FEFF}{}", wf.replace("w {", "v {")), wf.replace("  step", "  \u{FEFF}step")] {
        assert_eq!(agree(&text), Ok(()), "{text:?}");
        let codes: Vec<Code> = check(&text).iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![Code::UnexpectedSyntax], "{text:?}");
        assert!(check(&text)[0].message.contains("byte-order mark"));
    }
}

#[test]
fn workflow_statements_in_a_group_are_errors_not_moved() {
    for stmt in ["timeout 5s", "retry 3", "input n: int", "concurrency 2", "on schedule \"* * * * *\"", "description \"d\""] {
        for (first, last) in [(true, false), (false, true)] {
            let (before, after) = if first { (format!("    {stmt}\n"), String::new()) } else { (String::new(), format!("    {stmt}\n")) };
            let _ = last;
            let text = format!(
                "workflow w {{\n  parallel g {{\n{before}    step a {{\n      command \"echo\"\n    }}\n{after}  }}\n}}\n"
            );
            let ds = check(&text);
            let syntax: Vec<&Diagnostic> = ds.iter().filter(|d| is_syntax(d.code)).collect();
            assert_eq!(syntax.len(), 1, "{text}: {ds:?}");
            let word = stmt.split(' ').next().unwrap_or_default();
            assert!(syntax[0].message.contains(&format!("`{word}` belongs to")), "{}", syntax[0].message);
            assert!(syntax[0].message.ends_with("not to a group"), "{}", syntax[0].message);
            assert!(syntax[0].help.as_deref().is_some_and(|h| h.contains("move")), "{:?}", syntax[0].help);
            assert_eq!(&text[syntax[0].span.range()], word);
            assert_eq!(agree(&text), Ok(()));
        }
    }
}

#[test]
fn a_dashed_name_gets_a_fix() {
    let text = "workflow w {\n  step foo-bar-baz {\n    command \"echo\"\n  }\n}\n";
    let ds = check(text);
    assert_eq!(ds.len(), 1, "{ds:?}");
    let d = &ds[0];
    assert_eq!(d.code, Code::UnexpectedSyntax);
    assert!(d.message.contains("`-` is not allowed in names"), "{}", d.message);
    assert!(d.help.as_deref().is_some_and(|h| h.contains("foo_bar_baz")));
    assert_eq!(&text[d.span.range()], "foo-bar-baz");
    assert_eq!(d.fixes.len(), 1);
    let edit = &d.fixes[0].edits[0];
    let fixed = format!("{}{}{}", &text[..edit.span.start as usize], edit.new_text, &text[edit.span.end as usize..]);
    assert!(check(&fixed).is_empty(), "the fix fixes it: {fixed}");
}

#[test]
fn a_bracket_after_a_wide_character_is_an_error_not_a_panic() {
    // `flowc fmt -` panicked (exit 101): the error's look-back for a trigger
    // rule's name cut the text inside the `→` of the comment before the `(`.
    for text in [
        "// →\n(\n",
        "workflow w {\n  // research → qualify\n  (x\n  step a {\n    command \"echo\"\n  }\n}\n",
        "workflow w {\n  step a after b /* → */ (c) {\n    command \"echo\"\n  }\n}\n",
        "workflow w {\n  step a \"é\"b-c {\n    command \"echo\"\n  }\n}\n",
    ] {
        assert_eq!(agree(text), Ok(()), "{text:?}");
        assert!(check(text).iter().any(|d| is_syntax(d.code)), "{text:?}");
    }
}

#[test]
fn empty_blocks_are_fine_for_both() {
    for text in [
        "store memo {\n  schema {}\n}\n",
        "workflow w {\n  step s: select {\n    items `[1]`\n    weights {}\n  }\n}\n",
        "workflow w {\n  step s {\n    command \"echo\"\n    with {}\n  }\n}\n",
    ] {
        assert_eq!(agree(text), Ok(()), "{text:?}");
        assert!(flowc_grammar::format(text).is_ok(), "{text:?}");
    }
}
