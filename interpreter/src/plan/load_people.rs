//! The loader's checks for people and events: policies (their CEL compiled
//! once), the blocking instructions' placement, triggers.

use super::{Instr, Plan, PlanError, Step, Trigger, Workflow};
use super::{Catchup, SignatureScheme, WebhookSignature};

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

pub(super) fn check_triggers(plan: &Plan, wf: &Workflow) -> Result<(), PlanError> {
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
            Trigger::Webhook { provider, entity, action, signature } => {
                if [provider, entity, action].iter().any(|p| p.is_empty()) {
                    return Err(at("a webhook trigger needs a provider, an entity and an action".into()));
                }
                if let Some(sig) = signature {
                    check_signature(plan, sig).map_err(at)?;
                }
            }
            Trigger::Schedule { cron, catchup, window_s } => {
                crate::runtime::triggers::parse_cron(cron).map_err(|e| at(format!("`{cron}`: {e}")))?;
                if *window_s == Some(0) {
                    return Err(at("a catch-up window of 0 seconds".into()));
                }
                if *catchup == Catchup::None && window_s.is_some() {
                    return Err(at("a catch-up window with `catchup none`".into()));
                }
            }
        }
    }
    Ok(())
}

/// A webhook signature names a redacted secret (so its value is masked in
/// everything a run records) and carries exactly its scheme's options.
fn check_signature(plan: &Plan, sig: &WebhookSignature) -> Result<(), String> {
    let Some(secret) = plan.secrets.get(sig.secret as usize) else {
        return Err(format!("signature secret#{} is not in the plan's {} secrets", sig.secret, plan.secrets.len()));
    };
    if !secret.redact {
        return Err(format!("signature secret#{} (`{}`) is not redacted", sig.secret, secret.name));
    }
    match (sig.scheme, sig.tolerance_s, &sig.header) {
        (SignatureScheme::Stripe, Some(0), _) => Err("a stripe signature with a tolerance of 0 seconds".into()),
        (SignatureScheme::Stripe, None, _) => Err("a stripe signature needs `tolerance_s`".into()),
        (SignatureScheme::Github | SignatureScheme::Hmac, Some(_), _) => {
            Err(format!("`tolerance_s` on a {} signature (only stripe signs a timestamp)", sig.scheme.keyword()))
        }
        (SignatureScheme::Hmac, _, None) => Err("an hmac signature needs a `header`".into()),
        (SignatureScheme::Github | SignatureScheme::Stripe, _, Some(_)) => {
            Err(format!("`header` on a {} signature (its header is fixed)", sig.scheme.keyword()))
        }
        (SignatureScheme::Hmac, _, Some(h)) if h.is_empty() || h.bytes().any(|b| !is_header_byte(b)) => {
            Err(format!("`{h}` is not a lower-case header name"))
        }
        _ => Ok(()),
    }
}

/// A byte of a lower-case HTTP header name (an RFC 9110 token).
fn is_header_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
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

    #[test]
    fn signatures_and_catchup_are_checked() {
        let signed = |sig: Value| {
            move |v: &mut Value| {
                v["secrets"] = json!([
                    { "name": "hooks.GITHUB", "from": "env", "arg": "GH", "redact": true },
                    { "name": "from_env(\"GH\")", "from": "env", "arg": "GH" }
                ]);
                v["workflows"][0]["triggers"] =
                    json!([{ "on": "webhook", "provider": "github", "entity": "*", "action": "*", "signature": sig }]);
            }
        };
        assert_eq!(load_err(signed(json!({ "scheme": "github", "secret": 0 }))), "");
        assert_eq!(load_err(signed(json!({ "scheme": "stripe", "secret": 0, "tolerance_s": 300 }))), "");
        assert_eq!(load_err(signed(json!({ "scheme": "hmac", "secret": 0, "header": "x-acme-signature" }))), "");
        let cases = [
            (json!({ "scheme": "github", "secret": 2 }), "signature secret#2 is not in the plan's 2 secrets"),
            (json!({ "scheme": "github", "secret": 1 }), "signature secret#1 (`from_env(\"GH\")`) is not redacted"),
            (json!({ "scheme": "stripe", "secret": 0 }), "a stripe signature needs `tolerance_s`"),
            (json!({ "scheme": "stripe", "secret": 0, "tolerance_s": 0 }), "a stripe signature with a tolerance of 0 seconds"),
            (json!({ "scheme": "github", "secret": 0, "tolerance_s": 5 }), "`tolerance_s` on a github signature (only stripe signs a timestamp)"),
            (json!({ "scheme": "hmac", "secret": 0 }), "an hmac signature needs a `header`"),
            (json!({ "scheme": "github", "secret": 0, "header": "x" }), "`header` on a github signature (its header is fixed)"),
            (json!({ "scheme": "hmac", "secret": 0, "header": "X-Acme" }), "`X-Acme` is not a lower-case header name"),
            (json!({ "scheme": "hmac", "secret": 0, "header": "x acme" }), "`x acme` is not a lower-case header name"),
        ];
        for (sig, why) in cases {
            assert_eq!(load_err(signed(sig)), format!("workflow `w`: trigger 0: {why}"));
        }
        let schedule = |t: Value| move |v: &mut Value| v["workflows"][0]["triggers"] = json!([t]);
        assert_eq!(load_err(schedule(json!({ "on": "schedule", "cron": "0 9 * * *", "catchup": "all", "window_s": 3600 }))), "");
        assert_eq!(
            load_err(schedule(json!({ "on": "schedule", "cron": "0 9 * * *", "catchup": "none", "window_s": 3600 }))),
            "workflow `w`: trigger 0: a catch-up window with `catchup none`"
        );
        assert_eq!(
            load_err(schedule(json!({ "on": "schedule", "cron": "0 9 * * *", "window_s": 0 }))),
            "workflow `w`: trigger 0: a catch-up window of 0 seconds"
        );
    }
}
