//! Drawing a workflow's graph: Graphviz DOT and Mermaid.
//!
//! Edges go from a dependency to its dependent. An edge is labelled with its
//! trigger rule when that is not the default `all_success`, or with the
//! outcomes an outcome condition asks of that dependency (`failed`,
//! `succeeded or skipped`); a branch's edges
//! to its arm targets are dashed and labelled with the arm's condition
//! (`else` for the fallback). Groups are drawn as clusters/subgraphs.

use std::fmt::Write;

use crate::{DepRef, Instr, StepId, TriggerRule, Workflow};

struct Edge {
    from: StepId,
    to: StepId,
    label: Option<String>,
    arm: bool,
}

fn edges(wf: &Workflow) -> Vec<Edge> {
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
                        out.push(Edge { from: step.id, to: target, label: Some(label.clone()), arm: true });
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
            out.push(Edge { from: *dep, to: step.id, label, arm: false });
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
pub fn dot(wf: &Workflow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&wf.name));
    out.push_str("  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for (gi, g) in wf.groups.iter().enumerate() {
        if g.parent.is_some() {
            continue;
        }
        dot_group(wf, gi, 1, &mut out);
    }
    for step in wf.steps.iter().filter(|s| s.group.is_none()) {
        dot_node(step, 1, &mut out);
    }
    for e in edges(wf) {
        let mut attrs = Vec::new();
        if let Some(l) = &e.label {
            attrs.push(format!("label=\"{}\"", dot_escape(l)));
        }
        if e.arm {
            attrs.push("style=dashed".to_string());
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(out, "  \"{}\" -> \"{}\"{attrs};", dot_escape(node_name(wf, e.from)), dot_escape(node_name(wf, e.to)));
    }
    out.push_str("}\n");
    out
}

fn dot_node(step: &crate::Step, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}\"{}\" [label=\"{}\\n{}\"];", dot_escape(&step.name), dot_escape(&step.name), step.kind.keyword());
}

fn dot_group(wf: &Workflow, gi: usize, depth: usize, out: &mut String) {
    let g = &wf.groups[gi];
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}subgraph \"cluster_{}\" {{", dot_escape(&g.name));
    let _ = writeln!(out, "{pad}  label=\"{}\";", dot_escape(&group_label(g)));
    for (ci, child) in wf.groups.iter().enumerate() {
        if child.parent == Some(gi as u32) {
            dot_group(wf, ci, depth + 1, out);
        }
    }
    for id in &g.steps {
        if let Some(step) = wf.steps.get(*id as usize) {
            dot_node(step, depth + 1, out);
        }
    }
    let _ = writeln!(out, "{pad}}}");
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
pub fn mermaid(wf: &Workflow) -> String {
    let mut out = String::from("flowchart LR\n");
    for (gi, g) in wf.groups.iter().enumerate() {
        if g.parent.is_none() {
            mermaid_group(wf, gi, 1, &mut out);
        }
    }
    for step in wf.steps.iter().filter(|s| s.group.is_none()) {
        mermaid_node(step, 1, &mut out);
    }
    for e in edges(wf) {
        let arrow = if e.arm { "-.->" } else { "-->" };
        match &e.label {
            Some(l) => {
                let _ = writeln!(out, "  {} {arrow}|\"{}\"| {}", node_name(wf, e.from), mermaid_escape(l), node_name(wf, e.to));
            }
            None => {
                let _ = writeln!(out, "  {} {arrow} {}", node_name(wf, e.from), node_name(wf, e.to));
            }
        }
    }
    out
}

fn mermaid_node(step: &crate::Step, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}{}[\"{}<br/><i>{}</i>\"]", step.name, mermaid_escape(&step.name), step.kind.keyword());
}

fn mermaid_group(wf: &Workflow, gi: usize, depth: usize, out: &mut String) {
    let g = &wf.groups[gi];
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}subgraph {}[\"{}\"]", g.name, mermaid_escape(&group_label(g)));
    for (ci, child) in wf.groups.iter().enumerate() {
        if child.parent == Some(gi as u32) {
            mermaid_group(wf, ci, depth + 1, out);
        }
    }
    for id in &g.steps {
        if let Some(step) = wf.steps.get(*id as usize) {
            mermaid_node(step, depth + 1, out);
        }
    }
    let _ = writeln!(out, "{pad}end");
}
