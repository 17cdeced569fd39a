//! Quick fixes for the diagnostics under the cursor: the fixes the checks
//! attach (add the missing `after`, escape a `$` meant for the shell,
//! replace a misspelt name), a "did you mean" read from a help line where a
//! check gives only the words, and a stub for a step that does not exist.

use std::collections::HashMap;

use flowc_compiler::{Code, Diagnostic, Edit, check_project};
use flowc_grammar::ast::{Decl, Span};
use tower_lsp_server::ls_types as lsp;

use super::{FileCx, is_identifier};
use crate::convert;
use crate::state::Snapshot;

pub fn code_actions(snap: &Snapshot, uri: &lsp::Uri, range: lsp::Range) -> Option<lsp::CodeActionResponse> {
    let cx = FileCx::new(snap, uri)?;
    let want = cx.text.span(range);
    let mut out = Vec::new();
    for d in check_project(&snap.db, cx.project) {
        if d.path != cx.file.path || !(d.span.touches(want.start) || want.touches(d.span.start) || d.span.touches(want.end)) {
            continue;
        }
        let shown = convert::diagnostic(d, cx.text, &|p| snap.locate(p));
        let mut titles = Vec::new();
        for fix in &d.fixes {
            if let Some(edit) = workspace_edit(&cx, &fix.edits) {
                titles.push(fix.title.clone());
                out.push(action(fix.title.clone(), &shown, edit, out.is_empty()));
            }
        }
        if let Some((title, edit)) = suggestion_from_help(&cx, d)
            && !d.fixes.iter().any(|f| f.edits.len() == 1 && f.edits[0].span == d.span) {
                out.push(action(title, &shown, edit, out.is_empty()));
            }
        if d.code == Code::UnknownStep
            && let Some((title, edit)) = step_stub(&cx, d) {
                out.push(action(title, &shown, edit, false));
            }
    }
    Some(out.into_iter().map(lsp::CodeActionOrCommand::CodeAction).collect())
}

fn action(title: String, diagnostic: &lsp::Diagnostic, edit: lsp::WorkspaceEdit, preferred: bool) -> lsp::CodeAction {
    lsp::CodeAction {
        title,
        kind: Some(lsp::CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diagnostic.clone()]),
        edit: Some(edit),
        is_preferred: preferred.then_some(true),
        ..Default::default()
    }
}

/// The compiler's edits as a workspace edit. An edit into a file the
/// server does not know makes the whole fix unavailable.
fn workspace_edit(cx: &FileCx<'_>, edits: &[Edit]) -> Option<lsp::WorkspaceEdit> {
    let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for e in edits {
        let path = if e.path.is_empty() { cx.file.path.as_str() } else { e.path.as_str() };
        let (uri, text) = cx.snap.locate(path)?;
        changes.entry(uri).or_default().push(lsp::TextEdit { range: text.range(e.span), new_text: e.new_text.clone() });
    }
    Some(lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() })
}

/// "did you mean `x`?" in a help line, when the diagnostic points at just
/// the misspelt name: replace it.
fn suggestion_from_help(cx: &FileCx<'_>, d: &Diagnostic) -> Option<(String, lsp::WorkspaceEdit)> {
    let help = d.help.as_deref()?;
    let rest = &help[help.find("did you mean `")? + "did you mean `".len()..];
    let suggestion = &rest[..rest.find('`')?];
    let written = cx.text.text.get(d.span.range())?;
    if !is_identifier(written) || !is_identifier(suggestion) || written == suggestion {
        return None;
    }
    let edit = Edit { path: d.path.clone(), span: d.span, new_text: suggestion.to_string() };
    Some((format!("replace `{written}` with `{suggestion}`"), workspace_edit(cx, &[edit])?))
}

/// A new step named as the unknown one, written just before the workflow
/// item that names it, with that item's indentation.
fn step_stub(cx: &FileCx<'_>, d: &Diagnostic) -> Option<(String, lsp::WorkspaceEdit)> {
    let text = cx.text.text;
    let name = text.get(d.span.range())?;
    if !is_identifier(name) {
        return None;
    }
    let item = cx.parse().file.decls.iter().find_map(|decl| match decl {
        Decl::Workflow(w) if w.span.contains(d.span.start) => w.body.iter().find(|s| s.span.contains(d.span.start)).map(|s| s.span),
        _ => None,
    })?;
    let at = item.start;
    let line_start = text[..at as usize].rfind('\n').map_or(0, |i| i + 1);
    let indent: String = text[line_start..at as usize].chars().take_while(|c| c.is_whitespace()).collect();
    let stub = format!("step {name} {{\n{indent}  command \"echo TODO: {name}\"\n{indent}}}\n\n{indent}");
    let edit = Edit { path: d.path.clone(), span: Span::new(at, at), new_text: stub };
    Some((format!("create step `{name}`"), workspace_edit(cx, &[edit])?))
}
