//! Lowering of spawning: the workflows a step spawns (`then spawn`,
//! `then spawn each`) and a workflow's `safety { … }` limits.


use flowc_grammar::ast::{
    self, StepStmtKind,
};
use flowc_plan::{self as adv};

use super::WorkflowLowerer;

/// Every workflow a step starts as a detached child run (`then spawn`, `then spawn each`).
pub(super) fn spawned_workflows(step: &ast::Step) -> Vec<String> {
    step.body
        .iter()
        .filter_map(|s| match &s.kind {
            StepStmtKind::Spawn { workflow, .. } | StepStmtKind::SpawnEach { workflow, .. } => Some(workflow.text.clone()),
            _ => None,
        })
        .collect()
}

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    /// `safety { … }`.
    pub(super) fn safety(&self, s: &ast::Safety) -> adv::Safety {
        let mut out = adv::Safety::default();
        for item in &s.items {
            match item {
                ast::SafetyItem::MaxSpawnedTasks(n) => out.max_spawned_tasks = Some(n.value.clamp(0, u32::MAX as i64) as u32),
                ast::SafetyItem::MaxSpawnDepth(n) => out.max_spawn_depth = Some(n.value.clamp(0, u32::MAX as i64) as u32),
                ast::SafetyItem::SpawnCooldown(d) => out.spawn_cooldown_ms = Some(d.millis),
            }
        }
        out
    }
}
