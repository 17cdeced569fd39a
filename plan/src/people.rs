//! The plan's tables for people and the outside world: governance policies
//! (evaluated by `CHECK_POLICY`) and the triggers that start runs.
//!
//! A policy is project-level and may be evaluated by steps of several
//! workflows, so it carries its own `exprs` and `templates` tables; its
//! expressions see one name, `input` (the `with` data of the `check` step).
//! Triggers belong to a workflow; a trigger's `filter` indexes the workflow's
//! `exprs` and sees one name, `event`.

use serde::{Deserialize, Serialize};

use super::{ExprId, Template, TemplateId};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CEL over `input`; `ExprId` = index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exprs: Vec<String>,
    /// Reasons (`because "…"`), holes over `input`; `TemplateId` = index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
    pub rules: Vec<PolicyRule>,
}

/// `EFFECT when `EXPR` [because "TEMPLATE"]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    pub effect: PolicyEffect,
    pub when: ExprId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<TemplateId>,
}

/// Evaluation: any matching `deny` wins, then any `require_approval`, else allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyEffect {
    Deny,
    RequireApproval,
    Allow,
}

impl PolicyEffect {
    pub fn keyword(self) -> &'static str {
        match self {
            PolicyEffect::Deny => "deny",
            PolicyEffect::RequireApproval => "require_approval",
            PolicyEffect::Allow => "allow",
        }
    }
}

/// What starts a run of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// `on event "TYPE" [subject "GLOB"] [where `EXPR`]`: type and subject are globs.
    Event {
        #[serde(rename = "type")]
        event_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<ExprId>,
    },
    /// `on webhook PROVIDER.ENTITY.ACTION`; each part may be a glob (`*`).
    Webhook { provider: String, entity: String, action: String },
    /// `on schedule "CRON"`: five fields, UTC.
    Schedule { cron: String },
}

impl Trigger {
    /// The `.flow` spelling, for people (filters by expr id).
    pub fn describe(&self) -> String {
        match self {
            Trigger::Event { event_type, subject, filter } => {
                let mut s = format!("on event {}", quoted(event_type));
                if let Some(sub) = subject {
                    s.push_str(&format!(" subject {}", quoted(sub)));
                }
                if let Some(f) = filter {
                    s.push_str(&format!(" where e{f}"));
                }
                s
            }
            Trigger::Webhook { provider, entity, action } => format!("on webhook {provider}.{entity}.{action}"),
            Trigger::Schedule { cron } => format!("on schedule {}", quoted(cron)),
        }
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}
