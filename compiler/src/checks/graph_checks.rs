//! The step graph: cycles (reported whole, each edge labelled at its source),
//! branch arms, trigger rules, compensation steps, steps that can never run.

use std::collections::{BTreeSet, HashMap};

use flowc_grammar::ast::{Span, StepKind, TriggerRule};

use crate::codes::Code;
use crate::db::Db;
use crate::graph::{EdgeKind, NodeKind, WorkflowGraph, analysed_rule, workflow_graph};
use crate::model::{GroupSig, StepDef, WorkflowDef};
use crate::pending::{Anchor, Loc, Pending};

pub(super) fn check_graph<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>, out: &mut Vec<Pending<'db>>) {
    let graph = workflow_graph(db, wf);
    let steps = wf.steps(db);
    let loc = |node: usize, span: Span| -> Loc<'db> { node_loc(db, wf, steps, graph, node, span) };
    // Where an edge is written: its own span, or for an arm, the target's name in the branch body.
    let edge_span = |e: &crate::graph::Edge| -> Span {
        e.span.unwrap_or_else(|| arm_span(steps[e.from].ast(db), &graph.nodes[e.to].name).unwrap_or(graph.nodes[e.from].name_span))
    };

    for cycle in &graph.cycles {
        let names: Vec<&str> = cycle.iter().map(|e| graph.nodes[graph.edges[*e].from].name.as_str()).collect();
        let mut path = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>();
        path.push(format!("`{}`", names[0]));
        let first = &graph.edges[cycle[0]];
        let mut p = Pending::new(
            Code::Cycle,
            loc(first.at, edge_span(first)),
            if cycle.len() == 1 {
                format!("`{}` depends on itself", names[0])
            } else {
                format!("these steps form a cycle: {}", path.join(" → "))
            },
        )
        .label(edge_label(graph, first))
        .help("a workflow runs as a DAG; write a bounded loop as `retry` or a gate's `on_fail fix STEP retry N`, and remove one of these dependencies");
        for e in &cycle[1..] {
            let edge = &graph.edges[*e];
            p = p.related(loc(edge.at, edge_span(edge)), edge_label(graph, edge));
        }
        out.push(p);
    }

    // E0310: the exit handler runs once every other step has ended, so no
    // dependency or arm crosses the boundary of the `finally` block.
    for e in graph.edges.iter().filter(|e| matches!(e.kind, EdgeKind::After | EdgeKind::Arm)) {
        let (from, to) = (&graph.nodes[e.from].name, &graph.nodes[e.to].name);
        let p = match (graph.in_finally(e.from), graph.in_finally(e.to)) {
            (false, true) => Pending::new(
                Code::AcrossFinally,
                loc(e.at, edge_span(e)),
                format!("`{to}` is in the `finally` block and cannot wait for `{from}`: the exit handler starts once every other step has ended"),
            )
            .label("outside the exit handler")
            .help(format!(
                "remove `{from}` from here: the handler runs after it anyway, and reads it as a step that may not have completed (`{from}.status`, `has({from}.output.field)`)"
            )),
            (true, false) => Pending::new(
                Code::AcrossFinally,
                loc(e.at, edge_span(e)),
                if graph.nodes[e.from].kind == NodeKind::Group && e.from >= graph.steps && graph.in_finally(e.from) && from == "finally" {
                    format!("`{to}` cannot wait for the `finally` block: the exit handler runs only once the rest of the run has ended")
                } else {
                    format!("`{to}` cannot wait for `{from}` of the `finally` block: the exit handler runs only once the rest of the run has ended")
                },
            )
            .label("in the exit handler")
            .help(format!("move `{to}` into the `finally` block, or remove `{from}` from its dependencies")),
            _ => continue,
        };
        out.push(p);
    }

    // Compensation steps: named by some `compensate STEP`; they run only when
    // the run is compensated, so they take no part in the graph.
    let compensators: BTreeSet<&str> =
        graph.sigs.iter().filter_map(|s| s.compensate_step.as_deref()).collect();

    // The groups by name, for what a step inherits from the groups around it.
    let group_sigs = wf.groups(db);
    // (A name given twice is E0202; the first group keeps it.)
    let mut groups_by_name: HashMap<&str, &GroupSig> = HashMap::new();
    for g in group_sigs.iter() {
        groups_by_name.entry(g.name.text.as_str()).or_insert(g);
    }
    for g in group_sigs.iter() {
        let (Some(deps), Some(&node)) = (&g.deps, graph.by_name.get(&g.name.text)) else { continue };
        super::outcome_conditions::check(graph, &groups_by_name, node, deps, &|span| Loc::new(Anchor::Item(wf, g.item), span), out);
    }
    for (i, step) in steps.iter().enumerate() {
        let sig = crate::model::step_sig(db, *step);
        if let Some(deps) = &sig.deps {
            // Over one dependency, `one_success` and
            // `none_failed_min_one_success` decide as all_success does; the
            // other rules say something of their own (`all_done(a)` is the
            // exit-handler pattern, `none_failed(a)` runs after a skip).
            let plain = matches!(deps.rule, TriggerRule::OneSuccess | TriggerRule::NoneFailedMinOneSuccess);
            if plain && deps.names.len() == 1 {
                let dep = &deps.names[0].text;
                let rule = deps.rule.keyword();
                out.push(
                    Pending::new(
                        Code::SingleDepTriggerRule,
                        loc(i, deps.rule_span.unwrap_or(deps.span)),
                        format!("`{rule}` over the single dependency `{dep}` is a plain `after {dep}`"),
                    )
                    .label("only one dependency")
                    .help(format!("write `after {dep}`, or list the other steps this one may start after: `{rule}({dep}, …)`")),
                );
            }
            if deps.rule == TriggerRule::AllSkipped {
                never_skipped(graph, i, deps, &loc, out);
            }
            super::outcome_conditions::check(graph, &groups_by_name, i, deps, &|span| loc(i, span), out);
            for dep in &deps.names {
                if compensators.contains(dep.text.as_str()) {
                    out.push(
                        Pending::new(Code::NeverRuns, loc(i, dep.span), format!(
                            "`{}` can never run: `{}` is a compensation step, which runs only when the run is compensated",
                            sig.name.text, dep.text
                        ))
                        .label("never completes in a normal run")
                        .help(format!("remove `{}` from the dependencies", dep.text)),
                    );
                }
            }
        }
        rules_combine(wf, graph, &groups_by_name, &sig, &|span| loc(i, span), out);
        if compensators.contains(sig.name.text.as_str())
            && let Some(deps) = &sig.deps {
                out.push(
                    Pending::new(Code::CompensationStepInGraph, loc(i, deps.span), format!(
                        "`{}` is a compensation step, so it cannot have dependencies",
                        sig.name.text
                    ))
                    .label("remove this")
                    .help("compensation steps have no deps and run only during `flowc compensate`, in reverse order of the steps they undo"),
                );
            }
        // Arms: each target must depend on the branch, or the branch decides nothing.
        if matches!(sig.kind, StepKind::Branch) {
            for arm in &sig.arms {
                let what = if graph.step_index(arm).is_some() { "step" } else { "group" };
                let depends = match graph.step_index(arm) {
                    // A step: it, or a group it is in (whose deps its
                    // members inherit), runs after the branch.
                    Some(t) => {
                        graph.sigs[t].deps.as_ref().is_some_and(|d| d.names.iter().any(|n| n.text == sig.name.text))
                            || graph.sigs[t].groups.iter().any(|g| graph.by_name.get(g).is_some_and(|&g| group_runs_after(graph, g, i)))
                    }
                    // A group: it, or a group it is in, runs after the branch.
                    None => match graph.by_name.get(arm) {
                        Some(&g) => group_runs_after(graph, g, i),
                        None => continue,
                    },
                };
                if !depends {
                    let span = arm_span(step.ast(db), arm).unwrap_or(sig.name.span);
                    out.push(
                        Pending::new(Code::ArmTargetNotDependent, loc(i, span), format!(
                            "the arm routes to `{arm}`, but `{arm}` does not run after `{}`",
                            sig.name.text
                        ))
                        .label("this target ignores the branch")
                        .help(format!(
                            "add `after {}` to {what} `{arm}` (or `after one_success({}, …)` when another path also leads there)",
                            sig.name.text, sig.name.text
                        )),
                    );
                }
            }
        }
    }

    // Steps that depend on two arms of one branch with all_success: at most
    // one arm runs, so the join is always skipped.
    let branches: Vec<usize> = (0..steps.len()).filter(|b| matches!(graph.sigs[*b].kind, StepKind::Branch)).collect();
    for (i, sig) in graph.sigs.iter().enumerate() {
        let Some(deps) = &sig.deps else { continue };
        if !deps.is_plain() || deps.names.len() < 2 {
            continue;
        }
        for &b in &branches {
            let bsig = &graph.sigs[b];
            let exclusive: Vec<&str> = deps
                .names
                .iter()
                .filter(|d| bsig.arms.contains(&d.text) && only_after(graph, &d.text, &bsig.name.text))
                .map(|d| d.text.as_str())
                .collect();
            if exclusive.len() >= 2 && b != i {
                out.push(
                    Pending::new(Code::NeverRuns, loc(i, deps.span), format!(
                        "`{}` can never run: `{}` and `{}` are different arms of branch `{}`, and only one arm runs",
                        sig.name.text, exclusive[0], exclusive[1], bsig.name.text
                    ))
                    .label("waits for both arms")
                    .help(format!("join the arms with `after one_success({})`", exclusive.join(", "))),
                );
            }
        }
    }

    // A group that waits for one of its own members waits for itself.
    for g in wf.groups(db).iter() {
        let Some(deps) = &g.deps else { continue };
        for dep in &deps.names {
            if member_of(graph, wf, db, &dep.text, &g.name.text) {
                out.push(
                    Pending::new(Code::Cycle, Loc::new(Anchor::Item(wf, g.item), dep.span), format!(
                        "group `{}` runs after `{}`, which is inside the group",
                        g.name.text, dep.text
                    ))
                    .label("waits for its own member")
                    .help(format!("move `{}` out of the group, or drop it from the group's `after`", dep.text)),
                );
            }
        }
    }
}

/// `all_skipped` over dependencies none of which can be skipped: the step
/// is skipped whatever happens. A dependency can be skipped only by its
/// `when` or `skip_on_exit`, by a branch not picking it (or, for a branch,
/// not picking this step), or by a skip its trigger rule passes on, all of
/// which the completion facts count among the ways a node may end early.
fn never_skipped<'db>(
    graph: &WorkflowGraph,
    i: usize,
    deps: &flowc_grammar::ast::Deps,
    loc: &dyn Fn(usize, Span) -> Loc<'db>,
    out: &mut Vec<Pending<'db>>,
) {
    if !graph.has_completion_facts() {
        return;
    }
    let branches: BTreeSet<usize> = graph.branches_to(i).collect();
    let mut never = Vec::new();
    for dep in &deps.names {
        let Some(&d) = graph.by_name.get(&dep.text) else { return };
        // An empty group is no dependency at all.
        if d >= graph.steps && !graph.has_members(d) {
            continue;
        }
        if graph.may_not_complete(d) || branches.contains(&d) {
            return;
        }
        never.push(dep.text.as_str());
    }
    if never.is_empty() {
        return;
    }
    let sig = &graph.sigs[i];
    let listed = never.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    let are = if never.len() == 1 { "is" } else { "are" };
    out.push(
        Pending::new(Code::RuleCannotBeMet, loc(i, deps.rule_span.unwrap_or(deps.span)), format!(
            "`{}` can never run: `all_skipped` waits for every dependency to be skipped, and {listed} {are} never skipped",
            sig.name.text
        ))
        .label("never met")
        .help(format!(
            "a step is skipped only by its `when` or `skip_on_exit`, by a branch that does not pick it, or by a skip its dependencies pass on; \
             give {listed} one of these, or write the rule you mean: `all_done(…)` runs whatever the dependencies end as, `one_failed(…)` when one fails"
        )),
    );
}

/// Whether step `name` depends on exactly `branch` with all_success.
/// A step has one trigger rule. Its own `after` and those of the groups
/// around it join into one list when each is all_success; otherwise the
/// plan keeps the step's own list (or, without one, the outermost group's)
/// and drops the rest. A dropped group list still holds when every step
/// the kept list names is inside that group (each of them waits for the
/// group's `after`): a member after its siblings. Any other drop would
/// start the step without waiting for what the group names: an error.
fn rules_combine<'db>(
    wf: WorkflowDef<'db>,
    graph: &WorkflowGraph,
    groups: &HashMap<&str, &GroupSig>,
    sig: &crate::model::StepSig,
    at: &dyn Fn(Span) -> Loc<'db>,
    out: &mut Vec<Pending<'db>>,
) {
    let has_deps = |d: &Option<flowc_grammar::ast::Deps>| d.as_ref().is_some_and(|d| !d.names.is_empty());
    let enclosing: Vec<&GroupSig> = sig.groups.iter().filter_map(|g| groups.get(g.as_str()).copied()).filter(|g| has_deps(&g.deps)).collect();
    let own = sig.deps.as_ref().filter(|d| !d.names.is_empty());
    // The list the plan keeps, and the groups whose lists it drops.
    let Some((kept, kept_rule)) = own.map(|d| (&d.names, analysed_rule(d))).or_else(|| {
        enclosing.first().and_then(|g| g.deps.as_ref()).map(|d| (&d.names, analysed_rule(d)))
    }) else {
        return;
    };
    let skip = usize::from(own.is_none());
    // Whether `name` (a step or a group) is inside group `g`.
    let inside = |name: &str, g: &GroupSig| match graph.step_index(name) {
        Some(i) => graph.sigs[i].groups.contains(&g.name.text),
        None => groups.get(name).is_some_and(|x| x.groups.contains(&g.name.text)),
    };
    let dropped: Vec<&GroupSig> = enclosing
        .iter()
        .skip(skip)
        .copied()
        .filter(|g| {
            let rule = g.deps.as_ref().map_or(TriggerRule::AllSuccess, analysed_rule);
            let joins = rule == TriggerRule::AllSuccess && kept_rule == TriggerRule::AllSuccess;
            !joins && !(own.is_some() && kept.iter().all(|n| inside(&n.text, g)))
        })
        .collect();
    if dropped.is_empty() {
        return;
    }
    let shown = |d: &flowc_grammar::ast::Deps| {
        let names: Vec<&str> = d.names.iter().map(|n| n.text.as_str()).collect();
        match d.rule {
            _ if !d.condition.is_empty() => format!("the condition `after {}`", d.condition_text()),
            TriggerRule::AllSuccess => format!("`after {}`", names.join(", ")),
            r => format!("`after {}({})`", r.keyword(), names.join(", ")),
        }
    };
    let (span, what) = match own {
        Some(d) => (d.rule_span.unwrap_or(d.span), format!("step `{}` waits by {}", sig.name.text, shown(d))),
        None => {
            let g = enclosing[0];
            (sig.name.span, format!("step `{}` waits by its group `{}`'s {}", sig.name.text, g.name.text, g.deps.as_ref().map(shown).unwrap_or_default()))
        }
    };
    let groups_said: Vec<String> =
        dropped.iter().map(|g| format!("group `{}` by {}", g.name.text, g.deps.as_ref().map(shown).unwrap_or_default())).collect();
    let mut p = Pending::new(
        Code::RulesDoNotCombine,
        at(span),
        format!("{what}, and {}: a step has one trigger rule, so these cannot all apply", groups_said.join(" and ")),
    )
    .label("one of several dependency lists")
    .help("write the step's whole condition in its own `after` and take the step out of the group, or give the group no `after` and put its dependencies in each member's own list");
    for g in &dropped {
        if let Some(d) = &g.deps {
            p = p.related(Loc::new(Anchor::Item(wf, g.item), d.span), format!("group `{}` waits here", g.name.text));
        }
    }
    out.push(p);
}

fn only_after(graph: &WorkflowGraph, name: &str, branch: &str) -> bool {
    let Some(i) = graph.step_index(name) else { return false };
    let sig = &graph.sigs[i];
    sig.deps.as_ref().is_some_and(|d| d.is_plain() && d.names.iter().any(|n| n.text == branch))
}

/// Whether `name` is (transitively) a member of group `group`.
fn member_of<'db>(graph: &WorkflowGraph, wf: WorkflowDef<'db>, db: &'db dyn Db, name: &str, group: &str) -> bool {
    let Some(&i) = graph.by_name.get(name) else { return false };
    match graph.nodes[i].kind {
        NodeKind::Step => wf.steps(db).get(i).is_some_and(|s| crate::model::step_sig(db, *s).groups.iter().any(|g| g == group)),
        NodeKind::Group => {
            let groups = wf.groups(db);
            groups.get(i - graph.steps).is_some_and(|g| g.groups.iter().any(|o| o == group))
        }
    }
}

/// Whether group node `g`, or a group enclosing it, lists step `branch` in
/// its `after` (its members then do too).
fn group_runs_after(graph: &crate::graph::WorkflowGraph, g: usize, branch: usize) -> bool {
    let mut at = Some(g);
    // Bounded: nesting is acyclic once parsed, but the walk never trusts it.
    for _ in 0..graph.nodes.len() {
        let Some(node) = at else { return false };
        if graph.edges.iter().any(|e| e.kind == EdgeKind::After && e.from == branch && e.to == node) {
            return true;
        }
        at = graph.edges.iter().find(|e| e.kind == EdgeKind::Member && e.from == node).map(|e| e.to);
    }
    false
}

/// The span of the arm targeting `target` in a branch's body.
pub(crate) fn arm_span(step: &flowc_grammar::ast::Step, target: &str) -> Option<Span> {
    step.body.iter().find_map(|s| match &s.kind {
        flowc_grammar::ast::StepStmtKind::Arm { targets, .. } => targets.iter().find(|t| t.text == target).map(|t| t.span),
        _ => None,
    })
}

fn node_loc<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>, steps: &[StepDef<'db>], graph: &WorkflowGraph, node: usize, span: Span) -> Loc<'db> {
    let _ = db;
    if node < graph.steps {
        Loc::new(Anchor::Step(wf, steps[node]), span)
    } else {
        Loc::new(Anchor::Item(wf, graph.nodes[node].item), span)
    }
}

/// How an edge reads, at its source.
fn edge_label(graph: &WorkflowGraph, e: &crate::graph::Edge) -> String {
    let from = &graph.nodes[e.from].name;
    let to = &graph.nodes[e.to].name;
    match e.kind {
        EdgeKind::After => format!("`{to}` runs after `{from}`"),
        EdgeKind::Arm => format!("branch `{from}` routes to `{to}`"),
        EdgeKind::Member => format!("`{from}` is inside group `{to}`, which completes after it"),
    }
}
