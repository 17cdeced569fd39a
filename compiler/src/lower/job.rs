//! A job per item (docs/language.md, "A job per item"): a `for each item`
//! group is lowered twice. In its workflow's plan it is one step, named
//! after the group, that calls the group's job `for each item`; the job is a
//! workflow of its own in the plan ([`plan::Job`]), holding the group's
//! members, which each item's child run executes.
//!
//! The call's inputs are one CEL map built in the parent's scope: the run's
//! `inputs`, the `item` and, under `outer`, every parent step the members
//! read (found in the job's expressions), so a member reads `fetch.output`
//! as if `fetch` were a step of its own run.

use std::collections::HashMap;

use flowc_grammar::ast::{self, WorkflowStmtKind};
use flowc_plan as plan;

use super::{cel_string, StepDeps, WorkflowLowerer};
use crate::db::Db;
use crate::graph::WorkflowGraph;
use crate::model::{GroupSig, StepDef};
use crate::pending::{anchor_base, Anchor};

/// One step of a workflow's plan: a step of the source, or a `for each
/// item` group (an index into the workflow's groups) standing for its job.
pub(super) enum Unit<'db> {
    Step(StepDef<'db>),
    Job(usize),
}

impl<'db> Unit<'db> {
    pub(super) fn name<'a>(&'a self, db: &'db dyn Db, groups: &'a [GroupSig]) -> &'a str {
        match self {
            Unit::Step(s) => s.name(db),
            Unit::Job(g) => &groups[*g].name.text,
        }
    }

    /// The groups around it, outermost first.
    pub(super) fn enclosing<'a>(&'a self, db: &'db dyn Db, groups: &'a [GroupSig]) -> &'a [String] {
        match self {
            Unit::Step(s) => s.groups(db),
            Unit::Job(g) => &groups[*g].groups,
        }
    }
}

/// The plan steps of `part` (`None`: the workflow; `Some(G)`: the job of
/// group `G`), in source order: a job stands where its first member is.
pub(super) fn units<'db>(db: &'db dyn Db, graph: &WorkflowGraph, steps: &[StepDef<'db>], groups: &[GroupSig], part: Option<&str>) -> Vec<Unit<'db>> {
    let mut units = Vec::with_capacity(steps.len());
    let mut placed = std::collections::HashSet::new();
    for s in steps {
        let job = graph.job_of(s.groups(db)).filter(|g| *g < groups.len());
        match (part, job) {
            (None, None) => units.push(Unit::Step(*s)),
            (None, Some(g)) => {
                if placed.insert(g) {
                    units.push(Unit::Job(g));
                }
            }
            (Some(p), Some(g)) if p == groups[g].name.text => units.push(Unit::Step(*s)),
            _ => {}
        }
    }
    units
}

/// The groups the plan of `part` keeps: outside every job for the
/// workflow, strictly inside the group for its job.
pub(super) fn kept_groups(graph: &WorkflowGraph, groups: &[GroupSig], part: Option<&str>) -> Vec<GroupSig> {
    groups
        .iter()
        .filter(|g| match part {
            None => g.for_each.is_none() && graph.job_of(&g.groups).is_none(),
            Some(p) => g.groups.iter().any(|x| x == p),
        })
        .cloned()
        .collect()
}

/// Whether a workflow statement applies inside each item's run too: what
/// a step runs with (inputs, env, retries, concurrency, spawn limits, the
/// saga of its own completed members) does; what belongs to the whole run
/// (outputs, its timeout and budget, triggers, invariants) does not.
pub(super) fn applies_in_job(stmt: &WorkflowStmtKind) -> bool {
    match stmt {
        WorkflowStmtKind::Description(_)
        | WorkflowStmtKind::Input(_)
        | WorkflowStmtKind::Retry(_)
        | WorkflowStmtKind::Concurrency(_)
        | WorkflowStmtKind::Env(_)
        | WorkflowStmtKind::Safety(_)
        | WorkflowStmtKind::OnFailure { .. } => true,
        WorkflowStmtKind::Output(_)
        | WorkflowStmtKind::Timeout(_)
        | WorkflowStmtKind::Budget(_)
        | WorkflowStmtKind::On(_)
        | WorkflowStmtKind::Invariant(_)
        | WorkflowStmtKind::Step(_)
        | WorkflowStmtKind::Group(_) => false,
    }
}

/// The scope names a job's expressions use: the candidates for `outer`.
pub(super) fn referenced_names(job: &plan::Workflow) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for text in &job.exprs {
        let expr = ast::Expr { text: text.clone(), span: ast::Span::new(0, text.len() as u32) };
        for root in crate::cel_check::referenced_roots(&expr) {
            if !names.contains(&root.name) {
                names.push(root.name);
            }
        }
    }
    names
}

impl<'db> WorkflowLowerer<'_, 'db> {
    /// The step of a `for each item` group in its workflow's plan: a `call`
    /// of the group's job for each item, with the group's dependencies,
    /// items and `fail_fast`.
    pub(super) fn job_step(&mut self, id: u32, g: &GroupSig, groups: &[GroupSig], group_index: &HashMap<&str, u32>) -> plan::Step {
        let db = self.db;
        let StepDeps { trigger, after, after_groups, condition } = self.deps_of(id, g.deps.as_ref(), &g.groups, groups);
        let (_, base) = anchor_base(db, Anchor::Item(self.wf, g.item));
        let line = self.lines.line_col(self.text, base + g.name.span.start).0 as u32;
        let name = g.name.text.clone();
        // The parent steps the members read, as expressions see them.
        let outer: Vec<String> = self
            .job_refs
            .get(&name)
            .map(|names| names.iter().filter(|n| **n != name && self.step_ids.contains_key(n.as_str())).map(|n| format!("{}: {n}", cel_string(n))).collect())
            .unwrap_or_default();
        let inputs = self.expr(&format!("{{\"inputs\": inputs, \"item\": item, \"outer\": {{{}}}}}", outer.join(", ")));
        let reg = plan::Reg("inputs".to_string());
        let code = vec![
            plan::Instr::Eval { expr: inputs, dst: reg.clone() },
            plan::Instr::Call { workflow: plan::job_workflow_name(self.wf.name(db), &name), inputs: Some(reg) },
            plan::Instr::End,
        ];
        plan::Step {
            id,
            name,
            kind: plan::StepKind::Call,
            line,
            after,
            after_groups,
            trigger,
            condition: condition.map(Box::new),
            when: None,
            params: None,
            // The members retry themselves; the job is not run again.
            retry: Some(Box::new(plan::Retry { count: 0, ..Default::default() })),
            timeout_ms: None,
            on_failure: plan::OnFailure::Fail,
            skip_on_exit: Vec::new(),
            compensate_on_failure: false,
            fail_fast: g.fail_fast,
            group: g.groups.last().and_then(|p| group_index.get(p.as_str()).copied()),
            compensate: None,
            env: Vec::new(),
            code,
            for_each: true,
            // A malformed list is an error of the checks (E0520).
            for_each_in: g.for_each_in.as_ref().and_then(|s| crate::matrix::expand(s).ok()),
            secret_env: Vec::new(),
            gate: None,
        }
    }

    /// A job's outputs: one per member step, its output, so each item's
    /// result is an object of the members' outputs.
    pub(super) fn job_outputs(&mut self, units: &[Unit<'db>], groups: &[GroupSig]) -> Vec<plan::OutputDecl> {
        let names: Vec<String> = units.iter().map(|u| u.name(self.db, groups).to_string()).collect();
        names
            .into_iter()
            .map(|n| {
                let expr = self.expr(&format!("{n}.output"));
                plan::OutputDecl { name: n, expr }
            })
            .collect()
    }
}
