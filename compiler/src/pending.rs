//! Diagnostics before they have absolute positions.
//!
//! Checks report spans relative to a stable anchor (a step, a declaration, an
//! item of a workflow), so their results stay equal when the text around
//! them moves. Only [`resolve`] turns them into plain [`Diagnostic`]s.

use flowc_grammar::ast::Span;

use crate::codes::Code;
use crate::db::{Db, SourceFile};
use crate::diagnostic::{Diagnostic, Edit};
use crate::model::{self, DeclDef, OtherDef, StepDef, WorkflowDef};

/// What a relative span is relative to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, salsa::SalsaValue)]
pub enum Anchor<'db> {
    /// The item (step or group) that holds a step of a workflow.
    Step(WorkflowDef<'db>, StepDef<'db>),
    /// Item `n` of a workflow's body.
    Item(WorkflowDef<'db>, u32),
    /// The start of a workflow declaration.
    Workflow(WorkflowDef<'db>),
    /// The start of another declaration.
    Decl(OtherDef<'db>),
    /// An absolute position in a file.
    File(SourceFile),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, salsa::SalsaValue)]
pub struct Loc<'db> {
    pub anchor: Anchor<'db>,
    pub span: Span,
}

impl<'db> Loc<'db> {
    pub fn new(anchor: Anchor<'db>, span: Span) -> Self {
        Loc { anchor, span }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, salsa::SalsaValue)]
pub struct PendingFix<'db> {
    pub title: String,
    pub edits: Vec<(Loc<'db>, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, salsa::SalsaValue)]
pub struct Pending<'db> {
    pub code: Code,
    pub message: String,
    pub at: Loc<'db>,
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<(Loc<'db>, String)>,
    pub fixes: Vec<PendingFix<'db>>,
}

impl<'db> Pending<'db> {
    pub fn new(code: Code, at: Loc<'db>, message: impl Into<String>) -> Self {
        Pending { code, message: message.into(), at, label: None, help: None, related: Vec::new(), fixes: Vec::new() }
    }
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }
    pub fn related(mut self, at: Loc<'db>, message: impl Into<String>) -> Self {
        self.related.push((at, message.into()));
        self
    }
    pub fn fix(mut self, title: impl Into<String>, edits: Vec<(Loc<'db>, String)>) -> Self {
        self.fixes.push(PendingFix { title: title.into(), edits });
        self
    }
}

/// The file and absolute offset an anchor starts at.
pub fn anchor_base<'db>(db: &'db dyn Db, anchor: Anchor<'db>) -> (SourceFile, u32) {
    match anchor {
        Anchor::Step(wf, step) => anchor_base(db, Anchor::Item(wf, step.item(db))),
        Anchor::Item(wf, item) => {
            let file = wf.file(db);
            let m = model::file_model(db, file);
            let base = decl_index(db, m, &DeclDef::Workflow(wf))
                .and_then(|di| m.item_offsets[di].get(item as usize).copied())
                .unwrap_or(0);
            (file, base)
        }
        Anchor::Workflow(wf) => {
            let file = wf.file(db);
            let m = model::file_model(db, file);
            (file, decl_index(db, m, &DeclDef::Workflow(wf)).map_or(0, |di| m.decl_offsets[di]))
        }
        Anchor::Decl(d) => {
            let file = d.file(db);
            let m = model::file_model(db, file);
            (file, decl_index(db, m, &DeclDef::Other(d)).map_or(0, |di| m.decl_offsets[di]))
        }
        Anchor::File(file) => (file, 0),
    }
}

fn decl_index<'db>(_db: &'db dyn Db, m: &model::FileModel<'db>, def: &DeclDef<'db>) -> Option<usize> {
    m.decls.iter().position(|d| d == def)
}

/// Turns pending diagnostics into absolute ones.
pub fn resolve<'db>(db: &'db dyn Db, p: &Pending<'db>) -> Diagnostic {
    let (file, span) = absolute(db, p.at);
    let mut d = Diagnostic::new(p.code, file.path(db).clone(), span, p.message.clone());
    d.label = p.label.clone();
    d.help = p.help.clone();
    for (loc, msg) in &p.related {
        let (f, s) = absolute(db, *loc);
        d = d.with_related(f.path(db).clone(), s, msg.clone());
    }
    for fix in &p.fixes {
        let edits = fix
            .edits
            .iter()
            .map(|(loc, text)| {
                let (f, s) = absolute(db, *loc);
                Edit { path: f.path(db).clone(), span: s, new_text: text.clone() }
            })
            .collect();
        d = d.with_fix(fix.title.clone(), edits);
    }
    d
}

pub fn absolute<'db>(db: &'db dyn Db, loc: Loc<'db>) -> (SourceFile, Span) {
    let (file, base) = anchor_base(db, loc.anchor);
    (file, Span::new(loc.span.start + base, loc.span.end + base))
}
