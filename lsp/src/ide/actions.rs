//! Quick fixes for the diagnostics under the cursor: the fixes the checks
//! attach (add the missing `after`, escape a `$` meant for the shell,
//! replace a misspelt name), a "did you mean" read from a help line where a
//! check gives only the words, and a stub for a step that does not exist.

use flowc_compiler::{Code, Diagnostic, Edit, check_project};
use flowc_grammar::ast::{Decl, Span};

use super::{File, FileCx, FileEdits, TextEdit, World, is_identifier, push_edit};

/// A quick fix: a title, the diagnostic it fixes, and its edits.
#[derive(Clone, Debug)]
pub struct CodeAction {
    /// What the fix does, as the editor's menu shows it.
    pub title: String,
    /// The compiler diagnostic the fix is for (in the requested file).
    pub diagnostic: Diagnostic,
    /// The edits, in every file they touch.
    pub edits: FileEdits,
    /// The first fix offered for the diagnostics under the cursor.
    pub preferred: bool,
}

/// The fixes for the diagnostics of the file that touch `want`, a byte span.
pub fn code_actions(world: &World, file: &File, want: Span) -> Vec<CodeAction> {
    let cx = FileCx::new(world, file);
    let mut out = Vec::new();
    for d in check_project(&world.db, cx.project) {
        if d.path != cx.file.path || !(d.span.touches(want.start) || want.touches(d.span.start) || d.span.touches(want.end)) {
            continue;
        }
        let action = |title: String, edits: FileEdits, preferred: bool| CodeAction { title, diagnostic: d.clone(), edits, preferred };
        for fix in &d.fixes {
            if let Some(edits) = file_edits(&cx, &fix.edits) {
                let preferred = out.is_empty();
                out.push(action(fix.title.clone(), edits, preferred));
            }
        }
        if let Some((title, edits)) = suggestion_from_help(&cx, d)
            && !d.fixes.iter().any(|f| f.edits.len() == 1 && f.edits[0].span == d.span) {
                let preferred = out.is_empty();
                out.push(action(title, edits, preferred));
            }
        if d.code == Code::UnknownStep
            && let Some((title, edits)) = step_stub(&cx, d) {
                out.push(action(title, edits, false));
            }
    }
    out
}

/// The compiler's edits grouped by file (an empty path is the file of the
/// request). An edit into a file the server does not know makes the whole
/// fix unavailable.
fn file_edits(cx: &FileCx<'_>, edits: &[Edit]) -> Option<FileEdits> {
    let mut out = FileEdits::new();
    for e in edits {
        let path = if e.path.is_empty() { cx.file.path.as_str() } else { e.path.as_str() };
        if !cx.world.knows(path) {
            return None;
        }
        push_edit(&mut out, path, TextEdit { span: e.span, new_text: e.new_text.clone() });
    }
    Some(out)
}

/// "did you mean `x`?" in a help line, when the diagnostic points at just
/// the misspelt name: replace it.
fn suggestion_from_help(cx: &FileCx<'_>, d: &Diagnostic) -> Option<(String, FileEdits)> {
    let help = d.help.as_deref()?;
    let rest = &help[help.find("did you mean `")? + "did you mean `".len()..];
    let suggestion = &rest[..rest.find('`')?];
    let written = cx.text.get(d.span.range())?;
    if !is_identifier(written) || !is_identifier(suggestion) || written == suggestion {
        return None;
    }
    let edit = Edit { path: d.path.clone(), span: d.span, new_text: suggestion.to_string() };
    Some((format!("replace `{written}` with `{suggestion}`"), file_edits(cx, &[edit])?))
}

/// A new step named as the unknown one, written just before the workflow
/// item that names it, with that item's indentation.
fn step_stub(cx: &FileCx<'_>, d: &Diagnostic) -> Option<(String, FileEdits)> {
    let text = cx.text;
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
    Some((format!("create step `{name}`"), file_edits(cx, &[edit])?))
}
