//! Lowering of invariants. `on_violation rollback` without `then` pauses
//! the run (docs/language.md, choice 17).


use flowc_grammar::ast::{
    self, FailMode, InvariantStmtKind, ViolationAction,
};
use flowc_plan::{self as adv};

use super::WorkflowLowerer;

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    /// `invariant NAME { … }`.
    pub(super) fn invariant(&mut self, inv: &ast::Invariant) -> adv::Invariant {
        let mut out = adv::Invariant {
            name: inv.name.text.clone(),
            description: None,
            check: None,
            on_violation: adv::ViolationAction::Abort,
            then: adv::FailMode::Pause,
            protect: Vec::new(),
            at: Vec::new(),
        };
        for stmt in &inv.body {
            match &stmt.kind {
                InvariantStmtKind::Description(d) => out.description = Some(d.value.clone()),
                InvariantStmtKind::Check(c) => {
                    let template = self.template(&c.command, true);
                    out.check = Some(adv::InvariantCheck { template, expect: c.expect.as_ref().map(|e| e.value.clone()) });
                }
                InvariantStmtKind::OnViolation { action, then, .. } => {
                    out.on_violation = match action {
                        ViolationAction::Abort => adv::ViolationAction::Abort,
                        ViolationAction::Warn => adv::ViolationAction::Warn,
                        ViolationAction::Rollback => adv::ViolationAction::Rollback,
                    };
                    out.then = match then.map(|(m, _)| m) {
                        Some(FailMode::Fail) => adv::FailMode::Fail,
                        Some(FailMode::Pause) | None => adv::FailMode::Pause,
                    };
                }
                InvariantStmtKind::Protect(globs) => out.protect.extend(globs.iter().map(|g| g.value.clone())),
                InvariantStmtKind::At(names) => {
                    for n in names {
                        let ids = self.dep_ids(&n.text);
                        if ids.is_empty() {
                            self.error(None, format!("invariant `{}`: `at` names `{}`, which is not a step", inv.name.text, n.text));
                        }
                        out.at.extend(ids);
                    }
                }
            }
        }
        out.at.sort_unstable();
        out.at.dedup();
        out
    }
}
