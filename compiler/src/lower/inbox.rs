//! Lowering of the steps that wait on people and the outside world
//! (`approval`, `human`, `check POLICY`, `wait`); see `flowc_plan::instr`
//! for the instructions.
//! - An `approval` step is `[RENDER message] APPROVAL END`; a `human` step
//!   `[RENDER message] HUMAN END` with the declared `output` type.
//! - A `check` step evaluates its `with` data (`{}` without one), then
//!   `CHECK_POLICY`, then an `implicit` `APPROVAL` carrying the step's own
//!   `approvers`, `distinct_from_initiator` and `message`, which blocks only
//!   when the policy requires approval.
//! - A `wait` step renders its type and subject with glob-escaped holes, so a
//!   value such as a lead id matches only itself.
//! - A `timer` step is `TIMER for D` / `TIMER until "…"`, or `EVAL` of its
//!   expression into a register and `TIMER` reading it.


use flowc_grammar::ast::{self, StepKind, StepStmt, StepStmtKind, TemplatePart, TemplateStr, TypeExpr};
use flowc_plan as plan;

use super::WorkflowLowerer;

/// Whether this module lowers steps of the kind.
fn reg(name: &str) -> plan::Reg {
    plan::Reg(name.to_string())
}

/// The kind and code of an approval, human, check or wait step; `None` after
/// reporting why it cannot be lowered.
pub(super) fn step_code(
    lw: &mut WorkflowLowerer<'_, '_>,
    name: &str,
    kind: &StepKind,
    body: &[StepStmt],
    output_type: Option<&TypeExpr>,
) -> Option<(plan::StepKind, Vec<plan::Instr>)> {
    let find = |k: &str| body.iter().find(|s| s.kind.keyword() == k).map(|s| s.kind.clone());
    let approvers = match find("approvers") {
        Some(StepStmtKind::Approvers(v)) => match approver_names(&v) {
            Some(list) => list,
            None => {
                lw.error(Some(name), "`approvers` must be a list of names (strings)");
                return None;
            }
        },
        _ => Vec::new(),
    };
    let distinct_from_initiator = find("distinct_from_initiator").is_some();
    let mut code = Vec::new();
    let message = match find("message") {
        Some(StepStmtKind::Message(t)) => {
            let id = lw.template(&t, false);
            code.push(plan::Instr::Render { template: id, dst: reg("message") });
            Some(reg("message"))
        }
        _ => None,
    };
    let kind = match kind {
        StepKind::Approval => {
            code.push(plan::Instr::Approval { message, approvers, distinct_from_initiator, implicit: false });
            plan::StepKind::Approval
        }
        StepKind::Human => {
            let ty = output_type.map(|t| lw.ty(t));
            code.push(plan::Instr::Human { message, ty, approvers });
            plan::StepKind::Human
        }
        StepKind::Check(policy) => {
            let policy = super::policy::policy_id(lw, &policy.text)?;
            let input = match find("with") {
                Some(StepStmtKind::With(v)) => lw.expr(&super::cel_literal(&v)),
                _ => lw.expr("{}"),
            };
            // The input first: the message may be rendered before it, which is harmless.
            code.insert(0, plan::Instr::Eval { expr: input, dst: reg("input") });
            code.push(plan::Instr::CheckPolicy { policy, input: reg("input") });
            code.push(plan::Instr::Approval { message, approvers, distinct_from_initiator, implicit: true });
            plan::StepKind::Check
        }
        StepKind::Wait => {
            let Some(StepStmtKind::Event { event_type, subject }) = find("event") else {
                lw.error(Some(name), "a `wait` step needs an `event`");
                return None;
            };
            let t = glob_template(lw, &event_type);
            code.push(plan::Instr::Render { template: t, dst: reg("event") });
            let subject = subject.map(|s| {
                let t = glob_template(lw, &s);
                code.push(plan::Instr::Render { template: t, dst: reg("subject") });
                reg("subject")
            });
            code.push(plan::Instr::Wait { event: reg("event"), subject });
            plan::StepKind::Wait
        }
        StepKind::Timer => {
            // E0602 and E0605 stop a plan without exactly one of `for` and `until`.
            let due = match (find("for"), find("until")) {
                (Some(StepStmtKind::TimerFor(ast::TimerArg::Literal(d))), None) => plan::TimerDue::For(d.millis),
                (Some(StepStmtKind::TimerFor(ast::TimerArg::Expr(e))), None) => {
                    let id = lw.expr(&e.text);
                    code.push(plan::Instr::Eval { expr: id, dst: reg("due") });
                    plan::TimerDue::ForReg(reg("due"))
                }
                (None, Some(StepStmtKind::TimerUntil(ast::TimerArg::Literal(at)))) => plan::TimerDue::Until(at.value),
                (None, Some(StepStmtKind::TimerUntil(ast::TimerArg::Expr(e)))) => {
                    let id = lw.expr(&e.text);
                    code.push(plan::Instr::Eval { expr: id, dst: reg("due") });
                    plan::TimerDue::UntilReg(reg("due"))
                }
                _ => {
                    lw.error(Some(name), "a `timer` step needs one `for` or one `until`");
                    return None;
                }
            };
            code.push(plan::Instr::Timer { due });
            plan::StepKind::Timer
        }
        other => {
            lw.error(Some(name), format!("`{}` steps do not wait for people or events", other.keyword()));
            return None;
        }
    };
    Some((kind, code))
}

/// `approvers ["a", "b"]` (or one string) as names.
fn approver_names(v: &ast::Value) -> Option<Vec<String>> {
    match crate::checks::value_json(v)? {
        serde_json::Value::String(s) => Some(vec![s]),
        serde_json::Value::Array(items) => items.into_iter().map(|i| i.as_str().map(str::to_string)).collect(),
        _ => None,
    }
}

/// A template whose holes are glob-escaped when rendered.
fn glob_template(lw: &mut WorkflowLowerer<'_, '_>, t: &TemplateStr) -> u32 {
    let parts = t
        .parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text { text, .. } => plan::Part::Text(text.clone()),
            TemplatePart::Hole(h) => {
                plan::Part::Hole(plan::table::Hole { expr: lw.expr(&h.expr.text), shell: None, glob: true })
            }
        })
        .collect();
    lw.templates.push(plan::Template { parts });
    (lw.templates.len() - 1) as u32
}
