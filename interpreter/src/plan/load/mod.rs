//! Loading a plan: every structural check, then CEL compiled once.
//!
//! After [`LoadedPlan::load`] succeeds the runtime may index every table
//! without checking: ids are in range, the step graph and the call graph are
//! acyclic, registers are written before they are read, every step ends with
//! `END`, every arm target depends on its branch. No user input reaches the
//! runtime without passing through here, which is what lets the runtime
//! promise never to panic on a bad plan.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Compensate, Instr, Part, Plan, PlanError, Retry, StepId, Workflow, DEFAULT_CONCURRENCY};

// The checks and indexes, one module per concept: part of loading.
pub(super) mod check;

/// Names a step's expressions may use that are not step names.
pub const RESERVED_NAMES: &[&str] = &["inputs", "run", "item", "items", "event", "env", "self", "input", "params"];

/// A validated plan with its CEL compiled and its graphs indexed.
pub struct LoadedPlan {
    /// The plan as read, validated.
    pub plan: Plan,
    /// Per workflow of the plan, same indices: its compiled expressions and indexed graph.
    pub workflows: Vec<LoadedWorkflow>,
    /// The CEL environment every expression of the plan is evaluated in (its functions).
    pub cel: Arc<cel::Env>,
    /// The plan's policies, same indices.
    pub policies: Vec<super::LoadedPolicy>,
}

/// One workflow of a loaded plan: its expressions compiled and its step graph indexed for the runner.
pub struct LoadedWorkflow {
    /// Compiled `exprs`, same indices.
    pub programs: Vec<cel::Program>,
    /// Per step: the steps that list it in `after`.
    pub dependents: Vec<Vec<StepId>>,
    /// Every step in a topological order (deps first).
    pub topo: Vec<StepId>,
    /// Per step, same indices as the plan's steps: what the runner needs at hand.
    pub steps: Vec<StepInfo>,
    /// At most this many steps that run a process at once (`concurrency`).
    pub concurrency: u32,
    /// Step names to ids.
    pub names: HashMap<String, StepId>,
    /// Each step's position in `topo`.
    pub topo_index: Vec<usize>,
}

/// What the runtime needs to know about a step beyond its plan entry.
#[derive(Clone, Debug, Default)]
pub struct StepInfo {
    /// Takes a `concurrency` slot (runs a process or a child run).
    pub external: bool,
    /// Runs only during compensation (named by another step's `compensate`).
    pub compensation_only: bool,
    /// A step of the exit handler (`finally { … }`): it starts once every
    /// other step has ended, and depends only on steps of the handler.
    pub finally: bool,
    /// Variables referenced by any expression the step evaluates, including
    /// its compensation command; the runtime binds only these.
    pub refs: Vec<String>,
    /// Something reads the step's output once it completed: an expression
    /// of a step or of the workflow's outputs names it, or a step that runs
    /// a process depends on it directly (its `FLOW_STEP_<NAME>_OUTPUT`).
    /// When nothing does, the runner records the output and forgets it
    /// ([`output_reads`]).
    pub output_read: bool,
    /// For a branch: every step some arm picks.
    pub arm_targets: Vec<StepId>,
    /// For a branch, per arm: the name of what it picks first (its
    /// `picked` output), and its steps.
    pub arms: Vec<(String, Vec<StepId>)>,
    /// For a branch, per arm: the names of everything it picks (`a, b`).
    pub arm_labels: Vec<String>,
    /// Per entry of the step's `after_groups`: the group's members. Each is
    /// one dependency of the trigger rule; the other `after` steps one each.
    pub group_deps: Vec<Vec<StepId>>,
    /// The effective retry policy and timeout (step's own, else the
    /// defaults, one copy shared by every step that inherits it).
    pub retry: Option<std::sync::Arc<Retry>>,
    /// The step's `timeout` in milliseconds, if it has one.
    pub timeout_ms: Option<u64>,
    /// The step whose item list this step sees (`items`/`select`), if any.
    pub items_from: Option<StepId>,
    /// For a gate with `on_fail fix`: the steps a fix round re-runs, the
    /// gate included, in topological order.
    pub fix_loop: Vec<StepId>,
}

impl LoadedPlan {
    /// Checks a plan against this flowc (format version, indices, types) and compiles its expressions.
    pub fn load(plan: Plan) -> Result<LoadedPlan, PlanError> {
        if !super::reads_format(u64::from(plan.format_version)) {
            return Err(PlanError::new(super::format_refusal(u64::from(plan.format_version))));
        }
        let env = Arc::new(super::cel::cel_env());
        let mut names = HashSet::new();
        for wf in &plan.workflows {
            if !names.insert(wf.name.as_str()) {
                return Err(PlanError::new(format!("the plan has two workflows named `{}`", wf.name)));
            }
        }
        if plan.workflow(&plan.entry).is_none() {
            return Err(PlanError::new(format!("the plan's entry workflow `{}` is not in the plan", plan.entry)));
        }
        check_jobs(&plan)?;
        let mut agent_names = HashSet::new();
        for agent in &plan.agents {
            if !agent_names.insert(agent.name.as_str()) {
                return Err(PlanError::new(format!("the plan has two agents named `{}`", agent.name)));
            }
            if agent.cost_per_call.is_some_and(|c| !c.is_finite() || c < 0.0) {
                return Err(PlanError::new(format!("agent `{}`: cost_per_call must be a non-negative number", agent.name)));
            }
        }
        let workflows = plan
            .workflows
            .iter()
            .map(|wf| load_workflow(&plan, wf, &env).map_err(|e| PlanError::new(format!("workflow `{}`: {}", wf.name, e.message))))
            .collect::<Result<Vec<_>, _>>()?;
        check_call_graph(&plan)?;
        check::store::check_stores(&plan)?;
        check::secret::check_secrets(&plan)?;
        let policies = check::policy::load_policies(&plan, &env)?;
        Ok(LoadedPlan { plan, workflows, cel: env, policies })
    }

    /// The index of the workflow called `name`.
    pub fn workflow_index(&self, name: &str) -> Option<usize> {
        self.plan.workflows.iter().position(|w| w.name == name)
    }
}

/// A job (docs/language.md, "A job per item") is run only by its parent's
/// step, one child run per item: its parent must be in the plan and not a
/// job itself, and the plan's entry is never a job.
fn check_jobs(plan: &Plan) -> Result<(), PlanError> {
    for wf in &plan.workflows {
        let Some(job) = &wf.job else { continue };
        match plan.workflow(&job.parent) {
            None => {
                return Err(PlanError::new(format!("workflow `{}` is a job of workflow `{}`, which is not in the plan", wf.name, job.parent)))
            }
            Some(parent) if parent.job.is_some() => {
                return Err(PlanError::new(format!("workflow `{}` is a job of `{}`, which is a job itself", wf.name, job.parent)))
            }
            Some(_) => {}
        }
        if wf.name == plan.entry {
            return Err(PlanError::new(format!(
                "the plan's entry workflow `{}` is the job of group `{}`, which only its workflow `{}` runs",
                wf.name, job.group, job.parent
            )));
        }
    }
    Ok(())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn err(msg: impl Into<String>) -> PlanError {
    PlanError::new(msg)
}

fn load_workflow(plan: &Plan, wf: &Workflow, env: &cel::Env) -> Result<LoadedWorkflow, PlanError> {
    let n = wf.steps.len();
    let expr_ok = |e: u32, what: &str| -> Result<(), PlanError> {
        if (e as usize) < wf.exprs.len() {
            Ok(())
        } else {
            Err(err(format!("{what} refers to expr e{e}, but the workflow has {} exprs", wf.exprs.len())))
        }
    };
    let template_ok = |t: u32, what: &str| -> Result<(), PlanError> {
        if (t as usize) < wf.templates.len() {
            Ok(())
        } else {
            Err(err(format!("{what} refers to template t{t}, but the workflow has {} templates", wf.templates.len())))
        }
    };

    // Tables first: everything below indexes them.
    let mut programs = Vec::with_capacity(wf.exprs.len());
    for (i, text) in wf.exprs.iter().enumerate() {
        let program = env.compile(text).map_err(|e| err(format!("expr e{i} `{text}` is not valid CEL: {e}")))?;
        programs.push(program);
    }
    for (i, t) in wf.templates.iter().enumerate() {
        for hole in t.holes() {
            expr_ok(hole.expr, &format!("template t{i}"))?;
            if let Some(crate::plan::table::ShellContext::Heredoc { delimiter, .. }) = &hole.shell
                && (delimiter.is_empty() || delimiter.contains('\n'))
            {
                return Err(err(format!(
                    "template t{i}: a here-document hole's delimiter {delimiter:?} must be one non-empty line"
                )));
            }
        }
    }
    let mut input_names = HashSet::new();
    for input in &wf.inputs {
        if !input_names.insert(input.name.as_str()) {
            return Err(err(format!("two inputs are named `{}`", input.name)));
        }
        if let Some(default) = &input.default {
            input.ty.validate(default, &format!("the default of input `{}`", input.name)).map_err(err)?;
        }
    }
    let mut output_names = HashSet::new();
    for output in &wf.outputs {
        if !output_names.insert(output.name.as_str()) {
            return Err(err(format!("two outputs are named `{}`", output.name)));
        }
        expr_ok(output.expr, &format!("output `{}`", output.name))?;
    }
    let d = &wf.defaults;
    if d.concurrency == Some(0) {
        return Err(err("concurrency must be at least 1"));
    }
    if d.budget_usd.is_some_and(|b| !b.is_finite() || b < 0.0) {
        return Err(err("budget_usd must be a non-negative number"));
    }
    for (i, g) in wf.groups.iter().enumerate() {
        if g.parent.is_some_and(|p| p as usize >= wf.groups.len() || p as usize == i) {
            return Err(err(format!("group `{}` has an invalid parent", g.name)));
        }
        if let Some(s) = g.steps.iter().find(|s| **s as usize >= n) {
            return Err(err(format!("group `{}` lists step {s}, but the workflow has {n} steps", g.name)));
        }
    }

    // The exit handler: at most one, at the top level, and no dependency
    // or arm crosses its boundary (checked with the steps below).
    let handlers: Vec<&crate::plan::Group> = wf.groups.iter().filter(|g| g.kind == crate::plan::GroupKind::Finally).collect();
    if handlers.len() > 1 {
        return Err(err(format!("the workflow has {} finally groups; it may have one", handlers.len())));
    }
    if handlers.iter().any(|g| g.parent.is_some()) {
        return Err(err("the finally group is nested in another group; it must be at the top level".to_string()));
    }
    let finally = wf.finally_steps();

    // Steps.
    let mut step_names = HashSet::new();
    let mut compensation_only = vec![false; n];
    for (i, step) in wf.steps.iter().enumerate() {
        if step.id as usize != i {
            return Err(err(format!("step `{}` has id {} but is at index {i}; ids are the step's index", step.name, step.id)));
        }
        if !is_identifier(&step.name) {
            return Err(err(format!("step name `{}` is not an identifier", step.name)));
        }
        if RESERVED_NAMES.contains(&step.name.as_str()) {
            return Err(err(format!("step name `{}` is reserved for expressions", step.name)));
        }
        if !step_names.insert(step.name.as_str()) {
            return Err(err(format!("two steps are named `{}`", step.name)));
        }
        if let Some(Compensate::Step(c)) = &step.compensate {
            if *c as usize >= n || *c as usize == i {
                return Err(err(format!("step `{}`: compensate names an invalid step {c}", step.name)));
            }
            compensation_only[*c as usize] = true;
        }
    }

    let mut dependents = vec![Vec::new(); n];
    let mut infos = Vec::with_capacity(n);
    let default_retry = wf.defaults.retry.clone().map(std::sync::Arc::new);
    for step in &wf.steps {
        let at = |msg: String| err(format!("step `{}`: {msg}", step.name));
        let mut seen = HashSet::new();
        for dep in &step.after {
            if *dep as usize >= n {
                return Err(at(format!("depends on step {dep}, but the workflow has {n} steps")));
            }
            if *dep == step.id {
                return Err(at("depends on itself".into()));
            }
            if !seen.insert(*dep) {
                return Err(at(format!("lists `{}` twice in after", wf.steps[*dep as usize].name)));
            }
            if compensation_only[*dep as usize] {
                return Err(at(format!(
                    "depends on `{}`, which is a compensation step and never runs in the run itself",
                    wf.steps[*dep as usize].name
                )));
            }
            if finally[*dep as usize] != finally[step.id as usize] {
                return Err(at(format!(
                    "depends on `{}`, across the boundary of the finally group",
                    wf.steps[*dep as usize].name
                )));
            }
            dependents[*dep as usize].push(step.id);
        }
        let mut group_deps = Vec::with_capacity(step.after_groups.len());
        for g in &step.after_groups {
            let Some(group) = wf.groups.get(*g as usize) else {
                return Err(at(format!("depends on group {g}, but the workflow has {} groups", wf.groups.len())));
            };
            let members = wf.group_members(*g);
            if members.is_empty() {
                return Err(at(format!("depends on group `{}`, which has no steps", group.name)));
            }
            if members.contains(&step.id) {
                return Err(at(format!("depends on group `{}`, which it is a member of", group.name)));
            }
            if let Some(m) = members.iter().find(|m| !step.after.contains(m)) {
                return Err(at(format!(
                    "depends on group `{}` but not on its member `{}`",
                    group.name, wf.steps[*m as usize].name
                )));
            }
            if group_deps.contains(&members) {
                return Err(at(format!("lists group `{}` twice in after_groups", group.name)));
            }
            group_deps.push(members);
        }
        // An outcome condition names only what the step waits for.
        if let Some(cond) = &step.condition {
            for dep in cond.deps() {
                match dep {
                    crate::plan::DepRef::Step(s) if !step.after.contains(&s) => {
                        return Err(at(format!("its condition names step {s}, which is not in its after")));
                    }
                    crate::plan::DepRef::Group(g) if !step.after_groups.contains(&g) => {
                        return Err(at(format!("its condition names group {g}, which is not in its after_groups")));
                    }
                    _ => {}
                }
            }
        }
        if compensation_only[step.id as usize] {
            if !step.after.is_empty() {
                return Err(at("is a compensation step, so it cannot have dependencies".into()));
            }
            if step.compensate.is_some() {
                return Err(at("is a compensation step, so it cannot have its own compensate".into()));
            }
        }
        if let Some(params) = step.params {
            expr_ok(params, &format!("step `{}`: params", step.name))?;
        }
        if let Some(when) = step.when {
            expr_ok(when, &format!("step `{}`: when", step.name))?;
        }
        if let Some(g) = step.group
            && g as usize >= wf.groups.len() {
                return Err(at(format!("is in group {g}, but the workflow has {} groups", wf.groups.len())));
            }
        if let Some(Compensate::Template(t)) = &step.compensate {
            template_ok(*t, &format!("step `{}`: compensate", step.name))?;
        }
        let mut env_names = HashSet::new();
        for binding in &step.env {
            if binding.name.is_empty() || binding.name.contains('=') || binding.name.contains('\0') {
                return Err(at(format!("`{}` is not an environment variable name", binding.name)));
            }
            if !env_names.insert(binding.name.as_str()) {
                return Err(at(format!("sets the environment variable `{}` twice", binding.name)));
            }
            template_ok(binding.template, &format!("step `{}`: env {}", step.name, binding.name))?;
        }
        if step.timeout_ms == Some(0) {
            return Err(at("timeout_ms must be positive".into()));
        }

        // The code: registers written before read, END last and only last.
        match step.code.last() {
            Some(Instr::End) => {}
            _ => return Err(at("its code must end with END".into())),
        }
        let mut written: HashSet<&str> = HashSet::new();
        let mut info = StepInfo { group_deps, ..StepInfo::default() };
        let mut used_exprs: Vec<u32> = step.when.into_iter().chain(step.params).collect();
        let mut used_templates: Vec<u32> = step.env.iter().map(|b| b.template).collect();
        if let Some(Compensate::Template(t)) = &step.compensate {
            used_templates.push(*t);
        }
        for (pc, instr) in step.code.iter().enumerate() {
            let at_pc = |msg: String| err(format!("step `{}`, instruction {pc} ({}): {msg}", step.name, instr.opcode()));
            if matches!(instr, Instr::End) && pc + 1 != step.code.len() {
                return Err(at_pc("END must be the last instruction".into()));
            }
            for reg in instr.reads() {
                if !written.contains(reg.0.as_str()) {
                    return Err(at_pc(format!("reads {reg} before any instruction writes it")));
                }
            }
            if let Some(reg) = instr.writes() {
                written.insert(reg.0.as_str());
            }
            info.external |= instr.is_external();
            check::inbox::check_instr(plan, wf, step, pc, instr).map_err(at_pc)?;
            match instr {
                Instr::Render { template, .. } => {
                    template_ok(*template, &format!("step `{}`", step.name))?;
                    used_templates.push(*template);
                }
                Instr::Eval { expr, .. } => {
                    expr_ok(*expr, &format!("step `{}`", step.name))?;
                    used_exprs.push(*expr);
                }
                Instr::Agent { agent, .. }
                    if *agent as usize >= plan.agents.len() => {
                        return Err(at_pc(format!("agent {agent} is not in the plan's {} agents", plan.agents.len())));
                    }
                Instr::ParseOutput { ty: Some(t), .. } if *t as usize >= wf.types.len() => {
                    return Err(at_pc(format!("type#{t} is not in the workflow's {} types", wf.types.len())));
                }
                Instr::Branch { arms } => {
                    if arms.is_empty() {
                        return Err(at_pc("a branch needs at least one arm".into()));
                    }
                    for arm in arms {
                        if let Some(when) = arm.when {
                            expr_ok(when, &format!("step `{}`: branch arm", step.name))?;
                            used_exprs.push(when);
                        }
                        let Some(picks) = arm.picks_all() else {
                            return Err(at_pc("an arm needs exactly one of `target` and `group` for each thing it picks".into()));
                        };
                        for pick in picks {
                            match pick {
                                super::ArmTarget::Step(t) => {
                                    let Some(target) = wf.steps.get(t as usize) else {
                                        return Err(at_pc(format!("arm target {t} is not a step")));
                                    };
                                    if !target.after.contains(&step.id) {
                                        return Err(at_pc(format!(
                                            "arm target `{}` must list `{}` in its after",
                                            target.name, step.name
                                        )));
                                    }
                                }
                                super::ArmTarget::Group(g) => {
                                    let Some(group) = wf.groups.get(g as usize) else {
                                        return Err(at_pc(format!("arm group {g} is not a group")));
                                    };
                                    let after_branch = wf
                                        .group_members(g)
                                        .into_iter()
                                        .any(|m| wf.steps.get(m as usize).is_some_and(|s| s.after.contains(&step.id)));
                                    if !after_branch {
                                        return Err(at_pc(format!(
                                            "no member of arm group `{}` lists `{}` in its after",
                                            group.name, step.name
                                        )));
                                    }
                                }
                            }
                        }
                        let targets = wf.arm_steps(step.id, arm);
                        for t in &targets {
                            if !info.arm_targets.contains(t) {
                                info.arm_targets.push(*t);
                            }
                        }
                        info.arms.push((wf.arm_name(arm).to_string(), targets));
                        info.arm_labels.push(wf.arm_names(arm));
                    }
                }
                Instr::Call { workflow, .. }
                    if plan.workflow(workflow).is_none() => {
                        return Err(at_pc(format!("calls workflow `{workflow}`, which is not in the plan")));
                    }
                _ => {}
            }
        }
        check::secret::check_secret_env(plan, step).map_err(|e| err(e.message))?;
        check::quality_gate::check_gate(wf, step).map_err(|e| err(e.message))?;
        check::step_code::check_step_code(plan, wf, step, &mut used_exprs, &mut used_templates).map_err(|e| err(e.message))?;
        let branches = step.code.iter().filter(|i| matches!(i, Instr::Branch { .. })).count();
        if branches > 1 {
            return Err(at("has more than one BRANCH".into()));
        }
        for t in used_templates {
            for part in &wf.templates[t as usize].parts {
                if let Part::Hole(h) = part {
                    used_exprs.push(h.expr);
                }
            }
        }
        let mut refs: Vec<String> = Vec::new();
        for e in used_exprs {
            for var in programs[e as usize].references().variables() {
                if !refs.iter().any(|r| r == var) {
                    refs.push(var.to_string());
                }
            }
        }
        info.refs = refs;
        info.retry = match &step.retry {
            Some(own) => Some(std::sync::Arc::new((**own).clone())),
            None => default_retry.clone(),
        };
        info.timeout_ms = step.timeout_ms.or(wf.defaults.step_timeout_ms);
        info.compensation_only = compensation_only[step.id as usize];
        info.finally = finally[step.id as usize];
        if let Some(t) = info.arm_targets.iter().find(|t| finally.get(**t as usize) != Some(&info.finally)) {
            return Err(at(format!("has an arm to `{}`, across the boundary of the finally group", wf.steps[*t as usize].name)));
        }
        infos.push(info);
    }
    // A compensation step's own compensate command refers to nothing else; its
    // references are checked like any step's.

    output_reads(wf, &programs, &mut infos);
    check::trigger::check_triggers(plan, wf)?;
    let topo = topological_order(wf, &dependents)?;
    let mut loaded = LoadedWorkflow {
        programs,
        dependents,
        topo,
        steps: infos,
        concurrency: wf.defaults.concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        names: wf.steps.iter().map(|s| (s.name.clone(), s.id)).collect(),
        topo_index: Vec::new(),
    };
    check::invariant::check_invariants(wf)?;
    let mut topo_index = vec![0usize; wf.steps.len()];
    for (i, s) in loaded.topo.iter().enumerate() {
        topo_index[*s as usize] = i;
    }
    check::items::index_item_sources(wf, &mut loaded, &topo_index)?;
    check::quality_gate::index_fix_loops(wf, &mut loaded, &topo_index)?;
    loaded.topo_index = topo_index;
    Ok(loaded)
}

/// Marks the steps whose output is read after they complete
/// ([`StepInfo::output_read`]). Most steps' outputs are read by nobody:
/// a run of 100,000 steps then holds none of them (63 MB for `notify`
/// steps, whose output is a small object) beyond the state rows it writes.
fn output_reads(wf: &Workflow, programs: &[cel::Program], infos: &mut [StepInfo]) {
    let names: HashMap<&str, usize> = wf.steps.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
    let mut read = vec![false; wf.steps.len()];
    for (i, info) in infos.iter().enumerate() {
        for r in &info.refs {
            if let Some(&s) = names.get(r.as_str()) {
                read[s] = true;
            }
        }
        if info.external {
            for dep in &wf.steps[i].after {
                if let Some(slot) = read.get_mut(*dep as usize) {
                    *slot = true;
                }
            }
        }
    }
    for o in &wf.outputs {
        if let Some(p) = programs.get(o.expr as usize) {
            for var in p.references().variables() {
                if let Some(&s) = names.get(var) {
                    read[s] = true;
                }
            }
        }
    }
    for (info, read) in infos.iter_mut().zip(read) {
        info.output_read = read;
    }
}

/// Kahn's algorithm; on a cycle, names the steps that are on it or behind it.
fn topological_order(wf: &Workflow, dependents: &[Vec<StepId>]) -> Result<Vec<StepId>, PlanError> {
    let n = wf.steps.len();
    let mut indegree: Vec<usize> = wf.steps.iter().map(|s| s.after.len()).collect();
    let mut order: Vec<StepId> = (0..n as u32).filter(|i| indegree[*i as usize] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let s = order[next];
        next += 1;
        for &d in &dependents[s as usize] {
            indegree[d as usize] -= 1;
            if indegree[d as usize] == 0 {
                order.push(d);
            }
        }
    }
    if order.len() != n {
        let stuck: Vec<&str> =
            (0..n).filter(|i| indegree[*i] > 0).map(|i| wf.steps[i].name.as_str()).take(10).collect();
        return Err(err(format!("the step graph has a cycle through {}", stuck.join(", "))));
    }
    Ok(order)
}

/// `call` must not recurse: a child run of a workflow that calls itself would never end.
fn check_call_graph(plan: &Plan) -> Result<(), PlanError> {
    let index: HashMap<&str, usize> = plan.workflows.iter().enumerate().map(|(i, w)| (w.name.as_str(), i)).collect();
    let calls: Vec<Vec<usize>> = plan
        .workflows
        .iter()
        .map(|w| {
            w.steps
                .iter()
                .flat_map(|s| s.code.iter())
                .filter_map(|i| match i {
                    Instr::Call { workflow, .. } => index.get(workflow.as_str()).copied(),
                    _ => None,
                })
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; calls.len()];
    fn visit(v: usize, calls: &[Vec<usize>], state: &mut [u8], path: &mut Vec<usize>) -> Option<Vec<usize>> {
        state[v] = 1;
        path.push(v);
        for &w in &calls[v] {
            if state[w] == 1 {
                let start = path.iter().position(|p| *p == w).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(w);
                return Some(cycle);
            }
            if state[w] == 0
                && let Some(c) = visit(w, calls, state, path) {
                    return Some(c);
                }
        }
        path.pop();
        state[v] = 2;
        None
    }
    for v in 0..calls.len() {
        if state[v] == 0
            && let Some(cycle) = visit(v, &calls, &mut state, &mut Vec::new()) {
                let names: Vec<&str> = cycle.iter().map(|i| plan.workflows[*i].name.as_str()).collect();
                return Err(err(format!("workflows call each other in a loop: {}", names.join(" -> "))));
            }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn base() -> Value {
        json!({
            "format_version": 3,
            "entry": "w",
            "workflows": [{
                "name": "w",
                "exprs": ["true"],
                "templates": [{ "parts": [{ "text": "true" }] }],
                "steps": [
                    { "id": 0, "name": "a", "kind": "run", "code": [
                        { "op": "RENDER", "template": 0, "dst": "cmd" }, { "op": "EXEC", "cmd": "cmd" }, { "op": "END" } ] },
                    { "id": 1, "name": "b", "kind": "branch", "after": [0], "code": [
                        { "op": "BRANCH", "arms": [{ "when": 0, "target": 2 }] }, { "op": "END" } ] },
                    { "id": 2, "name": "c", "kind": "run", "after": [1], "code": [ { "op": "END" } ] }
                ]
            }]
        })
    }

    fn load_err(mutate: impl FnOnce(&mut Value)) -> String {
        let mut v = base();
        mutate(&mut v);
        let plan: Plan = serde_json::from_value(v).unwrap();
        LoadedPlan::load(plan).err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn the_base_plan_loads() {
        assert_eq!(load_err(|_| {}), "");
    }

    #[test]
    fn structural_errors_are_named() {
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][0]["code"][1] = json!({ "op": "EXEC", "cmd": "nope" })),
            "workflow `w`: step `a`, instruction 1 (EXEC): reads %nope before any instruction writes it"
        );
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][2]["code"] = json!([])),
            "workflow `w`: step `c`: its code must end with END"
        );
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][2]["after"] = json!([0])),
            "workflow `w`: step `b`, instruction 0 (BRANCH): arm target `c` must list `b` in its after"
        );
        let err = load_err(|v| v["workflows"][0]["exprs"][0] = json!("1 +"));
        assert!(err.starts_with("workflow `w`: expr e0 `1 +` is not valid CEL: "), "{err}");
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][1]["name"] = json!("a")),
            "workflow `w`: two steps are named `a`"
        );
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][0]["name"] = json!("inputs")),
            "workflow `w`: step name `inputs` is reserved for expressions"
        );
        assert_eq!(load_err(|v| v["entry"] = json!("x")), "the plan's entry workflow `x` is not in the plan");
        assert_eq!(
            load_err(|v| v["workflows"][0]["job"] = json!({"parent": "nowhere", "group": "g"})),
            "workflow `w` is a job of workflow `nowhere`, which is not in the plan"
        );
        assert_eq!(
            load_err(|v| {
                let mut job = v["workflows"][0].clone();
                job["name"] = json!("w.g");
                job["job"] = json!({"parent": "w", "group": "g"});
                v["workflows"].as_array_mut().unwrap().push(job);
                v["entry"] = json!("w.g");
            }),
            "the plan's entry workflow `w.g` is the job of group `g`, which only its workflow `w` runs"
        );
    }

    #[test]
    fn shell_hole_contexts_are_checked() {
        let heredoc = |delimiter: &'static str| {
            move |v: &mut Value| {
                v["workflows"][0]["templates"][0] = json!({ "parts": [
                    { "text": "cat <<EOF\n" },
                    { "hole": { "expr": 0, "shell": { "heredoc": { "delimiter": delimiter, "quoted": false, "strip_tabs": false } } } },
                    { "text": "\nEOF" } ] })
            }
        };
        assert_eq!(load_err(heredoc("EOF")), "");
        assert_eq!(
            load_err(heredoc("")),
            "workflow `w`: template t0: a here-document hole's delimiter \"\" must be one non-empty line"
        );
        // Plans from before contexts (format 1) said `"shell": true`.
        let mut v = base();
        v["workflows"][0]["templates"][0] = json!({ "parts": [{ "hole": { "expr": 0, "shell": true } }] });
        let err = serde_json::from_value::<Plan>(v).unwrap_err().to_string();
        assert!(err.contains("invalid type: boolean"), "{err}");
        let old = r#"{ "format_version": 1, "entry": "w", "workflows": [] }"#;
        let err = Plan::from_json(old).unwrap_err().message;
        assert!(err.contains("format_version 1, but this flowc reads format_version 2 to 4"), "{err}");
        let newer = r#"{ "format_version": 5, "entry": "w", "workflows": [] }"#;
        assert!(Plan::from_json(newer).unwrap_err().message.contains("format_version 5, but this flowc reads format_version 2 to 4"));
        // A plan of format 2 (a version published before format 3) still loads.
        let mut v = base();
        v["format_version"] = json!(2);
        LoadedPlan::load(serde_json::from_value::<Plan>(v).unwrap()).expect("a format 2 plan loads");
    }

    #[test]
    fn an_outcome_condition_names_only_what_its_step_waits_for() {
        let is = |dep: Value| json!({ "is": { "dep": dep, "outcome": "failed" } });
        assert_eq!(load_err(|v| v["workflows"][0]["steps"][2]["condition"] = is(json!({ "step": 1 }))), "");
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][2]["condition"] = json!({ "any": [is(json!({ "step": 1 })), is(json!({ "step": 0 }))] })),
            "workflow `w`: step `c`: its condition names step 0, which is not in its after"
        );
        assert_eq!(
            load_err(|v| v["workflows"][0]["steps"][2]["condition"] = is(json!({ "group": 0 }))),
            "workflow `w`: step `c`: its condition names group 0, which is not in its after_groups"
        );
    }

    #[test]
    fn calls_must_not_recurse() {
        let err = load_err(|v| {
            v["workflows"][0]["steps"][2]["code"] = json!([{ "op": "CALL", "workflow": "w" }, { "op": "END" }]);
        });
        assert_eq!(err, "workflows call each other in a loop: w -> w");
    }

    #[test]
    fn compensation_steps_stay_out_of_the_graph() {
        let err = load_err(|v| v["workflows"][0]["steps"][1]["compensate"] = json!({ "step": 0 }));
        assert_eq!(err, "workflow `w`: step `b`: depends on `a`, which is a compensation step and never runs in the run itself");
    }

    #[test]
    fn retry_delays_back_off() {
        let r = Retry { count: 5, backoff: crate::plan::Backoff::Exponential, delay_ms: 100, max_ms: Some(350), ..Default::default() };
        assert_eq!((2..=5).map(|n| r.delay_before(n, 0)).collect::<Vec<_>>(), [100, 200, 350, 350]);
        let f = Retry { count: 2, backoff: crate::plan::Backoff::Fixed, delay_ms: 100, ..Default::default() };
        assert_eq!(f.delay_before(3, 0), 100);
    }
}
