//! Checks over the whole project: duplicate declarations, unused
//! declarations, and `call`/`spawn` recursion without a depth bound. They
//! read names and step signatures only, never step bodies.

use std::collections::{BTreeMap, BTreeSet};

use flowc_grammar::ast::{AgentStmtKind, Decl, DeclKind, SafetyItem, Span, StepStmtKind, WorkflowStmtKind};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::codes::Code;
use crate::db::{Db, Project};
use crate::model::{DeclDef, OtherDef, WorkflowDef, env_uses, item_index};
use crate::pending::{Anchor, Loc, Pending};

#[salsa::tracked(returns(ref))]
pub fn check_project_wide<'db>(db: &'db dyn Db, project: Project) -> Vec<Pending<'db>> {
    let mut out = Vec::new();
    duplicates(db, project, &mut out);
    unused(db, project, &mut out);
    recursion(db, project, &mut out);
    out
}

/// Where a declaration's name is, as a location.
pub(crate) fn name_loc<'db>(db: &'db dyn Db, def: &DeclDef<'db>) -> Loc<'db> {
    match def {
        DeclDef::Workflow(w) => Loc::new(Anchor::Workflow(*w), w.name_span(db)),
        DeclDef::Other(o) => Loc::new(Anchor::Decl(*o), name_span(o.ast(db))),
    }
}

fn name_span(decl: &Decl) -> Span {
    decl.name().span
}

fn duplicates<'db>(db: &'db dyn Db, project: Project, out: &mut Vec<Pending<'db>>) {
    let index = item_index(db, project);
    for (kind, names) in index.iter() {
        for (name, locs) in names {
            if locs.len() < 2 {
                continue;
            }
            let first = name_loc(db, &locs[0].def);
            for dup in &locs[1..] {
                out.push(
                    Pending::new(Code::DuplicateDeclaration, name_loc(db, &dup.def), format!("{} `{name}` is declared twice", article(kind.noun())))
                        .label("declared again here")
                        .related(first, "first declared here")
                        .help(format!("names are unique per kind in a project (every .flow file below it): rename one of the {}s", kind.noun())),
                );
            }
        }
    }
}

fn article(noun: &str) -> String {
    let a = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    let mut s = format!("{a} {noun}");
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// Every declaration some step, agent, template, env set or workflow names.
fn used_names(db: &dyn Db, project: Project) -> BTreeSet<(DeclKind, String)> {
    let index = item_index(db, project);
    let mut used = BTreeSet::new();
    for (_, names) in index.iter() {
        for locs in names.values() {
            for loc in locs {
                match &loc.def {
                    DeclDef::Workflow(w) => {
                        for step in w.steps(db) {
                            used.extend(crate::model::step_sig(db, *step).uses.iter().cloned());
                        }
                        for (_, stmt) in w.header(db).iter() {
                            match &stmt.kind {
                                WorkflowStmtKind::Env(env) => used.extend(env_uses(env)),
                                WorkflowStmtKind::On(flowc_grammar::ast::Trigger::Webhook { signature: Some(sig), .. }) => {
                                    used.insert((DeclKind::Secrets, sig.set.text.clone()));
                                }
                                _ => {}
                            }
                        }
                    }
                    DeclDef::Other(o) => used.extend(other_uses(db, *o)),
                }
            }
        }
    }
    // `set.KEY` names either kind of set.
    let secret_refs: Vec<String> = used.iter().filter(|(k, _)| *k == DeclKind::Secrets).map(|(_, n)| n.clone()).collect();
    used.extend(secret_refs.into_iter().map(|n| (DeclKind::Env, n)));
    used
}

fn other_uses<'db>(db: &'db dyn Db, o: OtherDef<'db>) -> Vec<(DeclKind, String)> {
    let mut uses = Vec::new();
    match &**o.ast(db) {
        Decl::Agent(agent) => {
            for stmt in &agent.body {
                if let AgentStmtKind::Env(env) = &stmt.kind {
                    uses.extend(env_uses(env));
                }
            }
        }
        Decl::Env(set) => uses.extend(env_uses(&set.body)),
        Decl::Template(tpl) => {
            use flowc_grammar::ast::StepKind;
            match &tpl.kind {
                Some(StepKind::Agent(n)) => uses.push((DeclKind::Agent, n.text.clone())),
                Some(StepKind::Check(n)) => uses.push((DeclKind::Policy, n.text.clone())),
                Some(StepKind::Call(n)) => uses.push((DeclKind::Workflow, n.text.clone())),
                _ => {}
            }
            for stmt in &tpl.body {
                match &stmt.kind {
                    StepStmtKind::Reads { key, .. } | StepStmtKind::Put { key, .. } => uses.push((DeclKind::Store, key.store.text.clone())),
                    StepStmtKind::Spawn { workflow, .. } | StepStmtKind::SpawnEach { workflow, .. } => {
                        uses.push((DeclKind::Workflow, workflow.text.clone()))
                    }
                    StepStmtKind::Env(env) => uses.extend(env_uses(env)),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    uses
}

fn unused<'db>(db: &'db dyn Db, project: Project, out: &mut Vec<Pending<'db>>) {
    // While any file has syntax errors, a use may sit in the text the parser
    // skipped: "unused" would be noise on top of the real error.
    if project.files(db).iter().any(|f| crate::model::has_syntax_errors(db, *f)) {
        return;
    }
    let index = item_index(db, project);
    let used = used_names(db, project);
    for kind in [DeclKind::Agent, DeclKind::Store, DeclKind::Template, DeclKind::Policy, DeclKind::Env, DeclKind::Secrets] {
        let names = index.of(kind);
        // References to names that do not exist: a declaration they nearly spell
        // is not unused, it is misspelt at the use (reported there).
        let unresolved: Vec<&str> = used
            .iter()
            .filter(|(k, n)| (*k == kind || (kind == DeclKind::Env && *k == DeclKind::Secrets)) && !names.contains_key(n))
            .map(|(_, n)| n.as_str())
            .collect();
        for (name, locs) in names {
            if used.contains(&(kind, name.clone())) || flowc_grammar::errors::did_you_mean(name, &unresolved).is_some() {
                continue;
            }
            let how = match kind {
                DeclKind::Agent => format!("use it in a step: `step NAME: agent {name} {{ prompt \"…\" }}`"),
                DeclKind::Store => format!("read it with `reads {name}.KEY as NAME` or write it with `then put {name}.KEY = `…``"),
                DeclKind::Template => format!("use it in a step: `step NAME: use {name} {{ … }}`"),
                DeclKind::Policy => format!("evaluate it in a step: `step NAME: check {name} {{ with {{ … }} }}`"),
                DeclKind::Env => format!("import it in an `env` block: `env {{ use {name} }}`"),
                _ => format!("import one of its keys in an `env` block: `env {{ KEY = {name}.KEY }}`"),
            };
            out.push(
                Pending::new(Code::Unused, name_loc(db, &locs[0].def), format!("{} `{name}` is never used", article(kind.noun())))
                    .label("unused")
                    .help(format!("remove it, or {how}")),
            );
        }
    }
}

/// `call`/`spawn` cycles between workflows. A cycle through `call` has no
/// bound at all; a cycle of spawns is bounded only when every workflow on it
/// declares `safety { max_spawn_depth N }`.
fn recursion<'db>(db: &'db dyn Db, project: Project, out: &mut Vec<Pending<'db>>) {
    let index = item_index(db, project);
    let workflows: Vec<WorkflowDef<'db>> =
        index.of(DeclKind::Workflow).values().filter_map(|l| match &l.first()?.def {
            DeclDef::Workflow(w) => Some(*w),
            DeclDef::Other(_) => None,
        }).collect();
    let pos: BTreeMap<&str, usize> = workflows.iter().enumerate().map(|(i, w)| (w.name(db).as_str(), i)).collect();
    let mut graph: DiGraph<(), (bool, Loc<'db>, String)> = DiGraph::new();
    for _ in &workflows {
        graph.add_node(());
    }
    for (i, w) in workflows.iter().enumerate() {
        for step in w.steps(db) {
            for (target, spawn) in &crate::model::step_sig(db, *step).starts {
                if let Some(&j) = pos.get(target.as_str()) {
                    let loc = Loc::new(Anchor::Step(*w, *step), start_span(step.ast(db), target));
                    graph.add_edge(NodeIndex::new(i), NodeIndex::new(j), (*spawn, loc, step.name(db).clone()));
                }
            }
        }
    }
    let bounded = |w: &WorkflowDef<'db>| {
        w.header(db).iter().any(|(_, s)| match &s.kind {
            WorkflowStmtKind::Safety(safety) => safety.items.iter().any(|i| matches!(i, SafetyItem::MaxSpawnDepth(_))),
            _ => false,
        })
    };
    // Kosaraju's algorithm, not Tarjan's: petgraph's Tarjan recurses once per
    // node of a path, and a long chain of calls overflowed the stack.
    for scc in petgraph::algo::kosaraju_scc(&graph) {
        let members: BTreeSet<usize> = scc.iter().map(|n| n.index()).collect();
        // The edges inside the component, from its members' own edges (a scan
        // of every edge per component was quadratic), in the graph's order.
        let mut edges: Vec<_> = scc
            .iter()
            .flat_map(|n| graph.edges_directed(*n, petgraph::Direction::Outgoing))
            .filter(|e| members.contains(&petgraph::visit::EdgeRef::target(e).index()))
            .map(|e| petgraph::visit::EdgeRef::id(&e))
            .collect();
        edges.sort();
        if edges.is_empty() {
            continue;
        }
        let has_call = edges.iter().any(|e| !graph[*e].0);
        let all_bounded = members.iter().all(|m| bounded(&workflows[*m]));
        if !has_call && all_bounded {
            continue;
        }
        let names: Vec<String> = members.iter().map(|m| format!("`{}`", workflows[*m].name(db))).collect();
        let (first_spawn, first_loc, first_step) = graph[edges[0]].clone();
        let verb = if first_spawn { "spawns" } else { "calls" };
        let mut p = Pending::new(
            Code::UnboundedRecursion,
            first_loc,
            if members.len() == 1 {
                format!("workflow {} {verb} itself with no depth bound", names[0])
            } else {
                format!("workflows {} start each other with no depth bound", names.join(", "))
            },
        )
        .label(format!("step `{first_step}` {verb} it"))
        .help(if has_call {
            "`call` waits for the child, so call recursion never ends: use `then spawn` with `safety { max_spawn_depth N }`, or break the cycle".to_string()
        } else {
            "add `safety { max_spawn_depth N }` to every workflow in the cycle".to_string()
        });
        for e in &edges[1..] {
            let (spawn, loc, step) = graph[*e].clone();
            p = p.related(loc, format!("step `{step}` {} here", if spawn { "spawns" } else { "calls" }));
        }
        out.push(p);
    }
}

/// Where a step names the workflow it starts: its `call` kind or a spawn.
fn start_span(step: &flowc_grammar::ast::Step, target: &str) -> Span {
    use flowc_grammar::ast::StepKind;
    if let StepKind::Call(n) = &step.kind
        && n.text == target {
            return n.span;
        }
    step.body
        .iter()
        .find_map(|s| match &s.kind {
            StepStmtKind::Spawn { workflow, .. } | StepStmtKind::SpawnEach { workflow, .. } if workflow.text == target => Some(workflow.span),
            _ => None,
        })
        .unwrap_or(step.name.span)
}
