//! What a blocked step waits for ([`Hold`]) and who may resolve it: the actor checks, the policies that require an approval, and the blocked steps of a run's tree.
//!
//! A blocked step's gate is recorded in the payload of its `blocked` event,
//! which is what `resume` rebuilds it from: the event log is the record of
//! who may approve and until when. The runner executes the instructions that
//! block (`runner::waits`); decisions are filed and applied by [`super::decide`].


use serde_json::Value;

use super::scope::{to_cel, Evaluator, Scope};
use super::{Awaits, Error};
use crate::plan::directory::{normalize, Directory};
use crate::plan::{Instr, LoadedPlan, PolicyEffect};
pub use crate::state::Actor;
pub use crate::state::Hold;
use crate::state::{GateAction, StepStatus, Store};

/// The operating-system user this process runs as (its effective uid, from
/// the user database): the principal of the command line. Not `$USER`:
/// an environment variable is whatever the caller says.
pub fn os_user() -> String {
    // SAFETY: getpwuid_r writes into `pw` and `buf`, both ours and large
    // enough (it reports ERANGE otherwise, and we grow the buffer).
    unsafe {
        let uid = libc::geteuid();
        let mut buf = vec![0u8; 1024];
        loop {
            let mut pw: libc::passwd = std::mem::zeroed();
            let mut out: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut out);
            if rc == libc::ERANGE && buf.len() < 1 << 20 {
                buf.resize(buf.len() * 4, 0);
                continue;
            }
            if rc == 0 && !out.is_null() && !pw.pw_name.is_null() {
                return std::ffi::CStr::from_ptr(pw.pw_name).to_string_lossy().into_owned();
            }
            return format!("uid:{uid}");
        }
    }
}

impl Actor {
    /// The command line's actor: the OS user, `--as` recorded as on behalf of.
    pub fn cli(on_behalf_of: Option<&str>) -> Actor {
        Actor {
            principal: os_user(),
            on_behalf_of: on_behalf_of.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
            token: None,
            address: None,
            via: "cli".into(),
        }
    }
}

impl Hold {
    /// The verb a person uses to resolve the hold (`approve`, `complete`, …), for hints.
    pub fn action_word(&self) -> &'static str {
        match self.gate.as_str() {
            "approval" => "approval",
            "human" => "task",
            "wait" => "event",
            "timer" => "timer",
            _ => "child run",
        }
    }

    /// Whether `principal` may resolve this gate (approve, reject or
    /// complete): it is one of the approvers or in one of their groups, and
    /// not the run's initiator when the gate says so (compared after
    /// [`normalize`]).
    pub fn check_actor(&self, principal: &str, initiator: Option<&str>, dir: &Directory) -> Result<(), String> {
        if !self.approvers.is_empty() && !self.approvers.iter().any(|a| dir.may_act_as(principal, a)) {
            let listed: Vec<String> = self
                .approvers
                .iter()
                .map(|a| match dir.group_members(a) {
                    Some(members) => format!("{a} ({})", members.join(", ")),
                    None => a.clone(),
                })
                .collect();
            return Err(format!("`{principal}` is not among the approvers ({})", listed.join(", ")));
        }
        if self.distinct_from_initiator && initiator.is_some_and(|i| normalize(i) == normalize(principal)) {
            return Err(format!("`{principal}` started this run, and the gate requires someone else (distinct_from_initiator)"));
        }
        Ok(())
    }
}

/// What a policy decided for an input.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Allow, deny, or require an approval.
    pub effect: PolicyEffect,
    /// The index of the deciding rule (none for an allow no rule matched).
    pub rule: Option<usize>,
    /// The deciding rule's reason, if it gives one.
    pub reason: Option<String>,
}

/// Deny if any deny rule matches (the first one's reason), else
/// require_approval if one matches, else allow.
pub fn evaluate_policy(plan: &LoadedPlan, policy: u32, input: &Value) -> Result<Decision, String> {
    let p = &plan.plan.policies[policy as usize];
    let ev = Evaluator { env: &plan.cel, programs: &plan.policies[policy as usize].programs, exprs: &p.exprs };
    let mut scope = Scope::default();
    scope.bind("input", to_cel(input));
    let mut first: [Option<usize>; 3] = [None; 3];
    for (i, rule) in p.rules.iter().enumerate() {
        let slot = match rule.effect {
            PolicyEffect::Deny => 0,
            PolicyEffect::RequireApproval => 1,
            PolicyEffect::Allow => 2,
        };
        if first[slot].is_some() {
            continue;
        }
        let hit = ev.eval_bool(rule.when, &scope).map_err(|e| format!("policy {} rule {}: {e}", p.name, i + 1))?;
        if hit {
            first[slot] = Some(i);
        }
    }
    let (effect, rule) = match first {
        [Some(i), _, _] => (PolicyEffect::Deny, Some(i)),
        [None, Some(i), _] => (PolicyEffect::RequireApproval, Some(i)),
        [None, None, r] => (PolicyEffect::Allow, r),
    };
    let reason = match rule.and_then(|i| p.rules[i].because) {
        Some(t) => Some(ev.render(&p.templates[t as usize], &scope).map_err(|e| format!("policy {}: {e}", p.name))?),
        None => None,
    };
    Ok(Decision { effect, rule, reason })
}

/// The declared output type of a human step, if any.
pub(crate) fn human_type(plan: &LoadedPlan, wf: usize, step: u32) -> Option<&crate::plan::Type> {
    let w = &plan.plan.workflows[wf];
    w.steps[step as usize].code.iter().find_map(|i| match i {
        Instr::Human { ty: Some(t), .. } => w.types.get(*t as usize),
        _ => None,
    })
}

/// What `gate` waits for, when `action` does not fit it.
pub(crate) fn misfit(gate: &Hold, action: GateAction) -> Option<Awaits> {
    match (gate.gate.as_str(), action) {
        ("approval", GateAction::Approve | GateAction::Reject) | ("human", GateAction::Complete) => None,
        ("approval", GateAction::Complete) => Some(Awaits::Approval),
        ("human", _) => Some(Awaits::HumanTask),
        ("wait", _) => Some(Awaits::Event),
        ("timer", _) => Some(Awaits::Timer),
        _ => Some(Awaits::ChildRun),
    }
}

/// Checks a request against a gate: the action fits the gate, the actor may
/// decide, a task's output has the declared type.
pub(crate) fn check_request(
    gate: &Hold,
    action: GateAction,
    principal: &str,
    initiator: Option<&str>,
    output: Option<&Value>,
    ty: Option<&crate::plan::Type>,
    dir: &Directory,
) -> Result<(), String> {
    if let Some(awaits) = misfit(gate, action) {
        return Err(awaits.describe().to_string());
    }
    gate.check_actor(principal, initiator, dir)?;
    if action == GateAction::Complete
        && let Some(ty) = ty
    {
        ty.validate(output.unwrap_or(&Value::Null), "output").map_err(|e| format!("the output does not match the task's type {ty}: {e}"))?;
    }
    Ok(())
}

/// Who decided a step that is no longer blocked, and when, from its state
/// (the run's process and `flowc approve` both say it this way).
pub(crate) fn decided_why(step: &str, status: Option<StepStatus>, output: Option<&Value>, error: Option<&str>, finished_at: Option<&str>) -> String {
    let field = |k: &str| output.and_then(|o| o.get(k).or_else(|| o.get("approval").and_then(|a| a.get(k)))).and_then(Value::as_str);
    let at = field("at").or(finished_at).map(|t| format!(" at {t}")).unwrap_or_default();
    match status {
        Some(StepStatus::Completed) => match field("by") {
            Some(by) => format!("step `{step}` was already approved by {by}{at}"),
            None => format!("step `{step}` was already completed{at}"),
        },
        Some(StepStatus::Failed) => match error {
            Some(e) => format!("step `{step}` already failed{at}: {e}"),
            None => format!("step `{step}` already failed{at}"),
        },
        other => format!("step `{step}` is {}, not blocked", other.map_or("pending", |x| x.as_str())),
    }
}

/// The blocked gates of a run and of its child runs, for "how to continue" lines.
pub fn blocked_in_tree(store: &dyn Store, run: &str) -> Result<Vec<(String, String, Hold)>, Error> {
    let mut out = Vec::new();
    let mut queue = vec![run.to_string()];
    while let Some(r) = queue.pop() {
        for g in store.blocked_gates(&r)? {
            if let Ok(gate) = serde_json::from_value::<Hold>(g.gate)
                && gate.gate != "call"
            {
                out.push((r.clone(), g.step, gate));
            }
        }
        for child in store.children(&r)?.into_iter().map(|c| c.run) {
            if !child.status.is_terminal() {
                queue.push(child.id);
            }
        }
    }
    Ok(out)
}
