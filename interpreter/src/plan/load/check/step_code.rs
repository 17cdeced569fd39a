//! The loader's checks of a step's store, spawn, items, select and gate
//! instructions: post actions last, operands in range. The expressions and
//! templates they use are added to the step's lists.

use crate::plan::{Instr, Plan, PlanError, Step, Workflow};

/// Checks the step's instructions of stores, spawns, items, select and gates.
pub(in crate::plan) fn check_step_code(plan: &Plan, wf: &Workflow, step: &Step, exprs: &mut Vec<u32>, templates: &mut Vec<u32>) -> Result<(), PlanError> {
    let mut post_seen = false;
    for (pc, instr) in step.code.iter().enumerate() {
        let at_pc = |msg: String| PlanError::new(format!("step `{}`, instruction {pc} ({}): {msg}", step.name, instr.opcode()));
        let is_post = crate::plan::is_post_action(instr);
        if post_seen && !is_post && !matches!(instr, Instr::End) {
            return Err(at_pc("post actions (STORE_PUT, SPAWN, SPAWN_EACH, ITEMS) must come after every other instruction".into()));
        }
        post_seen |= is_post;
        let expr_ok = |e: u32| -> Result<(), PlanError> {
            if (e as usize) < wf.exprs.len() { Ok(()) } else { Err(at_pc(format!("refers to expr e{e}, but the workflow has {} exprs", wf.exprs.len()))) }
        };
        let store_ok = |s: u32| -> Result<(), PlanError> {
            if (s as usize) < plan.stores.len() { Ok(()) } else { Err(at_pc(format!("store {s} is not in the plan's {} stores", plan.stores.len()))) }
        };
        match instr {
            Instr::ReadStore { store, name, .. } => {
                store_ok(*store)?;
                let ident = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ident {
                    return Err(at_pc(format!("`{name}` is not a name expressions can use")));
                }
            }
            Instr::StorePut { store, expr, .. } => {
                store_ok(*store)?;
                expr_ok(*expr)?;
            }
            Instr::Spawn { workflow, .. } | Instr::SpawnEach { workflow, .. } if plan.workflow(workflow).is_none() => {
                return Err(at_pc(format!("spawns workflow `{workflow}`, which is not in the plan")));
            }
            Instr::Select(s) => {
                if s.top_k == Some(0) {
                    return Err(at_pc("top_k must be at least 1".into()));
                }
                if s.threshold.is_some_and(|t| !t.is_finite()) || s.weights.values().any(|w| !w.is_finite()) {
                    return Err(at_pc("threshold and weights must be finite numbers".into()));
                }
                if s.output_type.is_some_and(|t| t as usize >= wf.types.len()) {
                    return Err(at_pc(format!("its type is not in the workflow's {} types", wf.types.len())));
                }
            }
            Instr::Gate { checks } if checks.is_empty() => {
                return Err(at_pc("a gate needs at least one check".into()));
            }
            _ => {}
        }
        let (e, t) = crate::plan::instr_uses(instr);
        for x in &e {
            expr_ok(*x)?;
        }
        for x in &t {
            if *x as usize >= wf.templates.len() {
                return Err(at_pc(format!("refers to template t{x}, but the workflow has {} templates", wf.templates.len())));
            }
        }
        exprs.extend(e);
        templates.extend(t);
    }
    Ok(())
}
