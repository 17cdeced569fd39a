//! The loader's checks of quality gates and the index of their fix loops.

use crate::plan::load::LoadedWorkflow;
use crate::plan::{PlanError, Step, StepId, Workflow};

/// A step's gate names other steps of the workflow and allows a fix round when it names fix steps.
pub(in crate::plan) fn check_gate(wf: &Workflow, step: &Step) -> Result<(), PlanError> {
    let at = |msg: String| PlanError::new(format!("step `{}`: {msg}", step.name));
    let n = wf.steps.len();
    if let Some(g) = &step.gate {
        for f in &g.fix {
            if *f as usize >= n || *f == step.id {
                return Err(at(format!("its gate's fix step {f} is not another step of the workflow")));
            }
        }
        if !g.fix.is_empty() && g.fix_retries == 0 {
            return Err(at("its gate names fix steps but allows no fix round".into()));
        }
    }
    Ok(())
}

/// Each gate's fix loop: the fix steps, everything downstream of them and
/// upstream of the gate, and the gate, in topological order.
pub(in crate::plan) fn index_fix_loops(wf: &Workflow, loaded: &mut LoadedWorkflow, topo_index: &[usize]) -> Result<(), PlanError> {
    let n = wf.steps.len();
    // Fix loops: the fix steps, everything downstream of them and upstream
    // of the gate, and the gate.
    for step in wf.steps.iter().filter(|s| s.gate.as_ref().is_some_and(|g| !g.fix.is_empty())) {
        let fix = &step.gate.as_ref().map(|g| g.fix.clone()).unwrap_or_default();
        let mut up = vec![false; n];
        let mut stack = vec![step.id];
        while let Some(x) = stack.pop() {
            for &d in &wf.steps[x as usize].after {
                if !up[d as usize] {
                    up[d as usize] = true;
                    stack.push(d);
                }
            }
        }
        if let Some(f) = fix.iter().find(|f| !up[**f as usize]) {
            return Err(PlanError::new(format!(
                "step `{}`: its fix step `{}` does not run before the gate",
                step.name, wf.steps[*f as usize].name
            )));
        }
        let mut down = vec![false; n];
        let mut stack: Vec<StepId> = fix.clone();
        for f in fix {
            down[*f as usize] = true;
        }
        while let Some(x) = stack.pop() {
            for &d in &loaded.dependents[x as usize] {
                if !down[d as usize] {
                    down[d as usize] = true;
                    stack.push(d);
                }
            }
        }
        let mut set: Vec<StepId> = (0..n as StepId).filter(|s| down[*s as usize] && up[*s as usize]).collect();
        set.push(step.id);
        set.sort_by_key(|s| topo_index[*s as usize]);
        loaded.steps[step.id as usize].fix_loop = set;
    }
    Ok(())
}
