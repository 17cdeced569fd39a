//! The names an expression may use and their types, as the checker sees
//! them (`flowc_compiler::checks::step_expression_scope`), and the types
//! along a field path.

use flowc_compiler::Ty;
use flowc_compiler::checks::{step_expression_scope, template_expression_scope, test_expectation_scope, workflow_output_scope};
use flowc_compiler::name_index::ExprCx;

use super::FileCx;

/// The scope of an expression written at `site`; empty where the editor
/// does not know it (trigger filters, policies, resource rules).
pub fn scope_of(cx: &FileCx<'_>, site: &ExprCx) -> Vec<(String, Ty)> {
    let db = &cx.world.db;
    match site {
        ExprCx::Step { workflow, step, post } => match cx.step(workflow, step) {
            Some((wf, step)) => step_expression_scope(db, cx.project, wf, step, *post),
            None => Vec::new(),
        },
        ExprCx::WorkflowOutput { workflow } => cx.workflow(workflow).map(|wf| workflow_output_scope(db, wf)).unwrap_or_default(),
        ExprCx::Template { template } => template_expression_scope(db, cx.project, template),
        ExprCx::Test { workflow } => cx.workflow(workflow).map(|wf| test_expectation_scope(db, cx.project, wf)).unwrap_or_default(),
        ExprCx::Other => Vec::new(),
    }
}

/// The type of `root.f1.f2…`, when the scope knows the root.
pub fn path_type(scope: &[(String, Ty)], path: &[String]) -> Option<Ty> {
    let (root, fields) = path.split_first()?;
    let mut ty = scope.iter().find(|(n, _)| n == root)?.1.clone();
    for field in fields {
        ty = field_type(&ty, field)?;
    }
    Some(ty)
}

/// The type of one field of a value.
pub fn field_type(ty: &Ty, field: &str) -> Option<Ty> {
    match ty {
        Ty::Object(o) => match o.fields.get(field) {
            Some(f) => Some(f.ty.clone()),
            None if !o.closed => Some(Ty::Dyn),
            None => None,
        },
        Ty::Map(_, v) => Some((**v).clone()),
        Ty::Dyn => Some(Ty::Dyn),
        _ => None,
    }
}

/// The fields a value is known to have, with their types and whether each
/// is optional.
pub fn fields(ty: &Ty) -> Vec<(String, Ty, bool)> {
    match ty {
        Ty::Object(o) => o.fields.iter().map(|(n, f)| (n.clone(), f.ty.clone(), f.optional)).collect(),
        _ => Vec::new(),
    }
}
