//! The run's journal: every status change and its event go into the current
//! batch, and a flush commits the batch as one transaction.

use serde_json::Value;
use tokio::time::Instant;

use super::Runner;
use crate::plan::StepId;
use crate::runtime::Observed;
use crate::state::{Event, Op, RunStatus, StepState, StepStatus};
use crate::runtime::Error;
use crate::time;

impl Runner {
    pub(super) fn observe(&self, step: Option<StepId>, event: &Event) {
        if let Some(observer) = &self.sh.options.observer {
            let wf = self.wf_plan();
            let (name, group) = match step {
                Some(s) => {
                    let st = &wf.steps[s as usize];
                    (Some(st.name.as_str()), st.group.map(|g| wf.groups[g as usize].name.as_str()))
                }
                None => (None, None),
            };
            observer.observe(&Observed {
                run: &self.run,
                workflow: &self.workflow,
                depth: self.depth,
                step: name,
                group,
                job: self.job.as_ref().map(|j| j.label.as_str()),
                event,
            });
        }
    }

    /// Records an entry of the event log in the current batch.
    pub(super) fn event(&mut self, step: Option<StepId>, mut event: Event) {
        // Masked before the observer prints it, as the store masks it.
        self.sh.secrets.redact_event(&mut event);
        self.observe(step, &event);
        let name = step.map(|s| self.wf_plan().steps[s as usize].name.clone());
        self.ops.push(Op::Event { run: self.run.clone(), step: name, event: event.kind(), payload: event.to_json(), at: time::now() });
    }

    /// Sets a step's status and records the event for it, in one batch.
    pub(super) fn record_step(&mut self, s: StepId, status: StepStatus, event: Event) {
        let finished = status.is_terminal().then(time::now);
        // A completed step whose output nobody reads hands it to its state
        // row and keeps none (`StepInfo::output_read`).
        let forget = status == StepStatus::Completed && !self.sh.plan.workflows[self.wf].steps[s as usize].output_read;
        let st = &mut self.steps[s as usize];
        st.status = Some(status);
        let output = if forget { st.output.take() } else { st.output.clone() };
        let row = StepState {
            run: self.run.clone(),
            step_id: s,
            step: self.sh.plan.plan.workflows[self.wf].steps[s as usize].name.clone(),
            status,
            attempts: st.attempts,
            output,
            stdout: st.stdout.clone(),
            stderr: st.stderr.clone(),
            cost_usd: st.cost,
            error: st.error.clone(),
            started_at: st.started_at.clone(),
            finished_at: finished,
        };
        self.ops.push(Op::StepState(row));
        self.event(Some(s), event);
    }

    pub(super) fn record_run(&mut self, status: RunStatus, event: Event, error: Option<String>, outputs: Option<Value>) {
        let finished = status.is_terminal().then(time::now);
        self.ops.push(Op::RunStatus {
            run: self.run.clone(),
            status,
            error,
            outputs,
            started_at: None,
            finished_at: finished,
        });
        self.event(None, event);
    }

    pub(super) fn flush(&mut self) -> Result<(), Error> {
        if !self.ops.is_empty() {
            let mut ops = std::mem::take(&mut self.ops);
            self.sh.secrets.redact_ops(&mut ops);
            // A step that started and finished within one batch needs only
            // its last state row: the rows replace each other, and the
            // events (which are all kept) record every transition.
            let mut last = std::collections::HashMap::new();
            for (i, op) in ops.iter().enumerate() {
                if let Op::StepState(s) = op {
                    last.insert(s.step_id, i);
                }
            }
            if last.len() < ops.iter().filter(|op| matches!(op, Op::StepState(_))).count() {
                let mut i = 0;
                ops.retain(|op| {
                    let keep = match op {
                        Op::StepState(s) => last.get(&s.step_id) == Some(&i),
                        _ => true,
                    };
                    i += 1;
                    keep
                });
            }
            self.sh.store.borrow_mut().apply(&ops)?;
        }
        self.last_flush = Instant::now();
        Ok(())
    }
}
