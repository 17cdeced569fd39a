//! Outcome conditions: a step that waits for chosen outcomes of its
//! dependencies (`after a, failed(b)`, `after succeeded(a) || skipped(b)`)
//! instead of a trigger rule. Every dependency a condition names is in the
//! step's `after` (a group: its members in `after`, the group in
//! `after_groups`); the runtime decides with three-valued logic
//! (docs/language.md, "Routing on outcomes").

use serde::{Deserialize, Serialize};

use crate::{GroupId, StepId, Workflow};

/// A condition over the outcomes of a step's dependencies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// One dependency has one outcome.
    Is {
        /// The step or group.
        dep: DepRef,
        /// The outcome asked for.
        outcome: Outcome,
    },
    /// Every term holds (`,` and `&&`).
    All(Vec<Condition>),
    /// One term holds (`||`).
    Any(Vec<Condition>),
}

/// A dependency a condition names: a step, or a group as one dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DepRef {
    /// A step of the workflow.
    Step(StepId),
    /// A group, with its one outcome (failed, skipped or completed).
    Group(GroupId),
}

/// An outcome a condition asks of a dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It completed.
    Succeeded,
    /// It ran and failed (a group: a member failed or was upstream_failed).
    Failed,
    /// It did not run because what it waits for failed.
    UpstreamFailed,
    /// It was skipped.
    Skipped,
    /// It finished, whatever its outcome.
    Done,
}

impl Outcome {
    /// The predicate as `.flow` writes it (`failed` of `failed(b)`).
    pub fn keyword(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::UpstreamFailed => "upstream_failed",
            Outcome::Skipped => "skipped",
            Outcome::Done => "done",
        }
    }
}

impl Condition {
    /// Every dependency the condition names, once each, in order.
    pub fn deps(&self) -> Vec<DepRef> {
        let mut out = Vec::new();
        self.each(&mut |dep, _| {
            if !out.contains(&dep) {
                out.push(dep);
            }
        });
        out
    }

    /// Calls `f` on every (dependency, outcome) test.
    pub fn each(&self, f: &mut dyn FnMut(DepRef, Outcome)) {
        match self {
            Condition::Is { dep, outcome } => f(*dep, *outcome),
            Condition::All(xs) | Condition::Any(xs) => xs.iter().for_each(|x| x.each(f)),
        }
    }

    /// The condition as `.flow` would write it, with names, for people
    /// (disassembly, graph edges, event reasons).
    pub fn describe(&self, wf: &Workflow) -> String {
        self.text(wf, true)
    }

    fn text(&self, wf: &Workflow, top: bool) -> String {
        match self {
            Condition::Is { dep, outcome } => format!("{}({})", outcome.keyword(), dep_name(wf, *dep)),
            Condition::All(xs) => {
                let sep = if top { ", " } else { " && " };
                let parts: Vec<String> = xs.iter().map(|x| x.text(wf, false)).collect();
                parts.join(sep)
            }
            Condition::Any(xs) => {
                let parts: Vec<String> = xs.iter().map(|x| x.text(wf, false)).collect();
                if top { parts.join(" || ") } else { format!("({})", parts.join(" || ")) }
            }
        }
    }

    /// The outcomes the condition asks of `dep`, for labelling its edge.
    pub fn outcomes_of(&self, dep: DepRef) -> Vec<Outcome> {
        let mut out = Vec::new();
        self.each(&mut |d, o| {
            if d == dep && !out.contains(&o) {
                out.push(o);
            }
        });
        out
    }
}

/// The name of a dependency, `?` for one out of range (an unloaded plan).
pub fn dep_name(wf: &Workflow, dep: DepRef) -> &str {
    match dep {
        DepRef::Step(s) => wf.steps.get(s as usize).map_or("?", |s| s.name.as_str()),
        DepRef::Group(g) => wf.groups.get(g as usize).map_or("?", |g| g.name.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_serialise_as_tagged_terms() {
        let c = Condition::All(vec![
            Condition::Is { dep: DepRef::Step(0), outcome: Outcome::Succeeded },
            Condition::Any(vec![
                Condition::Is { dep: DepRef::Step(1), outcome: Outcome::Failed },
                Condition::Is { dep: DepRef::Group(0), outcome: Outcome::UpstreamFailed },
            ]),
        ]);
        let v = serde_json::to_value(&c).expect("serialises");
        assert_eq!(
            v,
            json!({ "all": [
                { "is": { "dep": { "step": 0 }, "outcome": "succeeded" } },
                { "any": [
                    { "is": { "dep": { "step": 1 }, "outcome": "failed" } },
                    { "is": { "dep": { "group": 0 }, "outcome": "upstream_failed" } }
                ] }
            ] })
        );
        assert_eq!(serde_json::from_value::<Condition>(v).expect("loads"), c);
        assert_eq!(c.deps(), vec![DepRef::Step(0), DepRef::Step(1), DepRef::Group(0)]);
        assert_eq!(c.outcomes_of(DepRef::Step(1)), vec![Outcome::Failed]);
    }
}
