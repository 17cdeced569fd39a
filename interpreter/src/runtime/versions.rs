//! Definitions and versions: a workflow's compiled plan, identified by its
//! content hash, stored as a new version when the hash changes.
//!
//! The hash is SHA-256 over the plan's compact JSON with source line numbers
//! cleared, so moving a workflow in its file or editing a comment does not
//! make a new version, while any change to what runs does (steps, commands,
//! triggers, called workflows, agents, policies).

use sha2::{Digest, Sha256};

use super::{Error, RunOptions};
use crate::plan::Plan;
use crate::state::people::{NewVersion, Published};
use crate::state::PeopleStore;

/// `sha256:<hex>` of the plan, line numbers cleared.
pub fn plan_hash(plan: &Plan) -> String {
    let mut plan = plan.clone();
    for wf in &mut plan.workflows {
        for step in &mut wf.steps {
            step.line = 0;
        }
    }
    let digest = Sha256::digest(plan.to_json_compact().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Publishes each plan (whose entry is the workflow) that differs from its
/// workflow's latest version, all in one transaction, and announces each new
/// version on the events sink (`flow.definition.published`).
pub fn publish(plans: &[Plan], author: Option<&str>, options: &RunOptions) -> Result<Vec<Published>, Error> {
    let versions: Vec<NewVersion> = plans
        .iter()
        .map(|p| NewVersion {
            workflow: p.entry.clone(),
            description: p.workflow(&p.entry).and_then(|w| w.description.clone()),
            plan_json: p.to_json_compact(),
            format_version: p.format_version,
            plan_hash: plan_hash(p),
        })
        .collect();
    let mut store = super::open_store(options)?;
    let published = store.publish(&versions, author)?;
    if let Some(sink) = store.sink() {
        for p in published.iter().filter(|p| p.new) {
            sink.publish(crate::cloudevents::definition_published(&p.workflow, p.version, &p.plan_hash, author));
        }
    }
    Ok(published)
}
