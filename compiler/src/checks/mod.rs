//! The checks, one module per family; each function here is a salsa query.
//!
//! Granularity follows what changes together: a step's checks depend on the
//! step's own AST, the workflow's graph and header, and the project's name
//! index; a workflow's checks aggregate its steps' (memoised) results; the
//! project-wide checks look only at names and signatures.

pub mod approvers;
mod graph_checks;
mod jobs;
pub mod names;
mod outcome_conditions;
mod project;
mod references;
mod schemas;
mod shape;
mod shell_holes;
pub mod tests;
mod values;

use flowc_grammar::ast::{self, Span};
use flowc_grammar::errors::did_you_mean;

use crate::db::{Db, Project};
use crate::model::{OtherDef, StepDef, WorkflowDef};
use crate::pending::{Anchor, Loc, Pending};

pub use project::check_project_wide;
pub use references::{step_expression_scope, template_expression_scope, workflow_output_scope};
pub use tests::test_expectation_scope;

/// Everything a step check needs to know about where it is.
pub(crate) struct StepCx<'db> {
    pub db: &'db dyn Db,
    pub project: Project,
    pub wf: WorkflowDef<'db>,
    pub step: StepDef<'db>,
}

impl<'db> StepCx<'db> {
    pub fn at(&self, span: Span) -> Loc<'db> {
        Loc::new(Anchor::Step(self.wf, self.step), span)
    }
}

/// Checks of one step.
#[salsa::tracked(returns(ref))]
pub fn check_step<'db>(db: &'db dyn Db, project: Project, wf: WorkflowDef<'db>, step: StepDef<'db>) -> Vec<Pending<'db>> {
    let cx = StepCx { db, project, wf, step };
    let ast = step.ast(db);
    let mut out = Vec::new();
    names::step_names(&cx, ast, &mut out);
    shape::step_shape(&cx, ast, &mut out);
    values::step_values(&cx, ast, &mut out);
    shell_holes::step_shell_holes(&cx, ast, &mut out);
    schemas::store_puts(&cx, ast, &mut out);
    references::step_references(&cx, ast, &mut out);
    out
}

/// Checks of one workflow: its own statements, its graph, and its steps.
#[salsa::tracked(returns(ref))]
pub fn check_workflow<'db>(db: &'db dyn Db, project: Project, wf: WorkflowDef<'db>) -> Vec<Pending<'db>> {
    let mut out = Vec::new();
    shape::workflow_shape(db, wf, &mut out);
    names::workflow_names(db, project, wf, &mut out);
    values::workflow_values(db, project, wf, &mut out);
    shell_holes::workflow_shell_holes(db, wf, &mut out);
    references::workflow_references(db, project, wf, &mut out);
    graph_checks::check_graph(db, wf, &mut out);
    jobs::check_jobs(db, wf, &mut out);
    for step in wf.steps(db) {
        out.extend(check_step(db, project, wf, *step).iter().cloned());
    }
    out
}

/// Checks of a declaration other than a workflow.
#[salsa::tracked(returns(ref))]
pub fn check_decl<'db>(db: &'db dyn Db, project: Project, decl: OtherDef<'db>) -> Vec<Pending<'db>> {
    let mut out = Vec::new();
    names::decl_names(db, project, decl, &mut out);
    shape::decl_shape(db, decl, &mut out);
    values::decl_values(db, decl, &mut out);
    shell_holes::decl_shell_holes(db, decl, &mut out);
    schemas::decl_schemas(db, project, decl, &mut out);
    references::decl_references(db, decl, &mut out);
    tests::test_checks(db, project, decl, &mut out);
    out
}

/// A data literal as JSON, when it has no computed parts.
pub(crate) fn value_json(v: &ast::Value) -> Option<serde_json::Value> {
    schemas::to_json(v).ok()
}

/// " (did you mean `x`?)" help for an unknown name, if a close one exists.
pub(crate) fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let list: Vec<&str> = candidates.into_iter().collect();
    did_you_mean(name, &list).map(|s| format!("did you mean `{s}`?"))
}

/// A short list of known names for a help line.
pub(crate) fn known_list<'a>(what: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().take(8).map(|n| format!("`{n}`")).collect();
    if names.is_empty() { format!("there are no {what} in this project") } else { format!("the {what} are {}", names.join(", ")) }
}

/// The span of a statement's keyword, for diagnostics about the statement as a whole.
pub(crate) fn keyword_span(stmt: &ast::StepStmt) -> Span {
    let len = stmt.kind.keyword().split(' ').next().map_or(0, str::len) as u32;
    Span::new(stmt.span.start, (stmt.span.start + len).min(stmt.span.end))
}
