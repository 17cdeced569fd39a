//! Loading the advanced parts of a plan (issue 6): their structural checks,
//! and the indexes the runtime needs — each step's item source and each
//! gate's fix loop.
//!
//! Called from `load.rs` at three points: the plan's tables, each step's
//! code, and each workflow once its graph is known. As for the rest of the
//! loader, whatever passes here the runtime may index without checking.

use std::collections::HashSet;

use super::advanced::{Secret, StoreDef};
use super::load::LoadedWorkflow;
use super::{Instr, Plan, PlanError, Step, StepId, Workflow};

fn err(msg: impl Into<String>) -> PlanError {
    PlanError::new(msg)
}

fn env_name_ok(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}

/// The plan's stores, secrets and agents' secret env.
pub(super) fn check_plan(plan: &Plan) -> Result<(), PlanError> {
    let mut names = HashSet::new();
    for StoreDef { name, schema, max_entries, .. } in &plan.stores {
        if !names.insert(name.as_str()) {
            return Err(err(format!("the plan has two stores named `{name}`")));
        }
        if *max_entries == Some(0) {
            return Err(err(format!("store `{name}`: max_entries must be at least 1")));
        }
        if let Some(schema) = schema {
            jsonschema::validator_for(schema).map_err(|e| err(format!("store `{name}`: invalid JSON Schema: {}", e.masked())))?;
        }
    }
    for Secret { name, arg, .. } in &plan.secrets {
        if arg.is_empty() || arg.contains('\0') {
            return Err(err(format!("secret `{name}` has no source")));
        }
    }
    for agent in &plan.agents {
        for e in &agent.secret_env {
            if !env_name_ok(&e.name) {
                return Err(err(format!("agent `{}`: `{}` is not an environment variable name", agent.name, e.name)));
            }
            if e.secret as usize >= plan.secrets.len() {
                return Err(err(format!("agent `{}`: env {} refers to secret#{}, but the plan has {} secrets", agent.name, e.name, e.secret, plan.secrets.len())));
            }
        }
    }
    Ok(())
}

/// A step's advanced instructions and fields; adds the expressions and
/// templates they use to the step's lists.
pub(super) fn check_step(plan: &Plan, wf: &Workflow, step: &Step, exprs: &mut Vec<u32>, templates: &mut Vec<u32>) -> Result<(), PlanError> {
    let at = |msg: String| err(format!("step `{}`: {msg}", step.name));
    let n = wf.steps.len();
    for e in &step.secret_env {
        if !env_name_ok(&e.name) {
            return Err(at(format!("`{}` is not an environment variable name", e.name)));
        }
        if step.env.iter().any(|b| b.name == e.name) {
            return Err(at(format!("sets the environment variable `{}` twice", e.name)));
        }
        if e.secret as usize >= plan.secrets.len() {
            return Err(at(format!("env {} refers to secret#{}, but the plan has {} secrets", e.name, e.secret, plan.secrets.len())));
        }
    }
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
    let mut post_seen = false;
    for (pc, instr) in step.code.iter().enumerate() {
        let at_pc = |msg: String| err(format!("step `{}`, instruction {pc} ({}): {msg}", step.name, instr.opcode()));
        let is_post = super::advanced::is_post_action(instr);
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
        let (e, t) = super::advanced::instr_uses(instr);
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

/// The workflow's invariants, and the indexes: topological positions, each
/// step's item source, each gate's fix loop.
pub(super) fn index_workflow(wf: &Workflow, loaded: &mut LoadedWorkflow) -> Result<(), PlanError> {
    let n = wf.steps.len();
    for inv in &wf.invariants {
        let at = |msg: String| err(format!("invariant `{}`: {msg}", inv.name));
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

    let mut topo_index = vec![0usize; n];
    for (i, s) in loaded.topo.iter().enumerate() {
        topo_index[*s as usize] = i;
    }
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
        let needs_items = step.for_each || step.code.iter().any(|i| matches!(i, Instr::Select(_)));
        if needs_items && loaded.steps[step.id as usize].items_from.is_none() {
            return Err(err(format!(
                "step `{}` uses the item list, but no step before it sets one (`items` or a `select`)",
                step.name
            )));
        }
    }
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
            return Err(err(format!(
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
    loaded.topo_index = topo_index;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use crate::plan::{LoadedPlan, Plan};

    fn plan(steps: Value) -> Value {
        json!({
            "format_version": 2,
            "entry": "w",
            "workflows": [{
                "name": "w",
                "exprs": ["output", "[1, 2]"],
                "templates": [{ "parts": [{ "text": "true" }] }],
                "steps": steps
            }]
        })
    }

    fn load_err(v: Value) -> String {
        let plan: Plan = serde_json::from_value(v).unwrap();
        LoadedPlan::load(plan).err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn post_actions_come_last() {
        let err = load_err(plan(json!([
            { "id": 0, "name": "a", "kind": "run", "code": [
                { "op": "ITEMS", "expr": 1 }, { "op": "RENDER", "template": 0, "dst": "cmd" }, { "op": "END" } ] }
        ])));
        assert_eq!(
            err,
            "workflow `w`: step `a`, instruction 1 (RENDER): post actions (STORE_PUT, SPAWN, SPAWN_EACH, ITEMS) must come after every other instruction"
        );
    }

    #[test]
    fn item_lists_need_a_source_upstream() {
        let err = load_err(plan(json!([
            { "id": 0, "name": "a", "kind": "run", "code": [{ "op": "END" }] },
            { "id": 1, "name": "b", "kind": "run", "after": [0], "for_each": true, "code": [{ "op": "END" }] }
        ])));
        assert_eq!(err, "workflow `w`: step `b` uses the item list, but no step before it sets one (`items` or a `select`)");
        let ok = load_err(plan(json!([
            { "id": 0, "name": "a", "kind": "run", "code": [{ "op": "ITEMS", "expr": 1 }, { "op": "END" }] },
            { "id": 1, "name": "b", "kind": "run", "after": [0], "for_each": true, "code": [{ "op": "END" }] }
        ])));
        assert_eq!(ok, "");
    }

    #[test]
    fn fix_steps_run_before_their_gate_and_loops_are_indexed() {
        let gate = |fix: u32| {
            json!({ "id": 2, "name": "g", "kind": "gate", "after": [1], "gate": { "fix": [fix], "fix_retries": 2, "on_fail": "fail" },
                    "code": [{ "op": "GATE", "checks": [{ "template": 0 }] }, { "op": "END" }] })
        };
        let steps = |fix: u32| {
            json!([
                { "id": 0, "name": "a", "kind": "run", "code": [{ "op": "END" }] },
                { "id": 1, "name": "b", "kind": "run", "after": [0], "code": [{ "op": "END" }] },
                gate(fix),
                { "id": 3, "name": "c", "kind": "run", "code": [{ "op": "END" }] }
            ])
        };
        assert_eq!(load_err(plan(steps(3))), "workflow `w`: step `g`: its fix step `c` does not run before the gate");
        let loaded = LoadedPlan::load(serde_json::from_value(plan(steps(0))).unwrap()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.workflows[0].steps[2].fix_loop, [0, 1, 2]);
    }
}
