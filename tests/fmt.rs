//! The formatter's promises, checked over every `.flow` text the repository
//! has: the examples, every test fixture that parses (the `.flow` files of
//! the sections of `tests/fixtures/*.flowtest` included), and the `flow`
//! code blocks of the docs.
//!
//! - idempotent: `fmt(fmt(x)) == fmt(x)`;
//! - meaning kept: the tree of `fmt(x)` equals the tree of `x`, spans aside;
//! - comments kept: the same comments, in the same order;
//! - layout-blind: respacing a file inside its lines changes nothing;
//!
//! and, for the fixtures of `tests/fixtures/fmt/`, the formatted text itself
//! (snapshots in `tests/snapshots/`, source and output side by side).

mod support;

use std::path::{Path, PathBuf};

use flowc_grammar::{format, lexer, parse};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file below `dir` whose name ends with `ext`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The ```flow blocks of a markdown page.
fn flow_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = markdown;
    while let Some((_, after)) = rest.split_once("```flow\n") {
        let Some((block, next)) = after.split_once("\n```") else { break };
        out.push(format!("{block}\n"));
        rest = next;
    }
    out
}

/// Every text the properties are checked on, named for failure messages:
/// those that parse without errors.
fn corpus() -> Vec<(String, String)> {
    let root = root();
    let mut out = Vec::new();
    for dir in ["examples", "tests/fixtures"] {
        for path in files(&root.join(dir), ".flow") {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((path.strip_prefix(&root).unwrap_or(&path).display().to_string(), text));
        }
    }
    for path in support::fixture::files_in(&root.join("tests/fixtures"), "flowtest") {
        for case in support::fixture::load(&path) {
            for (file, text) in case.flow_files() {
                out.push((format!("{} ({file})", case.origin), text.clone()));
            }
        }
    }
    for path in files(&root.join("docs"), ".md") {
        let page = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (i, block) in flow_blocks(&page).into_iter().enumerate() {
            out.push((format!("{} (block {})", path.strip_prefix(&root).unwrap_or(&path).display(), i + 1), block));
        }
    }
    out.retain(|(_, text)| parse(text).errors.is_empty());
    out
}

/// The tree of a text with every span erased. Spans print as `start..end`
/// (their `Debug`), and nothing else in a tree's debug output looks like
/// that outside of quoted text, which is the same on both sides.
fn tree(name: &str, text: &str) -> String {
    let parsed = parse(text);
    assert!(parsed.errors.is_empty(), "{name}: the formatted text does not parse: {:?}\n{text}", parsed.errors);
    erase_spans(&format!("{:?}", parsed.file))
}

fn erase_spans(debug: &str) -> String {
    let bytes = debug.as_bytes();
    let mut out = String::with_capacity(debug.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
        let a = digits(i);
        if a > 0 && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) && debug[i + a..].starts_with("..") {
            let b = digits(i + a + 2);
            if b > 0 {
                out.push_str("<span>");
                i += a + 2 + b;
                continue;
            }
        }
        let c = debug[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The comments of a text, in order. A `//` comment's trailing blanks (and a
/// CRLF file's `\r`) are not part of it.
fn comments(text: &str) -> Vec<String> {
    lexer::lex(text).comments().map(|t| text[t.span.range()].trim_end().to_string()).collect()
}

fn formatted(name: &str, text: &str) -> String {
    format(text).unwrap_or_else(|e| panic!("{name}: refused: {e:?}"))
}

/// Doubles every run of spaces and tabs outside strings, expressions and
/// comments: the same file, spaced differently within its lines.
fn respaced(text: &str) -> String {
    let lexed = lexer::lex(text);
    let mut out = String::with_capacity(text.len() * 2);
    let mut pos = 0;
    let spread = |chunk: &str, out: &mut String| {
        for c in chunk.chars() {
            out.push(c);
            if c == ' ' || c == '\t' {
                out.push(c);
            }
        }
    };
    for t in &lexed.tokens {
        let (start, end) = (t.span.start as usize, t.span.end as usize);
        spread(&text[pos..start], &mut out);
        out.push_str(&text[start..end]);
        pos = end;
    }
    spread(&text[pos..], &mut out);
    out
}

/// Puts a comment made by `comment(n)` into every run of blanks outside
/// strings, expressions and comments: wherever the grammar allows a blank,
/// it allows a comment, so the tree stays the same.
fn commented(text: &str, comment: impl Fn(usize) -> String) -> String {
    let lexed = lexer::lex(text);
    let mut out = String::with_capacity(text.len() * 3);
    let mut n = 0;
    let mut pos = 0;
    // After each run of blanks, so that it never lands on the line of a
    // `//` comment (it would become part of it).
    let mut sprinkle = |chunk: &str, out: &mut String| {
        let mut in_blank = false;
        for c in chunk.chars() {
            let blank = c.is_ascii_whitespace();
            if in_blank && !blank {
                out.push_str(&comment(n));
                out.push(' ');
                n += 1;
            }
            in_blank = blank;
            out.push(c);
        }
        if in_blank {
            out.push_str(&comment(n));
            out.push(' ');
            n += 1;
        }
    };
    for t in &lexed.tokens {
        let (start, end) = (t.span.start as usize, t.span.end as usize);
        sprinkle(&text[pos..start], &mut out);
        out.push_str(&text[start..end]);
        pos = end;
    }
    sprinkle(&text[pos..], &mut out);
    out
}

/// The lines around the first line where two texts differ.
fn first_difference(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let i = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)).unwrap_or(0);
    let from = i.saturating_sub(4);
    let show = |lines: &[&str]| lines.iter().skip(from).take(9).map(|l| format!("  |{l}\n")).collect::<String>();
    format!("at line {}:\n----- first\n{}----- second\n{}", i + 1, show(&a), show(&b))
}

/// The properties, on a text made from a corpus text.
fn check_variant(name: &str, text: &str) {
    let tree_before = tree(name, text);
    let once = formatted(name, text);
    let twice = formatted(name, &once);
    assert!(twice == once, "{name}: not idempotent:\n{}", first_difference(&once, &twice));
    assert_eq!(tree(name, &once), tree_before, "{name}: the tree changed\n{once}");
    let (before, after) = (comments(text), comments(&once));
    if let Some(i) = (0..before.len().max(after.len())).find(|&i| before.get(i) != after.get(i)) {
        panic!("{name}: comment {i} changed: {:?} became {:?}\n{once}", before.get(i), after.get(i));
    }
}

#[test]
fn block_comments_between_any_two_tokens_are_kept() {
    for (name, text) in corpus() {
        check_variant(&format!("{name} with block comments"), &commented(&text, |n| format!("/*{n}*/")));
    }
}

#[test]
fn line_comments_between_any_two_tokens_are_kept() {
    for (name, text) in corpus() {
        check_variant(&format!("{name} with line comments"), &commented(&text, |n| format!("//{n}\n")));
    }
}

/// Replaces every run of blanks outside strings, expressions and comments
/// by `f(run)`, except that a line break after a `//` comment stays.
fn rewhitespaced(text: &str, f: impl Fn(&str) -> &'static str) -> String {
    let lexed = lexer::lex(text);
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    let mut after_line_comment = false;
    let replace = |chunk: &str, after_line_comment: bool, out: &mut String| {
        let mut rest = chunk;
        let mut first = true;
        while !rest.is_empty() {
            let blank_len = rest.find(|c: char| !c.is_ascii_whitespace()).unwrap_or(rest.len());
            if blank_len > 0 {
                let run = &rest[..blank_len];
                if first && after_line_comment {
                    out.push('\n');
                } else {
                    out.push_str(f(run));
                }
            }
            rest = &rest[blank_len..];
            let word_len = rest.find(|c: char| c.is_ascii_whitespace()).unwrap_or(rest.len());
            out.push_str(&rest[..word_len]);
            rest = &rest[word_len..];
            first = false;
        }
    };
    for t in &lexed.tokens {
        let (start, end) = (t.span.start as usize, t.span.end as usize);
        replace(&text[pos..start], after_line_comment, &mut out);
        out.push_str(&text[start..end]);
        after_line_comment = t.kind == lexer::TokenKind::LineComment;
        pos = end;
    }
    replace(&text[pos..], after_line_comment, &mut out);
    out
}

#[test]
fn a_line_break_between_any_two_tokens_changes_nothing_but_layout() {
    for (name, text) in corpus() {
        check_variant(&format!("{name} with line breaks"), &rewhitespaced(&text, |_| "\n"));
    }
}

#[test]
fn text_on_as_few_lines_as_possible_changes_nothing_but_layout() {
    for (name, text) in corpus() {
        check_variant(&format!("{name} squashed"), &rewhitespaced(&text, |_| " "));
    }
}

#[test]
fn the_examples_of_the_formatting_page_are_formatted() {
    let page = std::fs::read_to_string(root().join("docs/formatting.md")).unwrap();
    let mut complete = 0;
    for block in flow_blocks(&page) {
        // Fragments (a statement, a header) show rules, not whole files.
        if parse(&block).errors.is_empty() {
            complete += 1;
            let out = formatted("docs/formatting.md", &block);
            assert!(
                out == block,
                "docs/formatting.md shows an unformatted example:\n{}",
                first_difference(&block, &out)
            );
        }
    }
    assert!(complete > 0, "docs/formatting.md has no complete example");
}

#[test]
fn the_corpus_is_not_empty() {
    let corpus = corpus();
    let names: Vec<&str> = corpus.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.iter().any(|n| n.starts_with("examples/")), "no example parsed: {names:?}");
    assert!(names.iter().any(|n| n.starts_with("tests/fixtures/fmt/")), "no fmt fixture parsed: {names:?}");
}

#[test]
fn formatting_is_idempotent() {
    for (name, text) in corpus() {
        let once = formatted(&name, &text);
        let twice = formatted(&name, &once);
        assert!(
            once == twice,
            "{name}: formatting the formatted text changed it:\n{}",
            first_difference(&once, &twice)
        );
    }
}

#[test]
fn formatting_keeps_the_tree() {
    for (name, text) in corpus() {
        let once = formatted(&name, &text);
        assert_eq!(tree(&name, &text), tree(&name, &once), "{name}: the tree changed\n{once}");
    }
}

#[test]
fn formatting_keeps_every_comment_in_order() {
    for (name, text) in corpus() {
        let once = formatted(&name, &text);
        assert_eq!(comments(&text), comments(&once), "{name}: the comments changed\n{once}");
    }
}

/// Whether a text has a secret written inline (always an error for the
/// checker): the formatter keeps such a value exactly as written, so its
/// spacing is the one thing of a file that formatting does not decide.
fn has_inline_secret(text: &str) -> bool {
    format!("{:?}", parse(text).file).contains("Literal(")
}

#[test]
fn formatting_ignores_spacing_within_lines() {
    for (name, text) in corpus().into_iter().filter(|(_, t)| !has_inline_secret(t)) {
        let respaced = respaced(&text);
        assert_eq!(formatted(&name, &respaced), formatted(&name, &text), "{name}: respacing changed the output");
    }
}

#[test]
fn formatting_ignores_line_endings() {
    for (name, text) in corpus().into_iter().filter(|(_, t)| !has_inline_secret(t)) {
        // Raw newlines inside strings are content; a CRLF file keeps them as written.
        let lexed = lexer::lex(&text);
        if lexed.tokens.iter().any(|t| text[t.span.range()].contains('\n')) {
            continue;
        }
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(formatted(&name, &crlf), formatted(&name, &text), "{name}: CRLF changed the output");
    }
}

#[test]
fn formatted_text_is_clean() {
    for (name, text) in corpus() {
        let once = formatted(&name, &text);
        assert!(once.is_empty() || once.ends_with('\n') && !once.ends_with("\n\n"), "{name}: ends badly");
        assert!(!once.starts_with('\n'), "{name}: starts with a blank line");
        assert!(!once.contains("\n\n\n"), "{name}: two blank lines in a row");
        assert!(!once.contains('\t') || text.contains('\t'), "{name}: a tab was introduced");
    }
}

#[test]
fn fixtures_format_as_recorded() {
    let dir = root().join("tests/fixtures/fmt");
    let fixtures = files(&dir, ".flow");
    assert!(!fixtures.is_empty(), "no fixtures in {}", dir.display());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description("regenerate: INSTA_UPDATE=always cargo test -p flowc --test fmt");
    settings.bind(|| {
        for path in fixtures {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let out = formatted(&name, &text);
            insta::assert_snapshot!(format!("fmt__{name}"), format!("----- SOURCE\n{text}----- FORMATTED\n{out}"));
        }
    });
}
