//! Governance policies, evaluated by `CHECK_POLICY`. A policy is
//! project-level and may be evaluated by steps of several workflows, so it
//! carries its own `exprs` and `templates` tables; its expressions see one
//! name, `input` (the `with` data of the `check` step).

use serde::{Deserialize, Serialize};

use crate::{ExprId, Template, TemplateId};

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
