//! Loading policies: their CEL compiled once, for `CHECK_POLICY`.

use crate::plan::{Plan, PlanError};

/// A policy with its CEL compiled.
pub struct LoadedPolicy {
    /// The compiled CEL of each rule's condition, in rule order.
    pub programs: Vec<cel::Program>,
}

/// Compiles every policy's expressions.
pub(in crate::plan) fn load_policies(plan: &Plan, env: &cel::Env) -> Result<Vec<LoadedPolicy>, PlanError> {
    let mut names = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(plan.policies.len());
    for policy in &plan.policies {
        let at = |msg: String| PlanError::new(format!("policy `{}`: {msg}", policy.name));
        if !names.insert(policy.name.as_str()) {
            return Err(PlanError::new(format!("the plan has two policies named `{}`", policy.name)));
        }
        let mut programs = Vec::with_capacity(policy.exprs.len());
        for (i, text) in policy.exprs.iter().enumerate() {
            programs.push(env.compile(text).map_err(|e| at(format!("expr e{i} `{text}` is not valid CEL: {e}")))?);
        }
        let n = policy.exprs.len() as u32;
        for (i, t) in policy.templates.iter().enumerate() {
            if let Some(h) = t.holes().find(|h| h.expr >= n) {
                return Err(at(format!("template t{i} refers to expr e{}, but the policy has {n} exprs", h.expr)));
            }
        }
        for (i, rule) in policy.rules.iter().enumerate() {
            if rule.when >= n {
                return Err(at(format!("rule {i} refers to expr e{}, but the policy has {n} exprs", rule.when)));
            }
            if let Some(t) = rule.because
                && t as usize >= policy.templates.len()
            {
                return Err(at(format!("rule {i} refers to template t{t}, but the policy has {} templates", policy.templates.len())));
            }
        }
        out.push(LoadedPolicy { programs });
    }
    Ok(out)
}

