//! Data-driven tests of the CEL checker.
//!
//! Each `tests/cel/*.cel` file holds cases: a scope, an expression, the type
//! it must have and the diagnostics it must produce (code and the exact text
//! under the span). The harness asserts those, then snapshots every case with
//! its full messages and help, so a reviewer reads the expression and what a
//! user would see side by side.
//!
//! ```text
//! # comment
//! scope inputs: {deal_value: double, name: string}   # before the first case: for every case
//! scope qualify: not-upstream add `after qualify`     # E0402, with this help
//! scope event: out-of-context E0404 no event here | help text
//!
//! case a typo in a field                              # starts a case
//! scope extra: int                                    # this case only
//! site hole | short | backtick                        # default backtick
//! condition                                           # Expect::Bool
//! expr research.output.deal_vlaue > 5                 # or `expr` then `| line` lines
//! type bool                                           # the inferred type
//! expect E0407 "deal_vlaue"                           # code and span text
//! expect E0406 "x"#2                                  # the second occurrence of `x`
//! expect E0406 @end                                   # an empty span at the end
//! ```
//!
//! A case without `expect` lines must produce no diagnostic.

use std::fmt::Write as _;
use std::path::Path;

use flowc_compiler::Code;
use flowc_compiler::cel_check::{Binding, Expect, ExprSite, MapScope, check_expr};
use flowc_compiler::types::Ty;
use flowc_grammar::ast::{Expr, Span};

struct Case {
    title: String,
    line: usize,
    scope: MapScope,
    site: ExprSite,
    expect: Expect,
    expr: String,
    ty: Option<Ty>,
    diags: Vec<(String, SpanSpec)>,
}

enum SpanSpec {
    Text(String, usize),
    End,
}

fn parse_binding(name: &str, spec: &str) -> Binding {
    if let Some(help) = spec.strip_prefix("not-upstream") {
        return Binding::NotUpstream { step: name.to_string(), help: help.trim().to_string(), fix: None };
    }
    if let Some(rest) = spec.strip_prefix("out-of-context") {
        let rest = rest.trim();
        let (code, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let (message, help) = rest.split_once(" | ").unwrap_or((rest, ""));
        return Binding::OutOfContext {
            name: name.to_string(),
            code: Code::parse(code).unwrap_or_else(|| panic!("unknown code {code}")),
            message: message.trim().to_string(),
            help: help.trim().to_string(),
        };
    }
    Binding::Value(spec.parse().unwrap_or_else(|e| panic!("scope {name}: {e}")))
}

fn parse_cases(text: &str) -> Vec<Case> {
    let mut global = MapScope::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        if key == "case" {
            cases.push(Case {
                title: rest.to_string(),
                line: n + 1,
                scope: global.clone(),
                site: ExprSite::Backtick,
                expect: Expect::Any,
                expr: String::new(),
                ty: None,
                diags: Vec::new(),
            });
            continue;
        }
        if key == "scope" {
            let (name, spec) = rest.split_once(':').unwrap_or_else(|| panic!("line {}: scope NAME: TYPE", n + 1));
            let binding = parse_binding(name.trim(), spec.trim());
            match cases.last_mut() {
                Some(c) => c.scope.insert(name.trim(), binding),
                None => global.insert(name.trim(), binding),
            }
            continue;
        }
        let case = cases.last_mut().unwrap_or_else(|| panic!("line {}: `{key}` before the first case", n + 1));
        match key {
            "site" => {
                case.site = match rest {
                    "backtick" => ExprSite::Backtick,
                    "hole" => ExprSite::Hole { short: false },
                    "short" => ExprSite::Hole { short: true },
                    other => panic!("line {}: unknown site {other}", n + 1),
                }
            }
            "condition" => case.expect = Expect::Bool,
            "expr" if rest.is_empty() => {
                let mut parts = Vec::new();
                while let Some((_, next)) = lines.peek() {
                    let Some(body) = next.trim_start().strip_prefix('|') else { break };
                    parts.push(body.strip_prefix(' ').unwrap_or(body).to_string());
                    lines.next();
                }
                case.expr = parts.join("\n");
            }
            "expr" => case.expr = raw.trim_start().strip_prefix("expr ").unwrap_or("").to_string(),
            "type" => case.ty = Some(rest.parse().unwrap_or_else(|e| panic!("line {}: {e}", n + 1))),
            "expect" => {
                let (code, spec) = rest.split_once(' ').unwrap_or((rest, ""));
                let spec = spec.trim();
                let span = if spec == "@end" {
                    SpanSpec::End
                } else {
                    let body = spec.strip_prefix('"').unwrap_or_else(|| panic!("line {}: expect CODE \"text\"", n + 1));
                    let (text, nth) = match body.rsplit_once("\"#") {
                        Some((t, k)) => (t, k.parse().unwrap_or(1)),
                        None => (body.strip_suffix('"').unwrap_or(body), 1),
                    };
                    SpanSpec::Text(text.to_string(), nth)
                };
                case.diags.push((code.to_string(), span));
            }
            other => panic!("line {}: unknown key `{other}`", n + 1),
        }
    }
    cases
}

/// Where an expression sits in a synthetic file, by site: the text before it.
fn prefix(site: ExprSite) -> &'static str {
    match site {
        ExprSite::Backtick => "    when `",
        ExprSite::Hole { short: false } => "    command \"echo ${",
        ExprSite::Hole { short: true } => "    command \"echo $",
    }
}

fn resolve(expr: &str, spec: &SpanSpec, base: u32) -> Span {
    match spec {
        SpanSpec::End => Span::new(base + expr.len() as u32, base + expr.len() as u32),
        SpanSpec::Text(text, nth) => {
            let start = expr
                .match_indices(text.as_str())
                .nth(nth - 1)
                .unwrap_or_else(|| panic!("`{text}` (#{nth}) is not in `{expr}`"))
                .0;
            Span::new(base + start as u32, base + (start + text.len()) as u32)
        }
    }
}

fn run_file(path: &Path) {
    let text = std::fs::read_to_string(path).expect("fixture file");
    let name = path.file_stem().and_then(|s| s.to_str()).expect("file name").to_string();
    let mut out = String::new();
    let mut failures = Vec::new();
    for case in parse_cases(&text) {
        let pre = prefix(case.site);
        let base = pre.len() as u32;
        let file_text = format!("{pre}{}", case.expr);
        let expr = Expr { text: case.expr.clone(), span: Span::new(base, base + case.expr.len() as u32) };
        let checked = check_expr("test.flow", &expr, case.site, case.expect, &case.scope);

        let got: Vec<(String, Span)> =
            checked.diagnostics.iter().map(|d| (d.code.as_str().to_string(), d.span)).collect();
        let want: Vec<(String, Span)> =
            case.diags.iter().map(|(code, spec)| (code.clone(), resolve(&case.expr, spec, base))).collect();
        let show = |v: &[(String, Span)]| {
            v.iter()
                .map(|(c, s)| format!("{c} {:?}", file_text.get(s.range()).unwrap_or("<out of range>")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if got != want {
            failures.push(format!(
                "{}:{} {}: expected [{}], got [{}]\n{:#?}",
                name,
                case.line,
                case.title,
                show(&want),
                show(&got),
                checked.diagnostics
            ));
        }
        if let Some(ty) = &case.ty
            && &checked.ty != ty
        {
            failures.push(format!("{}:{} {}: expected type {ty}, got {}", name, case.line, case.title, checked.ty));
        }

        writeln!(out, "=== {}", case.title).ok();
        for l in case.expr.lines() {
            writeln!(out, "  | {l}").ok();
        }
        writeln!(out, "  : {}", checked.ty).ok();
        for d in &checked.diagnostics {
            let under = file_text.get(d.span.range()).unwrap_or("<out of range>");
            writeln!(out, "{} at {:?}: {}", d.code.as_str(), under, d.message).ok();
            if let Some(label) = &d.label {
                writeln!(out, "    label: {label}").ok();
            }
            if let Some(help) = &d.help {
                for (i, h) in help.lines().enumerate() {
                    writeln!(out, "    {} {h}", if i == 0 { "help:" } else { "     " }).ok();
                }
            }
            for fix in &d.fixes {
                let edits: Vec<String> =
                    fix.edits.iter().map(|e| format!("insert {:?} at {}", e.new_text, e.span.start)).collect();
                writeln!(out, "    fix: {} ({})", fix.title, edits.join(", ")).ok();
            }
        }
        writeln!(out).ok();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    insta::with_settings!({ description => "regenerate: INSTA_UPDATE=always cargo test -p flowc-compiler --test cel_check" }, {
        insta::assert_snapshot!(name, out);
    });
}

#[test]
fn fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cel");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cel")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cel"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        run_file(&f);
    }
}
