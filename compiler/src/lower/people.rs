//! Lowering of the steps that wait on people and the outside world
//! (`approval`, `human`, `check POLICY`, `wait`), of the policies `check`
//! steps evaluate, and of workflow triggers (`on event|webhook|schedule`).
//!
//! Choices (see `flowc_plan::instr` for the instructions):
//! - An `approval` step is `[RENDER message] APPROVAL END`; a `human` step
//!   `[RENDER message] HUMAN END` with the declared `output` type.
//! - A `check` step evaluates its `with` data (`{}` without one), then
//!   `CHECK_POLICY`, then an `implicit` `APPROVAL` carrying the step's own
//!   `approvers`, `distinct_from_initiator` and `message`, which blocks only
//!   when the policy requires approval.
//! - A `wait` step renders its type and subject with glob-escaped holes, so a
//!   value such as a lead id matches only itself.
//! - A policy enters the plan once, the first time a lowered step names it,
//!   with its own expression and template tables.

use std::collections::HashMap;

use flowc_grammar::ast::{self, Decl, DeclKind, PolicyStmtKind, StepKind, StepStmt, StepStmtKind, TemplatePart, TemplateStr, TypeExpr};
use flowc_plan as plan;

use super::WorkflowLowerer;
use crate::model::item_index;

/// The plan's policy table, filled as `check` steps name policies.
#[derive(Default)]
pub(super) struct Policies {
    pub(super) list: Vec<plan::Policy>,
    ids: HashMap<String, u32>,
}

/// Whether this module lowers steps of the kind.
fn reg(name: &str) -> plan::Reg {
    plan::Reg(name.to_string())
}

/// `on …` as a plan trigger.
pub(super) fn trigger(lw: &mut WorkflowLowerer<'_, '_>, t: &ast::Trigger) -> plan::Trigger {
    match t {
        ast::Trigger::Event { event_type, subject, filter } => plan::Trigger::Event {
            event_type: event_type.value.clone(),
            subject: subject.as_ref().map(|s| s.value.clone()),
            filter: filter.as_ref().map(|f| lw.expr(&f.text)),
        },
        ast::Trigger::Webhook { path, signature } => {
            // The checker guarantees `provider.entity.action`.
            let mut parts = path.text.splitn(3, '.');
            let mut next = || parts.next().unwrap_or("*").to_string();
            let (provider, entity, action) = (next(), next(), next());
            let signature = signature.as_ref().and_then(|sig| webhook_signature(lw, sig));
            plan::Trigger::Webhook { provider, entity, action, signature }
        }
        ast::Trigger::Schedule { cron, catchup } => plan::Trigger::Schedule {
            cron: cron.value.clone(),
            catchup: match catchup.as_ref().map(|c| c.mode) {
                Some(ast::CatchupMode::None) => plan::Catchup::None,
                Some(ast::CatchupMode::All) => plan::Catchup::All,
                Some(ast::CatchupMode::Latest) | None => plan::Catchup::Latest,
            },
            // Whole seconds, rounded up so a window is never shorter than written.
            window_s: catchup.as_ref().and_then(|c| c.within.as_ref()).map(|d| d.millis.div_ceil(1000)),
        },
    }
}

/// `signed SCHEME with SET.KEY [tolerance D]`: the secret joins the plan's
/// secrets redacted (so every run's redactor masks its value), `stripe` gets
/// its tolerance filled (300 s by default) and `hmac` its header lower-cased,
/// so `flowc serve` reads the plan and never guesses.
fn webhook_signature(lw: &mut WorkflowLowerer<'_, '_>, sig: &ast::Signature) -> Option<plan::WebhookSignature> {
    let secret = lw.runtime_value(None, super::advanced::RuntimeValue::Secret { set: sig.set.text.clone(), key: sig.key.text.clone() })?;
    let (scheme, tolerance_s, header) = match sig.scheme {
        ast::SignatureScheme::Github => (plan::SignatureScheme::Github, None, None),
        ast::SignatureScheme::Stripe => (
            plan::SignatureScheme::Stripe,
            Some(sig.tolerance.as_ref().map_or(plan::people::STRIPE_DEFAULT_TOLERANCE_S, |d| d.millis.div_ceil(1000))),
            None,
        ),
        ast::SignatureScheme::Hmac => (plan::SignatureScheme::Hmac, None, sig.header.as_ref().map(|h| h.value.to_ascii_lowercase())),
    };
    Some(plan::WebhookSignature { scheme, secret, tolerance_s, header })
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
            let policy = policy_id(lw, &policy.text)?;
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

/// The policy's id in the plan, lowering it on first use.
fn policy_id(lw: &mut WorkflowLowerer<'_, '_>, name: &str) -> Option<u32> {
    if let Some(id) = lw.agents.policies.ids.get(name) {
        return Some(*id);
    }
    let db = lw.db;
    let Some(def) = item_index(db, lw.project).other(DeclKind::Policy, name) else {
        lw.error(None, format!("there is no policy `{name}`"));
        return None;
    };
    let Decl::Policy(policy) = &**def.ast(db) else { return None };
    let mut out = plan::Policy { name: name.to_string(), description: None, exprs: Vec::new(), templates: Vec::new(), rules: Vec::new() };
    let mut expr_ids: HashMap<String, u32> = HashMap::new();
    let mut expr = |out: &mut plan::Policy, text: &str| -> u32 {
        let text = text.trim().to_string();
        if let Some(id) = expr_ids.get(&text) {
            return *id;
        }
        out.exprs.push(text.clone());
        let id = (out.exprs.len() - 1) as u32;
        expr_ids.insert(text, id);
        id
    };
    for stmt in &policy.body {
        match &stmt.kind {
            PolicyStmtKind::Description(d) => out.description = Some(d.value.clone()),
            PolicyStmtKind::Rule(rule) => {
                let when = expr(&mut out, &rule.condition.text);
                let because = rule.reason.as_ref().map(|r| {
                    let parts = r
                        .parts
                        .iter()
                        .map(|p| match p {
                            TemplatePart::Text { text, .. } => plan::Part::Text(text.clone()),
                            TemplatePart::Hole(h) => plan::Part::Hole(plan::table::Hole {
                                expr: expr(&mut out, &h.expr.text),
                                shell: None,
                                glob: false,
                            }),
                        })
                        .collect();
                    out.templates.push(plan::Template { parts });
                    (out.templates.len() - 1) as u32
                });
                let effect = match rule.effect {
                    ast::PolicyEffect::Deny => plan::PolicyEffect::Deny,
                    ast::PolicyEffect::RequireApproval => plan::PolicyEffect::RequireApproval,
                    ast::PolicyEffect::Allow => plan::PolicyEffect::Allow,
                };
                out.rules.push(plan::PolicyRule { effect, when, because });
            }
        }
    }
    let id = lw.agents.policies.list.len() as u32;
    lw.agents.policies.list.push(out);
    lw.agents.policies.ids.insert(name.to_string(), id);
    Some(id)
}
