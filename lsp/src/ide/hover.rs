//! Hover: what a step is (kind, dependencies, trigger rule, declared
//! output), what a declaration is, the type of a path in an expression, a
//! keyword's meaning, a diagnostic code's catalogue entry.

use flowc_compiler::model::item_index;
use flowc_compiler::{Code, Ty, check_project};
use flowc_compiler::name_index::{Sym, expr_paths, name_index};
use flowc_grammar::ast::{
    AgentStmtKind, Decl, DeclKind, EnvEntryKind, EnvValue, PolicyStmtKind, ResourceStmtKind, SecretSourceKind, SecretValue, Span,
    StepStmtKind, StoreStmtKind, TypeExpr, WorkflowStmtKind,
};
use flowc_grammar::keywords;
use flowc_grammar::lexer::{self, TokenKind};

use super::{File, FileCx, World, scope};
use super::docs_url;

/// What the cursor is on, as Markdown, and the span it describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hover {
    /// The text hovered (a name, a path segment, a keyword).
    pub span: Span,
    /// Markdown.
    pub markdown: String,
}

/// The hover at a byte offset of the file.
pub fn hover(world: &World, file: &File, offset: u32) -> Option<Hover> {
    let cx = FileCx::new(world, file);
    let (span, markdown) = expression_hover(&cx, offset)
        .or_else(|| symbol_hover(&cx, offset))
        .or_else(|| word_hover(&cx, offset))?;
    Some(Hover { span, markdown })
}

/// A field of a path in an expression: `greet.output.greeting` shows the
/// type of what is under the cursor. (A path's root that is a step gets the
/// step's hover instead.)
fn expression_hover(cx: &FileCx<'_>, offset: u32) -> Option<(Span, String)> {
    let index = name_index(&cx.world.db, cx.file.source);
    let site = index.expr_at(offset)?;
    let node = flowc_compiler::cel_check::parse_expr(&site.expr).ok()?;
    let path = expr_paths(&node).into_iter().find(|p| p.iter().any(|(_, s)| s.touches(offset)))?;
    let at = path.iter().position(|(_, s)| s.touches(offset))?;
    if at == 0 && index.at(offset).is_some_and(|o| matches!(o.sym, Sym::Step { .. })) {
        return None;
    }
    let names: Vec<String> = path[..=at].iter().map(|(n, _)| n.clone()).collect();
    let scope = scope::scope_of(cx, &site.cx);
    let ty = scope::path_type(&scope, &names)?;
    Some((path[at].1, format!("```\n{}: {}\n```", names.join("."), ty)))
}

fn symbol_hover(cx: &FileCx<'_>, offset: u32) -> Option<(Span, String)> {
    let occ = name_index(&cx.world.db, cx.file.source).at(offset)?.clone();
    let text = match &occ.sym {
        Sym::Step { workflow, name } => step_hover(cx, workflow, name)?,
        Sym::Decl(kind, name) => decl_hover(cx, *kind, name)?,
        Sym::Set(name) => set_hover(cx, name)?,
        Sym::Key { set, key } => key_hover(cx, set, key),
        Sym::Input { workflow, name } => input_hover(cx, workflow, name)?,
        Sym::Param { template, name } => param_hover(cx, template, name)?,
    };
    Some((occ.span, text))
}

fn type_text(t: &TypeExpr) -> String {
    Ty::from_type_expr(t).to_string()
}

fn step_hover(cx: &FileCx<'_>, workflow: &str, name: &str) -> Option<String> {
    let db = &cx.world.db;
    let wf = cx.workflow(workflow)?;
    if let Some(group) = wf.groups(db).iter().find(|g| g.name.text == name) {
        if group.kind == flowc_grammar::ast::GroupKind::Finally {
            let members: Vec<String> = group.members.iter().map(|m| format!("`{m}`")).collect();
            let doc = flowc_grammar::keywords::KEYWORDS.iter().find(|k| k.word == "finally").and_then(|k| k.doc).unwrap_or("");
            return Some(format!("```flow\nfinally\n```\nin workflow `{workflow}`: {doc}\n\nmembers: {}", members.join(", ")));
        }
        let mut out = format!("```flow\n{} {name}\n```\nin workflow `{workflow}`", group.kind.keyword());
        if group.for_each.is_some() {
            out.push_str(&format!(
                "\n\nruns for each item: a job per item, each a child run of its members; `{name}.output` is one object of the members' outputs per item, in item order"
            ));
            if group.fail_fast {
                out.push_str(" (`fail_fast`: the first failed item cancels the others)");
            }
        }
        deps_lines(&mut out, group.deps.as_ref());
        let members: Vec<String> = group.members.iter().map(|m| format!("`{m}`")).collect();
        out.push_str(&format!("\n\nmembers: {}", members.join(", ")));
        return Some(out);
    }
    let (_, step) = cx.step(workflow, name)?;
    let ast = step.ast(db);
    let sig = flowc_compiler::model::step_sig(db, step);
    let kind = match ast.kind.target() {
        Some(target) => format!("{} {}", ast.kind.keyword(), target.text),
        None => ast.kind.keyword().to_string(),
    };
    let mut out = format!("```flow\nstep {name}: {kind}\n```\nin workflow `{workflow}`");
    if let Some(group) = sig.groups.last() {
        out.push_str(&format!(", group `{group}`"));
    }
    deps_lines(&mut out, ast.deps.as_deref());
    if ast.for_each.is_some() {
        out.push_str("\n\nruns for each item");
    }
    match &sig.output {
        Some(t) => out.push_str(&format!("\n\noutput: `{t}`")),
        None => out.push_str("\n\noutput: not declared (`dyn`)"),
    }
    if let Some(desc) = ast.body.iter().find_map(|s| match &s.kind {
        StepStmtKind::Description(d) => Some(d.value.clone()),
        _ => None,
    }) {
        out.push_str(&format!("\n\n{desc}"));
    }
    Some(out)
}

fn deps_lines(out: &mut String, deps: Option<&flowc_grammar::ast::Deps>) {
    match deps {
        Some(d) if !d.condition.is_empty() => {
            out.push_str(&format!("\n\nafter `{}` — an outcome condition", d.condition_text()));
        }
        Some(d) if !d.names.is_empty() => {
            let names: Vec<String> = d.names.iter().map(|n| format!("`{}`", n.text)).collect();
            out.push_str(&format!("\n\nafter {} — trigger rule `{}`", names.join(", "), d.rule.keyword()));
        }
        _ => out.push_str("\n\nno dependencies: starts when the run (or its group) starts"),
    }
}

fn decl_hover(cx: &FileCx<'_>, kind: DeclKind, name: &str) -> Option<String> {
    let db = &cx.world.db;
    let index = item_index(db, cx.project);
    if kind == DeclKind::Workflow {
        let wf = index.workflow(name)?;
        let mut out = format!("```flow\nworkflow {name}\n```");
        for (_, stmt) in wf.header(db).iter() {
            match &stmt.kind {
                WorkflowStmtKind::Description(d) => out.push_str(&format!("\n\n{}", d.value)),
                WorkflowStmtKind::Input(i) => out.push_str(&format!("\n\ninput `{}: {}`{}", i.name.text, type_text(&i.ty), if i.default.is_some() { " (has a default)" } else { "" })),
                _ => {}
            }
        }
        out.push_str(&format!("\n\n{} steps", wf.steps(db).len()));
        return Some(out);
    }
    let def = index.other(kind, name)?;
    let decl = def.ast(db);
    let mut out = format!("```flow\n{} {name}\n```", keyword_of(kind));
    let description = |d: &str, out: &mut String| out.push_str(&format!("\n\n{d}"));
    match &**decl {
        Decl::Agent(a) => {
            for s in &a.body {
                match &s.kind {
                    AgentStmtKind::Description(d) => description(&d.value, &mut out),
                    AgentStmtKind::CostPerCall(c) => out.push_str(&format!("\n\ncost per call: {}", c.value.value)),
                    _ => {}
                }
            }
        }
        Decl::Store(s) => {
            for st in &s.body {
                if let StoreStmtKind::Description(d) = &st.kind {
                    description(&d.value, &mut out);
                }
            }
        }
        Decl::Policy(p) => {
            let mut rules = 0;
            for st in &p.body {
                match &st.kind {
                    PolicyStmtKind::Description(d) => description(&d.value, &mut out),
                    PolicyStmtKind::Rule(_) => rules += 1,
                }
            }
            out.push_str(&format!("\n\n{rules} rule{}", if rules == 1 { "" } else { "s" }));
        }
        Decl::Resource(r) => {
            for st in &r.body {
                if let ResourceStmtKind::Description(d) = &st.kind {
                    description(&d.value, &mut out);
                }
            }
        }
        Decl::Template(t) => {
            if let Some(k) = &t.kind {
                out.push_str(&format!("\n\nstep kind: `{}`", k.keyword()));
            }
        }
        Decl::Instance(i) => out.push_str(&format!("\n\nan instance of `{}`", i.kind.text)),
        _ => {}
    }
    Some(out)
}

fn keyword_of(kind: DeclKind) -> &'static str {
    match kind {
        DeclKind::Workflow => "workflow",
        DeclKind::Agent => "agent",
        DeclKind::Env => "env",
        DeclKind::Secrets => "secrets",
        DeclKind::Store => "store",
        DeclKind::Policy => "policy",
        DeclKind::Resource => "resource",
        DeclKind::Template => "template",
        DeclKind::Instance => "instance",
        DeclKind::Test => "test",
    }
}

fn set_hover(cx: &FileCx<'_>, name: &str) -> Option<String> {
    let db = &cx.world.db;
    let index = item_index(db, cx.project);
    let def = index.other(DeclKind::Env, name).or_else(|| index.other(DeclKind::Secrets, name))?;
    let (word, keys): (&str, Vec<String>) = match &**def.ast(db) {
        Decl::Env(e) => (
            "env",
            e.body
                .entries
                .iter()
                .map(|e| match &e.kind {
                    EnvEntryKind::Assign { key, .. } => format!("`{}`", key.text),
                    EnvEntryKind::Use(set) => format!("every key of `{}`", set.text),
                })
                .collect(),
        ),
        Decl::Secrets(s) => ("secrets", s.entries.iter().map(|e| format!("`{}`", e.key.text)).collect()),
        _ => return None,
    };
    Some(format!("```flow\n{word} {name}\n```\n\nkeys: {}", keys.join(", ")))
}

fn key_hover(cx: &FileCx<'_>, set: &str, key: &str) -> String {
    let db = &cx.world.db;
    let index = item_index(db, cx.project);
    let mut out = format!("```flow\n{set}.{key}\n```");
    if let Some(def) = index.other(DeclKind::Secrets, set) {
        if let Decl::Secrets(s) = &**def.ast(db)
            && let Some(e) = s.entries.iter().find(|e| e.key.text == key) {
                // Where the secret comes from, never a value.
                if let SecretValue::Source(src) = &e.value {
                    let f = match src.kind {
                        SecretSourceKind::Env => "from_env",
                        SecretSourceKind::File => "from_file",
                    };
                    out.push_str(&format!("\n\na secret, {f}(\"{}\")", src.arg.value));
                }
            }
    } else if let Some(def) = index.other(DeclKind::Env, set)
        && let Decl::Env(e) = &**def.ast(db)
            && let Some(EnvEntryKind::Assign { value, .. }) =
                e.body.entries.iter().map(|e| &e.kind).find(|k| matches!(k, EnvEntryKind::Assign { key: k, .. } if k.text == key))
            {
                let what = match value {
                    EnvValue::Source(_) => "read from the environment or a file",
                    EnvValue::Ref { .. } => "taken from another set",
                    EnvValue::Template(_) | EnvValue::Value(_) => "a value written in the set",
                };
                out.push_str(&format!("\n\nan env key, {what}"));
            }
    out
}

fn input_hover(cx: &FileCx<'_>, workflow: &str, name: &str) -> Option<String> {
    let db = &cx.world.db;
    let wf = cx.workflow(workflow)?;
    wf.header(db).iter().find_map(|(_, s)| match &s.kind {
        WorkflowStmtKind::Input(i) if i.name.text == name => Some(format!(
            "```flow\ninput {name}: {}\n```\ninput of workflow `{workflow}`, read as `inputs.{name}`{}",
            type_text(&i.ty),
            if i.default.is_some() { "; has a default" } else { "; required" }
        )),
        _ => None,
    })
}

fn param_hover(cx: &FileCx<'_>, template: &str, name: &str) -> Option<String> {
    let def = item_index(&cx.world.db, cx.project).other(DeclKind::Template, template)?;
    let Decl::Template(t) = &**def.ast(&cx.world.db) else { return None };
    let p = t.params.iter().find(|p| p.name.text == name)?;
    Some(format!(
        "```flow\n{name}: {}\n```\nparameter of template `{template}`, read as `params.{name}`{}",
        type_text(&p.ty),
        if p.default.is_some() { "; has a default" } else { "; required" }
    ))
}

/// A keyword, a diagnostic code, or a spot with diagnostics.
fn word_hover(cx: &FileCx<'_>, offset: u32) -> Option<(Span, String)> {
    let text = cx.text;
    let (span, word) = word_at(text, offset)?;
    let lexed = lexer::lex(text);
    let in_token = |kind: &[TokenKind]| lexed.tokens.iter().find(|t| t.span.contains(span.start)).is_some_and(|t| kind.contains(&t.kind));
    if let Some(code) = Code::parse(word).filter(|_| word.len() == 5) {
        return Some((span, code_text(code)));
    }
    if in_token(&[TokenKind::String, TokenKind::Backtick, TokenKind::LineComment, TokenKind::BlockComment]) {
        return None;
    }
    if let Some(doc) = keywords::doc(word) {
        return Some((span, format!("`{word}`: {doc}")));
    }
    // Where a diagnostic is, its code's summary and page.
    let diags = check_project(&cx.world.db, cx.project);
    let here: Vec<String> = diags
        .iter()
        .filter(|d| d.path == cx.file.path && d.span.touches(offset))
        .map(|d| code_text(d.code))
        .collect();
    (!here.is_empty()).then(|| (span, here.join("\n\n---\n\n")))
}

fn code_text(code: Code) -> String {
    format!("**{}**: {}\n\n{}\n\n[{} in the catalogue]({})", code.as_str(), code.title(), code.summary(), code.as_str(), docs_url(code.as_str()))
}

/// The identifier-like word around an offset. The character before the
/// word may be any width (`naïve`, an emoji), so the word starts after it,
/// not one byte after its start.
pub fn word_at(text: &str, offset: u32) -> Option<(Span, &str)> {
    let offset = (offset as usize).min(text.len());
    if !text.is_char_boundary(offset) {
        return None;
    }
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = text[..offset].char_indices().rev().find(|(_, c)| !is_word(*c)).map_or(0, |(i, c)| i + c.len_utf8());
    let end = text[offset..].find(|c: char| !is_word(c)).map_or(text.len(), |i| offset + i);
    (start < end).then(|| (Span::new(start as u32, end as u32), &text[start..end]))
}

#[cfg(test)]
mod tests {
    use super::word_at;

    #[test]
    fn words_after_multi_byte_characters() {
        // Every offset of a text with two- and four-byte characters and a
        // combining accent: never a panic, and a word is all ASCII.
        let text = "// naïve e\u{301}x 😀ab_c é";
        for offset in 0..=text.len() as u32 + 2 {
            if let Some((span, word)) = word_at(text, offset) {
                assert_eq!(&text[span.range()], word);
                assert!(word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{word:?}");
            }
        }
        let at = text.find("ab_c").unwrap() as u32;
        assert_eq!(word_at(text, at + 1).map(|(_, w)| w), Some("ab_c"));
        let ve = text.find("ve").unwrap() as u32;
        assert_eq!(word_at(text, ve + 1).map(|(_, w)| w), Some("ve"));
    }
}
