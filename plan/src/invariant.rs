//! Invariants: checks run after every completed step (or only after the
//! steps in `at`), and the hash a run pins its workflow's invariants under.

use serde::{Deserialize, Serialize};

use crate::{StepId, TemplateId};

/// A workflow's `invariant NAME { … }`, pinned when a run starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invariant {
    /// The invariant's name, unique within its workflow.
    pub name: String,
    /// `description "text"`, shown by tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The check command; `None`: only `protect` globs are watched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<InvariantCheck>,
    /// What a violation does.
    #[serde(default)]
    pub on_violation: ViolationAction,
    /// After a rollback: pause the run (default) or fail it.
    #[serde(default, skip_serializing_if = "is_pause")]
    pub then: FailMode,
    /// File globs fingerprinted when the run starts; a change to one is a violation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protect: Vec<String>,
    /// Checked after these steps only; empty: after every step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at: Vec<StepId>,
}

fn is_pause(m: &FailMode) -> bool {
    *m == FailMode::Pause
}

/// An invariant's `check "cmd" [expect "out"]`: holds when the command exits 0 (and prints `expect`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvariantCheck {
    /// The command, a template of the workflow (holes shell-quoted).
    pub template: TemplateId,
    /// The stdout (surrounding whitespace trimmed) that means the invariant holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

/// What an invariant's violation does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationAction {
    /// Stop the run (the default).
    #[default]
    Abort,
    /// Record a warning and go on.
    Warn,
    /// Restore the last checkpoint (state and protected files), then pause or fail.
    Rollback,
}

impl ViolationAction {
    /// The action as `on_violation` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            ViolationAction::Abort => "abort",
            ViolationAction::Warn => "warn",
            ViolationAction::Rollback => "rollback",
        }
    }
}

/// What happens when a fix loop or a rollback is done: pause the run or fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Pause the run for a person (the default).
    #[default]
    Pause,
    /// Fail the step or the run.
    Fail,
}

impl FailMode {
    /// The mode as `.flow` writes it (`then pause`).
    pub fn keyword(self) -> &'static str {
        match self {
            FailMode::Pause => "pause",
            FailMode::Fail => "fail",
        }
    }
}

/// A 64-bit FNV-1a hash, in hex: stable across builds and platforms, for
/// change detection (pinned invariants, file fingerprints), not security.
pub fn fnv1a_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A template as `.flow` text: literal parts as written (`$` doubled), holes as `${expr}`.
pub fn template_text(wf: &crate::Workflow, t: TemplateId) -> String {
    let mut out = String::new();
    if let Some(t) = wf.templates.get(t as usize) {
        for part in &t.parts {
            match part {
                crate::Part::Text(text) => out.push_str(&text.replace('$', "$$")),
                crate::Part::Hole(h) => {
                    out.push_str("${");
                    out.push_str(wf.exprs.get(h.expr as usize).map_or("", String::as_str));
                    out.push('}');
                }
            }
        }
    }
    out
}

/// The hash a run pins its workflow's invariants under: FNV-1a over a
/// canonical JSON form (check commands as template text, `at` as step
/// names), so a plan compiled from changed source can be compared with it.
pub fn invariants_hash(wf: &crate::Workflow) -> String {
    let list: Vec<serde_json::Value> = wf
        .invariants
        .iter()
        .map(|inv| {
            serde_json::json!({
                "name": inv.name,
                "check": inv.check.as_ref().map(|c| template_text(wf, c.template)),
                "expect": inv.check.as_ref().and_then(|c| c.expect.clone()),
                "on_violation": inv.on_violation.keyword(),
                "then": inv.then.keyword(),
                "protect": inv.protect,
                "at": inv.at.iter().map(|s| wf.steps.get(*s as usize).map_or("", |st| st.name.as_str())).collect::<Vec<_>>(),
            })
        })
        .collect();
    fnv1a_hex(serde_json::Value::Array(list).to_string().as_bytes())
}
