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
use crate::state::{NewVersion, Published};

/// `sha256:<hex>` of the plan, line numbers cleared.
///
/// The JSON is streamed into the hasher rather than built as one string, and
/// the plan is cloned (to clear its lines) only when a step has a line: for
/// a 100,000-step plan the string and the clone were the largest
/// allocations of a run's start. The bytes hashed are the same.
pub fn plan_hash(plan: &Plan) -> String {
    /// Feeds what serde_json writes to the digest.
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let cleared;
    let plan = if plan.workflows.iter().any(|wf| wf.steps.iter().any(|s| s.line != 0)) {
        let mut copy = plan.clone();
        for wf in &mut copy.workflows {
            for step in &mut wf.steps {
                step.line = 0;
            }
        }
        cleared = copy;
        &cleared
    } else {
        plan
    };
    let mut hashing = Hashing(Sha256::new());
    // Writing to the digest cannot fail, and a plan always serialises.
    let _ = serde_json::to_writer(&mut hashing, plan);
    let hex: String = hashing.0.finalize().iter().map(|b| format!("{b:02x}")).collect();
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

#[cfg(test)]
mod hash_tests {
    use super::*;

    #[test]
    fn the_streamed_hash_is_the_hash_of_the_compact_json_with_lines_cleared() {
        let text = r#"{"format_version":3,"entry":"w","workflows":[{"name":"w","templates":[{"parts":[{"text":"true"}]}],"steps":[
            {"id":0,"name":"a","kind":"run","line":7,"code":[{"op":"RENDER","template":0,"dst":"c"},{"op":"EXEC","cmd":"c"},{"op":"END"}]},
            {"id":1,"name":"b","kind":"run","after":[0],"code":[{"op":"RENDER","template":0,"dst":"c"},{"op":"EXEC","cmd":"c"},{"op":"END"}]}]}]}"#;
        let with_line = Plan::from_json(text).unwrap();
        assert_eq!(with_line.workflows[0].steps[0].line, 7);
        let mut cleared = with_line.clone();
        cleared.workflows[0].steps[0].line = 0;
        let expect = |p: &Plan| {
            let hex: String = Sha256::digest(p.to_json_compact().as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        };
        assert_eq!(plan_hash(&with_line), expect(&cleared));
        assert_eq!(plan_hash(&cleared), expect(&cleared));
        let mut moved = with_line.clone();
        moved.workflows[0].steps[1].line = 40;
        assert_eq!(plan_hash(&moved), plan_hash(&with_line));
    }
}
