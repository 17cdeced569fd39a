//! Lowering of quality gates: a `gate` step's checks become one `GATE`
//! instruction and its `on_fail` the step's `QualityGate`. An
//! `on_fail fix GROUP` target re-runs every step of the group; `on_fail fix
//! … retry N` without `then` fails the run (docs/language.md, choice 16).


use flowc_grammar::ast::{
    FailMode, OnFail, StepStmt, StepStmtKind,
};
use flowc_plan as plan;
use flowc_plan::{self as adv};

use super::WorkflowLowerer;

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    /// A `gate` step: its checks, and its failure policy.
    pub(super) fn gate_code(&mut self, step: &str, body: &[StepStmt]) -> Option<(Vec<plan::Instr>, adv::QualityGate)> {
        let mut checks = Vec::new();
        let mut gate = adv::QualityGate::default();
        for stmt in body {
            match &stmt.kind {
                StepStmtKind::Check(c) => {
                    let template = self.template(&c.command, true);
                    checks.push(adv::GateCheck { template, expect: c.expect.as_ref().map(|e| e.value.clone()) });
                }
                StepStmtKind::OnFail(OnFail::Fix { step: target, retries, then }) => {
                    gate.fix = self.dep_ids(&target.text);
                    if gate.fix.is_empty() {
                        self.error(Some(step), format!("`on_fail fix` names `{}`, which is not a step or group", target.text));
                    }
                    gate.fix_retries = retries.value.clamp(0, u32::MAX as i64) as u32;
                    gate.on_fail = Some(match then.map(|(m, _)| m) {
                        Some(FailMode::Pause) => adv::FailMode::Pause,
                        Some(FailMode::Fail) | None => adv::FailMode::Fail,
                    });
                }
                StepStmtKind::OnFail(OnFail::Mode { mode, .. }) => {
                    gate.on_fail = Some(match mode {
                        FailMode::Pause => adv::FailMode::Pause,
                        FailMode::Fail => adv::FailMode::Fail,
                    })
                }
                StepStmtKind::Skippable => gate.skippable = true,
                _ => {}
            }
        }
        if checks.is_empty() {
            self.error(Some(step), "a `gate` step needs at least one `check`");
            return None;
        }
        Some((vec![plan::Instr::Gate { checks }], gate))
    }
}
