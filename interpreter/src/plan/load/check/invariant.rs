//! The loader's checks of a workflow's invariants.

use crate::plan::{PlanError, Workflow};

/// Each invariant checks something, its template and `at` steps exist, its globs parse.
pub(in crate::plan) fn check_invariants(wf: &Workflow) -> Result<(), PlanError> {
    let n = wf.steps.len();
    for inv in &wf.invariants {
        let at = |msg: String| PlanError::new(format!("invariant `{}`: {msg}", inv.name));
        if let Some(c) = &inv.check
            && c.template as usize >= wf.templates.len() {
                return Err(at(format!("its check refers to template t{}, but the workflow has {} templates", c.template, wf.templates.len())));
            }
        if inv.check.is_none() && inv.protect.is_empty() {
            return Err(at("it checks nothing (no check and no protected files)".into()));
        }
        if let Some(s) = inv.at.iter().find(|s| **s as usize >= n) {
            return Err(at(format!("`at` names step {s}, but the workflow has {n} steps")));
        }
        for g in &inv.protect {
            globset::Glob::new(g).map_err(|e| at(format!("invalid glob `{g}`: {}", e.kind())))?;
        }
    }

    Ok(())
}
