//! A step's reads and post actions: `reads` become `READ_STORE`
//! instructions before the step's work; `then put`, `then spawn`,
//! `then spawn each` and `items` become instructions after it, in the order
//! written.


use flowc_grammar::ast::StepStmtKind;
use flowc_plan as plan;

use super::{WorkflowLowerer, cel_literal};

/// The reads and post actions of a step, in the order written.
#[derive(Default)]
pub(super) struct StepParts {
    reads: Vec<StepStmtKind>,
    posts: Vec<StepStmtKind>,
}

impl StepParts {
    /// Takes the statement if it is one of ours; `false` leaves it to the caller.
    pub fn take(&mut self, kind: &StepStmtKind) -> bool {
        match kind {
            StepStmtKind::Reads { .. } => self.reads.push(kind.clone()),
            StepStmtKind::Put { .. } | StepStmtKind::Spawn { .. } | StepStmtKind::SpawnEach { .. } | StepStmtKind::Items(_) => {
                self.posts.push(kind.clone())
            }
            _ => return false,
        }
        true
    }
}

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    /// The step's code with its reads before and its post actions after.
    pub(super) fn wrap_code(&mut self, step: &str, parts: StepParts, code: Vec<plan::Instr>) -> Vec<plan::Instr> {
        let mut out = Vec::with_capacity(code.len() + parts.reads.len() + parts.posts.len() + 1);
        for r in &parts.reads {
            if let StepStmtKind::Reads { key, alias } = r
                && let Some(store) = self.store_id(step, &key.store.text) {
                    out.push(plan::Instr::ReadStore { store, key: key.key.text.clone(), name: alias.text.clone() });
                }
        }
        out.extend(code);
        for p in &parts.posts {
            match p {
                StepStmtKind::Put { key, value } => {
                    if let Some(store) = self.store_id(step, &key.store.text) {
                        let expr = self.expr(&value.text);
                        out.push(plan::Instr::StorePut { store, key: key.key.text.clone(), expr });
                    }
                }
                StepStmtKind::Spawn { workflow, inputs } => {
                    let inputs = inputs.as_ref().map(|v| self.expr(&cel_literal(v)));
                    out.push(plan::Instr::Spawn { workflow: workflow.text.clone(), inputs });
                }
                StepStmtKind::SpawnEach { list, workflow, inputs } => {
                    let list = self.expr(&list.text);
                    let inputs = inputs.as_ref().map(|v| self.expr(&cel_literal(v)));
                    out.push(plan::Instr::SpawnEach { list, workflow: workflow.text.clone(), inputs });
                }
                StepStmtKind::Items(e) => {
                    let expr = self.expr(&e.text);
                    out.push(plan::Instr::Items { expr });
                }
                _ => {}
            }
        }
        out
    }
}
