//! Published workflow versions: each workflow's compiled plans by hash.


use serde::Serialize;

use super::StateError;

/// One published version of a workflow.
#[derive(Clone, Debug, Serialize)]
pub struct VersionRecord {
    /// The workflow published.
    pub workflow: String,
    /// Its version number, from 1 per workflow.
    pub version: i64,
    /// The hash of the published plan.
    pub plan_hash: String,
    /// The stored plan.
    pub plan_id: i64,
    /// Who published it.
    pub author: Option<String>,
    /// When it was published (RFC 3339).
    pub created_at: String,
    /// Runs that recorded this version.
    pub runs: i64,
}

/// A version to publish: the workflow, its plan (compact JSON) and hash.
#[derive(Clone, Debug)]
pub struct NewVersion {
    /// The workflow to publish.
    pub workflow: String,
    /// What changed, as the publisher said.
    pub description: Option<String>,
    /// The plan's JSON.
    pub plan_json: String,
    /// The plan's format version.
    pub format_version: u32,
    /// The plan's hash.
    pub plan_hash: String,
}

/// What publishing did for one workflow.
#[derive(Clone, Debug, Serialize)]
pub struct Published {
    /// The workflow.
    pub workflow: String,
    /// The version it got (or already had).
    pub version: i64,
    /// The hash of its plan.
    pub plan_hash: String,
    /// False when the plan's hash equals the latest version's: nothing was stored.
    pub new: bool,
}

/// Published definitions of workflows.
pub trait Versions {
    /// The latest published version of `workflow` whose plan has this hash.
    fn version_of(&self, workflow: &str, plan_hash: &str) -> Result<Option<i64>, StateError>;
    /// Publishes, in one transaction, each workflow whose hash differs from its latest version.
    fn publish(&mut self, versions: &[NewVersion], author: Option<&str>) -> Result<Vec<Published>, StateError>;
    /// The published versions of `workflow`, oldest first.
    fn versions(&self, workflow: &str) -> Result<Vec<VersionRecord>, StateError>;
    /// The stored plan of a published version.
    fn version_plan(&self, workflow: &str, version: i64) -> Result<Option<String>, StateError>;
}
