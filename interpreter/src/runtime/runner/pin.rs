//! What a run pinned when it started, as the runner holds it: its invariants, spawn limits and protected files' fingerprints; and an invariant a step broke.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::{FailMode, Safety, ViolationAction};
use crate::state::RunPin;

/// Protected files: relative path → fingerprint.
pub(crate) type FileMap = BTreeMap<String, String>;


/// One invariant as a run pinned it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct PinnedInvariant {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The check command, rendered when the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    pub on_violation: ViolationAction,
    pub then: FailMode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protect: Vec<String>,
    /// Step names; empty: every step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at: Vec<String>,
    /// The ancestor run it was inherited from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_run: Option<String>,
}

impl PinnedInvariant {
    /// Inherited invariants apply after every step: their `at` names the
    /// steps of another workflow.
    pub(crate) fn applies_to(&self, step: &str) -> bool {
        self.from_run.is_some() || self.at.is_empty() || self.at.iter().any(|s| s == step)
    }
}

/// What a run pinned.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pinned {
    pub hash: String,
    pub invariants: Vec<PinnedInvariant>,
    pub safety: Safety,
    /// Protected files at the start.
    pub baseline: FileMap,
}

impl Pinned {
    /// Every protect glob of every invariant.
    pub fn globs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for inv in &self.invariants {
            for g in &inv.protect {
                if !out.contains(g) {
                    out.push(g.clone());
                }
            }
        }
        out
    }

    pub(crate) fn from_record(pin: RunPin) -> Pinned {
        Pinned {
            hash: pin.hash,
            invariants: serde_json::from_value(pin.invariants).unwrap_or_default(),
            safety: serde_json::from_value(pin.safety).unwrap_or_default(),
            baseline: serde_json::from_value(pin.files).unwrap_or_default(),
        }
    }
}

/// An invariant that did not hold after a step.
#[derive(Clone, Debug)]
pub(crate) struct Violation {
    pub invariant: String,
    pub action: ViolationAction,
    pub then: FailMode,
    pub reason: String,
}
