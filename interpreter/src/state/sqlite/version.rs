//! [`Versions`](crate::state::Versions) on [`SqliteStore`]: the SQLite side of `state::version`.

use std::collections::HashMap;
use rusqlite::{params, OptionalExtension};
use super::{describe, SqliteStore};
use crate::state::StateError;
use crate::time;
use crate::state::version::{VersionRecord, NewVersion, Published, Versions};

impl Versions for SqliteStore {
    fn version_of(&self, workflow: &str, plan_hash: &str) -> Result<Option<i64>, StateError> {
        self.conn
            .query_row(
                "SELECT MAX(version) FROM workflow_versions WHERE workflow = ?1 AND plan_hash = ?2",
                params![workflow, plan_hash],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    fn publish(&mut self, versions: &[NewVersion], author: Option<&str>) -> Result<Vec<Published>, StateError> {
        let path = self.path().to_path_buf();
        let tx = self.write_tx()?;
        let now = time::now();
        let mut out = Vec::new();
        for v in versions {
            let latest: Option<(i64, String)> = tx
                .query_row(
                    "SELECT version, plan_hash FROM workflow_versions WHERE workflow = ?1 ORDER BY version DESC LIMIT 1",
                    [&v.workflow],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| describe(&path, e))?;
            if let Some((version, hash)) = &latest
                && *hash == v.plan_hash
            {
                out.push(Published { workflow: v.workflow.clone(), version: *version, plan_hash: hash.clone(), new: false });
                continue;
            }
            let version = latest.map_or(1, |(n, _)| n + 1);
            tx.execute(
                "INSERT INTO plans (format_version, body, created_at) VALUES (?1, ?2, ?3)",
                params![v.format_version, v.plan_json, now],
            )
            .map_err(|e| describe(&path, e))?;
            let plan_id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO workflow_versions (workflow, version, plan_hash, plan_id, author, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![v.workflow, version, v.plan_hash, plan_id, author, now],
            )
            .map_err(|e| describe(&path, e))?;
            tx.execute(
                "INSERT INTO workflow_definitions (name, description, latest_version, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) \
                 ON CONFLICT(name) DO UPDATE SET description = ?2, latest_version = ?3, updated_at = ?4",
                params![v.workflow, v.description, version, now],
            )
            .map_err(|e| describe(&path, e))?;
            out.push(Published { workflow: v.workflow.clone(), version, plan_hash: v.plan_hash.clone(), new: true });
        }
        tx.commit().map_err(|e| describe(&path, e))?;
        Ok(out)
    }

    fn versions(&self, workflow: &str) -> Result<Vec<VersionRecord>, StateError> {
        let mut counts: HashMap<i64, i64> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT o.workflow_version, count(*) FROM run_origins o JOIN workflow_runs r ON r.id = o.run_id \
                     WHERE r.workflow = ?1 AND o.workflow_version IS NOT NULL GROUP BY o.workflow_version",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt.query_map([workflow], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.err(e))?;
            for row in rows {
                let (v, n) = row.map_err(|e| self.err(e))?;
                counts.insert(v, n);
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT version, plan_hash, plan_id, author, created_at FROM workflow_versions WHERE workflow = ?1 ORDER BY version")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([workflow], |r| {
                let version: i64 = r.get(0)?;
                Ok(VersionRecord {
                    workflow: workflow.to_string(),
                    version,
                    plan_hash: r.get(1)?,
                    plan_id: r.get(2)?,
                    author: r.get(3)?,
                    created_at: r.get(4)?,
                    runs: counts.get(&version).copied().unwrap_or(0),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(e))
    }

    fn version_plan(&self, workflow: &str, version: i64) -> Result<Option<String>, StateError> {
        self.conn
            .query_row(
                "SELECT p.body FROM workflow_versions v JOIN plans p ON p.id = v.plan_id WHERE v.workflow = ?1 AND v.version = ?2",
                params![workflow, version],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}
