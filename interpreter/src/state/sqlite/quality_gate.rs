//! [`QualityGateCounts`](crate::state::QualityGateCounts) on [`SqliteStore`]: the SQLite side of `state::quality_gate`.

use super::SqliteStore;
use crate::state::StateError;
use crate::state::quality_gate::{QualityGateStats, QualityGateCounts};

impl QualityGateCounts for SqliteStore {
    fn gate_stats(&self) -> Result<Vec<QualityGateStats>, StateError> {
        let describe = |e| super::describe(self.path(), e);
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
