//! Quality gates: a `gate` step's checks (one `GATE` instruction) and what
//! a failure does — the steps to re-run (`fix`), how many rounds, and what
//! happens after them.

use serde::{Deserialize, Serialize};

use crate::{FailMode, StepId, TemplateId};

/// What a failing gate does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityGate {
    /// `on_fail fix STEP`: the steps re-run (with everything between them and the gate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<StepId>,
    /// How many fix rounds before `on_fail` applies.
    #[serde(default)]
    pub fix_retries: u32,
    /// Pause or fail when the checks still fail; absent: the step's `on_failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<FailMode>,
    /// `flowc skip RUN STEP` may pass the gate when it paused the run.
    #[serde(default)]
    pub skippable: bool,
}

/// One check of a gate: a command, and optionally the stdout it must print.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateCheck {
    /// The command, a template of the workflow (holes shell-quoted), run through `sh -c`.
    pub template: TemplateId,
    /// The stdout (surrounding whitespace trimmed) the command must print; `None`: exit 0 suffices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}
