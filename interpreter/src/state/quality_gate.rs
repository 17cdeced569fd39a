//! Quality gates' pass and fail counts, for `flowc runs stats`.

use serde::Serialize;

use super::StateError;

/// Per gate: how often its checks passed and failed.
#[derive(Clone, Debug, Serialize)]
pub struct QualityGateStats {
    /// The workflow of the gate.
    pub workflow: String,
    /// The `gate` step.
    pub gate: String,
    /// How many of its evaluations passed.
    pub passed: i64,
    /// How many failed.
    pub failed: i64,
}

/// How often each quality gate passed and failed.
pub trait QualityGateCounts {
    /// Pass and fail counts of every `gate` step that was evaluated.
    fn gate_stats(&self) -> Result<Vec<QualityGateStats>, StateError>;
}
