//! The step graph of a workflow, built from step signatures only, so it is
//! recomputed only when a header, an arm or an output type changes.
//!
//! Nodes are steps and groups. Edges point from a dependency to its
//! dependent: `after` deps (a group name stands for the whole group), branch
//! arms (branch → target), and group membership (member → group: the group
//! completes after its members, so `after GROUP` waits for all of them).
//! Acyclicity is one algorithm (`kosaraju_scc`, which unlike petgraph's
//! `tarjan_scc` does not recurse once per node of a path) reporting every
//! loop whole.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use flowc_grammar::ast::{Name, Span, TriggerRule};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::db::Db;
pub use crate::model::EndsEarly;
use crate::model::{StepSig, WorkflowDef};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Step,
    Group,
}

/// Why an edge exists; each kind reads differently in a cycle report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// `to` lists `from` in `after`.
    After,
    /// `from` is a branch with an arm targeting `to`.
    Arm,
    /// `from` is a member of group `to`.
    Member,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// The node whose text creates the edge (the dependent for `after`, the
    /// branch for an arm, the member for membership).
    pub at: usize,
    /// Where, relative to that node's item; `None` for an arm, whose position
    /// is in the branch's body (see `checks::graph_checks::arm_span`).
    pub span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    /// The workflow item the node's spans are relative to.
    pub item: u32,
    pub name_span: Span,
}

/// A workflow's graph. Node `i < steps` is step `i` of `WorkflowDef::steps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowGraph {
    pub nodes: Vec<Node>,
    pub steps: usize,
    pub edges: Vec<Edge>,
    /// First occurrence of each name.
    pub by_name: BTreeMap<String, usize>,
    /// Each cycle (a strongly connected component with more than one node, or
    /// a self-loop), as the edges that form it, in walking order.
    pub cycles: Vec<Vec<usize>>,
    /// For each step: the steps upstream of it (transitively), as ranges of
    /// step indices. Empty when the graph has cycles.
    pub upstream: Vec<StepSet>,
    /// Topological order of step indices (empty when cyclic).
    pub order: Vec<usize>,
    /// The signature of every step, by index: step checks read them here (one
    /// dependency on this query) instead of from each step (one per step,
    /// which made checking quadratic).
    pub sigs: Vec<Arc<StepSig>>,
    /// Steps that set the run's item list (`items`, or a `select`), in
    /// increasing index order.
    pub item_sources: Vec<usize>,
    /// What each step looks like from an expression (`.output`, `.status`, …).
    pub value_tys: Vec<crate::types::Ty>,
    /// What a finished node tells about its neighbours (empty when cyclic).
    pub completion: Completion,
    /// Per node: it is in the workflow's `finally { … }` block (the block's
    /// own group node included). Such steps run after every other step has
    /// ended, so those steps are readable there as steps that may not have
    /// completed, never as upstream steps.
    pub finally: Vec<bool>,
    /// Per group: the innermost `for each item` group at or around it (the
    /// job its members run in), by group index. Looked up through
    /// [`WorkflowGraph::job_of`]: a walk over every group, for every step,
    /// made checking many groups quadratic (issue 18).
    pub job_within: Vec<Option<usize>>,
    /// Per group: the steps inside it (nested groups' too), for `for each
    /// item` groups only (empty for the others): `G.output` has a field
    /// per member.
    pub job_members: Vec<Vec<usize>>,
}


/// Which steps may have no output when something reads it.
///
/// A step that did not complete (skipped, upstream_failed, failed under
/// `on_failure continue`) has an empty output. Two facts per node (steps
/// first, then groups), from one pass in dependency order:
/// - `may_not_complete`: it can end without completing in a run that goes
///   on: its own `when` or `on_failure continue`, a branch arm that may not
///   pick it, a skip its trigger rule passes on (all_success: any dependency;
///   one_success, one_done: every dependency; none_failed and the like: any
///   dependency, the step being its own origin), a rule that runs on what
///   others skip on (all_failed, one_failed, all_skipped: always), a group
///   whose members may all be skipped;
/// - `may_start_early`: it can start while some step upstream of it has not
///   completed: a trigger rule other than all_success (`one_success` starts
///   on the first success, `all_done` after failures, `always` at once;
///   `none_failed` and the like only when a dependency may end early), a group dependency
///   with a member that may be skipped while the group completes (one
///   that can end early other than with all the rest: see `Origins`), or
///   such a step before it.
///
/// A step without `may_start_early` starts only after every step upstream
/// of it completed, so everything it reads is there; for the others,
/// [`WorkflowGraph::output_certain`] looks for a chain of completions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Completion {
    /// Per node, the `MAY_NOT_COMPLETE`, `MAY_START_EARLY`,
    /// `MAY_START_UNFINISHED` and `HELD` bits; empty when there are no facts.
    flags: Vec<u8>,
    /// Each node's enclosing group node (`NO_GROUP` when none).
    parent: Vec<u32>,
    /// For each node a branch has an arm to, those branches.
    arm_sources: BTreeMap<u32, Vec<u32>>,
    /// Each group's `after` list, resolved, by group node.
    group_deps: BTreeMap<u32, (TriggerRule, Vec<u32>)>,
    /// Each group's direct members, by group node.
    members: BTreeMap<u32, Vec<u32>>,
}

/// It can end without completing in a run that goes on.
const MAY_NOT_COMPLETE: u8 = 1;
/// It can start while a step upstream of it has not completed.
const MAY_START_EARLY: u8 = 2;
/// It can start while a step upstream of it is still running: a
/// `one_success`, `one_failed` or `one_done` starts on the first of its
/// dependencies to end so, an `always` at once, or such a step before it.
const MAY_START_UNFINISHED: u8 = 4;
/// A group member whose completion its group's completion implies: it
/// cannot end early, or only when every member does (the group is skipped
/// then too).
const HELD: u8 = 8;
/// It runs only after an `all_failed` or `one_failed` of its own, or
/// after a step or group that does: it may run because something failed.
const AFTER_FAILURE: u8 = 16;
const NO_GROUP: u32 = u32::MAX;

impl WorkflowGraph {
    /// Whether node `i` is in the workflow's `finally { … }` block.
    pub fn in_finally(&self, i: usize) -> bool {
        self.finally.get(i).copied().unwrap_or(false)
    }
}

impl Completion {
    fn has(&self, node: usize, flag: u8) -> bool {
        self.flags.get(node).is_some_and(|f| f & flag != 0)
    }

    /// The groups around `node`, innermost first.
    fn enclosing(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        let mut cur = self.parent.get(node).copied().unwrap_or(NO_GROUP);
        let mut steps = 0;
        std::iter::from_fn(move || {
            // A membership loop is reported as a cycle (and then there are
            // no facts); the bound keeps a walk finite regardless.
            if cur == NO_GROUP || steps > self.parent.len() {
                return None;
            }
            steps += 1;
            let g = cur as usize;
            cur = self.parent[g];
            Some(g)
        })
    }

    /// What `node` waits for, as (rule, nodes) lists: its own `after`
    /// (`own`, resolved by the caller) and its groups'.
    fn dep_lists<'a>(&'a self, node: usize, own: &'a (TriggerRule, Vec<u32>)) -> impl Iterator<Item = (TriggerRule, &'a [u32])> + 'a {
        std::iter::once((own.0, own.1.as_slice()))
            .chain(self.group_deps.get(&(node as u32)).map(|(r, d)| (*r, d.as_slice())))
            .chain(self.enclosing(node).filter_map(|g| self.group_deps.get(&(g as u32)).map(|(r, d)| (*r, d.as_slice()))))
            .filter(|(_, d)| !d.is_empty())
    }

    /// The branches with an arm to `node` or to a group around it.
    fn arms_to(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(node).chain(self.enclosing(node)).flat_map(|g| self.arm_sources.get(&(g as u32)).into_iter().flatten().map(|b| *b as usize))
    }
}

/// A set of step indices as sorted, disjoint, non-adjacent half-open
/// ranges.
///
/// Why not a bitset per step: that is steps² bits, 1.25 GB for 100,000
/// steps, and as much time to build. Upstream sets are mostly runs of
/// neighbouring indices (a chain is one range, a layer after a dense join
/// one range, steps written in the order they run a few), so ranges hold them
/// in what they contain rather than in the size of the workflow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StepSet {
    ranges: Vec<(u32, u32)>,
}

impl StepSet {
    pub fn contains(&self, i: usize) -> bool {
        let i = i as u32;
        // The first range ending after `i`.
        let at = self.ranges.partition_point(|&(_, end)| end <= i);
        self.ranges.get(at).is_some_and(|&(start, _)| start <= i)
    }

    /// Drops the spare capacity that building in place left (the sets live
    /// as long as the graph: a wide graph's held a sixth of the memory).
    fn shrink(&mut self) {
        self.ranges.shrink_to_fit();
    }

    /// Adds one index in place (once per edge while the sets are built).
    pub fn insert(&mut self, i: usize) {
        let i = i as u32;
        // The first range that ends at `i` or later.
        let at = self.ranges.partition_point(|&(_, end)| end < i);
        match self.ranges.get(at).copied() {
            // Ends just before `i`: grow it, and join the next if that starts after `i`.
            Some((_, end)) if end == i => {
                let next = self.ranges.get(at + 1).copied();
                match next {
                    Some((start, next_end)) if start == i + 1 => {
                        self.ranges[at].1 = next_end;
                        self.ranges.remove(at + 1);
                    }
                    _ => self.ranges[at].1 = i + 1,
                }
            }
            Some((start, _)) if start <= i => {}
            Some((start, _)) if start == i + 1 => self.ranges[at].0 = i,
            _ => self.ranges.insert(at, (i, i + 1)),
        }
    }

    /// Adds every index of `other`: one merge of the two sorted lists.
    pub fn union_with(&mut self, other: &StepSet) {
        if other.ranges.is_empty() {
            return;
        }
        if self.ranges.is_empty() {
            self.ranges.clone_from(&other.ranges);
            return;
        }
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.ranges.len() + other.ranges.len());
        let (mut a, mut b) = (self.ranges.iter().peekable(), other.ranges.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => {
                    if x.0 <= y.0 {
                        a.next()
                    } else {
                        b.next()
                    }
                }
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            let &(start, end) = next.expect("peeked");
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        self.ranges = merged;
    }

    /// Every index, in increasing order.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.ranges.iter().flat_map(|&(start, end)| (start as usize)..(end as usize))
    }

    /// The ranges, as `start..end`.
    pub fn ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.ranges.iter().map(|&(start, end)| (start as usize)..(end as usize))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

impl WorkflowGraph {
    /// The index (in the workflow's groups) of the group named `name`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied().filter(|i| *i >= self.steps && self.nodes[*i].kind == NodeKind::Group).map(|i| i - self.steps)
    }

    /// The `for each item` group whose job a step or group runs in, from its
    /// enclosing groups (outermost first): the innermost for-each among them.
    pub fn job_of(&self, enclosing: &[String]) -> Option<usize> {
        enclosing.last().and_then(|g| self.group_index(g)).and_then(|gi| self.job_within.get(gi).copied().flatten())
    }

    pub fn is_upstream(&self, of: usize, candidate: usize) -> bool {
        self.upstream.get(of).is_some_and(|b| b.contains(candidate))
    }
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied().filter(|i| *i < self.steps)
    }
}

#[salsa::tracked(returns(ref))]
pub fn workflow_graph<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>) -> WorkflowGraph {
    let arcs: Vec<Arc<StepSig>> = wf.steps(db).iter().map(|s| crate::model::step_sig(db, *s).clone()).collect();
    let sigs: Vec<(&StepSig, u32)> = wf.steps(db).iter().zip(&arcs).map(|(s, a)| (&**a, s.item(db))).collect();
    let mut graph = build(&sigs, wf.groups(db));
    graph.item_sources = (0..arcs.len())
        .filter(|i| arcs[*i].has_items || matches!(arcs[*i].kind, flowc_grammar::ast::StepKind::Select))
        .collect();
    // Steps with the same output type look alike from an expression: one
    // value type for each (six fields per step were 630 bytes, 63 MB at
    // 100,000 steps; issue 18).
    let mut alike: std::collections::HashMap<Option<crate::types::Ty>, crate::types::Ty> = std::collections::HashMap::new();
    graph.value_tys = arcs.iter().map(|s| alike.entry(s.output.clone()).or_insert_with(|| crate::model::step_value_ty(s)).clone()).collect();
    graph.sigs = arcs;
    graph
}

pub fn build(sigs: &[(&StepSig, u32)], groups: &[crate::model::GroupSig]) -> WorkflowGraph {
    let mut nodes = Vec::with_capacity(sigs.len() + groups.len());
    let mut by_name = BTreeMap::new();
    for (sig, item) in sigs {
        by_name.entry(sig.name.text.clone()).or_insert(nodes.len());
        nodes.push(Node { name: sig.name.text.clone(), kind: NodeKind::Step, item: *item, name_span: sig.name.span });
    }
    for g in groups {
        by_name.entry(g.name.text.clone()).or_insert(nodes.len());
        nodes.push(Node { name: g.name.text.clone(), kind: NodeKind::Group, item: g.item, name_span: g.name.span });
    }
    let mut edges = Vec::new();
    let add_deps = |edges: &mut Vec<Edge>, to: usize, deps: Option<&flowc_grammar::ast::Deps>| {
        if let Some(deps) = deps {
            for dep in &deps.names {
                if let Some(&from) = by_name.get(&dep.text) {
                    edges.push(Edge { from, to, kind: EdgeKind::After, at: to, span: Some(dep.span) });
                }
            }
        }
    };
    for (i, (sig, _)) in sigs.iter().enumerate() {
        add_deps(&mut edges, i, sig.deps.as_deref());
    }
    for (gi, g) in groups.iter().enumerate() {
        add_deps(&mut edges, sigs.len() + gi, g.deps.as_ref());
    }
    for (i, (sig, _)) in sigs.iter().enumerate() {
        for arm in &sig.arms {
            if let Some(&to) = by_name.get(arm) {
                edges.push(Edge { from: i, to, kind: EdgeKind::Arm, at: i, span: None });
            }
        }
        if let Some(group) = sig.groups.last()
            && let Some(&to) = by_name.get(group) {
                edges.push(Edge { from: i, to, kind: EdgeKind::Member, at: i, span: Some(sig.name.span) });
            }
    }
    for (gi, g) in groups.iter().enumerate() {
        if let Some(outer) = g.groups.last()
            && let Some(&to) = by_name.get(outer) {
                let from = sigs.len() + gi;
                edges.push(Edge { from, to, kind: EdgeKind::Member, at: from, span: Some(g.name.span) });
            }
    }
    // Members inherit the group's own deps: a group `after x` holds its
    // members back until x is done. (Not an edge of the cycle check: it would
    // turn every member→group edge into a loop.)
    let mut graph: DiGraph<(), usize> = DiGraph::with_capacity(nodes.len(), edges.len());
    for _ in &nodes {
        graph.add_node(());
    }
    for (ei, e) in edges.iter().enumerate() {
        graph.add_edge(NodeIndex::new(e.from), NodeIndex::new(e.to), ei);
    }
    let cycles = find_cycles(&graph, &edges);
    let steps = sigs.len();
    let (order, upstream) = if cycles.is_empty() { upstream_sets(&graph, &nodes, steps, groups, &by_name) } else { (Vec::new(), Vec::new()) };
    let completion = if cycles.is_empty() { completion(sigs, groups, &nodes, &edges, &by_name) } else { Completion::default() };
    let handler: Option<&str> = groups.iter().find(|g| g.kind == flowc_grammar::ast::GroupKind::Finally).map(|g| g.name.text.as_str());
    let in_handler = |outer: Option<&String>| handler.is_some_and(|h| outer.is_some_and(|o| o == h));
    let finally = sigs
        .iter()
        .map(|(sig, _)| in_handler(sig.groups.first()))
        .chain(groups.iter().map(|g| g.kind == flowc_grammar::ast::GroupKind::Finally || in_handler(g.groups.first())))
        .collect();
    let group_ix = |name: &str| by_name.get(name).copied().filter(|i| *i >= steps).map(|i| i - steps);
    let job_within: Vec<Option<usize>> = groups
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            if g.for_each.is_some() {
                return Some(gi);
            }
            g.groups.iter().rev().filter_map(|n| group_ix(n)).find(|o| groups.get(*o).is_some_and(|o| o.for_each.is_some()))
        })
        .collect();
    let mut job_members: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for (i, (sig, _)) in sigs.iter().enumerate() {
        for g in &sig.groups {
            if let Some(gi) = group_ix(g).filter(|gi| groups.get(*gi).is_some_and(|g| g.for_each.is_some())) {
                job_members[gi].push(i);
            }
        }
    }
    WorkflowGraph {
        job_within,
        job_members,
        finally,
        nodes,
        steps,
        edges,
        by_name,
        cycles,
        upstream,
        order,
        sigs: Vec::new(),
        item_sources: Vec::new(),
        value_tys: Vec::new(),
        completion,
    }
}

/// A step's own `after` list, resolved to nodes (groups are resolved by
/// `completion`).
fn own_deps(deps: Option<&flowc_grammar::ast::Deps>, by_name: &BTreeMap<String, usize>) -> (TriggerRule, Vec<u32>) {
    match deps {
        Some(d) => {
            let mut ids: Vec<u32> = d.names.iter().filter_map(|x| by_name.get(&x.text).map(|i| *i as u32)).collect();
            ids.sort_unstable();
            ids.dedup();
            (analysed_rule(d), ids)
        }
        None => (TriggerRule::AllSuccess, Vec::new()),
    }
}

/// The [`Completion`] facts of an acyclic graph, from one depth-first
/// walk over what each node's facts read (its dependencies and its groups',
/// the branches with an arm to it or its groups, a group's members). Empty
/// when that walk meets a loop; checks read empty facts as "nothing to say".
fn completion(
    sigs: &[(&StepSig, u32)],
    groups: &[crate::model::GroupSig],
    nodes: &[Node],
    edges: &[Edge],
    by_name: &BTreeMap<String, usize>,
) -> Completion {
    let n = nodes.len();
    let steps = sigs.len();
    let mut c = Completion { flags: Vec::new(), parent: vec![NO_GROUP; n], ..Completion::default() };
    for (gi, g) in groups.iter().enumerate() {
        let node = (steps + gi) as u32;
        let (rule, ds) = own_deps(g.deps.as_ref(), by_name);
        if !ds.is_empty() {
            c.group_deps.insert(node, (rule, ds));
        }
        for m in &g.members {
            if let Some(&m) = by_name.get(m) {
                c.parent[m] = node;
                c.members.entry(node).or_default().push(m as u32);
            }
        }
    }
    for e in edges.iter().filter(|e| e.kind == EdgeKind::Arm) {
        c.arm_sources.entry(e.to as u32).or_default().push(e.from as u32);
    }
    let own = |i: usize| if i < steps { own_deps(sigs[i].0.deps.as_deref(), by_name) } else { (TriggerRule::AllSuccess, Vec::new()) };
    let mut flags = vec![0u8; n];
    let mut origins: Vec<Origins> = vec![Origins::none(); n];
    // 0: not seen, 1: on the walk's path, 2: done.
    let mut state = vec![0u8; n];
    let mut stack: Vec<(usize, bool)> = (0..n).rev().map(|i| (i, false)).collect();
    while let Some((i, expanded)) = stack.pop() {
        if !expanded {
            match state[i] {
                2 => continue,
                1 => return Completion::default(),
                _ => {}
            }
            state[i] = 1;
            stack.push((i, true));
            let deps = own(i);
            let reads: Vec<usize> = c
                .dep_lists(i, &deps)
                .flat_map(|(_, d)| d.iter().map(|x| *x as usize))
                .chain(c.arms_to(i))
                .chain(c.members.get(&(i as u32)).into_iter().flatten().map(|m| *m as usize))
                .collect();
            for r in reads {
                match state[r] {
                    0 => stack.push((r, false)),
                    1 => return Completion::default(),
                    _ => {}
                }
            }
            continue;
        }
        state[i] = 2;
        let is = |x: usize, f: u8| flags[x] & f != 0;
        let (mut skip, mut early, mut running, mut after_failure) = (false, false, false, false);
        let mut from = Origins::none();
        let mut alone = i < steps && sigs[i].0.ends_early.is_some();
        let deps = own(i);
        for (rule, ds) in c.dep_lists(i, &deps) {
            let ds = || ds.iter().map(|d| *d as usize);
            // Rules that start on the first of several dependencies, or on none.
            let first = matches!(rule, TriggerRule::OneSuccess | TriggerRule::OneFailed | TriggerRule::OneDone);
            running |= ds().any(|d| is(d, MAY_START_UNFINISHED)) || (first && ds().count() > 1) || rule == TriggerRule::Always;
            let any_ends_early = ds().any(|d| is(d, MAY_NOT_COMPLETE));
            after_failure |= matches!(rule, TriggerRule::AllFailed | TriggerRule::OneFailed) || ds().any(|d| is(d, AFTER_FAILURE));
            match rule {
                TriggerRule::AllSuccess => {
                    for d in ds().filter(|d| is(*d, MAY_NOT_COMPLETE)) {
                        skip = true;
                        from.union(&origins[d]);
                    }
                    early |= ds().any(|d| is(d, MAY_START_EARLY));
                }
                // Skipped only when no dependency succeeded (or, for
                // one_done, failed): when every one may end early.
                TriggerRule::OneSuccess | TriggerRule::OneDone => {
                    alone |= ds().all(|d| is(d, MAY_NOT_COMPLETE));
                    early = true;
                }
                // They run on what the others skip on (a skip, a failure):
                // each may end early of its own, whatever its dependencies.
                TriggerRule::AllFailed | TriggerRule::OneFailed | TriggerRule::AllSkipped => {
                    alone = true;
                    early = true;
                }
                // They run after some dependencies that did not complete
                // (skipped, or failed) and end early after others: the
                // step is its own origin, since no one dependency's ending
                // early is enough to skip it.
                TriggerRule::NoneFailed | TriggerRule::NoneFailedMinOneSuccess | TriggerRule::NoneSkipped => {
                    alone |= any_ends_early;
                    early |= any_ends_early || ds().any(|d| is(d, MAY_START_EARLY));
                }
                TriggerRule::AllDone | TriggerRule::Always => early = true,
            }
        }
        for b in c.arms_to(i) {
            alone = true;
            if is(b, MAY_NOT_COMPLETE) {
                from.union(&origins[b]);
            }
            early |= is(b, MAY_START_EARLY);
            running |= is(b, MAY_START_UNFINISHED);
        }
        if let Some(ms) = c.members.get(&(i as u32)) {
            // A member that ends early only when every member does cannot
            // be missing from a completed group.
            let held: Vec<usize> = ms
                .iter()
                .map(|m| *m as usize)
                .filter(|m| !is(*m, MAY_NOT_COMPLETE) || ms.iter().all(|o| origins[*m].within(&origins[*o as usize])))
                .collect();
            alone |= !ms.is_empty() && ms.iter().all(|m| is(*m as usize, MAY_NOT_COMPLETE));
            for m in held {
                flags[m] |= HELD;
            }
            let is = |x: usize, f: u8| flags[x] & f != 0;
            early |= ms.iter().any(|m| !is(*m as usize, HELD) || is(*m as usize, MAY_START_EARLY));
            running |= ms.iter().any(|m| is(*m as usize, MAY_START_UNFINISHED));
            after_failure |= ms.iter().any(|m| is(*m as usize, AFTER_FAILURE));
        }
        if alone {
            skip = true;
            from.insert(i);
        }
        flags[i] |= if skip { MAY_NOT_COMPLETE } else { 0 }
            | if early { MAY_START_EARLY } else { 0 }
            | if running { MAY_START_UNFINISHED } else { 0 }
            | if after_failure { AFTER_FAILURE } else { 0 };
        origins[i] = from;
    }
    c.flags = flags;
    c
}

/// The origins of a node's not completing: nodes that can end early of
/// their own (a `when`, `on_failure continue`, an arm a branch may not pick,
/// a one_success or a group over dependencies that may all end early), such
/// that the node does not complete exactly when one of them does not (it
/// can end early only through them, and each one's ending early skips it).
/// Known for up to a few origins; past that, `None`, and nothing is
/// concluded from them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Origins(Option<Vec<u32>>);

impl Origins {
    const MAX: usize = 16;

    fn none() -> Self {
        Origins(Some(Vec::new()))
    }

    fn insert(&mut self, node: usize) {
        if let Some(v) = &mut self.0
            && let Err(at) = v.binary_search(&(node as u32)) {
                v.insert(at, node as u32);
                if v.len() > Self::MAX {
                    self.0 = None;
                }
            }
    }

    fn union(&mut self, other: &Origins) {
        match &other.0 {
            None => self.0 = None,
            Some(o) => {
                for x in o {
                    self.insert(*x as usize);
                }
            }
        }
    }

    /// Every origin of `self` is one of `other`'s (so whenever `self`'s node
    /// ends early, `other`'s does too).
    fn within(&self, other: &Origins) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => a.iter().all(|x| b.binary_search(x).is_ok()),
            _ => false,
        }
    }
}

/// Every loop, as the list of its edges in order.
fn find_cycles(graph: &DiGraph<(), usize>, edges: &[Edge]) -> Vec<Vec<usize>> {
    let mut cycles = Vec::new();
    // Self-loops, found once (a per-component scan of all edges is quadratic).
    let self_loops: HashMap<usize, usize> =
        edges.iter().enumerate().filter(|(_, e)| e.from == e.to).map(|(i, e)| (e.from, i)).collect();
    // Each node's outgoing edges, in edge order: the walk reads them instead
    // of every edge for every node it visits.
    let mut by_from: Vec<Vec<usize>> = vec![Vec::new(); graph.node_count()];
    for (i, e) in edges.iter().enumerate() {
        by_from[e.from].push(i);
    }
    for scc in petgraph::algo::kosaraju_scc(graph) {
        if scc.len() == 1 {
            if let Some(&ei) = self_loops.get(&scc[0].index()) {
                cycles.push(vec![ei]);
            }
            continue;
        }
        let members: BTreeSet<usize> = scc.iter().map(|n| n.index()).collect();
        // Walk one simple loop through the component, starting at its smallest
        // node, always taking the first edge that stays inside it and leads back.
        if let Some(cycle) = walk_cycle(edges, &by_from, &members) {
            cycles.push(cycle);
        }
    }
    cycles.sort();
    cycles
}

/// A simple loop through a strongly connected component: a breadth-first
/// search from the start node back to itself (shortest loop, stable order).
fn walk_cycle(edges: &[Edge], by_from: &[Vec<usize>], members: &BTreeSet<usize>) -> Option<Vec<usize>> {
    let start = *members.iter().next()?;
    let mut prev: HashMap<usize, usize> = HashMap::new(); // node -> edge index that reached it
    let mut queue = std::collections::VecDeque::from([start]);
    let mut seen = BTreeSet::from([start]);
    while let Some(n) = queue.pop_front() {
        for &ei in &by_from[n] {
            let e = &edges[ei];
            if !members.contains(&e.to) {
                continue;
            }
            if e.to == start {
                let mut path = vec![ei];
                let mut cur = n;
                while cur != start {
                    let pe = prev[&cur];
                    path.push(pe);
                    cur = edges[pe].from;
                }
                path.reverse();
                return Some(path);
            }
            if seen.insert(e.to) {
                prev.insert(e.to, ei);
                queue.push_back(e.to);
            }
        }
    }
    None
}

/// Topological order and transitive upstream sets of the steps. Group nodes
/// pass upstream-ness through: a step after a group is downstream of every
/// member; a member of a group with deps is downstream of those deps.
fn upstream_sets(
    graph: &DiGraph<(), usize>,
    nodes: &[Node],
    steps: usize,
    groups: &[crate::model::GroupSig],
    by_name: &BTreeMap<String, usize>,
) -> (Vec<usize>, Vec<StepSet>) {
    let Ok(topo) = petgraph::algo::toposort(graph, None) else { return (Vec::new(), Vec::new()) };
    let n = nodes.len();
    let mut up: Vec<StepSet> = vec![StepSet::default(); n];
    // Each node's enclosing group node, and every group a node is inside
    // (transitively): members inherit their groups' dependencies.
    let mut parent: Vec<Option<usize>> = vec![None; n];
    for (gi, g) in groups.iter().enumerate() {
        for m in &g.members {
            if let Some(&node) = by_name.get(m) {
                parent[node] = Some(steps + gi);
            }
        }
    }
    let inherited: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            let mut chain = Vec::new();
            let mut cur = parent[i];
            while let Some(g) = cur {
                if chain.contains(&g) {
                    break; // membership loop: reported as a cycle elsewhere
                }
                chain.push(g);
                cur = parent[g];
            }
            chain
        })
        .collect();
    for node in &topo {
        let i = node.index();
        let mut acc = StepSet::default();
        for e in graph.edges_directed(*node, petgraph::Direction::Incoming) {
            let from = petgraph::visit::EdgeRef::source(&e).index();
            acc.union_with(&up[from]);
            if from < steps {
                acc.insert(from);
            }
        }
        acc.shrink();
        up[i] = acc;
    }
    // What is upstream of a group's own dependencies (its `after`), not of its
    // members: edges from the group's members are membership, not deps.
    let group_dep_up: Vec<StepSet> = (0..groups.len())
        .map(|gi| {
            let gnode = NodeIndex::new(steps + gi);
            let mut acc = StepSet::default();
            for e in graph.edges_directed(gnode, petgraph::Direction::Incoming) {
                let from = petgraph::visit::EdgeRef::source(&e).index();
                if parent[from] == Some(steps + gi) {
                    continue;
                }
                acc.union_with(&up[from]);
                if from < steps {
                    acc.insert(from);
                }
            }
            acc
        })
        .collect();
    let has_inherited = inherited.iter().any(|v| !v.is_empty());
    if has_inherited {
        for node in &topo {
            let i = node.index();
            let mut acc = up[i].clone();
            for g in &inherited[i] {
                acc.union_with(&group_dep_up[g - steps]);
            }
            for e in graph.edges_directed(*node, petgraph::Direction::Incoming) {
                let from = petgraph::visit::EdgeRef::source(&e).index();
                acc.union_with(&up[from]);
            }
            acc.shrink();
            up[i] = acc;
        }
    }
    let order = topo.iter().map(|n| n.index()).filter(|i| *i < steps).collect();
    up.truncate(steps);
    (order, up)
}

impl WorkflowGraph {
    /// Whether step `read` certainly completed whenever step `reader`
    /// starts in a run that has not failed, so its output is there. `None` when the graph gives no facts
    /// (it has a loop, reported elsewhere).
    ///
    /// A reader that cannot start early has every upstream step completed.
    /// Otherwise the steps it certainly waits for are searched: the
    /// dependencies of an all_success list (its own, its groups'), the
    /// branches that picked it, and, for a group it waits for, the members
    /// that cannot end early, each with what it waits for in turn. The
    /// search stops at a step that cannot start early, whose whole upstream
    /// completed; it only walks the part of the graph that can start early.
    pub fn output_certain(&self, reader: usize, read: usize) -> Option<bool> {
        let c = &self.completion;
        if c.flags.is_empty() || self.sigs.len() != self.steps {
            return None;
        }
        // A step that runs on a failure, or after one that does, reads what
        // failed, or what did not run because of it.
        if self.runs_after_failure_of(reader, read) {
            return Some(false);
        }
        // Only a step that can end early in a run that goes on, or one still
        // running, has no output then (a failure that fails the run is
        // beside the point: the run failed already).
        if !c.has(reader, MAY_START_EARLY) || !(c.has(read, MAY_NOT_COMPLETE) || c.has(reader, MAY_START_UNFINISHED)) {
            return Some(true);
        }
        let own = |x: usize| if x < self.steps { own_deps(self.sigs[x].deps.as_deref(), &self.by_name) } else { (TriggerRule::AllSuccess, Vec::new()) };
        let waits_for = |x: usize, queue: &mut Vec<usize>| {
            let deps = own(x);
            for (rule, ds) in c.dep_lists(x, &deps) {
                if rule == TriggerRule::AllSuccess {
                    queue.extend(ds.iter().map(|d| *d as usize));
                }
            }
            queue.extend(c.arms_to(x));
        };
        let mut seen = std::collections::HashSet::new();
        let mut queue: Vec<usize> = Vec::new();
        waits_for(reader, &mut queue);
        while let Some(x) = queue.pop() {
            if !seen.insert(x) {
                continue;
            }
            if x == read {
                return Some(true);
            }
            if x < self.steps && !c.has(x, MAY_START_EARLY) {
                if self.is_upstream(x, read) {
                    return Some(true);
                }
                continue;
            }
            if let Some(ms) = c.members.get(&(x as u32)) {
                queue.extend(ms.iter().map(|m| *m as usize).filter(|m| c.has(*m, HELD)));
            }
            waits_for(x, &mut queue);
        }
        Some(false)
    }

    /// Whether `reader` waits, under `all_failed` or `one_failed`, for
    /// `read` or for a step downstream of it: it runs when one of those
    /// failed or was upstream_failed, so `read` may well have no output.
    pub fn runs_on_failure_of(&self, reader: usize, read: usize) -> bool {
        let c = &self.completion;
        if reader >= self.steps || self.sigs.len() != self.steps {
            return false;
        }
        let own = own_deps(self.sigs[reader].deps.as_deref(), &self.by_name);
        let on_failure = |rule: TriggerRule| matches!(rule, TriggerRule::AllFailed | TriggerRule::OneFailed);
        c.dep_lists(reader, &own).filter(|(rule, _)| on_failure(*rule)).any(|(_, ds)| {
            ds.iter().map(|d| *d as usize).any(|d| d == read || self.upstream_of_node(d, read))
        })
    }

    /// Whether `reader`, or a step or group it waits for, runs on the
    /// failure of `read` or of a step downstream of it (see
    /// [`Self::runs_on_failure_of`]), unless `reader` waits for `read`
    /// through all_success dependencies alone (then `read` completed).
    pub fn runs_after_failure_of(&self, reader: usize, read: usize) -> bool {
        let c = &self.completion;
        if !c.has(reader, AFTER_FAILURE) || self.sigs.len() != self.steps {
            return false;
        }
        let own = |x: usize| if x < self.steps { own_deps(self.sigs[x].deps.as_deref(), &self.by_name) } else { (TriggerRule::AllSuccess, Vec::new()) };
        let mut seen = std::collections::HashSet::new();
        let mut queue = vec![reader];
        while let Some(x) = queue.pop() {
            if !seen.insert(x) {
                continue;
            }
            if x == read {
                return false;
            }
            let deps = own(x);
            for (rule, ds) in c.dep_lists(x, &deps) {
                if rule == TriggerRule::AllSuccess {
                    queue.extend(ds.iter().map(|d| *d as usize));
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut queue = vec![reader];
        while let Some(x) = queue.pop() {
            if !seen.insert(x) || !c.has(x, AFTER_FAILURE) {
                continue;
            }
            if self.runs_on_failure_of(x, read) {
                return true;
            }
            let deps = own(x);
            for (_, ds) in c.dep_lists(x, &deps) {
                queue.extend(ds.iter().map(|d| *d as usize));
            }
            queue.extend(c.members.get(&(x as u32)).into_iter().flatten().map(|m| *m as usize));
        }
        false
    }

    /// Whether step `read` is upstream of node `node` (a step, or a group:
    /// upstream of one of its members, or a member).
    fn upstream_of_node(&self, node: usize, read: usize) -> bool {
        if node < self.steps {
            return self.is_upstream(node, read);
        }
        let mut stack = vec![node];
        let mut seen = std::collections::HashSet::new();
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            for m in self.completion.members.get(&(g as u32)).into_iter().flatten().map(|m| *m as usize) {
                if m == read || (m < self.steps && self.is_upstream(m, read)) {
                    return true;
                }
                if m >= self.steps {
                    stack.push(m);
                }
            }
        }
        false
    }

    /// Whether the completion facts are known (they are not for a graph
    /// with a cycle).
    pub fn has_completion_facts(&self) -> bool {
        !self.completion.flags.is_empty()
    }

    /// The branches with an arm to node `node` or to a group around it.
    pub fn branches_to(&self, node: usize) -> impl Iterator<Item = usize> + '_ {
        self.completion.arms_to(node)
    }

    /// Whether group node `g` has members.
    pub fn has_members(&self, g: usize) -> bool {
        self.completion.members.get(&(g as u32)).is_some_and(|m| !m.is_empty())
    }

    /// Whether a branch has an arm to step `s` or to a group around it.
    pub fn arm_targets(&self, s: usize) -> bool {
        self.completion.arms_to(s).next().is_some()
    }

    /// Whether step `s` may end without completing in a run that goes on
    /// (so a workflow output reading it may find its output empty).
    pub fn may_not_complete(&self, s: usize) -> bool {
        self.completion.has(s, MAY_NOT_COMPLETE)
    }
}

/// The rule a step's `after` is analysed as. An outcome condition is
/// analysed as `one_failed`, the rule that assumes least: it may start on
/// the first of its dependencies, after a failure, and be skipped of its own
/// whatever its dependencies do.
pub fn analysed_rule(d: &flowc_grammar::ast::Deps) -> TriggerRule {
    if d.condition.is_empty() { d.rule } else { TriggerRule::OneFailed }
}

/// The trigger rule and dependency names of a step, for checks.
pub fn deps_of(sig: &StepSig) -> (TriggerRule, &[Name]) {
    match &sig.deps {
        Some(d) => (analysed_rule(d), &d.names),
        None => (TriggerRule::AllSuccess, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::StepSet;
    use std::collections::BTreeSet;

    /// Inserts and unions agree with a plain set, and the ranges stay
    /// sorted, disjoint and apart (two adjacent ranges would be one).
    #[test]
    fn step_sets_hold_what_a_plain_set_holds() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..300 {
            let (mut ours, mut plain) = (StepSet::default(), BTreeSet::new());
            for _ in 0..rng.usize(1..40) {
                if rng.bool() {
                    let i = rng.usize(0..64);
                    ours.insert(i);
                    plain.insert(i);
                } else {
                    let mut other = StepSet::default();
                    for _ in 0..rng.usize(0..8) {
                        let i = rng.usize(0..64);
                        other.insert(i);
                        plain.insert(i);
                    }
                    ours.union_with(&other);
                }
                assert_eq!(ours.ones().collect::<BTreeSet<_>>(), plain);
                assert!(ours.ranges.windows(2).all(|w| w[0].1 < w[1].0), "{:?}", ours.ranges);
                assert!(ours.ranges.iter().all(|r| r.0 < r.1), "{:?}", ours.ranges);
                for i in 0..66 {
                    assert_eq!(ours.contains(i), plain.contains(&i), "{i} in {:?}", ours.ranges);
                }
            }
        }
    }
}
