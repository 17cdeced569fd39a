//! Who or what started a run (initiator, trigger, version), and who acts:
//! the [`Actor`] of a decision.


use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StateError;

/// Who or what started a run, and from which definition.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunOrigin {
    /// `--as`, `FLOW_USER` or `$USER` for runs started by a person; none for triggers.
    pub initiator: Option<String>,
    /// `manual`, `event`, `webhook`, `schedule` or `call`.
    pub trigger: String,
    /// What fired: the event id and type, the cron expression, the parent run…
    pub detail: Value,
    /// The published version whose plan this run executes, if any.
    pub version: Option<i64>,
    /// `sha256:…` of the plan (see `runtime::versions::plan_hash`).
    pub plan_hash: String,
}

impl RunOrigin {
    /// The origin of a run started by hand (`flowc run`), by `initiator`.
    pub fn manual(initiator: Option<String>) -> RunOrigin {
        RunOrigin { initiator, trigger: "manual".into(), detail: Value::Null, version: None, plan_hash: String::new() }
    }
}

/// Who decides, and how they reached flowc: recorded with every decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The operating-system user (command line) or the token's principal (HTTP).
    pub principal: String,
    /// `--as` / `on_behalf_of`: recorded, never checked against approvers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    /// The API token's id (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The client's address (HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// `cli` or `http`.
    pub via: String,
}

impl Actor {
    /// "ann", or "ann (on behalf of bob)".
    pub fn describe(&self) -> String {
        match &self.on_behalf_of {
            Some(b) => format!("{} (on behalf of {b})", self.principal),
            None => self.principal.clone(),
        }
    }

    /// What an event records about the actor besides `by`.
    pub fn detail(&self) -> super::payload::ActorDetail {
        super::payload::ActorDetail {
            on_behalf_of: self.on_behalf_of.clone(),
            token: self.token.clone(),
            address: self.address.clone(),
            via: self.via.clone(),
        }
    }
}

/// Where each run came from.
pub trait Origins {
    /// Records a run's origin once (a later call for the same run is ignored).
    fn put_origin(&mut self, run: &str, origin: &RunOrigin) -> Result<(), StateError>;
    /// How `run` was started, if recorded.
    fn origin(&self, run: &str) -> Result<Option<RunOrigin>, StateError>;
}
