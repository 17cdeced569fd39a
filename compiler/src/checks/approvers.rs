//! Gates against the project's directory (flowc.toml's `[principals]` and
//! `[groups]`): an approver must be declared, and some approver must be able
//! to decide. Not a salsa query: the directory is the caller's (the CLI and
//! the language server read flowc.toml), and the check is a walk over the
//! steps' syntax, linear and cheap.

use flowc_grammar::ast::{StepStmtKind, ValueKind};
use flowc_plan::directory::{Directory, Role};

use crate::codes::Code;
use crate::db::{Db, Project};
use crate::diagnostic::Diagnostic;
use crate::model::{file_model, DeclDef};
use crate::pending::{self, Anchor, Loc, Pending};

/// The diagnostics of every gate's `approvers` against `dir`; none when the
/// project declares no principals and no groups (approvers are then plain
/// names, matched against whoever decides).
pub fn check_approvers(db: &dyn Db, project: Project, dir: &Directory) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if dir.is_empty() {
        return out;
    }
    let names: Vec<&str> = dir.names().collect();
    for file in project.files(db) {
        for def in &file_model(db, *file).decls {
            let DeclDef::Workflow(w) = def else { continue };
            for step in w.steps(db) {
                let ast = step.ast(db);
                let Some(stmt) = ast.body.iter().find(|s| matches!(s.kind, StepStmtKind::Approvers(_))) else { continue };
                let StepStmtKind::Approvers(value) = &stmt.kind else { continue };
                let listed: Vec<(&str, flowc_grammar::ast::Span)> = match &value.kind {
                    ValueKind::String(s) => vec![(s.as_str(), value.span)],
                    ValueKind::Array(items) => items
                        .iter()
                        .filter_map(|i| match &i.kind {
                            ValueKind::String(s) => Some((s.as_str(), i.span)),
                            _ => None,
                        })
                        .collect(),
                    _ => continue,
                };
                if listed.is_empty() {
                    continue;
                }
                let anchor = Anchor::Step(*w, *step);
                let mut unknown = false;
                for (name, span) in &listed {
                    if dir.is_declared(name) {
                        continue;
                    }
                    unknown = true;
                    let help = crate::checks::suggest(name, names.iter().copied())
                        .unwrap_or_else(|| format!("declare it in flowc.toml (`[principals.{name}]` with roles, or a group under `[groups]`)"));
                    let p = Pending::new(
                        Code::UnknownApprover,
                        Loc::new(anchor, *span),
                        format!("approver `{name}` is neither a principal nor a group of flowc.toml"),
                    )
                    .label("not declared")
                    .help(help);
                    out.push(pending::resolve(db, &p));
                }
                if unknown {
                    continue;
                }
                let mut deciders = std::collections::BTreeSet::new();
                for (name, _) in &listed {
                    for m in dir.members(name) {
                        if dir.roles_of(&m).iter().any(|r| r.grants(Role::Decide)) {
                            deciders.insert(m);
                        }
                    }
                }
                let distinct = ast.body.iter().any(|s| matches!(s.kind, StepStmtKind::DistinctFromInitiator));
                let listed_text = listed.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
                if deciders.is_empty() {
                    let p = Pending::new(
                        Code::UnsatisfiableGate,
                        Loc::new(anchor, crate::checks::keyword_span(stmt)),
                        format!("nobody can decide step `{}`: no principal among {listed_text} holds the role `decide`", step.name(db)),
                    )
                    .label("no one here may decide")
                    .help("give one of them `roles = [\"decide\"]` in flowc.toml, or name an approver who has it");
                    out.push(pending::resolve(db, &p));
                } else if distinct && deciders.len() == 1 {
                    let who = deciders.iter().next().cloned().unwrap_or_default();
                    let p = Pending::new(
                        Code::SoleApproverDistinct,
                        Loc::new(anchor, crate::checks::keyword_span(stmt)),
                        format!("only `{who}` can decide step `{}`, and never in a run `{who}` started (distinct_from_initiator)", step.name(db)),
                    )
                    .label("one decider")
                    .help("add a second approver, or drop `distinct_from_initiator` if the one approver may start runs");
                    out.push(pending::resolve(db, &p));
                }
            }
        }
    }
    out
}
