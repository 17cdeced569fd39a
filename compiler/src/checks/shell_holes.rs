//! Holes of commands in shell contexts that cannot be made safe (E0701).
//!
//! Every template run through `sh -c` (`command`, `compensate "…"`, gate and
//! invariant `check`s, and those of `template` declarations) is read by the
//! shell lexer (`crate::shell_lex`); a hole whose value would be run as code,
//! evaluated as arithmetic, or could break out of its quoting is an error at
//! the hole. The lowering records the safe contexts in the plan.

use flowc_grammar::ast::{self, Compensate, Decl, InvariantStmtKind, Span, StepStmt, StepStmtKind, TemplateStr};

use crate::codes::Code;
use crate::db::Db;
use crate::model::{OtherDef, WorkflowDef};
use crate::pending::{Anchor, Loc, Pending};
use crate::shell_lex::template_contexts;

use super::StepCx;

/// The shell templates of a step's (or a template declaration's) statements.
fn stmt_commands(body: &[StepStmt]) -> impl Iterator<Item = &TemplateStr> {
    body.iter().filter_map(|s| match &s.kind {
        StepStmtKind::Command(t) | StepStmtKind::Compensate(Compensate::Command(t)) => Some(t),
        StepStmtKind::Check(c) => Some(&c.command),
        _ => None,
    })
}

fn command_holes<'db>(t: &TemplateStr, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    for (hole, ctx) in t.holes().zip(template_contexts(t)) {
        let Err(refusal) = ctx else { continue };
        let expr = hole.expr.text.trim();
        let var: String = expr
            .rsplit('.')
            .next()
            .unwrap_or(expr)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
            .collect();
        let var = if var.is_empty() || var.starts_with(|c: char| c.is_ascii_digit()) { format!("V_{var}") } else { var };
        out.push(
            Pending::new(Code::UnsafeShellHole, at(hole.span), format!("this hole cannot be made safe for the shell: {}", refusal.reason))
                .label("the value could run as code here")
                .help(format!(
                    "pass the value through the step's environment and use the variable in the command: \
                     `env {{ {var} = \"${{{expr}}}\" }}` and `\"${var}\"` (a variable's value is never re-read as shell code)"
                )),
        );
    }
}

pub(super) fn step_shell_holes<'db>(cx: &StepCx<'db>, step: &ast::Step, out: &mut Vec<Pending<'db>>) {
    let at = |s: Span| cx.at(s);
    for t in stmt_commands(&step.body) {
        command_holes(t, &at, out);
    }
}

pub(super) fn workflow_shell_holes<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>, out: &mut Vec<Pending<'db>>) {
    for (item, stmt) in wf.header(db).iter() {
        let ast::WorkflowStmtKind::Invariant(inv) = &stmt.kind else { continue };
        let at = |s: Span| Loc::new(Anchor::Item(wf, *item), s);
        for s in &inv.body {
            if let InvariantStmtKind::Check(c) = &s.kind {
                command_holes(&c.command, &at, out);
            }
        }
    }
}

pub(super) fn decl_shell_holes<'db>(db: &'db dyn Db, decl: OtherDef<'db>, out: &mut Vec<Pending<'db>>) {
    let Decl::Template(tpl) = &**decl.ast(db) else { return };
    let at = |s: Span| Loc::new(Anchor::Decl(decl), s);
    for t in stmt_commands(&tpl.body) {
        command_holes(t, &at, out);
    }
}
