//! Quality gates' pass and fail counts, for `flowc runs stats`.

use serde::Serialize;

use super::sqlite::SqliteStore;
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

impl QualityGateCounts for SqliteStore {
    fn gate_stats(&self) -> Result<Vec<QualityGateStats>, StateError> {
        let describe = |e| super::sqlite::describe(self.path(), e);
        let mut stmt = self
            .conn_ref()
            .prepare(
                "SELECT r.workflow, e.step, SUM(e.event = 'gate_passed'), SUM(e.event = 'gate_failed') \
                 FROM step_events e JOIN workflow_runs r ON r.id = e.run_id \
                 WHERE e.event IN ('gate_passed', 'gate_failed') GROUP BY r.workflow, e.step ORDER BY r.workflow, e.step",
            )
            .map_err(describe)?;
        let rows = stmt
            .query_map([], |r| Ok(QualityGateStats { workflow: r.get(0)?, gate: r.get(1)?, passed: r.get(2)?, failed: r.get(3)? }))
            .map_err(describe)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(describe)
    }
}
