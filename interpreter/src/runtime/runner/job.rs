//! The run of a `for each item` group's job (docs/language.md, "A job per
//! item"): one child run per item, whose inputs are not declared inputs but
//! what the parent's step passed on ([`crate::plan::Job`]): the parent run's
//! `inputs`, the `item` and its `index`, and under `outer` the parent steps
//! the members read, as expressions see a step.

use std::collections::HashMap;

use serde_json::Value;

use crate::runtime::scope::to_cel;

/// What a job's run binds besides its own steps.
pub(crate) struct JobScope {
    /// `item`, in every member.
    pub item: cel::Value,
    /// The parent's steps the members read, by name.
    pub outer: HashMap<String, cel::Value>,
    /// `GROUP[INDEX]`: how progress lines and `flowc runs` name the job.
    pub label: String,
}

impl JobScope {
    /// Splits a job run's inputs: the scope, the parent run's inputs (what
    /// `inputs` is in the members), and the environment every member's
    /// process gets besides the inputs' (`FLOW_ITEM`, `FLOW_ITEM_INDEX`, as
    /// in a `for each item` step).
    pub fn from_inputs(job: &crate::plan::Job, given: &Value, max_env: usize) -> (JobScope, Value, Vec<(String, String)>) {
        let field = |k: &str| given.get(k).cloned().unwrap_or(Value::Null);
        let item = field("item");
        let outer = match given.get("outer") {
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect(),
            _ => HashMap::new(),
        };
        let index = given.get("index").and_then(Value::as_u64).map(|i| i as usize);
        let label = format!("{}[{}]", job.group, index.map(|i| i.to_string()).unwrap_or_default());
        let env = index.map(|i| super::exec::item_env(i, &item, max_env)).unwrap_or_default();
        let inputs = match field("inputs") {
            Value::Null => Value::Object(serde_json::Map::new()),
            v => v,
        };
        (JobScope { item: to_cel(&item), outer, label }, inputs, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_what_the_parent_passed_on() {
        let given = json!({"inputs": {"who": "ada"}, "item": {"os": "linux"}, "index": 2, "outer": {"fetch": {"output": "x", "status": "completed"}}});
        let job = crate::plan::Job { parent: "ci".into(), group: "build".into() };
        let (scope, inputs, env) = JobScope::from_inputs(&job, &given, 1 << 16);
        assert_eq!(scope.label, "build[2]");
        assert_eq!(inputs, json!({"who": "ada"}));
        assert!(scope.outer.contains_key("fetch"));
        assert_eq!(env, vec![("FLOW_ITEM_INDEX".to_string(), "2".to_string()), ("FLOW_ITEM".to_string(), r#"{"os":"linux"}"#.to_string())]);
        // An item too large for the environment is left out of it.
        let (_, _, env) = JobScope::from_inputs(&job, &json!({"item": "x".repeat(100), "index": 0}), 10);
        assert_eq!(env, vec![("FLOW_ITEM_INDEX".to_string(), "0".to_string())]);
    }
}
