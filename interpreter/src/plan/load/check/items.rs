//! The index of item sources: which step's item list (`items` or
//! `select`) each step sees.

use crate::plan::load::LoadedWorkflow;
use crate::plan::{Instr, PlanError, StepId, Workflow};

/// Sets each step's `items_from`; a step that uses the item list needs a source upstream.
pub(in crate::plan) fn index_item_sources(wf: &Workflow, loaded: &mut LoadedWorkflow, topo_index: &[usize]) -> Result<(), PlanError> {
    let n = wf.steps.len();
    // Item sources: steps with ITEMS or SELECT. Each step sees the source
    // latest in topological order among those upstream of it.
    let is_source: Vec<bool> =
        wf.steps.iter().map(|s| s.code.iter().any(|i| matches!(i, Instr::Items { .. } | Instr::Select(_)))).collect();
    if is_source.iter().any(|b| *b) {
        let mut from: Vec<Option<StepId>> = vec![None; n];
        for &s in &loaded.topo {
            let mut best: Option<StepId> = None;
            for &d in &wf.steps[s as usize].after {
                for cand in [is_source[d as usize].then_some(d), from[d as usize]].into_iter().flatten() {
                    if best.is_none_or(|b| topo_index[cand as usize] > topo_index[b as usize]) {
                        best = Some(cand);
                    }
                }
            }
            from[s as usize] = best;
        }
        for (s, info) in loaded.steps.iter_mut().enumerate() {
            info.items_from = from[s];
        }
    }
    for step in &wf.steps {
        if step.for_each_in.is_some() && !step.for_each {
            return Err(PlanError::new(format!("step `{}` has its own items but does not run for each item", step.name)));
        }
        if step.for_each_in.as_ref().is_some_and(Vec::is_empty) {
            return Err(PlanError::new(format!("step `{}` runs for each item of an empty list", step.name)));
        }
        let own = step.for_each_in.is_some() && !step.code.iter().any(|i| matches!(i, Instr::Select(_)));
        let needs_items = step.for_each || step.code.iter().any(|i| matches!(i, Instr::Select(_)));
        if needs_items && !own && loaded.steps[step.id as usize].items_from.is_none() {
            return Err(PlanError::new(format!(
                "step `{}` uses the item list, but no step before it sets one (`items` or a `select`)",
                step.name
            )));
        }
    }
    Ok(())
}
