//! Executing the instructions that can block a step within its attempt: `CHECK_POLICY`, `APPROVAL`, `HUMAN`, `WAIT`; each returns the hold the step waits on, if it must wait.

use serde_json::{json, Value};

use super::attempt::{AttemptCtx, Outcome};
use crate::plan::{Instr, PolicyEffect, Reg};
use crate::runtime::blocking::{evaluate_policy, Hold};
use crate::state::{payload, Event};

/// A blocking step's state within one attempt: what `CHECK_POLICY` decided.
#[derive(Default)]
pub(crate) struct AttemptState {
    /// (policy, reason) when the policy requires approval.
    required: Option<(String, Option<String>)>,
}

/// Executes one of the people instructions. Returns the gate when the step
/// must block; an error fails the attempt.
pub(crate) fn execute(
    ctx: &AttemptCtx,
    instr: &Instr,
    read: &dyn Fn(&Reg) -> Value,
    st: &mut AttemptState,
    output: &mut Value,
    out: &mut Outcome,
) -> Result<Option<Hold>, String> {
    let sh = &ctx.sh;
    let wf = &sh.plan.plan.workflows[ctx.wf];
    let text = |r: &Option<Reg>| r.as_ref().map(|r| crate::plan::table::render_value(&read(r)));
    match instr {
        Instr::CheckPolicy { policy, input } => {
            let input = read(input);
            let name = sh.plan.plan.policies[*policy as usize].name.clone();
            let decision = evaluate_policy(&sh.plan, *policy, &input)?;
            let word = decision.effect.keyword();
            *output = json!({ "policy": name, "decision": word });
            out.events.push(Event::Decided(payload::Decided {
                policy: name.clone(),
                decision: word.to_string(),
                rule: decision.rule.map(|r| r as u64 + 1),
                reason: decision.reason.clone(),
                input,
            }));
            if let Some(r) = &decision.reason {
                output["reason"] = json!(r);
            }
            match decision.effect {
                PolicyEffect::Deny => {
                    out.no_retry = true;
                    Err(format!(
                        "policy {name} denied it: {}",
                        decision.reason.unwrap_or_else(|| format!("rule {} matched", decision.rule.map_or(0, |r| r + 1)))
                    ))
                }
                PolicyEffect::RequireApproval => {
                    st.required = Some((name, decision.reason));
                    Ok(None)
                }
                PolicyEffect::Allow => Ok(None),
            }
        }
        Instr::Approval { message, approvers, distinct_from_initiator, implicit } => {
            let (policy, reason) = match (implicit, &st.required) {
                (true, None) => return Ok(None),
                (true, Some((p, r))) => (Some(p.clone()), r.clone()),
                (false, _) => (None, None),
            };
            let message = text(message).or_else(|| reason.clone());
            Ok(Some(Hold {
                gate: "approval".into(),
                message,
                approvers: approvers.clone(),
                distinct_from_initiator: *distinct_from_initiator,
                implicit: *implicit,
                policy,
                reason,
                ..Hold::default()
            }))
        }
        Instr::Human { message, ty, approvers } => Ok(Some(Hold {
            gate: "human".into(),
            message: text(message),
            approvers: approvers.clone(),
            output_type: ty.map(|t| wf.types[t as usize].to_string()),
            output_example: ty.map(|t| wf.types[t as usize].example()),
            ..Hold::default()
        })),
        Instr::Wait { event, subject } => Ok(Some(Hold {
            gate: "wait".into(),
            event: text(&Some(event.clone())),
            subject: text(subject),
            ..Hold::default()
        })),
        _ => Ok(None),
    }
}
