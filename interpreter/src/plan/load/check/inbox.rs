//! The loader's checks of the instructions that wait on people and the
//! outside world (`APPROVAL`, `HUMAN`, `WAIT`, `CHECK_POLICY`).

use crate::plan::{Instr, Plan, Step, Workflow};

/// Checks one instruction's operands and its place in the step's code.
pub(in crate::plan) fn check_instr(plan: &Plan, wf: &Workflow, step: &Step, pc: usize, instr: &Instr) -> Result<(), String> {
    let last_before_end = pc + 2 == step.code.len();
    match instr {
        Instr::CheckPolicy { policy, .. } => {
            if *policy as usize >= plan.policies.len() {
                return Err(format!("policy {policy} is not in the plan's {} policies", plan.policies.len()));
            }
            let rest = &step.code[pc + 1..];
            let only_gate = rest.iter().all(|i| matches!(i, Instr::End | Instr::Approval { implicit: true, .. }));
            if !only_gate {
                return Err("only an implicit APPROVAL may follow CHECK_POLICY".into());
            }
        }
        Instr::Approval { implicit: true, .. } if !step.code[..pc].iter().any(|i| matches!(i, Instr::CheckPolicy { .. })) => {
            return Err("an implicit APPROVAL needs a CHECK_POLICY before it".into());
        }
        Instr::Human { ty: Some(t), .. } if *t as usize >= wf.types.len() => {
            return Err(format!("type#{t} is not in the workflow's {} types", wf.types.len()));
        }
        _ => {}
    }
    if instr.is_blocking() && !last_before_end {
        return Err(format!("{} must be the last instruction before END", instr.opcode()));
    }
    Ok(())
}

