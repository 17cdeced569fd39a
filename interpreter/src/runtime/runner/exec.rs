//! Executing one attempt of a step: its instructions, top to bottom.
//!
//! An attempt sees a snapshot (its [`Scope`]) taken when it was dispatched and
//! reports one [`Outcome`] to the runner; it never touches run state itself.
//! Every failure becomes an error message for the step — nothing a plan or a
//! command does can panic here.

use std::rc::Rc;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::runtime::process::{self, Ending};
use super::{Msg, Shared};
use crate::runtime::scope::{Evaluator, Scope};
use crate::plan::{Instr, OutputMode, StepId};
use crate::state::EventKind;

pub(crate) struct AttemptCtx {
    pub sh: Rc<Shared>,
    /// The advanced primitives' part of the attempt (items, pins, …).
    pub adv: super::items::AttemptExtras,
    pub wf: usize,
    pub step: StepId,
    pub attempt: u32,
    pub run: String,
    pub depth: u32,
    pub scope: Scope,
    pub env: Vec<(String, String)>,
    pub abort: watch::Receiver<bool>,
    pub tx: mpsc::UnboundedSender<Msg>,
    pub deadline: Option<Instant>,
    pub timeout_ms: Option<u64>,
}

pub(crate) struct Success {
    pub output: Value,
    /// For a branch: the index of the arm it picked, if one matched.
    pub picked: Option<u32>,
}

pub(crate) struct Outcome {
    pub result: Result<Success, String>,
    /// Stopped by a cancel (or the run's timeout/budget), not by its own fault.
    pub aborted: bool,
    pub stdout: String,
    pub stderr: String,
    pub cost: f64,
    pub exit_code: Option<i32>,
    /// The `notified` event payload, for a NOTIFY.
    pub notified: Option<Value>,
    pub duration_ms: i64,
    /// The step waits on a person or an event (`blocking`); the result holds
    /// its output so far.
    pub blocked: Option<crate::runtime::blocking::Hold>,
    /// Events to record before the step's outcome (a policy's decision).
    pub events: Vec<(EventKind, Value)>,
    /// The failure is final: retrying cannot change it (a policy's deny).
    pub no_retry: bool,
    /// What the advanced primitives report (items, gate results, violations…).
    pub adv: super::items::OutcomeExtras,
}

pub(crate) enum RegVal {
    Text(String),
    Value(Value),
}

impl RegVal {
    fn text(&self) -> String {
        match self {
            RegVal::Text(t) => t.clone(),
            RegVal::Value(v) => crate::plan::table::render_value(v),
        }
    }
    fn value(&self) -> Value {
        match self {
            RegVal::Text(t) => Value::String(t.clone()),
            RegVal::Value(v) => v.clone(),
        }
    }
}

pub(crate) struct Regs(pub(crate) Vec<(String, RegVal)>);

impl Regs {
    fn set(&mut self, name: &str, value: RegVal) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }
    /// Load-time checks guarantee a register is written before it is read.
    fn get(&self, name: &str) -> &RegVal {
        static EMPTY: RegVal = RegVal::Text(String::new());
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v).unwrap_or(&EMPTY)
    }
}

pub(crate) fn new_outcome() -> Outcome {
    Outcome {
        result: Err(String::new()),
        aborted: false,
        stdout: String::new(),
        stderr: String::new(),
        cost: 0.0,
        exit_code: None,
        notified: None,
        duration_ms: 0,
        blocked: None,
        events: Vec::new(),
        no_retry: false,
        adv: Default::default(),
    }
}

pub(crate) async fn execute(ctx: AttemptCtx) {
    let started = Instant::now();
    let ctx = Rc::new(ctx);
    let mut outcome = new_outcome();
    outcome.result = run_code(&ctx, &mut outcome).await;
    outcome.duration_ms = started.elapsed().as_millis() as i64;
    let _ = ctx.tx.send(Msg::Finished { step: ctx.step, attempt: ctx.attempt, outcome: Box::new(outcome) });
}

fn describe_ending(ending: &Ending, timeout_ms: Option<u64>) -> String {
    match ending {
        Ending::Exited(code) => format!("the command exited with status {code}"),
        Ending::Signalled(sig) => format!("the command was killed by signal {sig}"),
        Ending::TimedOut => format!(
            "the step timed out after {}",
            crate::plan::disasm::format_duration(timeout_ms.unwrap_or(0))
        ),
        Ending::Aborted => "the run was stopped while the command ran".into(),
    }
}

async fn run_code(ctx: &Rc<AttemptCtx>, out: &mut Outcome) -> Result<Success, String> {
    let sh = &ctx.sh;
    let wf = &sh.plan.plan.workflows[ctx.wf];
    let loaded = &sh.plan.workflows[ctx.wf];
    let step = &wf.steps[ctx.step as usize];
    let ev = Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &wf.exprs };

    let mut env = ctx.env.clone();
    for binding in &step.env {
        let value = ev.render(&wf.templates[binding.template as usize], &ctx.scope).map_err(|e| format!("env {}: {e}", binding.name))?;
        env.push((binding.name.clone(), value));
    }
    // Secrets resolve before anything runs: a missing one fails the step here.
    env.extend(crate::runtime::secrets::resolve_env(&step.secret_env, &sh.plan.plan.secrets, &sh.options.project_dir, &sh.secrets)?);

    // Post actions are a suffix of the code (the loader checks it).
    let split = step.code.iter().position(crate::plan::is_post_action).unwrap_or(step.code.len());
    let (work, post) = step.code.split_at(split);
    let work_out = if step.for_each {
        super::items::run_instances(ctx, work, &env, out).await?
    } else {
        let mut scope = ctx.scope.clone();
        run_instrs(ctx, work, &mut scope, &env, None, out).await?
    };
    if out.blocked.is_some() {
        // Waiting on a person or an event: the step has not succeeded yet.
        return Ok(work_out);
    }
    let mut scope = ctx.scope.clone();
    super::items::run_posts(ctx, post, &mut scope, &work_out.output, out).await?;
    super::invariants::check_after_step(ctx, &env, out).await;
    Ok(work_out)
}

/// Runs instructions top to bottom (one instance of a `for each` step, or
/// the whole work of any other step). `scope` gains the names `READ_STORE` binds.
pub(crate) async fn run_instrs(
    ctx: &AttemptCtx,
    code: &[Instr],
    scope: &mut Scope,
    env: &[(String, String)],
    item: Option<usize>,
    out: &mut Outcome,
) -> Result<Success, String> {
    let sh = &ctx.sh;
    let wf = &sh.plan.plan.workflows[ctx.wf];
    let loaded = &sh.plan.workflows[ctx.wf];
    let step = &wf.steps[ctx.step as usize];
    let ev = Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &wf.exprs };
    let log = process::log_path(&sh.options.runs_dir(), &ctx.run, &step.name);
    let mut regs = Regs(Vec::new());
    let mut output = Value::Null;
    let mut picked = None;
    let mut last_stdout: Option<String> = None;
    // An agent's declared cost, unless its parsed output reports `cost_usd`.
    let mut agent_cost: Option<f64> = None;
    let mut people = super::waits::AttemptState::default();
    let label = match item {
        Some(i) => format!("attempt {}, item {i}", ctx.attempt),
        None => format!("attempt {}", ctx.attempt),
    };

    for instr in code {
        match instr {
            Instr::Render { template, dst } => {
                let text = ev.render(&wf.templates[*template as usize], scope)?;
                regs.set(&dst.0, RegVal::Text(text));
            }
            Instr::Eval { expr, dst } => {
                let value = ev.eval(*expr, scope)?;
                regs.set(&dst.0, RegVal::Value(value));
            }
            Instr::Exec { cmd } => {
                let command = regs.get(&cmd.0).text();
                let header = format!("{label}: {command}");
                let finished = spawn(ctx, &command, None, env, &log, &header).await?;
                let stdout = settle_process(out, finished, ctx.timeout_ms)?;
                last_stdout = Some(stdout);
            }
            Instr::Agent { agent, prompt } => {
                let agent = &sh.plan.plan.agents[*agent as usize];
                let prompt = regs.get(&prompt.0).text();
                let mut agent_env = env.to_vec();
                agent_env.extend(agent.env.iter().map(|e| (e.name.clone(), e.value.clone())));
                agent_env.extend(crate::runtime::secrets::resolve_env(
                    &agent.secret_env,
                    &sh.plan.plan.secrets,
                    &sh.options.project_dir,
                    &sh.secrets,
                )?);
                agent_env.push(("FLOW_PROMPT".into(), prompt.clone()));
                let header = format!("{label}: agent {}: {}", agent.name, agent.command);
                let finished = spawn(ctx, &agent.command, Some(prompt), &agent_env, &log, &header).await?;
                // The call was made: its declared cost is spent even if it failed.
                let declared = agent.cost_per_call.unwrap_or(0.0);
                agent_cost = Some(agent_cost.unwrap_or(0.0) + declared);
                out.cost = agent_cost.unwrap_or(0.0);
                let stdout = settle_process(out, finished, ctx.timeout_ms)?;
                last_stdout = Some(stdout);
            }
            Instr::ParseOutput { mode, ty } => {
                let text = last_stdout.clone().unwrap_or_default();
                output = match mode {
                    OutputMode::Text => Value::String(trim_newline(&text)),
                    OutputMode::Auto => serde_json::from_str(&text).unwrap_or_else(|_| Value::String(trim_newline(&text))),
                    OutputMode::Json => serde_json::from_str(&text).map_err(|e| {
                        format!("the output is not JSON ({e}); it starts with {:?}", text.chars().take(80).collect::<String>())
                    })?,
                };
                // A text output reaches other steps' environments (FLOW_OUTPUT_…),
                // which cannot hold NUL: fail here, naming the byte, rather
                // than fail every dependent with a message that names nothing.
                if let Value::String(s) = &output
                    && let Some(at) = s.find('\0') {
                        return Err(format!(
                            "the output holds a NUL byte (byte {at} of its text); a text output must not contain NUL, \
                             because other steps receive it in their environment: encode binary data (base64) or write it to a file"
                        ));
                    }
                if let Some(ty) = ty {
                    let ty = &wf.types[*ty as usize];
                    ty.validate(&output, "output").map_err(|e| format!("the output does not match its declared type {ty}: {e}"))?;
                }
                if agent_cost.is_some()
                    && let Some(reported) = output.get("cost_usd").and_then(Value::as_f64).filter(|c| c.is_finite() && *c >= 0.0) {
                        out.cost = reported;
                    }
            }
            Instr::Notify { channel, message } => {
                let channel = channel.as_ref().map(|c| regs.get(&c.0).text());
                let message = regs.get(&message.0).text();
                let sink = super::notify::deliver(sh, &ctx.run, &step.name, channel.as_deref(), &message, &log);
                output = json!({ "channel": channel, "message": message });
                out.notified = Some(json!({ "channel": channel, "message": message, "sink": sink }));
            }
            Instr::Branch { arms } => {
                for (i, arm) in arms.iter().enumerate() {
                    let hit = match arm.when {
                        Some(expr) => ev.eval_bool(expr, scope)?,
                        None => true,
                    };
                    if hit {
                        picked = Some(i as u32);
                        break;
                    }
                }
                output = json!({ "picked": picked.map(|i| wf.arm_name(&arms[i as usize]).to_string()) });
            }
            Instr::Call { workflow, inputs } => {
                let inputs = inputs.as_ref().map(|r| regs.get(&r.0).value()).unwrap_or(Value::Null);
                output = call(ctx, workflow, inputs, item, out).await?;
            }
            Instr::ReadStore { store, key, name } => {
                let value = super::stores::read(sh, *store, key).await?;
                scope.set(name, crate::runtime::scope::to_cel(&value));
            }
            Instr::Select(select) => output = super::items::run_select(ctx, select, out)?,
            Instr::Gate { checks } => output = super::quality_gates::run_checks(ctx, checks, scope, env, &log, out).await?,
            // Post actions run after the work, in `items::run_posts`.
            Instr::StorePut { .. } | Instr::Spawn { .. } | Instr::SpawnEach { .. } | Instr::Items { .. } => {}
            Instr::End => break,
            Instr::CheckPolicy { .. } | Instr::Approval { .. } | Instr::Human { .. } | Instr::Wait { .. } => {
                let read = |r: &crate::plan::Reg| regs.get(&r.0).value();
                if let Some(gate) = super::waits::execute(ctx, instr, &read, &mut people, &mut output, out)? {
                    out.blocked = Some(gate);
                    break;
                }
            }
        }
    }
    Ok(Success { output, picked })
}

fn trim_newline(text: &str) -> String {
    text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text).to_string()
}

pub(crate) async fn spawn(
    ctx: &AttemptCtx,
    command: &str,
    stdin: Option<String>,
    env: &[(String, String)],
    log: &std::path::Path,
    header: &str,
) -> Result<process::Finished, String> {
    let spec = process::Spec {
        command,
        stdin,
        env,
        cwd: &ctx.sh.options.project_dir,
        log,
        header: Some(header),
        deadline: ctx.deadline,
        redact: Some(ctx.sh.secrets.clone()),
    };
    let tx = ctx.tx.clone();
    let (step, attempt) = (ctx.step, ctx.attempt);
    process::run(spec, ctx.abort.clone(), move |pid| {
        let _ = tx.send(Msg::Spawned { step, attempt, pid });
    })
    .await
    .map_err(|e| format!("cannot start `sh -c`: {e}"))
}

/// Turns a finished process into its stdout, or the attempt's error.
pub(crate) fn settle_process(out: &mut Outcome, finished: process::Finished, timeout_ms: Option<u64>) -> Result<String, String> {
    out.stdout = finished.stdout.clone();
    out.stderr = finished.stderr;
    match finished.ending {
        Ending::Exited(0) if finished.stdout_overflow => {
            Err(format!("the command printed more than {} MiB on stdout", process::MAX_STDOUT >> 20))
        }
        Ending::Exited(0) => Ok(finished.stdout),
        ending => {
            if let Ending::Exited(code) = ending {
                out.exit_code = Some(code);
            }
            out.aborted = matches!(ending, Ending::Aborted);
            let mut msg = describe_ending(&ending, timeout_ms);
            if let Some(last) = out.stderr.lines().rev().find(|l| !l.trim().is_empty()) {
                msg.push_str(&format!(": {}", last.trim()));
            }
            Err(msg)
        }
    }
}

/// Runs (or continues) the child run of a `call`. The child is found again
/// by its parent and key: the step's name, and for a `for each item` step
/// the item's index too (`step[2]`), so each item has a child run of its own.
async fn call(ctx: &AttemptCtx, workflow: &str, inputs: Value, item: Option<usize>, out: &mut Outcome) -> Result<Value, String> {
    let name = &ctx.sh.plan.plan.workflows[ctx.wf].steps[ctx.step as usize].name;
    let step_name = match item {
        Some(i) => format!("{name}[{i}]"),
        None => name.clone(),
    };
    let (child_tx, child_rx) = watch::channel(false);
    let child = super::child_run(ctx.sh.clone(), workflow, inputs, &ctx.run, &step_name, ctx.depth + 1, child_rx);
    tokio::pin!(child);
    let mut abort = ctx.abort.clone();
    let mut timed_out = false;
    let mut aborted = false;
    let report = loop {
        let deadline = async {
            match ctx.deadline {
                Some(d) if !timed_out => tokio::time::sleep_until(d).await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut child => break r,
            _ = deadline => {
                timed_out = true;
                let _ = child_tx.send(true);
            }
            changed = abort.changed(), if !aborted => {
                if changed.is_err() || *abort.borrow() {
                    aborted = true;
                    let _ = child_tx.send(true);
                }
            }
        }
    }?;
    out.cost += report.cost_usd;
    out.aborted = aborted;
    if timed_out {
        return Err(format!(
            "the step timed out after {}; child run {} was cancelled",
            crate::plan::disasm::format_duration(ctx.timeout_ms.unwrap_or(0)),
            report.run
        ));
    }
    match report.status {
        crate::state::RunStatus::Completed => Ok(report.outputs),
        // The child waits on a person or an event: so does this step.
        crate::state::RunStatus::Blocked => {
            out.blocked = Some(crate::runtime::blocking::Hold { gate: "call".into(), child_run: Some(report.run.clone()), ..Default::default() });
            Ok(Value::Null)
        }
        status => Err(format!(
            "child run {} of `{workflow}` ended {status}{}",
            report.run,
            report.error.map(|e| format!(": {e}")).unwrap_or_default()
        )),
    }
}
