//! Outcome conditions (`after a, failed(b)`): a trigger rule written among
//! their terms (E0311), an outcome a dependency can never have (E0312), a
//! condition no outcomes can make true (E0313), a test written twice (W0110).
//! Runs for a step's own `after` and for a group's.

use std::collections::{BTreeMap, HashMap};

use flowc_grammar::ast::{Cond, Deps, Outcome, Span, StepKind, TriggerRule};

use crate::codes::Code;
use crate::graph::{WorkflowGraph, analysed_rule};
use crate::model::GroupSig;
use crate::pending::{Loc, Pending};

/// The outcomes a dependency can end with, as the runtime counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    Succeeded,
    Failed,
    UpstreamFailed,
    Skipped,
}

const ENDS: [End; 4] = [End::Succeeded, End::Failed, End::UpstreamFailed, End::Skipped];

fn holds(outcome: Outcome, end: End) -> bool {
    match outcome {
        Outcome::Succeeded => end == End::Succeeded,
        Outcome::Failed => end == End::Failed,
        Outcome::UpstreamFailed => end == End::UpstreamFailed,
        Outcome::Skipped => end == End::Skipped,
        Outcome::Done => true,
    }
}

/// Checks the condition of `deps`, the `after` of graph node `node` (a step,
/// or a group), whose diagnostics go to `at`.
pub(super) fn check<'db>(
    graph: &WorkflowGraph,
    groups: &HashMap<&str, &GroupSig>,
    node: usize,
    deps: &Deps,
    at: &dyn Fn(Span) -> Loc<'db>,
    out: &mut Vec<Pending<'db>>,
) {
    if deps.condition.is_empty() {
        return;
    }
    let mut rules = false;
    for term in &deps.condition {
        term.visit(&mut |c| {
            if let Cond::Rule { rule, names, span } = c {
                rules = true;
                let listed: Vec<&str> = names.iter().map(|n| n.text.as_str()).collect();
                out.push(
                    Pending::new(
                        Code::RuleInCondition,
                        at(*span),
                        format!("the trigger rule `{}({})` is written among the terms of an outcome condition", rule.keyword(), listed.join(", ")),
                    )
                    .label("a rule inside a condition")
                    .help(format!(
                        "an `after` is one trigger rule or one condition: write the rule alone, or its meaning as outcomes ({})",
                        rule_as_condition(*rule, &listed)
                    )),
                );
            }
        });
    }
    if rules {
        return;
    }
    // Each dependency's possible ends, and the tests that ask for one it cannot have.
    let mut possible: BTreeMap<&str, Vec<End>> = BTreeMap::new();
    let mut seen: Vec<(&str, Outcome)> = Vec::new();
    let mut impossible = false;
    for term in &deps.condition {
        for (name, outcome, span) in term.outcomes() {
            let Some(&d) = graph.by_name.get(&name.text) else { return }; // unknown: E0203
            if seen.contains(&(name.text.as_str(), outcome)) {
                out.push(
                    Pending::new(Code::RepeatedOutcome, at(span), format!("`{}({})` is tested twice in this condition", outcome.keyword(), name.text))
                        .label("tested before")
                        .help("remove one of the two tests; the condition means the same"),
                );
            } else {
                seen.push((name.text.as_str(), outcome));
            }
            let ends = possible.entry(name.text.as_str()).or_insert_with(|| ends_of(graph, groups, node, d));
            if ends.is_empty() {
                impossible = true;
                out.push(
                    Pending::new(Code::OutcomeNeverHappens, at(span), format!("group `{}` has no steps, so it has no outcome to test", name.text))
                        .label("an empty group")
                        .help("give the group a step, or name another dependency"),
                );
                continue;
            }
            if !ends.iter().any(|e| holds(outcome, *e)) {
                impossible = true;
                let (why, fix) = why_never(graph, d, outcome);
                out.push(
                    Pending::new(Code::OutcomeNeverHappens, at(span), format!("`{}` can never be {}: {why}", name.text, word(outcome)))
                        .label("never happens")
                        .help(fix),
                );
            }
        }
    }
    if impossible {
        return;
    }
    // Whether some ends of the dependencies make the condition true: at most
    // 4^n assignments, n distinct dependencies (bounded: more than 8 are not tried).
    let names: Vec<&str> = possible.keys().copied().collect();
    if names.len() > 8 {
        return;
    }
    let mut pick = vec![0usize; names.len()];
    loop {
        let end_of = |n: &str| names.iter().position(|x| *x == n).map(|i| possible[names[i]][pick[i]]);
        if deps.condition.iter().all(|t| eval(t, &end_of)) {
            return;
        }
        // The next assignment.
        let mut k = 0;
        loop {
            if k == names.len() {
                let sig = if node < graph.steps { &graph.sigs[node].name.text } else { &graph.nodes[node].name };
                out.push(
                    Pending::new(
                        Code::ConditionNeverHolds,
                        at(deps.span),
                        format!("`{sig}` can never run: no outcomes of {} make `{}` true", listed(&names), deps.condition_text()),
                    )
                    .label("never true")
                    .help("a dependency has one outcome: `succeeded(a) && failed(a)` is never true; write `||` where either outcome will do"),
                );
                return;
            }
            pick[k] += 1;
            if pick[k] < possible[names[k]].len() {
                break;
            }
            pick[k] = 0;
            k += 1;
        }
    }
}

fn eval(c: &Cond, end_of: &dyn Fn(&str) -> Option<End>) -> bool {
    match c {
        Cond::Outcome { outcome, name, .. } => end_of(&name.text).is_some_and(|e| holds(*outcome, e)),
        Cond::And(xs, _) => xs.iter().all(|x| eval(x, end_of)),
        Cond::Or(xs, _) => xs.iter().any(|x| eval(x, end_of)),
        Cond::Paren(x, _) => eval(x, end_of),
        Cond::Rule { .. } => true,
    }
}

/// What node `d`, a dependency of `node`, can end as.
fn ends_of(graph: &WorkflowGraph, groups: &HashMap<&str, &GroupSig>, node: usize, d: usize) -> Vec<End> {
    if d >= graph.steps {
        // A group: failed, skipped or completed, never upstream_failed.
        if !graph.has_members(d) {
            return Vec::new();
        }
        return vec![End::Succeeded, End::Failed, End::Skipped];
    }
    ENDS.into_iter()
        .filter(|e| match e {
            End::Succeeded => true,
            End::Failed => !never_fails(graph, d),
            End::UpstreamFailed => may_be_upstream_failed(graph, groups, d),
            // Without completion facts (a cycle), assume it may.
            End::Skipped => {
                !graph.has_completion_facts() || graph.may_not_complete(d) || graph.branches_to(node).any(|b| b == d)
            }
        })
        .collect()
}

/// A `notify` step never fails: a sink that fails is logged, and the step
/// completes (docs/language.md).
fn never_fails(graph: &WorkflowGraph, d: usize) -> bool {
    matches!(graph.sigs[d].kind, StepKind::Notify)
}

/// Whether step `d` can end upstream_failed: only by waiting for something
/// (its own `after` or a group's around it) under a rule that becomes
/// upstream_failed (all_success, one_success, none_failed,
/// none_failed_min_one_success, or a condition).
fn may_be_upstream_failed(graph: &WorkflowGraph, groups: &HashMap<&str, &GroupSig>, d: usize) -> bool {
    let sig = &graph.sigs[d];
    let can = |deps: &Deps| {
        !deps.names.is_empty()
            && matches!(
                analysed_rule(deps),
                TriggerRule::AllSuccess | TriggerRule::OneSuccess | TriggerRule::NoneFailed | TriggerRule::NoneFailedMinOneSuccess
            )
            || !deps.condition.is_empty()
    };
    sig.deps.as_deref().is_some_and(can) || sig.groups.iter().filter_map(|g| groups.get(g.as_str())).any(|g| g.deps.as_ref().is_some_and(can))
}

fn word(o: Outcome) -> &'static str {
    match o {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::UpstreamFailed => "upstream_failed",
        Outcome::Skipped => "skipped",
        Outcome::Done => "done",
    }
}

/// Why node `d` never has `outcome`, and how to fix the condition.
fn why_never(graph: &WorkflowGraph, d: usize, outcome: Outcome) -> (String, String) {
    let name = &graph.nodes[d].name;
    match outcome {
        Outcome::Failed => (
            "a `notify` step never fails (a sink that fails is logged, and the step completes)".into(),
            format!("test another outcome of `{name}`, or name the step whose failure matters"),
        ),
        Outcome::UpstreamFailed if d >= graph.steps => (
            "a group is failed when a member failed or was upstream_failed, never upstream_failed itself".into(),
            format!("write `failed({name})`"),
        ),
        Outcome::UpstreamFailed => (
            format!("`{name}` waits for nothing that can make it upstream_failed (no `after`, or a rule such as `all_done` that runs or skips it)"),
            format!("test `failed({name})` or `skipped({name})`, or give `{name}` the dependencies that matter"),
        ),
        _ => (
            "it has no `when` or `skip_on_exit`, no branch may pass it by, and nothing it waits for passes a skip on".into(),
            format!("give `{name}` a `when`, or test `failed({name})` or `done({name})`"),
        ),
    }
}

fn listed(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// A rule's meaning as a condition, where it has a simple one.
fn rule_as_condition(rule: TriggerRule, names: &[&str]) -> String {
    let each = |p: &str, op: &str| names.iter().map(|n| if p.is_empty() { n.to_string() } else { format!("{p}({n})") }).collect::<Vec<_>>().join(op);
    match rule {
        TriggerRule::AllSuccess => format!("`{}`", each("", ", ")),
        TriggerRule::OneSuccess => format!("`{}`", each("", " || ")),
        TriggerRule::AllDone => format!("`{}`", each("done", ", ")),
        TriggerRule::AllSkipped => format!("`{}`", each("skipped", ", ")),
        TriggerRule::OneFailed => {
            format!("`{}`", names.iter().map(|n| format!("failed({n}) || upstream_failed({n})")).collect::<Vec<_>>().join(" || "))
        }
        _ => format!("see `flowc explain E0311` for `{}`", rule.keyword()),
    }
}
