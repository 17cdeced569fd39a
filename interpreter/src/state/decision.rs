//! Decisions on blocked steps: gate requests (`flowc approve|reject|complete`)
//! filed by any process and applied by the one executing the run (the
//! runner records the decision and the step's new status in one batch,
//! marking the request handled in the same transaction), and the blocked
//! steps of a run with what each waits for.


use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::origin::Actor;
use super::StateError;


/// What a person decides about a blocked step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateAction {
    /// Approve an approval (`flowc approve`).
    Approve,
    /// Reject an approval: the step fails (`flowc reject`).
    Reject,
    /// Complete a human task with its output (`flowc complete`).
    Complete,
}

impl GateAction {
    /// The action as stored and as typed (`approve`, `reject`, `complete`).
    pub fn as_str(self) -> &'static str {
        match self {
            GateAction::Approve => "approve",
            GateAction::Reject => "reject",
            GateAction::Complete => "complete",
        }
    }
    /// The action stored as `text`.
    pub fn parse(text: &str) -> Option<GateAction> {
        match text {
            "approve" => Some(GateAction::Approve),
            "reject" => Some(GateAction::Reject),
            "complete" => Some(GateAction::Complete),
            _ => None,
        }
    }
}

/// A decision about a blocked step, filed by `flowc approve|reject|complete`.
#[derive(Clone, Debug, Serialize)]
pub struct GateRequest {
    /// The request's id.
    pub id: i64,
    /// The run of the blocked step.
    pub run: String,
    /// The blocked step.
    pub step: String,
    /// What was decided.
    pub action: GateAction,
    /// The principal.
    pub actor: String,
    /// Everything recorded about who (none for requests of an older flowc).
    pub actor_detail: Option<Actor>,
    /// The comment given with the decision.
    pub comment: Option<String>,
    /// For `complete`: the task's output.
    pub output: Option<Value>,
    /// When it was filed (RFC 3339).
    pub requested_at: String,
    /// `applied`, or `refused: why`; none while pending.
    pub result: Option<String>,
    /// The attempt of the gate the request decides; it applies to no other.
    pub attempt: Option<u32>,
}

/// A step that is blocked, with the payload of its `blocked` event (what it waits for).
#[derive(Clone, Debug, Serialize)]
pub struct BlockedGate {
    /// The run of the blocked step.
    pub run: String,
    /// The blocked step.
    pub step: String,
    /// What it waits for: a serialized `runtime::Hold`.
    pub gate: Value,
    /// When it blocked (RFC 3339).
    pub since: String,
}

/// Decisions filed on blocked steps, and the blocked steps.
pub trait Decisions {
    /// Files a gate request and returns its id.
    #[allow(clippy::too_many_arguments)]
    fn file_gate_request(
        &mut self,
        run: &str,
        step: &str,
        attempt: u32,
        action: GateAction,
        actor: &Actor,
        comment: Option<&str>,
        output: Option<&Value>,
    ) -> Result<i64, StateError>;
    /// Unhandled requests of a run with an id above `after`, oldest first.
    fn pending_gate_requests(&self, run: &str, after: i64) -> Result<Vec<GateRequest>, StateError>;
    /// The request with id `id`.
    fn gate_request(&self, id: i64) -> Result<Option<GateRequest>, StateError>;
    /// The blocked steps of a run and what each waits for.
    fn blocked_gates(&self, run: &str) -> Result<Vec<BlockedGate>, StateError>;
}

/// What a blocked step waits for: recorded in its `blocked` event and its
/// gate row, which `resume` rebuilds it from. Who may resolve it is
/// decided in `runtime::blocking`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// `approval`, `human`, `wait`, `timer`, or `call` (a child run is blocked).
    pub gate: String,
    /// The question or task shown to whoever decides (`message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who may decide: principals and groups of `flowc.toml`; empty, anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// Whoever started the run may not decide.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distinct_from_initiator: bool,
    /// An approval a policy required (`check` steps).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub implicit: bool,
    /// For an approval a policy required: the policy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// For an approval a policy required: the rule's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For a human task: the declared output type, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_type: Option<String>,
    /// For a human task: the simplest value of the declared type, for hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_example: Option<serde_json::Value>,
    /// For a wait: the type and subject globs, rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// For a wait: the subject glob, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// For a call: the blocked child run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_run: Option<String>,
    /// When the step fails if nobody resolved it (RFC 3339); for a `timer`,
    /// its due time, when it completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// The attempt that blocked.
    #[serde(default)]
    pub attempt: u32,
}
