//! `for each item` groups (docs/language.md, "A job per item"): each item
//! runs the group's members as a child run of its own, so the members form
//! a graph closed on itself. Checked here: a member's `after` stays inside
//! the group (E0308); nothing outside names a member (E0309; expression
//! references are refused where names resolve, in `references`); no
//! `for each` inside (E0314); the group's own items (E0520) and item list
//! (E0403).

use flowc_grammar::ast::Span;

use crate::codes::Code;
use crate::db::Db;
use crate::graph::workflow_graph;
use crate::model::{GroupSig, WorkflowDef};
use crate::pending::{Anchor, Loc, Pending};

pub(super) fn check_jobs<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>, out: &mut Vec<Pending<'db>>) {
    let groups = wf.groups(db);
    let steps = wf.steps(db);
    let graph = workflow_graph(db, wf);
    let group_at = |g: &GroupSig, span: Span| Loc::new(Anchor::Item(wf, g.item), span);
    // The job (for-each group) a step or group sits in, by its enclosing groups.
    let job_of = |enclosing: &[String]| graph.job_of(enclosing).and_then(|g| groups.get(g));
    // The job a dependency name belongs to: a step's, or a group's (a
    // for-each group belongs to the job around it, not to itself).
    let job_of_name = |name: &str| -> Option<&GroupSig> {
        if let Some(i) = graph.step_index(name) {
            return job_of(&graph.sigs[i].groups);
        }
        graph.group_index(name).and_then(|g| groups.get(g)).and_then(|g| job_of(&g.groups))
    };

    for g in groups.iter() {
        if g.for_each.is_none() {
            continue;
        }
        let at = g.for_each.unwrap_or(g.name.span);
        if let Some(outer) = job_of(&g.groups) {
            out.push(
                Pending::new(Code::NestedForEach, group_at(g, at), format!("group `{}` runs for each item inside group `{}`, which already runs for each item", g.name.text, outer.name.text))
                    .label("a job per item inside a job per item")
                    .help(format!("put the combinations in the outer group's items (a `matrix` with one axis per level), or move group `{}` out of `{}`", g.name.text, outer.name.text)),
            );
        }
        if let Some(Err(problems)) = g.for_each_in.as_ref().map(crate::matrix::expand) {
            for p in problems {
                out.push(Pending::new(Code::InvalidItems, group_at(g, p.span), p.message).label(p.label).help(p.help));
            }
        }
    }

    for (i, step) in steps.iter().enumerate() {
        let sig = &graph.sigs[i];
        let at = |span: Span| Loc::new(Anchor::Step(wf, *step), span);
        let mine = job_of(&sig.groups);
        if let Some(job) = mine
            && sig.for_each {
                let ast = step.ast(db);
                out.push(
                    Pending::new(Code::NestedForEach, at(ast.for_each.unwrap_or(ast.name.span)), format!("step `{}` runs for each item inside group `{}`, which already runs for each item", sig.name.text, job.name.text))
                        .label("a `for each` inside a job per item")
                        .help(format!("each item of `{}` runs this step once, with `item` bound: remove `for each item`, or move the step out of the group", job.name.text)),
                );
            }
        // `after`: inside a job, only the job's own members; outside, no member.
        if let Some(deps) = &sig.deps {
            for n in &deps.names {
                let theirs = job_of_name(&n.text);
                let inside_job = mine.is_some_and(|j| n.text != j.name.text && graph_inside(groups, &graph, &n.text, j));
                match (mine, theirs) {
                    (Some(job), _) if !inside_job => out.push(
                        Pending::new(Code::JobMemberDependsOutside, at(n.span), format!("step `{}` runs in each item of group `{}`, and `{}` is outside the group", sig.name.text, job.name.text, n.text))
                            .label("outside the item's job")
                            .help(format!("an item's job waits only on its own steps: put `{}` in the group's `after` (`{} {} after {} for each item …`)", n.text, job.kind.keyword(), job.name.text, n.text)),
                    ),
                    (_, Some(job)) if mine.map(|m| &m.name.text) != Some(&job.name.text) => out.push(job_member_named(at(n.span), &n.text, job, "dependency")),
                    _ => {}
                }
            }
        }
        // Branch arms, fix and compensation targets outside the job.
        let targets = sig.arms.iter().map(|t| (t.as_str(), "branch target")).chain(sig.fix_target.iter().map(|t| (t.as_str(), "fix step"))).chain(sig.compensate_step.iter().map(|t| (t.as_str(), "compensation step")));
        for (name, role) in targets {
            if let Some(job) = job_of_name(name)
                && mine.map(|m| &m.name.text) != Some(&job.name.text) {
                    let span = target_span(step.ast(db), name).unwrap_or(sig.name.span);
                    out.push(job_member_named(at(span), name, job, role));
                }
        }
    }
}

/// Whether `name` (a step or group) sits inside group `g`.
fn graph_inside(groups: &[GroupSig], graph: &crate::graph::WorkflowGraph, name: &str, g: &GroupSig) -> bool {
    match graph.step_index(name) {
        Some(i) => graph.sigs[i].groups.contains(&g.name.text),
        None => graph.group_index(name).and_then(|x| groups.get(x)).is_some_and(|x| x.groups.contains(&g.name.text)),
    }
}

fn job_member_named<'db>(at: Loc<'db>, name: &str, job: &GroupSig, role: &str) -> Pending<'db> {
    Pending::new(Code::JobMemberOutside, at, format!("`{name}` runs once per item of group `{}`: outside the group it cannot be a {role}", job.name.text))
        .label("a member of a job per item")
        .help(format!("name the group instead (`after {}`: it is done when every item's job is); its output is one object per item with each member's output (`{}.output[0].{name}`)", job.name.text, job.name.text))
}

/// Where a step's body names `target` as an arm target, fix step or compensation step.
fn target_span(step: &flowc_grammar::ast::Step, target: &str) -> Option<Span> {
    use flowc_grammar::ast::{Compensate, OnFail, StepStmtKind};
    step.body.iter().find_map(|s| match &s.kind {
        StepStmtKind::Arm { targets, .. } => targets.iter().find(|t| t.text == target).map(|t| t.span),
        StepStmtKind::OnFail(OnFail::Fix { step, .. }) if step.text == target => Some(step.span),
        StepStmtKind::Compensate(Compensate::Step(s)) if s.text == target => Some(s.span),
        _ => None,
    })
}
