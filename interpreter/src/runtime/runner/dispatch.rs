//! Dispatch: starting attempts of ready steps within the concurrency limit,
//! with the scope and environment each attempt sees.

use std::time::Duration;

use tokio::time::Instant;

use super::{Runner, MAX_ENV_VALUE};
use crate::plan::StepId;
use super::attempt::AttemptCtx;
use super::exec;
use crate::runtime::env_name;
use crate::runtime::scope::Scope;
use crate::state::{Op, StepStatus};
use crate::time;
use crate::state::{payload, Event};

impl Runner {
    pub(super) fn dispatch(&mut self) {
        if self.paused || self.aborting.is_some() {
            return;
        }
        while let Some(s) = self.ready_inline.pop_front() {
            self.start_attempt(s);
        }
        let limit = self.sh.plan.workflows[self.wf].concurrency;
        while self.running_external < limit {
            let Some(s) = self.ready_external.pop_front() else { break };
            self.start_attempt(s);
        }
    }

    /// The names a step's expressions reference, bound to their values.
    pub(super) fn scope_for(&mut self, s: StepId) -> Scope {
        let sh = self.sh.clone();
        let refs = &sh.plan.workflows[self.wf].steps[s as usize].refs;
        let mut scope = self.scope_of(refs);
        self.bind_items(s, &mut scope);
        // `params` first, so the step's env entries can read it; arguments
        // that read `env` are evaluated again once it is bound.
        let params = sh.plan.plan.workflows[self.wf].steps[s as usize].params.filter(|_| refs.iter().any(|r| r == "params"));
        let bound = params.is_some_and(|p| bind_params(&sh, self.wf, p, &mut scope));
        if refs.iter().any(|r| r == "env") {
            self.bind_env(s, &mut scope);
            if let Some(p) = params.filter(|_| !bound) {
                bind_params(&sh, self.wf, p, &mut scope);
            }
        }
        scope
    }

    /// Binds `env` for step `s` ([`crate::runtime::scope::bind_env`]).
    fn bind_env(&mut self, s: StepId, scope: &mut Scope) {
        let sh = self.sh.clone();
        let wf = &sh.plan.plan.workflows[self.wf];
        let ev = crate::runtime::scope::Evaluator { env: &sh.plan.cel, programs: &sh.plan.workflows[self.wf].programs, exprs: &wf.exprs };
        crate::runtime::scope::bind_env(&ev, &wf.templates, &wf.steps[s as usize].env, scope);
    }

    pub(super) fn scope_of<S: AsRef<str>>(&mut self, refs: &[S]) -> Scope {
        let mut scope = Scope::default();
        let sh = self.sh.clone();
        for name in refs {
            let name = name.as_ref();
            match name {
                "inputs" => scope.bind("inputs", self.inputs_cel.clone()),
                "run" => {
                    let run = crate::runtime::scope::run_value(&self.run, &self.workflow, self.started_ms, self.cost, self.depth, self.blocked.version);
                    // Once the exit handler started, every expression sees how
                    // the run ended (only the handler's steps run then).
                    let run = match &self.finally {
                        Some(ended) => crate::runtime::scope::with_ending(run, &serde_json::to_value(ended).unwrap_or_default()),
                        None => run,
                    };
                    scope.bind("run", run)
                }
                "item" if self.job.is_some() => scope.bind("item", self.job.as_ref().map(|j| j.item.clone()).unwrap_or(cel::Value::Null)),
                other => {
                    if let Some(id) = sh.plan.workflows[self.wf].names.get(other) {
                        let view = self.view(*id);
                        scope.bind(other, view);
                    } else if let Some(view) = self.job.as_ref().and_then(|j| j.outer.get(other)) {
                        // A parent step a job's member reads (`job`).
                        scope.bind(other, view.clone());
                    }
                }
            }
        }
        scope
    }

    pub(super) fn env_for(&self, s: StepId, attempt: u32) -> Vec<(String, String)> {
        let step = &self.wf_plan().steps[s as usize];
        let mut env = vec![
            ("FLOW_RUN_ID".to_string(), self.run.clone()),
            ("FLOW_WORKFLOW".to_string(), self.workflow.clone()),
            ("FLOW_STEP".to_string(), step.name.clone()),
            ("FLOW_ATTEMPT".to_string(), attempt.to_string()),
            ("FLOW_PROJECT_DIR".to_string(), self.sh.options.project_dir.display().to_string()),
        ];
        env.extend(self.input_env.iter().cloned());
        for dep in &step.after {
            let st = &self.steps[*dep as usize];
            if st.status == Some(StepStatus::Completed)
                && let Some(output) = &st.output {
                    let text = crate::plan::table::render_value(output);
                    if text.len() <= MAX_ENV_VALUE {
                        let name = &self.wf_plan().steps[*dep as usize].name;
                        env.push((format!("FLOW_STEP_{}_OUTPUT", env_name(name)), text));
                    }
                }
        }
        env
    }

    pub(super) fn start_attempt(&mut self, s: StepId) {
        let external = self.sh.plan.workflows[self.wf].steps[s as usize].external;
        let attempt = self.steps[s as usize].attempts + 1;
        let now = time::now();
        {
            let st = &mut self.steps[s as usize];
            st.attempts = attempt;
            st.in_flight = true;
            st.error = None;
            if st.started_at.is_none() {
                st.started_at = Some(now.clone());
            }
        }
        let name = self.wf_plan().steps[s as usize].name.clone();
        self.ops.push(Op::AttemptStarted { run: self.run.clone(), step_id: s, step: name, attempt, at: now });
        self.record_step(s, StepStatus::Running, Event::Started(payload::Started { attempt: Some(attempt), ..Default::default() }));
        let timeout = self.sh.plan.workflows[self.wf].steps[s as usize].timeout_ms;
        let env = if external { self.env_for(s, attempt) } else { Vec::new() };
        let ctx = self.attempt_ctx(s, attempt, env, timeout);
        self.in_flight += 1;
        if external {
            self.running_external += 1;
        } else {
            self.inline_in_flight += 1;
        }
        tokio::task::spawn_local(exec::execute(ctx));
    }

    /// What an attempt of `s` (or a gate's invariant check) runs with.
    pub(super) fn attempt_ctx(&mut self, s: StepId, attempt: u32, env: Vec<(String, String)>, timeout: Option<u64>) -> AttemptCtx {
        AttemptCtx {
            sh: self.sh.clone(),
            adv: self.attempt_extras(s),
            wf: self.wf,
            step: s,
            attempt,
            run: self.run.clone(),
            depth: self.depth,
            scope: self.scope_for(s),
            env,
            abort: self.abort_for(s),
            tx: self.tx.clone(),
            deadline: timeout.map(|ms| Instant::now() + Duration::from_millis(ms)),
            timeout_ms: timeout,
        }
    }

    /// The value expressions see as `STEP`, built when first needed (most
    /// steps are never referenced, and a view costs more memory than the
    /// step's other state) and cached once the step is terminal. A step not
    /// finished yet (an upstream step a `one_success` or an `always` did not wait for) is
    /// seen with its status and an empty output, so `has(STEP.output.f)` and
    /// `STEP.status` work on it (docs/language.md, "A step that did not
    /// complete").
    pub(super) fn view(&mut self, s: StepId) -> cel::Value {
        let wf = &self.sh.plan.plan.workflows[self.wf];
        let st = &mut self.steps[s as usize];
        let Some(status) = st.status.filter(|x| x.is_terminal()) else {
            let status = st.status.map_or("pending", |x| x.as_str());
            let absent = || crate::runtime::scope::absent_output(&wf.steps[s as usize], &wf.types);
            return crate::runtime::scope::step_view(status, st.attempts, None, absent, st.cost, None, None);
        };
        st.view
            .get_or_insert_with(|| {
                crate::runtime::scope::step_view(
                    status.as_str(),
                    st.attempts,
                    st.output.as_ref(),
                    || crate::runtime::scope::absent_output(&wf.steps[s as usize], &wf.types),
                    st.cost,
                    st.stdout.as_deref(),
                    st.stderr.as_deref(),
                )
            })
            .clone()
    }
}

/// Binds `params`, a template's arguments, evaluated in the step's scope
/// ([`crate::runtime::scope::bind_params`]).
fn bind_params(sh: &super::Shared, wf: usize, params: u32, scope: &mut Scope) -> bool {
    let plan = &sh.plan.plan.workflows[wf];
    let ev = crate::runtime::scope::Evaluator { env: &sh.plan.cel, programs: &sh.plan.workflows[wf].programs, exprs: &plan.exprs };
    crate::runtime::scope::bind_params(&ev, params, scope)
}
