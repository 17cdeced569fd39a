//! The jobs of a run's `for each item` groups, as `flowc runs show` and
//! `flowc runs logs` present them (docs/language.md, "A job per item").
//!
//! Each item's job is a child run of the group's job workflow, found by
//! its parent step `GROUP[INDEX]`; its steps are named `GROUP[INDEX].STEP`
//! here, as in the progress lines.

use flowc_interpreter::runtime::{RunReport, StepReport};
use flowc_interpreter::state::{RunRecord, Store};
use serde_json::{json, Value};

use crate::{usage, Failure};

/// One item's job.
pub struct ItemJob {
    /// The group (the parent's step).
    pub group: String,
    pub index: usize,
    pub run: RunRecord,
    pub steps: Vec<StepReport>,
}

impl ItemJob {
    /// `build[0]`.
    pub fn label(&self) -> String {
        format!("{}[{}]", self.group, self.index)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "step": self.group,
            "item": self.index,
            "run": self.run.id,
            "status": self.run.status,
            "error": self.run.error,
            "steps": self.steps.iter().map(|s| json!({
                "name": s.name, "status": s.status, "attempts": s.attempts, "output": s.output, "error": s.error,
            })).collect::<Vec<_>>(),
        })
    }
}

/// The item jobs of `run` (of workflow `workflow`), by group then index.
pub fn item_jobs(store: &dyn Store, run: &str, workflow: &str) -> Result<Vec<ItemJob>, Failure> {
    let mut jobs = Vec::new();
    for child in store.children(run).map_err(usage)? {
        if child.spawn_key.is_some() {
            continue;
        }
        let Some((group, index)) = child.run.parent_step.as_deref().and_then(split_label) else { continue };
        if child.run.workflow != flowc_interpreter::plan::job_workflow_name(workflow, group) {
            continue;
        }
        let (group, index) = (group.to_string(), index);
        let report = RunReport::load(store, &child.run.id).map_err(usage)?;
        jobs.push(ItemJob { group, index, run: child.run, steps: report.steps });
    }
    jobs.sort_by(|a, b| (a.group.as_str(), a.index).cmp(&(b.group.as_str(), b.index)));
    Ok(jobs)
}

/// `build[3]` → (`build`, 3).
fn split_label(label: &str) -> Option<(&str, usize)> {
    let (group, rest) = label.split_once('[')?;
    let index = rest.strip_suffix(']')?.parse().ok()?;
    Some((group, index))
}

/// `build[3].compile` → (`build`, 3, `compile`).
pub fn split_step(name: &str) -> Option<(&str, usize, &str)> {
    let end = name.find("].")?;
    let (group, index) = split_label(&name[..=end])?;
    Some((group, index, &name[end + 2..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_group_index_and_step() {
        assert_eq!(split_label("build[3]"), Some(("build", 3)));
        assert_eq!(split_label("build"), None);
        assert_eq!(split_label("build[x]"), None);
        assert_eq!(split_step("build[3].compile"), Some(("build", 3, "compile")));
        assert_eq!(split_step("build.compile"), None);
        assert_eq!(split_step("build[-1].compile"), None);
    }
}
