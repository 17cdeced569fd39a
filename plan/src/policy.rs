//! Governance policies, evaluated by `CHECK_POLICY`. A policy is
//! project-level and may be evaluated by steps of several workflows, so it
//! carries its own `exprs` and `templates` tables; its expressions see one
//! name, `input` (the `with` data of the `check` step).

use serde::{Deserialize, Serialize};

use crate::{ExprId, Template, TemplateId};

/// A compiled `policy NAME { … }`, in the plan's `policies` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The policy's name, as `check POLICY` steps name it.
    pub name: String,
    /// `description "text"`, shown by tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// CEL over `input`; `ExprId` = index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exprs: Vec<String>,
    /// Reasons (`because "…"`), holes over `input`; `TemplateId` = index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
    /// The rules, in source order.
    pub rules: Vec<PolicyRule>,
}

/// `EFFECT when `EXPR` [because "TEMPLATE"]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// What the rule decides when it matches.
    pub effect: PolicyEffect,
    /// The condition, an index into the policy's `exprs`.
    pub when: ExprId,
    /// The reason, an index into the policy's `templates`; `None`: no reason given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub because: Option<TemplateId>,
}

/// Evaluation: any matching `deny` wins, then any `require_approval`, else allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyEffect {
    /// Fails the `check` step with the rule's reason (never retried).
    Deny,
    /// Makes the `check` step an approval gate (its implicit `APPROVAL` blocks).
    RequireApproval,
    /// Documents intent: the step passes when no deny or require_approval rule matched.
    Allow,
}

impl PolicyEffect {
    /// The effect as `.flow` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            PolicyEffect::Deny => "deny",
            PolicyEffect::RequireApproval => "require_approval",
            PolicyEffect::Allow => "allow",
        }
    }
}
