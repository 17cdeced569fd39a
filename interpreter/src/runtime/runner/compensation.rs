//! Compensation: the walk over a run's steps, newest first, that runs each
//! one's `compensate` — a command template, or a compensation step's code —
//! for every completed step (and every failed one that says
//! `compensate_on_failure`). `flowc compensate RUN` (`runtime::compensate`)
//! starts it; so does a run of a workflow with `on_failure compensate` when
//! it fails (`driver`). Each compensated step's status and its event are one
//! transaction, so a walk stopped by a failure or a crash resumes where it
//! stopped and never undoes a step twice.

use std::rc::Rc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::attempt::AttemptCtx;
use super::exec;
use super::{Msg, Shared};
use crate::runtime::scope::{absent_output, bind_env, run_value, step_view, to_cel, Evaluator, Scope};
use crate::runtime::{env_name, process, Error};
use crate::plan::{Compensate, StepId};
use crate::state::{Op, RunStatus, StepStatus};
use crate::time;
use crate::state::{payload, Event};

/// Compensates every completed step that has a `compensate` (and every
/// failed one that says `compensate_on_failure`), newest first; returns the
/// failure that stopped the walk, if any.
pub(crate) async fn walk(sh: Rc<Shared>, wf: usize, record: &crate::state::RunRecord) -> Result<Option<String>, Error> {
    let (run, inputs) = (record.id.as_str(), &record.inputs);
    let plan = &sh.plan.plan.workflows[wf];
    let loaded = &sh.plan.workflows[wf];
    let states = sh.store.borrow().step_states(run)?;
    let mut by_id: Vec<Option<crate::state::StepState>> = vec![None; plan.steps.len()];
    for s in states {
        if (s.step_id as usize) < by_id.len() {
            let id = s.step_id as usize;
            by_id[id] = Some(s);
        }
    }
    let mut base = Scope::default();
    base.bind("inputs", to_cel(inputs));
    // `run` as the run's steps saw it: where it started, what it cost.
    let started_ms = record.started_at.as_deref().and_then(time::parse_rfc3339).unwrap_or(0);
    let version = sh.store.borrow().origin(run)?.and_then(|o| o.version);
    base.bind("run", run_value(run, &record.workflow, started_ms, record.cost_usd, record.depth, version));
    for (i, st) in by_id.iter().enumerate() {
        if let Some(st) = st.as_ref().filter(|s| s.status.is_terminal()) {
            let absent = || absent_output(&plan.steps[i], &plan.types);
            let view = step_view(st.status.as_str(), st.attempts, st.output.as_ref(), absent, st.cost_usd, st.stdout.as_deref(), st.stderr.as_deref());
            base.bind(plan.steps[i].name.clone(), view);
        }
    }
    let input_env: Vec<(String, String)> = match inputs {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (format!("FLOW_INPUT_{}", env_name(k)), crate::plan::table::render_value(v)))
            .collect(),
        _ => Vec::new(),
    };
    let mut done = Vec::new();
    for &s in loaded.topo.iter().rev() {
        let step = &plan.steps[s as usize];
        let Some(comp) = &step.compensate else { continue };
        let owed = |st: &crate::state::StepState| {
            st.status == StepStatus::Completed || (st.status == StepStatus::Failed && step.compensate_on_failure)
        };
        let Some(state) = by_id[s as usize].clone().filter(owed) else { continue };
        let mut env = vec![
            ("FLOW_RUN_ID".to_string(), run.to_string()),
            ("FLOW_WORKFLOW".to_string(), plan.name.clone()),
            ("FLOW_STEP".to_string(), step.name.clone()),
            ("FLOW_COMPENSATING".to_string(), "1".to_string()),
            ("FLOW_PROJECT_DIR".to_string(), sh.options.project_dir.display().to_string()),
        ];
        env.extend(input_env.iter().cloned());
        // `env` is the environment of the step that runs: the compensated
        // step's for a command, the compensation step's own for a step.
        let ev = Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &plan.exprs };
        let env_of = match comp {
            Compensate::Template(_) => s,
            Compensate::Step(c) => *c,
        };
        let mut scope = base.clone();
        let params = plan.steps[env_of as usize].params;
        let bound = params.is_some_and(|p| crate::runtime::scope::bind_params(&ev, p, &mut scope));
        bind_env(&ev, &plan.templates, &plan.steps[env_of as usize].env, &mut scope);
        if let Some(p) = params.filter(|_| !bound) {
            crate::runtime::scope::bind_params(&ev, p, &mut scope);
        }
        let result = match comp {
            Compensate::Template(t) => {
                match ev.render(&plan.templates[*t as usize], &scope) {
                    Ok(command) => run_command(&sh, run, &step.name, &command, &env).await.map(|()| payload::Compensated { command: Some(command), ..Default::default() }),
                    Err(e) => Err(e),
                }
            }
            Compensate::Step(c) => run_step(&sh, wf, run, *c, &scope, env).await.map(|()| payload::Compensated { step: Some(plan.steps[*c as usize].name.clone()), ..Default::default() }),
        };
        let at = time::now();
        match result {
            Ok(compensated) => {
                let mut row = state;
                row.status = StepStatus::Compensated;
                row.finished_at = Some(at.clone());
                let event = Event::Compensated(compensated);
                apply_redacted(&sh, vec![
                    Op::StepState(row),
                    Op::Event { run: run.to_string(), step: Some(step.name.clone()), event: event.kind(), payload: event.to_json(), at },
                ])?;
                observe(&sh, run, &plan.name, Some(&step.name), &event);
                done.push(step.name.clone());
            }
            Err(error) => {
                let event = Event::CompensationFailed(payload::CompensationFailed { error: error.clone() });
                apply_redacted(&sh, vec![Op::Event {
                    run: run.to_string(),
                    step: Some(step.name.clone()),
                    event: event.kind(),
                    payload: event.to_json(),
                    at,
                }])?;
                observe(&sh, run, &plan.name, Some(&step.name), &event);
                return Ok(Some(format!("compensating step {} failed: {error}", step.name)));
            }
        }
    }
    apply_redacted(&sh, vec![
        Op::RunStatus {
            run: run.to_string(),
            status: RunStatus::Compensated,
            error: None,
            outputs: None,
            started_at: None,
            finished_at: Some(time::now()),
        },
        Op::event(run, None, &Event::Compensated(payload::Compensated { steps: Some(done.clone()), ..Default::default() })),
    ])?;
    observe(&sh, run, &plan.name, None, &Event::Compensated(payload::Compensated { steps: Some(done), ..Default::default() }));
    Ok(None)
}

/// Tells the observer (the CLI's progress lines) what was recorded; the
/// store masks secrets on write, so the event is masked here as well.
fn observe(sh: &Shared, run: &str, workflow: &str, step: Option<&str>, event: &Event) {
    if let Some(o) = &sh.options.observer {
        let mut event = event.clone();
        sh.secrets.redact_event(&mut event);
        o.observe(&crate::runtime::Observed { run, workflow, depth: 0, step, group: None, job: None, event: &event });
    }
}

async fn run_command(sh: &Shared, run: &str, step: &str, command: &str, env: &[(String, String)]) -> Result<(), String> {
    let log = process::log_path(&sh.options.runs_dir(), run, step);
    let (_keep, never) = watch::channel(false);
    let header = format!("compensate: {command}");
    let spec = process::Spec {
        command,
        stdin: None,
        env,
        cwd: &sh.options.project_dir,
        log: &log,
        header: Some(&header),
        deadline: None,
        redact: Some(sh.secrets.clone()),
    };
    let finished = process::run(spec, never, |_| {}).await.map_err(|e| format!("cannot start `sh -c`: {e}"))?;
    match finished.ending {
        process::Ending::Exited(0) => Ok(()),
        process::Ending::Exited(code) => Err(format!("`{command}` exited with status {code}")),
        other => Err(format!("`{command}` ended: {other:?}")),
    }
}

/// Runs a compensation step's code as an attempt of that step.
async fn run_step(sh: &Rc<Shared>, wf: usize, run: &str, c: StepId, base: &Scope, env: Vec<(String, String)>) -> Result<(), String> {
    let plan = &sh.plan.plan.workflows[wf];
    let name = plan.steps[c as usize].name.clone();
    let previous = sh.store.borrow().attempts(run).map_err(|e| e.to_string())?;
    let attempt = previous.iter().filter(|a| a.step_id == c).map(|a| a.attempt).max().unwrap_or(0) + 1;
    let started = time::now();
    apply_redacted(sh, vec![Op::AttemptStarted { run: run.to_string(), step_id: c, step: name.clone(), attempt, at: started.clone() }])
        .map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_abort_tx, abort) = watch::channel(false);
    let timeout = sh.plan.workflows[wf].steps[c as usize].timeout_ms;
    let mut env = env;
    if let Some(e) = env.iter_mut().find(|(k, _)| k == "FLOW_STEP") {
        e.1 = name.clone();
    }
    let ctx = AttemptCtx {
        sh: sh.clone(),
        adv: Default::default(),
        wf,
        step: c,
        attempt,
        run: run.to_string(),
        depth: 0,
        scope: base.clone(),
        env,
        abort,
        tx,
        deadline: timeout.map(|ms| tokio::time::Instant::now() + Duration::from_millis(ms)),
        timeout_ms: timeout,
    };
    tokio::task::spawn_local(exec::execute(ctx));
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Spawned { pid, .. } => {
                let _ = apply_redacted(sh, vec![Op::AttemptPid { run: run.to_string(), step_id: c, attempt, pid: pid as i64 }]);
            }
            Msg::Finished { outcome, .. } => {
                let (status, error, output) = match &outcome.result {
                    Ok(s) => (StepStatus::Completed, None, Some(s.output.clone())),
                    Err(e) => (StepStatus::Failed, Some(e.clone()), None),
                };
                apply_redacted(sh, vec![
                        Op::AttemptFinished {
                            run: run.to_string(),
                            step_id: c,
                            attempt,
                            status,
                            exit_code: outcome.exit_code,
                            error: error.clone(),
                            at: time::now(),
                            duration_ms: outcome.duration_ms,
                        },
                        Op::StepState(crate::state::StepState {
                            run: run.to_string(),
                            step_id: c,
                            step: name.clone(),
                            status,
                            attempts: attempt,
                            output,
                            stdout: Some(outcome.stdout.clone()),
                            stderr: Some(outcome.stderr.clone()),
                            cost_usd: outcome.cost,
                            error: error.clone(),
                            started_at: Some(started.clone()),
                            finished_at: Some(time::now()),
                        }),
                    ])
                    .map_err(|e| e.to_string())?;
                return match error {
                    None => Ok(()),
                    Some(e) => Err(format!("compensation step {name}: {e}")),
                };
            }
            Msg::RetryDue { .. } | Msg::GateChecked { .. } => {}
            Msg::Event { event, .. } => {
                let _ = apply_redacted(sh, vec![Op::event(run, Some(name.clone()), &event)]);
            }
        }
    }
    Err(format!("compensation step {name} ended without a result"))
}

/// Writes ops with secret values masked, as the runner does.
fn apply_redacted(sh: &Shared, mut ops: Vec<Op>) -> Result<(), crate::state::StateError> {
    sh.secrets.redact_ops(&mut ops);
    sh.store.borrow_mut().apply(&ops)
}
