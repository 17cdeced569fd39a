//! Quality gates and their adaptive loops.
//!
//! A `gate` step runs each `check` command in order, all of them even after
//! one fails (so the event says everything that is wrong). A check passes
//! when its command exits 0 and, with `expect`, prints that text (surrounding
//! whitespace trimmed). Every evaluation is a `gate_passed` or `gate_failed`
//! event carrying each check's result; `flowc runs stats` counts them.
//!
//! When the gate fails for good (after its own `retry`, if any):
//! - `on_fail fix STEP retry N`: while fewer than N fix rounds ran, the fix
//!   step and every step between it and the gate (downstream of the fix
//!   step and upstream of the gate, the gate included — the loader computes
//!   the set) are reset to pending with a `reset` event, the gate records a
//!   `gate_fix` event, and they run again. Steps downstream of the fix step
//!   that the gate does not depend on keep their results.
//! - after the rounds, or with `on_fail pause|fail`: the gate pauses the run
//!   (like `on_failure pause`: `flowc resume` checks again, `flowc skip`
//!   passes a `skippable` gate) or fails.
//! - without `on_fail`: the step's `on_failure` applies.

use serde_json::{json, Value};

use super::Runner;
use crate::plan::{FailMode, GateCheck};
use crate::plan::{OnFailure, StepId};
use super::attempt::{self, AttemptCtx, Outcome};
use crate::runtime::process::Ending;
use crate::runtime::scope::{Evaluator, Scope};
use crate::state::StepStatus;
use crate::state::{payload, Event};

fn excerpt(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() > 200 { format!("{}…", t.chars().take(199).collect::<String>()) } else { t.to_string() }
}

/// `GATE`: runs every check; the output lists their results.
pub(crate) async fn run_checks(
    ctx: &AttemptCtx,
    checks: &[GateCheck],
    scope: &Scope,
    env: &[(String, String)],
    log: &std::path::Path,
    out: &mut Outcome,
) -> Result<Value, String> {
    let sh = &ctx.sh;
    let wf = &sh.plan.plan.workflows[ctx.wf];
    let loaded = &sh.plan.workflows[ctx.wf];
    let ev = Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &wf.exprs };
    let mut results = Vec::with_capacity(checks.len());
    let mut failures = Vec::new();
    let mut stdout = String::new();
    for (i, check) in checks.iter().enumerate() {
        let command = ev.render(&wf.templates[check.template as usize], scope)?;
        let header = format!("attempt {}: check {}: {command}", ctx.attempt, i + 1);
        let finished = attempt::spawn(ctx, &command, None, env, log, &header).await?;
        stdout.push_str(&finished.stdout);
        out.stderr = finished.stderr.clone();
        let (passed, reason, code) = match &finished.ending {
            Ending::Exited(0) => match &check.expect {
                Some(e) if finished.stdout.trim() != e.trim() => {
                    (false, Some(format!("printed {:?}, expected {:?}", excerpt(&finished.stdout), e.trim())), Some(0))
                }
                _ => (true, None, Some(0)),
            },
            Ending::Exited(code) => {
                let last = finished.stderr.lines().rev().find(|l| !l.trim().is_empty()).map(|l| format!(": {}", l.trim())).unwrap_or_default();
                (false, Some(format!("exited with status {code}{last}")), Some(*code))
            }
            Ending::Signalled(sig) => (false, Some(format!("was killed by signal {sig}")), None),
            Ending::TimedOut => (false, Some("did not finish before the step's timeout".to_string()), None),
            Ending::Aborted => {
                out.aborted = true;
                out.stdout = stdout;
                return Err("the run was stopped while the gate's checks ran".into());
            }
        };
        if let Some(reason) = &reason {
            failures.push(format!("`{command}` {reason}"));
            out.exit_code = code;
        }
        results.push(payload::GateCheck { command: command.clone(), passed, exit_code: code, reason, stdout: excerpt(&finished.stdout) });
        if matches!(finished.ending, Ending::TimedOut) {
            out.timed_out = true;
            break;
        }
    }
    out.stdout = stdout;
    let report = payload::GateReport { passed: failures.is_empty(), checks: results, attempt: 0, round: 0 };
    // The step's output is the report without the attempt and round the
    // event adds.
    let output = json!({ "passed": report.passed, "checks": report.checks });
    out.adv.gate = Some(report);
    if failures.is_empty() {
        Ok(output)
    } else {
        Err(format!("{} of {} checks failed: {}", failures.len(), checks.len(), failures.join("; ")))
    }
}

impl Runner {
    /// A gate's `on_fail pause|fail` (and the mode after its fix rounds)
    /// takes the place of the step's `on_failure`.
    pub(super) fn on_failure_of(&self, s: StepId) -> OnFailure {
        let step = &self.wf_plan().steps[s as usize];
        match step.gate.as_ref().and_then(|g| g.on_fail) {
            Some(FailMode::Pause) => OnFailure::Pause,
            Some(FailMode::Fail) => OnFailure::Fail,
            None => step.on_failure,
        }
    }

    /// Records a gate evaluation (`gate_passed` / `gate_failed`).
    pub(super) fn gate_event(&mut self, s: StepId, attempt: u32, report: Option<payload::GateReport>) {
        let Some(mut report) = report else { return };
        report.attempt = attempt;
        report.round = self.adv.fix_rounds.get(&s).copied().unwrap_or(0);
        self.event(Some(s), if report.passed { Event::GatePassed(report) } else { Event::GateFailed(report) });
    }

    /// A gate failed for good: start a fix round if one is left. Returns
    /// `true` when it did (the failure is then not final).
    pub(super) fn gate_fix(&mut self, g: StepId, error: &str) -> bool {
        let sh = self.sh.clone();
        let Some(policy) = &sh.plan.plan.workflows[self.wf].steps[g as usize].gate else { return false };
        if policy.fix.is_empty() || self.aborting.is_some() {
            return false;
        }
        let used = self.adv.fix_rounds.get(&g).copied().unwrap_or(0);
        if used >= policy.fix_retries {
            return false;
        }
        let round = used + 1;
        self.adv.fix_rounds.insert(g, round);
        let set = sh.plan.workflows[self.wf].steps[g as usize].fix_loop.clone();
        let names: Vec<String> = set.iter().map(|s| self.wf_plan().steps[*s as usize].name.clone()).collect();
        self.steps[g as usize].error = Some(error.to_string());
        self.event(Some(g), Event::GateFix(payload::GateFix { round, of: policy.fix_retries, error: error.to_string(), rerun: names }));
        let by = format!("gate {} fix round {round}", self.wf_plan().steps[g as usize].name);
        self.reset_steps(&set, &by);
        true
    }

    /// Makes steps pending again and lets the trigger rules decide them anew
    /// (fix rounds). Every step depending on one of them is recounted.
    pub(super) fn reset_steps(&mut self, set: &[StepId], by: &str) {
        let sh = self.sh.clone();
        let loaded = &sh.plan.workflows[self.wf];
        for &s in set {
            let st = &mut self.steps[s as usize];
            // A step still running (a `one_success` gate need not wait for
            // it) finishes and informs its dependents as usual.
            if st.in_flight {
                continue;
            }
            if st.status.is_some_and(StepStatus::is_terminal) {
                self.settled = self.settled.saturating_sub(1);
            }
            st.decided = false;
            st.output = None;
            st.view = None;
            st.picked = None;
            st.retry_waiting = false;
            st.stdout = None;
            st.stderr = None;
            self.adv.item_lists.remove(&s);
            self.adv.instances.remove(&s);
            self.record_step(s, StepStatus::Pending, Event::Reset(payload::Reset { by: by.to_string() }));
        }
        let mut affected: Vec<StepId> = set.to_vec();
        for &s in set {
            affected.extend(loaded.dependents[s as usize].iter().copied());
        }
        affected.sort_unstable_by_key(|s| loaded.topo_index[*s as usize]);
        affected.dedup();
        let mut work = Vec::new();
        for &x in &affected {
            if self.steps[x as usize].decided {
                continue;
            }
            self.recount(x);
            let step = &self.wf_plan().steps[x as usize];
            if step.after.is_empty() || super::rules::starts_at_once(step.trigger) {
                self.steps[x as usize].decided = true;
                self.make_ready(x, &mut work);
            } else {
                self.decide(x, &mut work);
            }
        }
        self.propagate(work);
    }
}
