//! Lowering of the policies `check` steps evaluate. A policy enters the
//! plan once, the first time a lowered step names it, with its own
//! expression and template tables.

use std::collections::HashMap;

use flowc_grammar::ast::{self, Decl, DeclKind, PolicyStmtKind, TemplatePart};
use flowc_plan as plan;

use super::WorkflowLowerer;
use crate::model::item_index;

/// The plan's policy table, filled as `check` steps name policies.
#[derive(Default)]
pub(super) struct Policies {
    pub(super) list: Vec<plan::Policy>,
    pub(super) ids: HashMap<String, u32>,
}

/// The policy's id in the plan, lowering it on first use.
pub(super) fn policy_id(lw: &mut WorkflowLowerer<'_, '_>, name: &str) -> Option<u32> {
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
