//! Drawing a workflow's graph: Graphviz DOT and Mermaid.
//!
//! Edges go from a dependency to its dependent. An edge is labelled with its
//! trigger rule when that is not the default `all_success`, or with the
//! outcomes an outcome condition asks of that dependency (`failed`,
//! `succeeded or skipped`); a branch's edges
//! to its arm targets are dashed and labelled with the arm's condition
//! (`else` for the fallback). Groups are drawn as clusters/subgraphs; a
//! group `for each item` (a step calling its job, docs/language.md "A job
//! per item") is drawn as a box holding its job's steps, its dependencies'
//! edges going to the job's first steps and its dependents' from its last.

use std::fmt::Write;

use crate::{DepRef, Instr, Plan, Step, StepId, TriggerRule, Workflow};

struct Edge<'a> {
    from: &'a str,
    to: &'a str,
    label: Option<String>,
    arm: bool,
}

/// The job a step runs for each item, when it is the step of a `for each
/// item` group of `wf`.
fn job_of<'a>(plan: &'a Plan, wf: &Workflow, step: &Step) -> Option<&'a Workflow> {
    let called = step.code.iter().find_map(|i| match i {
        Instr::Call { workflow, .. } => plan.workflow(workflow),
        _ => None,
    })?;
    called.job.as_ref().filter(|j| j.parent == wf.name && j.group == step.name).map(|_| called)
}

/// A job's first steps (waiting on none of its steps) and its last (none
/// of its steps waits on them): where the group's edges meet it.
fn ends(job: &Workflow) -> (Vec<&str>, Vec<&str>) {
    let first = job.steps.iter().filter(|s| s.after.is_empty()).map(|s| s.name.as_str()).collect();
    let last = job
        .steps
        .iter()
        .filter(|s| !job.steps.iter().any(|o| o.after.contains(&s.id)))
        .map(|s| s.name.as_str())
        .collect();
    (first, last)
}

/// Every edge to draw for `wf`, its jobs' steps included.
fn edges<'a>(plan: &'a Plan, wf: &'a Workflow) -> Vec<Edge<'a>> {
    let mut out = Vec::new();
    let endpoints = |id: StepId, into: bool| -> Vec<&'a str> {
        let Some(step) = wf.steps.get(id as usize) else { return vec!["?"] };
        match job_of(plan, wf, step) {
            Some(job) => {
                let (first, last) = ends(job);
                if into { first } else { last }
            }
            None => vec![step.name.as_str()],
        }
    };
    for e in step_edges(wf) {
        for from in endpoints(e.from, false) {
            for to in endpoints(e.to, true) {
                out.push(Edge { from, to, label: e.label.clone(), arm: e.arm });
            }
        }
    }
    for step in &wf.steps {
        if let Some(job) = job_of(plan, wf, step) {
            out.extend(step_edges(job).into_iter().map(|e| Edge {
                from: node_name(job, e.from),
                to: node_name(job, e.to),
                label: e.label,
                arm: e.arm,
            }));
        }
    }
    out
}

struct StepEdge {
    from: StepId,
    to: StepId,
    label: Option<String>,
    arm: bool,
}

/// The edges between the steps of one workflow of the plan.
fn step_edges(wf: &Workflow) -> Vec<StepEdge> {
    let mut out = Vec::new();
    let mut arm_pairs = Vec::new();
    for step in &wf.steps {
        for instr in &step.code {
            if let Instr::Branch { arms } = instr {
                for arm in arms {
                    let label = match arm.when {
                        Some(e) => wf.exprs.get(e as usize).cloned().unwrap_or_default(),
                        None => "else".to_string(),
                    };
                    for target in wf.arm_steps(step.id, arm) {
                        arm_pairs.push((step.id, target));
                        out.push(StepEdge { from: step.id, to: target, label: Some(label.clone()), arm: true });
                    }
                }
            }
        }
    }
    for step in &wf.steps {
        for dep in &step.after {
            if arm_pairs.contains(&(*dep, step.id)) {
                continue;
            }
            let label = match &step.condition {
                // The outcomes the condition asks of this dependency (of
                // its group, for a member of a group dependency).
                Some(c) => {
                    let group = step.after_groups.iter().find(|g| wf.group_members(**g).contains(dep));
                    let of = group.map_or(DepRef::Step(*dep), |g| DepRef::Group(*g));
                    let words: Vec<&str> = c.outcomes_of(of).into_iter().map(|o| o.keyword()).collect();
                    (!words.is_empty()).then(|| words.join(" or "))
                }
                None => (step.trigger != TriggerRule::AllSuccess).then(|| step.trigger.keyword().to_string()),
            };
            out.push(StepEdge { from: *dep, to: step.id, label, arm: false });
        }
    }
    out
}

fn node_name(wf: &Workflow, id: StepId) -> &str {
    wf.steps.get(id as usize).map_or("?", |s| s.name.as_str())
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Graphviz DOT.
pub fn dot(plan: &Plan, wf: &Workflow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&wf.name));
    out.push_str("  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
    draw_steps(Format::Dot, plan, wf, 1, &mut out);
    for e in edges(plan, wf) {
        let mut attrs = Vec::new();
        if let Some(l) = &e.label {
            attrs.push(format!("label=\"{}\"", dot_escape(l)));
        }
        if e.arm {
            attrs.push("style=dashed".to_string());
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(out, "  \"{}\" -> \"{}\"{attrs};", dot_escape(e.from), dot_escape(e.to));
    }
    out.push_str("}\n");
    out
}

/// The box title of a group `for each item`: its name, that each item runs
/// its steps as a job, and how many items when they are written out.
fn job_label(step: &Step) -> String {
    match &step.for_each_in {
        Some(items) => format!("{} (a job for each of {} items)", step.name, items.len()),
        None => format!("{} (a job for each item)", step.name),
    }
}

/// A group's box title: its kind and name; the exit handler says when it runs.
fn group_label(g: &crate::Group) -> String {
    match g.kind {
        crate::GroupKind::Finally => "finally (runs when the run ends)".to_string(),
        kind => format!("{} {}", kind.keyword(), g.name),
    }
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;").replace('|', "#124;")
}

/// A Mermaid flowchart.
pub fn mermaid(plan: &Plan, wf: &Workflow) -> String {
    let mut out = String::from("flowchart LR\n");
    draw_steps(Format::Mermaid, plan, wf, 1, &mut out);
    for e in edges(plan, wf) {
        let arrow = if e.arm { "-.->" } else { "-->" };
        match &e.label {
            Some(l) => {
                let _ = writeln!(out, "  {} {arrow}|\"{}\"| {}", e.from, mermaid_escape(l), e.to);
            }
            None => {
                let _ = writeln!(out, "  {} {arrow} {}", e.from, e.to);
            }
        }
    }
    out
}

/// The two drawings differ in how a box and a node are written; which
/// boxes and nodes there are, and their nesting, is one walk for both.
#[derive(Clone, Copy)]
enum Format {
    Dot,
    Mermaid,
}

impl Format {
    fn open_box(self, id: &str, label: &str, pad: &str, out: &mut String) {
        let _ = match self {
            Format::Dot => writeln!(out, "{pad}subgraph \"cluster_{}\" {{\n{pad}  label=\"{}\";", dot_escape(id), dot_escape(label)),
            Format::Mermaid => writeln!(out, "{pad}subgraph {id}[\"{}\"]", mermaid_escape(label)),
        };
    }

    fn close_box(self, pad: &str, out: &mut String) {
        let _ = match self {
            Format::Dot => writeln!(out, "{pad}}}"),
            Format::Mermaid => writeln!(out, "{pad}end"),
        };
    }

    fn node(self, step: &Step, pad: &str, out: &mut String) {
        let _ = match self {
            Format::Dot => writeln!(out, "{pad}\"{}\" [label=\"{}\\n{}\"];", dot_escape(&step.name), dot_escape(&step.name), step.kind.keyword()),
            Format::Mermaid => writeln!(out, "{pad}{}[\"{}<br/><i>{}</i>\"]", step.name, mermaid_escape(&step.name), step.kind.keyword()),
        };
    }
}

/// A workflow's groups and steps (a job's, inside its group's box).
fn draw_steps(f: Format, plan: &Plan, wf: &Workflow, depth: usize, out: &mut String) {
    for (gi, g) in wf.groups.iter().enumerate() {
        if g.parent.is_none() {
            draw_group(f, plan, wf, gi, depth, out);
        }
    }
    for step in wf.steps.iter().filter(|s| s.group.is_none()) {
        draw_node(f, plan, wf, step, depth, out);
    }
}

/// A step, or the box of the job a group `for each item`'s step calls.
fn draw_node(f: Format, plan: &Plan, wf: &Workflow, step: &Step, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match job_of(plan, wf, step) {
        Some(job) => {
            f.open_box(&step.name, &job_label(step), &pad, out);
            draw_steps(f, plan, job, depth + 1, out);
            f.close_box(&pad, out);
        }
        None => f.node(step, &pad, out),
    }
}

fn draw_group(f: Format, plan: &Plan, wf: &Workflow, gi: usize, depth: usize, out: &mut String) {
    let g = &wf.groups[gi];
    let pad = "  ".repeat(depth);
    f.open_box(&g.name, &group_label(g), &pad, out);
    for (ci, child) in wf.groups.iter().enumerate() {
        if child.parent == Some(gi as u32) {
            draw_group(f, plan, wf, ci, depth + 1, out);
        }
    }
    for id in &g.steps {
        if let Some(step) = wf.steps.get(*id as usize) {
            draw_node(f, plan, wf, step, depth + 1, out);
        }
    }
    f.close_box(&pad, out);
}
