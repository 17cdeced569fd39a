//! Executing one attempt of a step: its instructions, top to bottom.
//!
//! An attempt sees a snapshot (its [`Scope`]) taken when it was dispatched and
//! reports one [`Outcome`] to the runner; it never touches run state itself.
//! Every failure becomes an error message for the step — nothing a plan or a
//! command does can panic here.

use crate::state::{payload, Event};
use crate::runtime::scope::to_cel;
use std::rc::Rc;

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::runtime::process::{self};
use super::attempt::{new_outcome, settle_process, spawn, AttemptCtx, Outcome, Success};
use super::Msg;
use crate::runtime::scope::{Evaluator, Scope};
use crate::plan::{Instr, OutputMode};


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


pub(crate) async fn execute(ctx: AttemptCtx) {
    let started = Instant::now();
    let ctx = Rc::new(ctx);
    let mut outcome = new_outcome();
    outcome.result = run_code(&ctx, &mut outcome).await;
    outcome.duration_ms = started.elapsed().as_millis() as i64;
    let _ = ctx.tx.send(Msg::Finished { step: ctx.step, attempt: ctx.attempt, outcome: Box::new(outcome) });
}


async fn run_code(ctx: &Rc<AttemptCtx>, out: &mut Outcome) -> Result<Success, String> {
    let sh = &ctx.sh;
    let wf = &sh.plan.plan.workflows[ctx.wf];
    let loaded = &sh.plan.workflows[ctx.wf];
    let step = &wf.steps[ctx.step as usize];
    let ev = Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &wf.exprs };

    let mut env = ctx.env.clone();
    let with_env = loaded.steps[ctx.step as usize].refs.iter().any(|r| r == "env");
    for (name, value) in crate::runtime::scope::render_env(&ev, &wf.templates, &step.env, &ctx.scope, with_env) {
        env.push((name.to_string(), value.map_err(|e| format!("env {name}: {e}"))?));
    }
    // Secrets resolve before anything runs: a missing one fails the step here.
    // An attempt a test mocks whole starts no process and needs none.
    if !starts_no_process(ctx, wf, step) {
        env.extend(crate::runtime::secrets::resolve_env(&step.secret_env, &sh.plan.plan.secrets, &sh.options.project_dir, &sh.secrets)?);
    }

    // Post actions are a suffix of the code (the loader checks it).
    let split = step.code.iter().position(crate::plan::is_post_action).unwrap_or(step.code.len());
    let (work, post) = step.code.split_at(split);
    let work_out = if step.for_each {
        run_instances(ctx, work, &env, out).await?
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
                if let Some(stdout) = mocked(ctx, &wf.name, &step.name, None, out) {
                    last_stdout = Some(stdout?);
                    continue;
                }
                let header = format!("{label}: {command}");
                let finished = spawn(ctx, &command, None, env, &log, &header).await?;
                let stdout = settle_process(out, finished, ctx.timeout_ms)?;
                last_stdout = Some(stdout);
            }
            Instr::Agent { agent, prompt } => {
                let agent = &sh.plan.plan.agents[*agent as usize];
                let prompt = regs.get(&prompt.0).text();
                // A mocked call starts no process, so it needs none of the agent's secrets.
                let mock = mocked(ctx, &wf.name, &step.name, Some(&agent.name), out);
                let finished = match mock {
                    Some(_) => None,
                    None => {
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
                        Some(spawn(ctx, &agent.command, Some(prompt), &agent_env, &log, &header).await?)
                    }
                };
                // The call was made: its declared cost is spent even if it failed.
                let declared = agent.cost_per_call.unwrap_or(0.0);
                agent_cost = Some(agent_cost.unwrap_or(0.0) + declared);
                out.cost = agent_cost.unwrap_or(0.0);
                let stdout = match (mock, finished) {
                    (Some(stdout), _) => stdout?,
                    (None, Some(finished)) => settle_process(out, finished, ctx.timeout_ms)?,
                    (None, None) => String::new(),
                };
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
                out.notified = Some(payload::Notified { channel: channel.clone(), message: message.clone(), sink: sink.to_string() });
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
            Instr::CheckPolicy { .. } | Instr::Approval { .. } | Instr::Human { .. } | Instr::Wait { .. } | Instr::Timer { .. } => {
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

/// Whether a test mocks every process this attempt would start (and it
/// would start one): then it needs no secrets.
fn starts_no_process(ctx: &AttemptCtx, wf: &crate::plan::Workflow, step: &crate::plan::Step) -> bool {
    use crate::runtime::mock::Mocked;
    let Some(mocks) = ctx.sh.options.mocks.as_ref() else { return false };
    let mut any = false;
    for instr in &step.code {
        let agent = match instr {
            Instr::Exec { .. } => None,
            Instr::Agent { agent, .. } => Some(ctx.sh.plan.plan.agents[*agent as usize].name.as_str()),
            _ => continue,
        };
        any = true;
        if matches!(mocks.lookup(&wf.name, &step.name, agent, ctx.attempt), Mocked::Real) {
            return false;
        }
    }
    any
}

/// A test's mock of this attempt ([`crate::runtime::mock`]): the stdout it
/// gives, or its failure as a process's would read; `None` to run for real.
fn mocked(ctx: &AttemptCtx, workflow: &str, step: &str, agent: Option<&str>, out: &mut Outcome) -> Option<Result<String, String>> {
    use crate::runtime::mock::{MockResult, Mocked};
    let mocks = ctx.sh.options.mocks.as_ref()?;
    match mocks.lookup(workflow, step, agent, ctx.attempt) {
        Mocked::Real => None,
        Mocked::Unmocked => Some(Err(
            "the step is not mocked, and `flowc test --mock-all` starts no process: mock it (`mock STEP returns VALUE`)".into()
        )),
        Mocked::Result(r @ MockResult::Returns(_)) => {
            out.stdout = r.stdout();
            Some(Ok(out.stdout.clone()))
        }
        Mocked::Result(MockResult::Fails { exit, stderr }) => {
            out.exit_code = Some(*exit);
            out.stderr = stderr.clone();
            let mut msg = format!("the command exited with status {exit}");
            if let Some(last) = stderr.lines().rev().find(|l| !l.trim().is_empty()) {
                msg.push_str(&format!(": {}", last.trim()));
            }
            Some(Err(msg))
        }
    }
}

fn trim_newline(text: &str) -> String {
    text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(text).to_string()
}

/// Whether `workflow` is the job of a `for each item` group (`job`).
fn is_job(sh: &super::Shared, workflow: &str) -> bool {
    sh.plan.plan.workflow(workflow).is_some_and(|w| w.job.is_some())
}

/// Runs (or continues) the child run of a `call`. The child is found again
/// by its parent and key: the step's name, and for a `for each item` step
/// the item's index too (`step[2]`), so each item has a child run of its own.
async fn call(ctx: &AttemptCtx, workflow: &str, mut inputs: Value, item: Option<usize>, out: &mut Outcome) -> Result<Value, String> {
    let job = is_job(&ctx.sh, workflow);
    // A job's run learns its item's position (`FLOW_ITEM_INDEX`).
    if let (true, Some(i), Value::Object(map)) = (job, item, &mut inputs) {
        map.insert("index".into(), Value::from(i));
    }
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
    out.timed_out = timed_out;
    if timed_out {
        return Err(format!(
            "the step timed out after {}; child run {} was cancelled",
            crate::plan::disasm::format_duration(ctx.timeout_ms.unwrap_or(0)),
            report.run
        ));
    }
    match report.status {
        crate::state::RunStatus::Completed => {
            out.adv.nothing_ran = job
                && !report.steps.is_empty()
                && report.steps.iter().all(|s| s.status == crate::state::StepStatus::Skipped);
            Ok(report.outputs)
        }
        // The child waits on a person or an event: so does this step.
        crate::state::RunStatus::Blocked => {
            out.blocked = Some(crate::runtime::blocking::Hold { gate: "call".into(), child_run: Some(report.run.clone()), ..Default::default() });
            Ok(Value::Null)
        }
        // A job's run is named as its steps are shown (`test[1]`).
        status if job => Err(format!(
            "job {step_name} (child run {}) ended {status}{}",
            report.run,
            report.error.map(|e| format!(": {e}")).unwrap_or_default()
        )),
        status => Err(format!(
            "child run {} of `{workflow}` ended {status}{}",
            report.run,
            report.error.map(|e| format!(": {e}")).unwrap_or_default()
        )),
    }
}

/// What a process of one item gets in its environment: `FLOW_ITEM_INDEX`,
/// and `FLOW_ITEM` (a string as it is, anything else as JSON) unless it is
/// larger than `max`. For a `for each item` step's instances and for every
/// member of an item's job alike.
pub(crate) fn item_env(index: usize, item: &Value, max: usize) -> Vec<(String, String)> {
    let mut env = vec![("FLOW_ITEM_INDEX".to_string(), index.to_string())];
    let text = crate::plan::table::render_value(item);
    if text.len() <= max {
        env.push(("FLOW_ITEM".to_string(), text));
    }
    env
}

/// Environment values above this size are not exported (as for inputs).
const MAX_ENV_VALUE: usize = 64 << 10;

/// Runs a `for each item` step's work once per item.
pub(crate) async fn run_instances(
    ctx: &Rc<AttemptCtx>,
    work: &[Instr],
    env: &[(String, String)],
    out: &mut Outcome,
) -> Result<Success, String> {
    let step_name = ctx.sh.plan.plan.workflows[ctx.wf].steps[ctx.step as usize].name.clone();
    let Some(items) = ctx.adv.items.clone() else {
        return Err(format!("step {step_name} runs for each item, but no item list was set before it ran"));
    };
    let n = items.len();
    let limit = ctx.sh.plan.workflows[ctx.wf].concurrency.max(1) as usize;
    // A job's items are always called again: a completed item's child run
    // is found, not re-run, and its report says whether anything ran in it.
    let job = work.iter().any(|i| matches!(i, Instr::Call { workflow, .. } if is_job(&ctx.sh, workflow)));
    let mut results: Vec<Option<Value>> =
        if ctx.adv.done.len() == n && !job { ctx.adv.done.clone() } else { vec![None; n] };
    let mut nothing_ran = vec![false; n];
    let mut stdouts: Vec<String> = vec![String::new(); n];
    let work_len = work.len();
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0;
    let mut failures: Vec<(usize, String)> = Vec::new();
    // `fail_fast`: the instances run with an abort of their own, raised by
    // the run's (cancel, timeout) or by the first failed item.
    let fail_fast = ctx.sh.plan.plan.workflows[ctx.wf].steps[ctx.step as usize].fail_fast;
    let (stop, stopped) = watch::channel(false);
    let instance_ctx = if fail_fast {
        let mut run_abort = ctx.abort.clone();
        let forward = stop.clone();
        tokio::task::spawn_local(async move {
            while run_abort.changed().await.is_ok() {
                if *run_abort.borrow() {
                    let _ = forward.send(true);
                    break;
                }
            }
        });
        Rc::new(AttemptCtx { abort: stopped, ..(**ctx).clone() })
    } else {
        ctx.clone()
    };
    let mut cancelled = false;
    loop {
        // Without `fail_fast` every item runs, failed ones included; with
        // it, none starts after the first failure.
        while set.len() < limit && next < n && !(fail_fast && !failures.is_empty()) && !out.aborted {
            let i = next;
            next += 1;
            if results[i].is_some() {
                continue;
            }
            let ctx = instance_ctx.clone();
            let item = items[i].clone();
            let mut env = env.to_vec();
            env.extend(item_env(i, &item, MAX_ENV_VALUE));
            let _ = ctx.tx.send(Msg::Event { step: ctx.step, event: Event::ItemStarted(payload::ItemAttempt { item: i as u64, attempt: ctx.attempt }) });
            set.spawn_local(async move {
                let code = &ctx.sh.plan.plan.workflows[ctx.wf].steps[ctx.step as usize].code[..work_len];
                let mut scope = ctx.scope.clone();
                scope.set("item", to_cel(&item));
                let mut o = new_outcome();
                let r = run_instrs(&ctx, code, &mut scope, &env, Some(i), &mut o).await;
                (i, o, r)
            });
        }
        let Some(joined) = set.join_next().await else { break };
        let (i, o, r) = match joined {
            Ok(x) => x,
            Err(e) => {
                failures.push((usize::MAX, format!("an instance stopped unexpectedly: {e}")));
                continue;
            }
        };
        out.cost += o.cost;
        // An item stopped by `fail_fast` is not the step being stopped.
        let by_fail_fast = o.aborted && cancelled && !*ctx.abort.borrow();
        out.aborted |= o.aborted && !by_fail_fast;
        out.timed_out |= o.timed_out;
        if o.exit_code.is_some() {
            out.exit_code = o.exit_code;
        }
        if !o.stderr.is_empty() {
            out.stderr = o.stderr;
        }
        stdouts[i] = o.stdout;
        match r {
            // The item's child run waits on a person or an event: the step
            // blocks; when it is continued, completed items' children are
            // found again (not re-run) and the waiting one goes on.
            Ok(_) if o.blocked.is_some() => {
                let _ = ctx.tx.send(Msg::Event { step: ctx.step, event: Event::ItemBlocked(payload::ItemAttempt { item: i as u64, attempt: ctx.attempt }) });
                if out.blocked.is_none() {
                    out.blocked = o.blocked;
                }
            }
            Ok(success) => {
                let _ = ctx.tx.send(Msg::Event { step: ctx.step, event: Event::ItemCompleted(payload::ItemAttempt { item: i as u64, attempt: ctx.attempt }) });
                results[i] = Some(success.output);
                nothing_ran[i] = o.adv.nothing_ran;
            }
            Err(_) if by_fail_fast => {
                let _ = ctx.tx.send(Msg::Event { step: ctx.step, event: Event::ItemCancelled(payload::ItemAttempt { item: i as u64, attempt: ctx.attempt }) });
            }
            Err(e) => {
                let _ = ctx.tx.send(Msg::Event {
                    step: ctx.step,
                    event: Event::ItemFailed(payload::ItemFailed { item: i as u64, attempt: ctx.attempt, error: e.clone() }),
                });
                failures.push((i, e));
                if fail_fast && !cancelled {
                    cancelled = true;
                    let _ = stop.send(true);
                }
            }
        }
    }
    out.stdout = stdouts.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("");
    out.adv.instances = Some(results.clone());
    out.adv.nothing_ran = n > 0 && nothing_ran.iter().all(|&x| x);
    if let Some((i, e)) = failures.iter().min_by_key(|(i, _)| *i) {
        let which = if *i == usize::MAX { String::new() } else { format!("item {i}: ") };
        return Err(format!("{} of {n} items failed; {which}{e}", failures.len()));
    }
    Ok(Success { output: Value::Array(results.into_iter().map(|r| r.unwrap_or(Value::Null)).collect()), picked: None })
}
