//! Spawning: `then spawn WORKFLOW { … }` and `then spawn each `list` -> WORKFLOW { … }`.
//!
//! A spawned child is a run of its own (`parent_run`, `parent_step`,
//! `depth` = parent's + 1, and `spawn_key` = `STEP#N`, N counting the
//! spawns of that step) that outlives the step: the step completes without
//! waiting. The process that spawned it executes it alongside the parent,
//! and `flowc run` returns once the parent and every child it spawned have
//! stopped. A child left unfinished by a killed flowc is resumed with its
//! parent, or on its own with `flowc resume CHILD`.
//!
//! All the spawns of one step attempt form one *burst*, checked as a whole
//! against the run's pinned `safety` limits before any child starts:
//! `max_spawn_depth` (the children's depth), `max_spawned_tasks` (children
//! of this run, counting this burst) and `spawn_cooldown` (time since the
//! run's last burst). A violation fails the step with a message naming the
//! limit. A spawn whose key already exists (the step ran again after a
//! crash or a retry) reuses that child instead of starting another, and
//! does not count again.

use std::collections::HashSet;
use std::rc::Rc;

use serde_json::Value;

use super::{Launch, Runner, Shared};
use crate::plan::Safety;
use crate::plan::disasm::format_duration;
use crate::runtime::lock;
use super::attempt::{AttemptCtx, Outcome};
use crate::state::RunStatus;
use crate::time;

/// One child to start.
pub(crate) struct Request {
    pub workflow: String,
    pub inputs: Value,
}

/// A child checked and ready to create.
pub(crate) struct Prepared {
    key: String,
    workflow: String,
    wf: usize,
    inputs: Value,
}

/// Resolves the children's inputs and checks the burst against the limits.
pub(crate) fn prepare(ctx: &AttemptCtx, requests: Vec<Request>) -> Result<Vec<Prepared>, String> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let sh = &ctx.sh;
    let step = &sh.plan.plan.workflows[ctx.wf].steps[ctx.step as usize].name;
    let mut out = Vec::with_capacity(requests.len());
    for (i, r) in requests.into_iter().enumerate() {
        // The loader checked that the workflow is in the plan.
        let wf = sh.plan.workflow_index(&r.workflow).ok_or_else(|| format!("then spawn: workflow `{}` is not in the plan", r.workflow))?;
        let inputs = match r.inputs {
            Value::Object(map) => map,
            Value::Null => serde_json::Map::new(),
            other => return Err(format!("then spawn {}: the inputs must be an object, not {other}", r.workflow)),
        };
        let inputs = crate::inputs::resolve(&sh.plan.plan.workflows[wf], inputs).map_err(|e| format!("then spawn {}: {e}", r.workflow))?;
        out.push(Prepared { key: format!("{step}#{i}"), workflow: r.workflow, wf, inputs });
    }
    let existing: HashSet<String> = sh
        .store
        .borrow()
        .children(&ctx.run)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|c| c.spawn_key)
        .collect();
    let new = out.iter().filter(|p| !existing.contains(&p.key)).count() as u64;
    if new == 0 {
        return Ok(out);
    }
    let safety = ctx.adv.pin.as_ref().map(|p| p.safety.clone()).unwrap_or_default();
    check_limits(&safety, &ctx.run, ctx.depth, new, sh.store.borrow().spawn_count(&ctx.run).map_err(|e| e.to_string())?, time::now_ms())?;
    Ok(out)
}

/// The limits, as pure arithmetic: `spawned` is `(children so far, last burst ms)`.
fn check_limits(safety: &Safety, run: &str, depth: u32, new: u64, spawned: (u64, Option<i64>), now_ms: i64) -> Result<(), String> {
    if let Some(max) = safety.max_spawn_depth
        && depth + 1 > max {
            return Err(format!(
                "max_spawn_depth {max} exceeded: run {run} is at depth {depth}, so the runs it spawns would be at depth {}",
                depth + 1
            ));
        }
    if let Some(max) = safety.max_spawned_tasks
        && spawned.0 + new > u64::from(max) {
            return Err(format!(
                "max_spawned_tasks {max} exceeded: run {run} has spawned {} runs, and this step would spawn {new} more",
                spawned.0
            ));
        }
    if let (Some(cooldown), Some(last)) = (safety.spawn_cooldown_ms, spawned.1) {
        let since = (now_ms - last).max(0) as u64;
        if since < cooldown {
            return Err(format!(
                "spawn_cooldown {} not over: run {run} last spawned {} ago",
                format_duration(cooldown),
                format_duration(since)
            ));
        }
    }
    Ok(())
}

/// Creates the children (or finds them, when they exist) and starts the new ones.
pub(crate) fn perform(ctx: &AttemptCtx, prepared: Vec<Prepared>, out: &mut Outcome) -> Result<(), String> {
    let sh = &ctx.sh;
    let step = sh.plan.plan.workflows[ctx.wf].steps[ctx.step as usize].name.clone();
    for p in prepared {
        let new = sh.new_run(&p.workflow, Some((&ctx.run, &step)), ctx.depth + 1, p.inputs.clone());
        let (id, created) = sh.store.borrow_mut().create_spawned_run(&new, &p.key).map_err(|e| e.to_string())?;
        if created {
            start_detached(sh.clone(), id.clone(), p.wf, ctx.depth + 1, p.inputs, false);
        }
        out.adv.spawned.push((id, p.workflow));
    }
    Ok(())
}

/// Executes a child run in this process, beside whatever else runs here.
/// Its handle joins `Shared::spawned`, which `flowc run` waits for.
pub(crate) fn start_detached(sh: Rc<Shared>, run: String, wf: usize, depth: u32, inputs: Value, resuming: bool) {
    let handle = tokio::task::spawn_local({
        let sh = sh.clone();
        async move {
            // Somebody else executes it: nothing to do here.
            let Ok(Some(lock)) = lock::try_lock(&sh.options.runs_dir(), &run) else { return };
            let launch = Launch { wf, run: run.clone(), depth, inputs, resuming, lock, parent_abort: None };
            let result = match Runner::new(sh.clone(), launch) {
                Ok(runner) => runner.drive().await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                eprintln!("flowc: spawned run {run} stopped: {e}");
            }
        }
    });
    sh.spawned.borrow_mut().push(handle);
}

/// Resumes, in this process, every unfinished child `parent` spawned.
pub(crate) fn resume_children(sh: &Rc<Shared>, parent: &str) -> Result<(), crate::runtime::Error> {
    let children = sh.store.borrow().children(parent)?;
    for child in children {
        if child.spawn_key.is_none() || child.run.status.is_terminal() {
            continue;
        }
        let Some(wf) = sh.plan.workflow_index(&child.run.workflow) else { continue };
        // A child that never began (still `pending`) begins now.
        let resuming = child.run.status != RunStatus::Pending;
        start_detached(sh.clone(), child.run.id.clone(), wf, child.run.depth, child.run.inputs.clone(), resuming);
    }
    Ok(())
}

/// Waits until every child spawned in this process (and theirs) has stopped.
pub(crate) async fn wait_all(sh: &Shared) {
    loop {
        let pending: Vec<_> = sh.spawned.borrow_mut().drain(..).collect();
        if pending.is_empty() {
            return;
        }
        for handle in pending {
            let _ = handle.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_themselves() {
        let s = Safety { max_spawned_tasks: Some(3), max_spawn_depth: Some(2), spawn_cooldown_ms: Some(5000) };
        assert!(check_limits(&s, "r", 0, 3, (0, None), 0).is_ok());
        let e = check_limits(&s, "r", 0, 2, (2, None), 0).unwrap_err();
        assert_eq!(e, "max_spawned_tasks 3 exceeded: run r has spawned 2 runs, and this step would spawn 2 more");
        let e = check_limits(&s, "r", 2, 1, (0, None), 0).unwrap_err();
        assert!(e.starts_with("max_spawn_depth 2 exceeded"), "{e}");
        let e = check_limits(&s, "r", 0, 1, (1, Some(10_000)), 11_500).unwrap_err();
        assert_eq!(e, "spawn_cooldown 5s not over: run r last spawned 1s500ms ago");
        assert!(check_limits(&s, "r", 0, 1, (1, Some(10_000)), 15_000).is_ok());
    }
}
