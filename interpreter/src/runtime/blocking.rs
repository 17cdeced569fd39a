//! Steps that wait on people and the outside world: what a blocked step
//! waits for ([`Hold`]), executing `CHECK_POLICY`/`APPROVAL`/`HUMAN`/`WAIT`,
//! and the commands that resolve a gate from any process
//! (`flowc approve|reject|complete`).
//!
//! A blocked step's gate is recorded in the payload of its `blocked` event,
//! which is what `resume` rebuilds it from: the event log is the record of
//! who may approve and until when. Decisions are filed as gate requests and
//! applied by the process executing the run (`runner::quality_gates`), which checks
//! them again there; the command checks them first so that a person hears at
//! once why a decision is refused.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::exec::{AttemptCtx, Outcome};
use super::scope::{to_cel, Evaluator, Scope};
use super::{Awaits, Error, Refusal, RunOptions, Steered};
use crate::plan::directory::{normalize, Directory};
use crate::plan::{Instr, LoadedPlan, PolicyEffect, Reg};
pub use crate::state::Actor;
use crate::state::{EventKind, GateAction, RunStatus, StepStatus, Store};

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

/// What a blocked step waits for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// `approval`, `human`, `wait`, or `call` (a child run is blocked).
    pub gate: String,
    /// The question or task shown to whoever decides (`message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who may decide: principals and groups of `flowc.toml`; empty, anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// Whoever started the run may not decide.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distinct_from_initiator: bool,
    /// An approval a policy required (`check` steps).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub implicit: bool,
    /// For an approval a policy required: the policy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// For an approval a policy required: the rule's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a human task: the declared output type, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_type: Option<String>,
    /// For a human task: the simplest value of the declared type, for hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_example: Option<serde_json::Value>,
    /// For a wait: the type and subject globs, rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// For a wait: the subject glob, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// For a call: the blocked child run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_run: Option<String>,
    /// When the step fails if nobody resolved it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// The attempt that blocked.
    #[serde(default)]
    pub attempt: u32,
}

impl Hold {
    /// The verb a person uses to resolve the hold (`approve`, `complete`, …), for hints.
    pub fn action_word(&self) -> &'static str {
        match self.gate.as_str() {
            "approval" => "approval",
            "human" => "task",
            "wait" => "event",
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

/// A blocking step's state within one attempt: what `CHECK_POLICY` decided.
#[derive(Default)]
pub(crate) struct AttemptState {
    /// (policy, reason) when the policy requires approval.
    required: Option<(String, Option<String>)>,
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
            out.events.push((
                EventKind::Decided,
                json!({ "policy": name, "decision": word, "rule": decision.rule.map(|r| r + 1), "reason": decision.reason, "input": input }),
            ));
            *output = json!({ "policy": name, "decision": word });
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

/// A decision checked and filed: the request's id and the top-level run
/// that must run to apply it.
pub struct Filed {
    /// The request's id in the state database.
    pub id: i64,
    /// The top-level run whose execution applies the request.
    pub root: String,
}

/// Checks a decision against the step's gate (it is blocked, the action
/// fits, the actor may decide — `dir` expands the approvers' groups —, a
/// task's output has its type) and files it. Nothing is filed when the
/// check fails.
#[allow(clippy::too_many_arguments)]
pub fn file(
    store: &mut dyn Store,
    run: &str,
    step: &str,
    action: GateAction,
    actor: &Actor,
    comment: Option<&str>,
    output: Option<&Value>,
    dir: &Directory,
) -> Result<Filed, Error> {
    let record = crate::runtime::run_record(&*store, run)?;
    let state = store.step_states(run)?.into_iter().find(|s| s.step == step);
    if record.status.is_terminal() {
        return Err(Error::Run(match &state {
            Some(s) if s.status.is_terminal() => format!("your decision was not applied: {}", decided_why_state(s)),
            _ => format!("run `{run}` is {}; there is nothing to decide", record.status),
        }));
    }
    let Some(state) = state else {
        let plan = super::load_stored_plan(&*store, record.plan_id)?;
        let known = plan.plan.workflow(&record.workflow).is_some_and(|w| w.steps.iter().any(|s| s.name == step));
        return Err(Error::Run(if known {
            format!("step `{step}` of run `{run}` has not started; it is not waiting for anything yet")
        } else {
            format!("run `{run}` has no step `{step}`")
        }));
    };
    if state.status != StepStatus::Blocked {
        return Err(Error::Run(if state.status.is_terminal() {
            format!("your decision was not applied: {}", decided_why_state(&state))
        } else {
            format!("step `{step}` of run `{run}` is {}, not blocked", state.status)
        }));
    }
    let Some(gate) = store.blocked_gates(run)?.into_iter().find(|g| g.step == step) else {
        // The state and the gate are two reads: a decision applied between
        // them (another process won the race) unblocked the step. Say so
        // from the state as it is now.
        let now = store.step_states(run)?.into_iter().find(|s| s.step == step);
        return Err(Error::Run(match now {
            Some(s) if s.status.is_terminal() => format!("your decision was not applied: {}", decided_why_state(&s)),
            Some(s) if s.status != StepStatus::Blocked => {
                format!("your decision was not applied: step `{step}` is {} now, no longer blocked", s.status)
            }
            _ => format!("step `{step}` of run `{run}` is blocked, but its gate is not recorded"),
        }));
    };
    let gate: Hold = serde_json::from_value(gate.gate)
        .map_err(|e| Error::Run(format!("step `{step}` of run `{run}` is blocked, but its recorded gate is unreadable: {e}")))?;
    let initiator = store.origin(run)?.and_then(|o| o.initiator);
    let plan = super::load_stored_plan(&*store, record.plan_id)?;
    let wf = plan.workflow_index(&record.workflow).ok_or_else(|| Error::Run(format!("the stored plan has no workflow `{}`", record.workflow)))?;
    let ty = human_type(&plan, wf, state.step_id);
    if let Some(awaits) = misfit(&gate, action) {
        return Err(Refusal::WrongDecision { run: run.to_string(), step: step.to_string(), action, awaits }.into());
    }
    check_request(&gate, action, &actor.principal, initiator.as_deref(), output, ty, dir)
        .map_err(|why| Error::Run(format!("cannot {} step `{step}` of run `{run}`: {why}", action.as_str())))?;

    let id = store.file_gate_request(run, step, state.attempts, action, actor, comment, output)?;
    let root = super::inbox::root_of(store, run)?;
    Ok(Filed { id, root })
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

fn decided_why_state(s: &crate::state::StepState) -> String {
    decided_why(&s.step, Some(s.status), s.output.as_ref(), s.error.as_deref(), s.finished_at.as_deref())
}

/// `flowc approve|reject|complete RUN STEP`: checks the decision, files it,
/// and continues the run here when nobody else is executing it.
pub fn resolve(
    run: &str,
    step: &str,
    action: GateAction,
    actor: &Actor,
    comment: Option<&str>,
    output: Option<&Value>,
    options: &RunOptions,
) -> Result<Steered, Error> {
    let dir = Directory::load(&options.project_dir).map_err(|e| Error::Input(format!("flowc.toml: {e}")))?;
    let mut store = super::open_store(options)?;
    let Filed { id, root } = file(&mut *store, run, step, action, actor, comment, output, &dir)?;
    let outcome = apply_filed(store, id, &root, options)?;
    // The command succeeds only if its own decision was applied: a request
    // that lost a race (another decision came first) is refused, and one
    // left pending while its gate was decided by someone else is closed.
    let mut store = super::open_store(options)?;
    let request = store.gate_request(id)?.ok_or_else(|| Error::Run(format!("the request {id} disappeared")))?;
    match request.result.as_deref() {
        Some("applied") => Ok(outcome),
        Some(r) => Err(Error::Run(format!("your decision was not applied: {}", r.strip_prefix("refused: ").unwrap_or(r)))),
        None => {
            let state = store.step_states(run)?.into_iter().find(|s| s.step == step);
            let still_waiting = state.as_ref().is_some_and(|s| s.status == StepStatus::Blocked && Some(s.attempts) == request.attempt);
            if still_waiting {
                return Ok(outcome);
            }
            let why = match state {
                Some(s) => decided_why_state(&s),
                None => format!("step `{step}` is no longer waiting"),
            };
            store.apply(&[crate::state::Op::GateRequestHandled { id, result: format!("refused: {why}"), at: crate::time::now() }])?;
            Err(Error::Run(format!("your decision was not applied: {why}")))
        }
    }
}

fn apply_filed(store: Box<dyn Store>, id: i64, root: &str, options: &RunOptions) -> Result<Steered, Error> {
    let root = root.to_string();
    let root_record = crate::runtime::run_record(&*store, &root)?;
    let runs_dir = options.runs_dir();
    if root_record.status == RunStatus::Paused {
        return Ok(Steered::Recorded { run: root, paused: true });
    }
    match super::control::try_lock(&runs_dir, &root)? {
        Some(lock) => continue_here(store, &root, lock, options),
        None => {
            let mut result = None;
            super::control::wait_for(
                || {
                    result = store.gate_request(id)?.and_then(|r| r.result);
                    // Nobody will apply it if the executing process let go of the run first.
                    Ok(result.is_some() || super::control::try_lock(&runs_dir, &root)?.is_some())
                },
                "apply the decision",
            )?;
            match result {
                // Refused or not, the executing process handled it; the
                // caller reads which from the request.
                Some(_) => Ok(Steered::Continues { run: root }),
                None => match super::control::try_lock(&runs_dir, &root)? {
                    Some(lock) => continue_here(store, &root, lock, options),
                    None => Ok(Steered::Recorded { run: root, paused: false }),
                },
            }
        }
    }
}

/// Continues the run in this process, holding its lock; the record is read
/// again under the lock, since another process may have applied the
/// decision and finished the run meanwhile.
fn continue_here(store: Box<dyn Store>, root: &str, lock: super::control::RunLock, options: &RunOptions) -> Result<Steered, Error> {
    let record = crate::runtime::run_record(&*store, root)?;
    if record.status.is_terminal() {
        return Ok(Steered::Ended { run: root.to_string(), status: record.status });
    }
    super::runner::resume_locked(store, record, lock, options).map(Steered::Ran)
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
