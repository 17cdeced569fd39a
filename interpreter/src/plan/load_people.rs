//! The loader's checks for people and events: policies (their CEL compiled
//! once), the blocking instructions' placement, triggers.

use super::{Instr, Plan, PlanError, Step, Trigger, Workflow};

/// A policy with its CEL compiled.
pub struct LoadedPolicy {
    pub programs: Vec<cel::Program>,
}

fn err(msg: impl Into<String>) -> PlanError {
    PlanError::new(msg)
}

pub(super) fn load_policies(plan: &Plan, env: &cel::Env) -> Result<Vec<LoadedPolicy>, PlanError> {
    let mut names = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(plan.policies.len());
    for policy in &plan.policies {
        let at = |msg: String| err(format!("policy `{}`: {msg}", policy.name));
        if !names.insert(policy.name.as_str()) {
            return Err(err(format!("the plan has two policies named `{}`", policy.name)));
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

/// Checks one instruction's operands and its place in the step's code.
pub(super) fn check_instr(plan: &Plan, wf: &Workflow, step: &Step, pc: usize, instr: &Instr) -> Result<(), String> {
    let last_before_end = pc + 2 == step.code.len();
    match instr {
        Instr::CheckPolicy { policy, .. } => {
            if *policy as usize >= plan.policies.len() {
                return Err(format!("policy {policy} is not in the plan's {} policies", plan.policies.len()));
            }
            let rest = &step.code[pc + 1..];
            let only_gate = rest.iter().all(|i| matches!(i, Instr::End | Instr::Approval { implicit: true, .. }));
            if !only_gate {
                return Err("only an implicit APPROVAL may follow CHECK_POLICY".into());
            }
        }
        Instr::Approval { implicit: true, .. } if !step.code[..pc].iter().any(|i| matches!(i, Instr::CheckPolicy { .. })) => {
            return Err("an implicit APPROVAL needs a CHECK_POLICY before it".into());
        }
        Instr::Human { ty: Some(t), .. } if *t as usize >= wf.types.len() => {
            return Err(format!("type#{t} is not in the workflow's {} types", wf.types.len()));
        }
        _ => {}
    }
    if instr.is_blocking() && !last_before_end {
        return Err(format!("{} must be the last instruction before END", instr.opcode()));
    }
    Ok(())
}

pub(super) fn check_triggers(wf: &Workflow) -> Result<(), PlanError> {
    for (i, t) in wf.triggers.iter().enumerate() {
        let at = |msg: String| err(format!("trigger {i}: {msg}"));
        match t {
            Trigger::Event { event_type, filter, .. } => {
                if event_type.is_empty() {
                    return Err(at("the event type is empty".into()));
                }
                if let Some(f) = filter
                    && *f as usize >= wf.exprs.len()
                {
                    return Err(at(format!("filter e{f} is not in the workflow's {} exprs", wf.exprs.len())));
                }
            }
            Trigger::Webhook { provider, entity, action } => {
                if [provider, entity, action].iter().any(|p| p.is_empty()) {
                    return Err(at("a webhook trigger needs a provider, an entity and an action".into()));
                }
            }
            Trigger::Schedule { cron } => {
                crate::runtime::triggers::parse_cron(cron).map_err(|e| at(format!("`{cron}`: {e}")))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::plan::{LoadedPlan, Plan};

    fn base() -> Value {
        json!({
            "format_version": 2,
            "entry": "w",
            "policies": [{ "name": "p", "exprs": ["input.n > 1"], "rules": [{ "effect": "deny", "when": 0 }] }],
            "workflows": [{
                "name": "w",
                "exprs": ["{}"],
                "templates": [{ "parts": [{ "text": "t" }] }],
                "steps": [
                    { "id": 0, "name": "c", "kind": "check", "code": [
                        { "op": "EVAL", "expr": 0, "dst": "input" },
                        { "op": "CHECK_POLICY", "policy": 0, "input": "input" },
                        { "op": "APPROVAL", "implicit": true },
                        { "op": "END" } ] },
                    { "id": 1, "name": "w8", "kind": "wait", "after": [0], "code": [
                        { "op": "RENDER", "template": 0, "dst": "event" },
                        { "op": "WAIT", "event": "event" },
                        { "op": "END" } ] }
                ],
                "triggers": [{ "on": "schedule", "cron": "0 9 * * MON-FRI" }]
            }]
        })
    }

    fn load_err(mutate: impl FnOnce(&mut Value)) -> String {
        let mut v = base();
        mutate(&mut v);
        let plan: Plan = serde_json::from_value(v).unwrap();
        LoadedPlan::load(plan).err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn the_base_plan_loads() {
        assert_eq!(load_err(|_| {}), "");
    }

    #[test]
    fn blocking_instructions_come_last() {
        assert_eq!(
            load_err(|v| {
                let code = v["workflows"][0]["steps"][1]["code"].as_array_mut().unwrap();
                code.insert(2, json!({ "op": "RENDER", "template": 0, "dst": "x" }));
            }),
            "workflow `w`: step `w8`, instruction 1 (WAIT): WAIT must be the last instruction before END"
        );
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][0]["code"][1] = json!({ "op": "RENDER", "template": 0, "dst": "x" })),
            "workflow `w`: step `c`, instruction 2 (APPROVAL): an implicit APPROVAL needs a CHECK_POLICY before it"
        );
    }

    #[test]
    fn policies_and_triggers_are_checked() {
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][0]["code"][1]["policy"] = json!(3)),
            "workflow `w`: step `c`, instruction 1 (CHECK_POLICY): policy 3 is not in the plan's 1 policies"
        );
        assert_eq!(load_err(|v| v["policies"][0]["rules"][0]["when"] = json!(9)), "policy `p`: rule 0 refers to expr e9, but the policy has 1 exprs");
        let err = load_err(|v| v["workflows"][0]["triggers"][0]["cron"] = json!("0 9 * *"));
        assert!(err.starts_with("workflow `w`: trigger 0: `0 9 * *`: expected 5 fields"), "{err}");
        let err = load_err(|v| v["policies"][0]["exprs"][0] = json!("input.n >"));
        assert!(err.starts_with("policy `p`: expr e0 `input.n >` is not valid CEL"), "{err}");
    }
}
