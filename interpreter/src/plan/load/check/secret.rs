//! The loader's checks of secrets: the plan's secret table and the secret
//! env of agents and steps (variable names, references into the table).

use crate::plan::{Plan, PlanError, Secret, Step};

/// A name `setenv` accepts.
fn env_name_ok(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}

/// Every secret has a source; agents' secret env is well-formed.
pub(in crate::plan) fn check_secrets(plan: &Plan) -> Result<(), PlanError> {
    for Secret { name, arg, .. } in &plan.secrets {
        if arg.is_empty() || arg.contains('\0') {
            return Err(PlanError::new(format!("secret `{name}` has no source")));
        }
    }
    for agent in &plan.agents {
        for e in &agent.secret_env {
            if !env_name_ok(&e.name) {
                return Err(PlanError::new(format!("agent `{}`: `{}` is not an environment variable name", agent.name, e.name)));
            }
            if e.secret as usize >= plan.secrets.len() {
                return Err(PlanError::new(format!("agent `{}`: env {} refers to secret#{}, but the plan has {} secrets", agent.name, e.name, e.secret, plan.secrets.len())));
            }
        }
    }
    Ok(())
}

/// A step's secret env: variable names, no variable set twice, references into the table.
pub(in crate::plan) fn check_secret_env(plan: &Plan, step: &Step) -> Result<(), PlanError> {
    let at = |msg: String| PlanError::new(format!("step `{}`: {msg}", step.name));
    for e in &step.secret_env {
        if !env_name_ok(&e.name) {
            return Err(at(format!("`{}` is not an environment variable name", e.name)));
        }
        if step.env.iter().any(|b| b.name == e.name) {
            return Err(at(format!("sets the environment variable `{}` twice", e.name)));
        }
        if e.secret as usize >= plan.secrets.len() {
            return Err(at(format!("env {} refers to secret#{}, but the plan has {} secrets", e.name, e.secret, plan.secrets.len())));
        }
    }
    Ok(())
}
