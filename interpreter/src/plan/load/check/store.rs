//! The loader's checks of the plan's store table.

use std::collections::HashSet;

use crate::plan::{Plan, PlanError, StoreDef};

/// Store names are unique, `max_entries` is at least 1, a schema is a valid JSON Schema.
pub(in crate::plan) fn check_stores(plan: &Plan) -> Result<(), PlanError> {
    let mut names = HashSet::new();
    for StoreDef { name, schema, max_entries, .. } in &plan.stores {
        if !names.insert(name.as_str()) {
            return Err(PlanError::new(format!("the plan has two stores named `{name}`")));
        }
        if *max_entries == Some(0) {
            return Err(PlanError::new(format!("store `{name}`: max_entries must be at least 1")));
        }
        if let Some(schema) = schema {
            jsonschema::validator_for(schema).map_err(|e| PlanError::new(format!("store `{name}`: invalid JSON Schema: {}", e.masked())))?;
        }
    }
    Ok(())
}
