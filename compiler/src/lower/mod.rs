//! Lowering: from checked workflows to the plan the interpreter executes.
//!
//! Runs only on projects that check clean (the CLI refuses to lower one with
//! errors), so names resolve and graphs are acyclic here. What the plan
//! format cannot express yet is a [`LowerError`] naming the step and what it
//! uses, never a silent drop.
//!
//! Choices (they follow `flowc_plan`'s "choices the lowering must follow"):
//! - Step ids are source order within the workflow.
//! - Groups become dependencies: `after GROUP` depends on every step of the
//!   group, nested groups included, with the written rule; a member with no
//!   dependencies of its own takes its groups' `after` (and rule); a member
//!   with `all_success` dependencies also gets an `all_success` group's deps.
//! - A `use TEMPLATE` step is the template's body merged under the step's own
//!   lines (a statement the step writes replaces the template's).
//! - Agent defaults (`timeout`, `retry`) apply to steps that set none.
//! - `with` data becomes one CEL map literal, evaluated when the step runs.
//! - Approval, human, check and wait steps: `inbox`; policies: `policy`;
//!   triggers: `trigger`; the other constructs each in their own module.

mod inbox;
mod invariant;
mod job;
mod policy;
mod post_actions;
mod quality_gate;
mod secret;
mod select;
mod spawn;
mod store;
mod trigger;

use std::collections::{BTreeMap, HashMap};

use flowc_grammar::ast::{
    self, AgentStmtKind, Compensate, Decl, DeclKind, EnvEntryKind, EnvValue, StepKind, StepStmt,
    StepStmtKind, TemplatePart, TemplateStr, TypeExpr, TypeKind, Value, ValueKind, WorkflowStmtKind,
};
use flowc_plan as plan;

use crate::db::{Db, Project};
use crate::retry::plan_retry;
use crate::line_index::LineIndex;
use crate::model::{GroupSig, StepDef, WorkflowDef, item_index};
use crate::pending::{Anchor, anchor_base};

/// A workflow the plan format cannot express yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerError {
    pub workflow: String,
    pub step: Option<String>,
    pub message: String,
}

impl std::fmt::Display for LowerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.step {
            Some(s) => write!(f, "workflow `{}`, step `{s}`: {}", self.workflow, self.message),
            None => write!(f, "workflow `{}`: {}", self.workflow, self.message),
        }
    }
}

/// Lowers workflow `entry` and every workflow it calls into one plan.
pub fn lower(db: &dyn Db, project: Project, entry: &str) -> Result<plan::Plan, Vec<LowerError>> {
    let index = item_index(db, project);
    let mut order: Vec<WorkflowDef<'_>> = Vec::new();
    let mut queue = vec![entry.to_string()];
    while let Some(name) = queue.pop() {
        let Some(wf) = index.workflow(&name) else {
            return Err(vec![LowerError { workflow: name, step: None, message: "there is no such workflow".into() }]);
        };
        if order.contains(&wf) {
            continue;
        }
        order.push(wf);
        for step in wf.steps(db) {
            if let StepKind::Call(callee) = &step.ast(db).kind {
                queue.push(callee.text.clone());
            }
            queue.extend(spawn::spawned_workflows(step.ast(db)));
        }
    }
    let mut agents = Agents::default();
    let mut workflows = Vec::new();
    let mut errors = Vec::new();
    for wf in order {
        // Each `for each item` group's job first: the workflow's step for
        // it passes on what the job reads (`job`).
        let mut job_refs = HashMap::new();
        let mut jobs = Vec::new();
        for g in wf.groups(db).iter().filter(|g| g.for_each.is_some()) {
            match WorkflowLowerer::new(db, project, wf, &mut agents, Some(g.name.text.clone())).lower() {
                Ok(w) => {
                    job_refs.insert(g.name.text.clone(), job::referenced_names(&w));
                    jobs.push(w);
                }
                Err(e) => errors.extend(e),
            }
        }
        let mut lowerer = WorkflowLowerer::new(db, project, wf, &mut agents, None);
        lowerer.job_refs = job_refs;
        match lowerer.lower() {
            Ok(w) => workflows.push(w),
            Err(e) => errors.extend(e),
        }
        workflows.extend(jobs);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let policies = std::mem::take(&mut agents.policies.list);
    Ok(plan::Plan {
        format_version: plan::FORMAT_VERSION,
        entry: entry.to_string(),
        workflows,
        agents: agents.list,
        policies,
        stores: agents.adv.stores,
        secrets: agents.adv.secrets,
    })
}

pub use store::{project_stores, store_def};

/// When a step starts: its `after`, rule and condition, lowered.
struct StepDeps {
    trigger: plan::TriggerRule,
    after: Vec<u32>,
    after_groups: Vec<u32>,
    condition: Option<plan::Condition>,
}

/// The plan's agent table, filled as steps name agents (and its policy,
/// store and secret tables).
#[derive(Default)]
struct Agents {
    list: Vec<plan::Agent>,
    ids: HashMap<String, u32>,
    policies: policy::Policies,
    /// Stores and secrets, filled the same way.
    adv: store::Tables,
}

struct WorkflowLowerer<'a, 'db> {
    db: &'db dyn Db,
    project: Project,
    wf: WorkflowDef<'db>,
    agents: &'a mut Agents,
    exprs: Vec<String>,
    expr_ids: HashMap<String, u32>,
    templates: Vec<plan::Template>,
    types: Vec<plan::Type>,
    step_ids: HashMap<String, u32>,
    /// Every step id of each group, nested groups included.
    group_steps: HashMap<String, Vec<u32>>,
    /// Each group's index in the plan's `groups`.
    group_ids: HashMap<String, u32>,
    errors: Vec<LowerError>,
    lines: LineIndex,
    text: &'db str,
    /// `None`: the workflow; `Some(G)`: the job of its `for each item`
    /// group `G` (`job`).
    part: Option<String>,
    /// The scope names each job's expressions use, by group (lowering the
    /// workflow): what its `call` passes on (`job::referenced_names`).
    job_refs: HashMap<String, Vec<String>>,
}

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    fn new(db: &'db dyn Db, project: Project, wf: WorkflowDef<'db>, agents: &'a mut Agents, part: Option<String>) -> Self {
        let text = wf.file(db).text(db).as_str();
        WorkflowLowerer {
            db,
            project,
            wf,
            agents,
            exprs: Vec::new(),
            expr_ids: HashMap::new(),
            templates: Vec::new(),
            types: Vec::new(),
            step_ids: HashMap::new(),
            group_steps: HashMap::new(),
            group_ids: HashMap::new(),
            errors: Vec::new(),
            lines: LineIndex::new(text),
            text,
            part,
            job_refs: HashMap::new(),
        }
    }

    fn error(&mut self, step: Option<&str>, message: impl Into<String>) {
        self.errors.push(LowerError { workflow: self.wf.name(self.db).clone(), step: step.map(str::to_string), message: message.into() });
    }

    fn lower(mut self) -> Result<plan::Workflow, Vec<LowerError>> {
        let db = self.db;
        // What this part of the workflow is made of, and which groups it
        // keeps (docs/language.md, "A job per item"): the workflow's plan has
        // each `for each item` group as one step, the group's job only the
        // group's members.
        let all_groups = self.wf.groups(db).clone();
        let graph = crate::graph::workflow_graph(db, self.wf);
        let units = job::units(db, graph, &wf_steps(db, self.wf), &all_groups, self.part.as_deref());
        for (i, u) in units.iter().enumerate() {
            self.step_ids.entry(u.name(db, &all_groups).to_string()).or_insert(i as u32);
        }
        let groups = job::kept_groups(graph, &all_groups, self.part.as_deref());
        for g in groups.iter() {
            self.group_steps.insert(g.name.text.clone(), Vec::new());
        }
        // One pass over the units: each in the kept groups around it, and
        // in its innermost group's direct members.
        let mut direct: HashMap<&str, Vec<u32>> = HashMap::new();
        for (i, u) in units.iter().enumerate() {
            let enclosing = u.enclosing(db, &all_groups);
            for g in enclosing {
                if let Some(ids) = self.group_steps.get_mut(g) {
                    ids.push(i as u32);
                }
            }
            if let Some(g) = enclosing.last() {
                direct.entry(g.as_str()).or_default().push(i as u32);
            }
        }
        let group_index: HashMap<&str, u32> = groups.iter().enumerate().map(|(i, g)| (g.name.text.as_str(), i as u32)).collect();
        self.group_ids = groups.iter().enumerate().map(|(i, g)| (g.name.text.clone(), i as u32)).collect();

        // The workflow's own statements.
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let mut defaults = plan::Defaults::default();
        let mut description = None;
        let mut safety = None;
        let mut invariants = Vec::new();
        let mut wf_env: Vec<(String, ast::EnvValue)> = Vec::new();
        let mut triggers = Vec::new();
        let in_job = self.part.is_some();
        for (_, stmt) in self.wf.header(db).iter() {
            // A job's run is part of its parent's: the run's outputs, limits,
            // saga, triggers and invariants belong to the parent
            // (docs/language.md, "A job per item").
            if in_job && !job::applies_in_job(&stmt.kind) {
                continue;
            }
            match &stmt.kind {
                WorkflowStmtKind::Description(d) => description = Some(d.value.clone()),
                WorkflowStmtKind::Input(i) => inputs.push(plan::InputDecl {
                    name: i.name.text.clone(),
                    ty: plan_type(&i.ty),
                    default: i.default.as_ref().and_then(crate::checks::value_json),
                }),
                WorkflowStmtKind::Output(o) => {
                    let expr = self.expr(&o.expr.text);
                    outputs.push(plan::OutputDecl { name: o.name.text.clone(), expr });
                }
                WorkflowStmtKind::Retry(r) => defaults.retry = Some(plan_retry(r)),
                WorkflowStmtKind::Timeout(d) => defaults.run_timeout_ms = Some(d.millis),
                WorkflowStmtKind::Concurrency(n) => defaults.concurrency = Some(n.value.clamp(1, u32::MAX as i64) as u32),
                WorkflowStmtKind::Budget(b) => defaults.budget_usd = Some(b.value.value),
                WorkflowStmtKind::OnFailure { compensate, .. } => defaults.compensate_on_failure = *compensate,
                WorkflowStmtKind::Env(env) => wf_env.extend(self.flatten_env(None, env)),
                WorkflowStmtKind::On(t) => triggers.push(trigger::trigger(&mut self, t)),
                WorkflowStmtKind::Safety(s) => safety = Some(self.safety(s)),
                WorkflowStmtKind::Invariant(inv) => invariants.push(self.invariant(inv)),
                WorkflowStmtKind::Step(_) | WorkflowStmtKind::Group(_) => {}
            }
        }

        let mut plan_steps = Vec::with_capacity(units.len());
        for (i, unit) in units.iter().enumerate() {
            let step = match unit {
                job::Unit::Step(step) => self.step(i as u32, *step, &groups, &group_index, &wf_env),
                job::Unit::Job(g) => Some(self.job_step(i as u32, &all_groups[*g], &groups, &group_index)),
            };
            if let Some(s) = step {
                plan_steps.push(s);
            }
        }
        if in_job {
            outputs = self.job_outputs(&units, &all_groups);
        }
        let plan_groups = groups
            .iter()
            .map(|g| plan::Group {
                name: g.name.text.clone(),
                kind: match g.kind {
                    ast::GroupKind::Parallel => plan::GroupKind::Parallel,
                    ast::GroupKind::Phase => plan::GroupKind::Phase,
                    ast::GroupKind::Finally => plan::GroupKind::Finally,
                },
                parent: g.groups.last().and_then(|p| group_index.get(p.as_str()).copied()),
                steps: direct.remove(g.name.text.as_str()).unwrap_or_default(),
                fail_fast: g.fail_fast,
            })
            .collect();
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let job = self.part.as_ref().map(|g| plan::Job { parent: self.wf.name(db).clone(), group: g.clone() });
        Ok(plan::Workflow {
            name: match &self.part {
                Some(g) => plan::job_workflow_name(self.wf.name(db), g),
                None => self.wf.name(db).clone(),
            },
            description,
            inputs,
            outputs,
            defaults,
            steps: plan_steps,
            groups: plan_groups,
            exprs: self.exprs,
            templates: self.templates,
            types: self.types,
            triggers,
            safety,
            invariants,
            job,
        })
    }

    fn expr(&mut self, text: &str) -> u32 {
        let text = text.trim().to_string();
        if let Some(id) = self.expr_ids.get(&text) {
            return *id;
        }
        let id = self.exprs.len() as u32;
        self.exprs.push(text.clone());
        self.expr_ids.insert(text, id);
        id
    }

    /// A template; `shell`: it runs through `sh -c`, so each hole records
    /// its quoting context (`crate::shell_lex`). `flowc check` refuses the
    /// contexts that cannot be made safe (E0701) before lowering runs.
    fn template(&mut self, t: &TemplateStr, shell: bool) -> u32 {
        let mut contexts = if shell { crate::shell_lex::template_contexts(t) } else { Vec::new() }.into_iter();
        let mut parts = Vec::with_capacity(t.parts.len());
        for p in &t.parts {
            parts.push(match p {
                TemplatePart::Text { text, .. } => plan::Part::Text(text.clone()),
                TemplatePart::Hole(h) => {
                    let shell = match contexts.next() {
                        Some(Ok(ctx)) => Some(ctx),
                        Some(Err(refusal)) => {
                            self.error(None, format!("the command hole `${{{}}}` cannot be made safe: {}", h.expr.text.trim(), refusal.reason));
                            Some(plan::table::ShellContext::Word)
                        }
                        None => None,
                    };
                    plan::Part::Hole(plan::table::Hole { expr: self.expr(&h.expr.text), shell, glob: false })
                }
            });
        }
        self.templates.push(plan::Template { parts });
        (self.templates.len() - 1) as u32
    }

    fn literal(&mut self, text: String) -> u32 {
        self.templates.push(plan::Template::literal(text));
        (self.templates.len() - 1) as u32
    }

    fn ty(&mut self, t: &TypeExpr) -> u32 {
        self.types.push(plan_type(t));
        (self.types.len() - 1) as u32
    }

    /// The step ids a dependency name stands for: the step, or every step of a group.
    /// An outcome condition's terms (joined by `,`) as one plan condition;
    /// `None` for none. A group counts as one dependency; an empty group,
    /// which the checker reports, and a rule among the terms (E0311) drop out.
    fn condition(&self, terms: &[ast::Cond]) -> Option<plan::Condition> {
        fn one(lw: &WorkflowLowerer<'_, '_>, c: &ast::Cond) -> Option<plan::Condition> {
            match c {
                ast::Cond::Outcome { outcome, name, .. } => {
                    let dep = match (lw.group_ids.get(&name.text), lw.group_steps.get(&name.text)) {
                        (Some(g), Some(m)) if !m.is_empty() => plan::DepRef::Group(*g),
                        (Some(_), _) => return None,
                        _ => plan::DepRef::Step(*lw.step_ids.get(&name.text)?),
                    };
                    Some(plan::Condition::Is { dep, outcome: plan_outcome(*outcome) })
                }
                ast::Cond::And(xs, _) => Some(plan::Condition::All(xs.iter().filter_map(|x| one(lw, x)).collect())),
                ast::Cond::Or(xs, _) => Some(plan::Condition::Any(xs.iter().filter_map(|x| one(lw, x)).collect())),
                ast::Cond::Paren(x, _) => one(lw, x),
                ast::Cond::Rule { .. } => None,
            }
        }
        if terms.is_empty() {
            return None;
        }
        let mut all: Vec<plan::Condition> = terms.iter().filter_map(|t| one(self, t)).collect();
        Some(if all.len() == 1 { all.remove(0) } else { plan::Condition::All(all) })
    }

    fn dep_ids(&self, name: &str) -> Vec<u32> {
        match self.group_steps.get(name) {
            Some(ids) => ids.clone(),
            None => self.step_ids.get(name).copied().into_iter().collect(),
        }
    }

    /// A step's dependencies: written ones (`own`), then those inherited
    /// from the groups around it (`enclosing`, outermost first; only those
    /// among `groups` count). A group named as a dependency is one
    /// dependency (`after_groups`).
    fn deps_of(&self, id: u32, own: Option<&ast::Deps>, enclosing: &[String], groups: &[GroupSig]) -> StepDeps {
        let group_deps = |names: &[ast::Name]| -> Vec<u32> {
            // An empty group adds no step to `after`, so it is no dependency.
            names
                .iter()
                .filter(|n| self.group_steps.get(&n.text).is_some_and(|m| !m.is_empty()))
                .filter_map(|n| self.group_ids.get(&n.text).copied())
                .collect()
        };
        let (mut trigger, mut after, mut after_groups) = match own {
            Some(d) => (
                plan_trigger(d.rule),
                d.names.iter().flat_map(|n| self.dep_ids(&n.text)).collect::<Vec<_>>(),
                group_deps(&d.names),
            ),
            None => (plan::TriggerRule::AllSuccess, Vec::new(), Vec::new()),
        };
        let mut condition = own.and_then(|d| self.condition(&d.condition));
        let own_plain = own.is_none_or(ast::Deps::is_plain);
        for g in enclosing {
            // By index (a walk over every group, for every step, made
            // lowering many groups quadratic).
            let Some(sig) = self.group_ids.get(g).and_then(|i| groups.get(*i as usize)).filter(|s| &s.name.text == g) else { continue };
            let Some(gdeps) = &sig.deps else { continue };
            let ids: Vec<u32> = gdeps.names.iter().flat_map(|n| self.dep_ids(&n.text)).collect();
            if own.is_none() && after.is_empty() {
                trigger = plan_trigger(gdeps.rule);
                condition = self.condition(&gdeps.condition);
                after.extend(ids);
                after_groups.extend(group_deps(&gdeps.names));
            } else if own_plain && condition.is_none() && trigger == plan::TriggerRule::AllSuccess && gdeps.is_plain() {
                after.extend(ids);
                after_groups.extend(group_deps(&gdeps.names));
            }
        }
        after.retain(|d| *d != id);
        after.sort_unstable();
        after.dedup();
        after_groups.sort_unstable();
        after_groups.dedup();

        StepDeps { trigger, after, after_groups, condition }
    }

    fn step(
        &mut self,
        id: u32,
        def: StepDef<'db>,
        groups: &[GroupSig],
        group_index: &HashMap<&str, u32>,
        wf_env: &[(String, EnvValue)],
    ) -> Option<plan::Step> {
        let db = self.db;
        let ast = def.ast(db).clone();
        let name = ast.name.text.clone();
        let (base_file, base) = anchor_base(db, Anchor::Step(self.wf, def));
        let _ = base_file;
        let line = self.lines.line_col(self.text, base + ast.span.start).0 as u32;

        // `use TEMPLATE`: the template's kind and lines, under the step's own.
        // Its parameters: one CEL map of the arguments, defaults filled in,
        // bound as `params` when the step runs.
        let mut params = None;
        let (kind, body) = match &ast.kind {
            StepKind::Use(t) => match item_index(db, self.project).other(DeclKind::Template, &t.text).map(|d| d.ast(db).clone()) {
                Some(d) => match &*d {
                    Decl::Template(tpl) => {
                        if !tpl.params.is_empty() {
                            let given = ast.use_args.as_ref().and_then(Value::as_object).unwrap_or(&[]);
                            let entries: Vec<String> = tpl
                                .params
                                .iter()
                                .filter_map(|p| {
                                    let value = given.iter().find(|f| f.key.text == p.name.text).map(|f| &f.value).or(p.default.as_ref())?;
                                    Some(format!("{}: {}", cel_string(&p.name.text), cel_literal(value)))
                                })
                                .collect();
                            params = Some(self.expr(&format!("{{{}}}", entries.join(", "))));
                        }
                        (tpl.kind.clone().unwrap_or(StepKind::Run), merge(&tpl.body, &ast.body))
                    }
                    _ => (StepKind::Run, ast.body.clone()),
                },
                None => (StepKind::Run, ast.body.clone()),
            },
            k => (k.clone(), ast.body.clone()),
        };

        let StepDeps { trigger, after, after_groups, condition } = self.deps_of(id, ast.deps.as_deref(), def.groups(db), groups);

        // Options, with the agent's defaults under the step's own.
        let mut step_timeout = None;
        let mut retry = None;
        let mut on_failure = plan::OnFailure::Fail;
        let mut skip_on_exit = Vec::new();
        let mut compensate_on_failure = false;
        let mut fail_fast = false;
        let mut when = None;
        let mut compensate = None;
        let mut output_type = None;
        // The environment: the workflow's entries, then the agent's, then the
        // step's own; a later entry of a name replaces an earlier one. The
        // agent's templates are rendered with the step, like the step's own
        // (docs/language.md, "env blocks").
        let mut env: Vec<(String, EnvValue)> = wf_env.to_vec();
        if let StepKind::Agent(agent) = &kind {
            for (k, v) in self.agent_env(&agent.text) {
                env.retain(|(n, _)| *n != k);
                env.push((k, v));
            }
        }
        let mut parts = post_actions::StepParts::default();
        for stmt in &body {
            if parts.take(&stmt.kind) {
                continue;
            }
            match &stmt.kind {
                StepStmtKind::Timeout(d) => step_timeout = Some(d.millis),
                StepStmtKind::Retry(r) => retry = Some(plan_retry(r)),
                StepStmtKind::OnFailure { mode, .. } => {
                    on_failure = match mode {
                        ast::OnFailure::Fail => plan::OnFailure::Fail,
                        ast::OnFailure::Pause => plan::OnFailure::Pause,
                        ast::OnFailure::Continue => plan::OnFailure::Continue,
                    }
                }
                StepStmtKind::When(e) => when = Some(self.expr(&e.text)),
                // Checked to be 1..=255 (E0508), so the cast keeps the value.
                StepStmtKind::CompensateOnFailure => compensate_on_failure = true,
                StepStmtKind::FailFast => fail_fast = true,
                StepStmtKind::SkipOnExit(codes) => skip_on_exit = codes.iter().map(|c| c.value as i32).collect(),
                StepStmtKind::Compensate(Compensate::Command(t)) => {
                    compensate = Some(plan::Compensate::Template(self.template(t, true)))
                }
                StepStmtKind::Compensate(Compensate::Step(s)) => {
                    compensate = self.step_ids.get(&s.text).map(|id| plan::Compensate::Step(*id))
                }
                StepStmtKind::Output(t) => output_type = Some(t.clone()),
                StepStmtKind::Env(block) => {
                    let entries = self.flatten_env(Some(&name), block);
                    for (k, v) in entries {
                        env.retain(|(n, _)| *n != k);
                        env.push((k, v));
                    }
                }
                _ => {}
            }
        }
        if let StepKind::Agent(agent) = &kind
            && let Some((t, r)) = self.agent_defaults(&agent.text) {
                step_timeout = step_timeout.or(t);
                retry = retry.or(r);
            }
        let mut env_bindings = Vec::new();
        let mut secret_env = Vec::new();
        for (k, v) in env {
            if let Some(runtime) = secret::runtime_value(db, self.project, &v) {
                if let Some(secret) = self.runtime_value(Some(&name), runtime) {
                    secret_env.push(plan::SecretEnv { name: k, secret });
                }
                continue;
            }
            let template = match v {
                EnvValue::Template(t) => self.template(&t, false),
                EnvValue::Value(v) => {
                    let text = crate::checks::value_json(&v).map(|j| match j {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    });
                    self.literal(text.unwrap_or_default())
                }
                EnvValue::Ref { set, key } => {
                    // `flatten_env` resolved every key of an env set.
                    self.error(Some(&name), format!("`{}.{}` is not a key of an env or secrets set", set.text, key.text));
                    continue;
                }
                EnvValue::Source(_) => continue, // a run-time value, handled above
            };
            env_bindings.push(plan::EnvBinding { name: k, template });
        }
        let mut gate = None;

        let parse = |me: &mut Self| -> plan::Instr {
            match &output_type {
                Some(t) => plan::Instr::ParseOutput { mode: plan::OutputMode::Json, ty: Some(me.ty(t)) },
                None => plan::Instr::ParseOutput { mode: plan::OutputMode::Auto, ty: None },
            }
        };
        let reg = |s: &str| plan::Reg(s.to_string());
        let find = |k: &str| body.iter().find(|s| s.kind.keyword() == k).map(|s| s.kind.clone());
        let (plan_kind, code) = match &kind {
            StepKind::Run => {
                let Some(StepStmtKind::Command(cmd)) = find("command") else {
                    self.error(Some(&name), "a `run` step needs a `command`");
                    return None;
                };
                let t = self.template(&cmd, true);
                (plan::StepKind::Run, vec![plan::Instr::Render { template: t, dst: reg("cmd") }, plan::Instr::Exec { cmd: reg("cmd") }, parse(self)])
            }
            StepKind::Agent(agent) => {
                let Some(StepStmtKind::Prompt(prompt)) = find("prompt") else {
                    self.error(Some(&name), "an `agent` step needs a `prompt`");
                    return None;
                };
                let agent_id = self.agent(&agent.text)?;
                let t = self.template(&prompt, false);
                (
                    plan::StepKind::Agent,
                    vec![plan::Instr::Render { template: t, dst: reg("prompt") }, plan::Instr::Agent { agent: agent_id, prompt: reg("prompt") }, parse(self)],
                )
            }
            StepKind::Notify => {
                let Some(StepStmtKind::Message(message)) = find("message") else {
                    self.error(Some(&name), "a `notify` step needs a `message`");
                    return None;
                };
                let mut code = Vec::new();
                let channel = match find("channel") {
                    Some(StepStmtKind::Channel(c)) => {
                        let t = self.template(&c, false);
                        code.push(plan::Instr::Render { template: t, dst: reg("channel") });
                        Some(reg("channel"))
                    }
                    _ => None,
                };
                let t = self.template(&message, false);
                code.push(plan::Instr::Render { template: t, dst: reg("message") });
                code.push(plan::Instr::Notify { channel, message: reg("message") });
                (plan::StepKind::Notify, code)
            }
            StepKind::Branch => {
                let mut arms = Vec::new();
                for stmt in &body {
                    if let StepStmtKind::Arm { condition, targets } = &stmt.kind {
                        let when = condition.as_ref().map(|c| self.expr(&c.text));
                        // Unknown names are reported by the name checks.
                        let picks: Vec<plan::ArmTarget> = targets
                            .iter()
                            .filter_map(|t| match self.group_ids.get(&t.text) {
                                Some(g) => Some(plan::ArmTarget::Group(*g)),
                                None => self.step_ids.get(&t.text).map(|s| plan::ArmTarget::Step(*s)),
                            })
                            .collect();
                        if let Some(arm) = plan::Arm::picking(when, &picks) {
                            arms.push(arm);
                        }
                    }
                }
                (plan::StepKind::Branch, vec![plan::Instr::Branch { arms }])
            }
            StepKind::Call(callee) => {
                let mut code = Vec::new();
                let inputs = match find("with") {
                    Some(StepStmtKind::With(v)) => {
                        let e = self.expr(&cel_literal(&v));
                        code.push(plan::Instr::Eval { expr: e, dst: reg("inputs") });
                        Some(reg("inputs"))
                    }
                    _ => None,
                };
                code.push(plan::Instr::Call { workflow: callee.text.clone(), inputs });
                (plan::StepKind::Call, code)
            }
            StepKind::Select => (plan::StepKind::Select, self.select_code(&name, &body)?),
            StepKind::Gate => {
                let (code, policy) = self.gate_code(&name, &body)?;
                gate = Some(policy);
                (plan::StepKind::Gate, code)
            }
            StepKind::Approval | StepKind::Human | StepKind::Check(_) | StepKind::Wait | StepKind::Timer => {
                inbox::step_code(self, &name, &kind, &body, output_type.as_ref())?
            }
            // The checker refuses a template whose kind is another template
            // (templates do not chain); a plan is never built past it.
            StepKind::Use(t) => {
                self.error(Some(&name), format!("templates do not chain: the template's kind is `use {}`", t.text));
                return None;
            }
        };
        let mut code = self.wrap_code(&name, parts, code);
        code.push(plan::Instr::End);
        // A gate with `on_fail` loops on its own terms: the workflow's
        // default retry does not apply to it (its own `retry` does).
        if gate.as_ref().is_some_and(|g| g.on_fail.is_some()) && retry.is_none() {
            retry = Some(plan::Retry::default());
        }
        let group = def.groups(db).last().and_then(|g| group_index.get(g.as_str()).copied());
        Some(plan::Step {
            id,
            name,
            kind: plan_kind,
            line,
            after,
            after_groups,
            trigger,
            condition: condition.map(Box::new),
            when,
            params,
            retry: retry.map(Box::new),
            timeout_ms: step_timeout,
            on_failure,
            skip_on_exit,
            compensate_on_failure,
            fail_fast,
            group,
            compensate,
            env: env_bindings,
            code,
            for_each: ast.for_each.is_some(),
            // A malformed list is an error of the checks (E0520).
            for_each_in: ast.for_each_in.as_ref().and_then(|s| crate::matrix::expand(s).ok()),
            secret_env,
            gate: gate.map(Box::new),
        })
    }

    /// An env block as `(name, value)` pairs, `use SET` expanded to the set's
    /// keys and `set.KEY` resolved to the value of an env set.
    fn flatten_env(&mut self, step: Option<&str>, block: &ast::EnvBlock) -> Vec<(String, EnvValue)> {
        let db = self.db;
        let index = item_index(db, self.project);
        let mut out = Vec::new();
        for entry in &block.entries {
            match &entry.kind {
                EnvEntryKind::Use(set) => {
                    if let Some(values) = env_set_values(db, index, &set.text) {
                        out.extend(values);
                    }
                }
                EnvEntryKind::Assign { key, value: EnvValue::Ref { set, key: k } } => {
                    match env_set_values(db, index, &set.text).and_then(|vals| vals.into_iter().find(|(n, _)| *n == k.text)) {
                        Some((_, v)) => out.push((key.text.clone(), v)),
                        // A key of a `secrets` set: resolved when the step runs.
                        None if index.other(DeclKind::Secrets, &set.text).is_some() => {
                            out.push((key.text.clone(), EnvValue::Ref { set: set.clone(), key: k.clone() }))
                        }
                        None => self.error(step, format!("`{}.{}` is not a key of an env or secrets set", set.text, k.text)),
                    }
                }
                EnvEntryKind::Assign { key, value } => out.push((key.text.clone(), value.clone())),
            }
        }
        out
    }

    fn agent_defaults(&self, name: &str) -> Option<(Option<u64>, Option<plan::Retry>)> {
        let def = item_index(self.db, self.project).other(DeclKind::Agent, name)?;
        let Decl::Agent(agent) = &**def.ast(self.db) else { return None };
        let mut timeout = None;
        let mut retry = None;
        for s in &agent.body {
            match &s.kind {
                AgentStmtKind::Timeout(d) => timeout = Some(d.millis),
                AgentStmtKind::Retry(r) => retry = Some(plan_retry(r)),
                _ => {}
            }
        }
        Some((timeout, retry))
    }

    /// The entries of an agent's env blocks, in order, `use`d sets expanded.
    fn agent_env(&mut self, name: &str) -> Vec<(String, EnvValue)> {
        let Some(def) = item_index(self.db, self.project).other(DeclKind::Agent, name) else { return Vec::new() };
        let Decl::Agent(agent) = &**def.ast(self.db) else { return Vec::new() };
        let mut out = Vec::new();
        for s in &agent.body {
            if let AgentStmtKind::Env(block) = &s.kind {
                out.extend(self.flatten_env(None, block));
            }
        }
        out
    }

    /// The agent's id in the plan, adding it on first use.
    fn agent(&mut self, name: &str) -> Option<u32> {
        if let Some(id) = self.agents.ids.get(name) {
            return Some(*id);
        }
        let db = self.db;
        let def = item_index(db, self.project).other(DeclKind::Agent, name)?;
        let Decl::Agent(agent) = &**def.ast(db) else { return None };
        let mut command = None;
        let mut cost = None;
        for s in &agent.body {
            match &s.kind {
                AgentStmtKind::Command(t) => match t.as_literal() {
                    Some(c) => command = Some(c),
                    None => self.error(None, format!("agent `{name}`: holes in an agent's command are not supported; pass values in the prompt")),
                },
                AgentStmtKind::CostPerCall(c) => cost = Some(c.value.value),
                _ => {}
            }
        }
        let id = self.agents.list.len() as u32;
        // The agent's env goes into each step that uses it (see `step`), so
        // that it renders in the step's scope and the step's entries win.
        let (env, secret_env) = (Vec::new(), Vec::new());
        self.agents.list.push(plan::Agent { name: name.to_string(), command: command.unwrap_or_default(), cost_per_call: cost, env, secret_env });
        self.agents.ids.insert(name.to_string(), id);
        Some(id)
    }
}

/// A workflow's steps in source order.
fn wf_steps<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>) -> Vec<StepDef<'db>> {
    wf.steps(db).clone()
}

/// The plain values of an env set (`use`d sets included), in key order.
fn env_set_values<'db>(db: &'db dyn Db, index: &crate::model::ItemIndex<'db>, name: &str) -> Option<Vec<(String, EnvValue)>> {
    let def = index.other(DeclKind::Env, name)?;
    let Decl::Env(set) = &**def.ast(db) else { return None };
    let mut out: BTreeMap<String, EnvValue> = BTreeMap::new();
    for e in &set.body.entries {
        match &e.kind {
            EnvEntryKind::Use(other) => {
                if other.text != name {
                    for (k, v) in env_set_values(db, index, &other.text).unwrap_or_default() {
                        out.insert(k, v);
                    }
                }
            }
            EnvEntryKind::Assign { key, value } => {
                out.insert(key.text.clone(), value.clone());
            }
        }
    }
    Some(out.into_iter().collect())
}

/// A template's body with the step's own statements in place of the
/// template's statements of the same kind.
fn merge(template: &[StepStmt], own: &[StepStmt]) -> Vec<StepStmt> {
    let own_keys: Vec<&str> = own.iter().map(|s| s.kind.keyword()).collect();
    template.iter().filter(|s| !own_keys.contains(&s.kind.keyword())).cloned().chain(own.iter().cloned()).collect()
}

fn plan_outcome(o: ast::Outcome) -> plan::Outcome {
    match o {
        ast::Outcome::Succeeded => plan::Outcome::Succeeded,
        ast::Outcome::Failed => plan::Outcome::Failed,
        ast::Outcome::UpstreamFailed => plan::Outcome::UpstreamFailed,
        ast::Outcome::Skipped => plan::Outcome::Skipped,
        ast::Outcome::Done => plan::Outcome::Done,
    }
}

fn plan_trigger(rule: ast::TriggerRule) -> plan::TriggerRule {
    match rule {
        ast::TriggerRule::AllSuccess => plan::TriggerRule::AllSuccess,
        ast::TriggerRule::AllFailed => plan::TriggerRule::AllFailed,
        ast::TriggerRule::AllDone => plan::TriggerRule::AllDone,
        ast::TriggerRule::AllSkipped => plan::TriggerRule::AllSkipped,
        ast::TriggerRule::OneSuccess => plan::TriggerRule::OneSuccess,
        ast::TriggerRule::OneFailed => plan::TriggerRule::OneFailed,
        ast::TriggerRule::OneDone => plan::TriggerRule::OneDone,
        ast::TriggerRule::NoneFailed => plan::TriggerRule::NoneFailed,
        ast::TriggerRule::NoneFailedMinOneSuccess => plan::TriggerRule::NoneFailedMinOneSuccess,
        ast::TriggerRule::NoneSkipped => plan::TriggerRule::NoneSkipped,
        ast::TriggerRule::Always => plan::TriggerRule::Always,
    }
}


pub(crate) fn plan_type(t: &TypeExpr) -> plan::Type {
    match &t.kind {
        TypeKind::String => plan::Type::String,
        TypeKind::Number => plan::Type::Number,
        TypeKind::Int => plan::Type::Int,
        TypeKind::Bool => plan::Type::Bool,
        TypeKind::Any | TypeKind::Unknown(_) => plan::Type::Any,
        TypeKind::List(inner) => plan::Type::List { items: Box::new(plan_type(inner)) },
        TypeKind::Object(fields) => plan::Type::Object {
            fields: fields
                .iter()
                .map(|f| plan::types::Field { name: f.name.text.clone(), ty: plan_type(&f.ty), optional: f.optional })
                .collect(),
        },
    }
}

/// A data literal as one CEL expression: computed parts inline, in parentheses.
pub(crate) fn cel_literal(v: &Value) -> String {
    match &v.kind {
        ValueKind::Null => "null".into(),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Number(n) => {
            if n.is_int && n.value.fract() == 0.0 && n.value.abs() < 9.0e15 {
                format!("{}", n.value as i64)
            } else {
                format!("{:?}", n.value)
            }
        }
        ValueKind::String(s) => cel_string(s),
        ValueKind::Array(items) => format!("[{}]", items.iter().map(cel_literal).collect::<Vec<_>>().join(", ")),
        ValueKind::Object(fields) => format!(
            "{{{}}}",
            fields.iter().map(|f| format!("{}: {}", cel_string(&f.key.text), cel_literal(&f.value))).collect::<Vec<_>>().join(", ")
        ),
        ValueKind::Expr(e) => format!("({})", e.text.trim()),
    }
}

fn cel_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
