//! Lowering of `select`: the `SELECT` instruction of a step that keeps the
//! best items of its output.

use std::collections::BTreeMap;

use flowc_grammar::ast::{
    self, StepStmt, StepStmtKind, ValueKind,
};
use flowc_plan as plan;
use flowc_plan::{self as adv};

use super::WorkflowLowerer;

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    /// A `select` step: one `SELECT` over the current item list.
    pub(super) fn select_code(&mut self, step: &str, body: &[StepStmt]) -> Option<Vec<plan::Instr>> {
        let mut strategy = None;
        let mut select = adv::Select { strategy: adv::Strategy::Max, metric: None, top_k: None, threshold: None, weights: BTreeMap::new(), output_type: None };
        for stmt in body {
            match &stmt.kind {
                StepStmtKind::Strategy { strategy: s, .. } => {
                    strategy = Some(match s {
                        ast::Strategy::Min => adv::Strategy::Min,
                        ast::Strategy::Max => adv::Strategy::Max,
                        ast::Strategy::Threshold => adv::Strategy::Threshold,
                        ast::Strategy::Weighted => adv::Strategy::Weighted,
                    })
                }
                StepStmtKind::Metric(m) => select.metric = Some(m.text.clone()),
                StepStmtKind::TopK(k) => select.top_k = Some(k.value.clamp(1, u32::MAX as i64) as u32),
                StepStmtKind::Threshold(t) => select.threshold = Some(t.value.value),
                StepStmtKind::Weights(w) => {
                    for f in w.as_object().unwrap_or_default() {
                        match &f.value.kind {
                            ValueKind::Number(n) => {
                                select.weights.insert(f.key.text.clone(), n.value);
                            }
                            _ => self.error(Some(step), format!("the weight of `{}` is not a number", f.key.text)),
                        }
                    }
                }
                StepStmtKind::Output(t) => select.output_type = Some(self.ty(t)),
                _ => {}
            }
        }
        let Some(strategy) = strategy else {
            self.error(Some(step), "a `select` step needs a `strategy`");
            return None;
        };
        select.strategy = strategy;
        Some(vec![plan::Instr::Select(select)])
    }
}
