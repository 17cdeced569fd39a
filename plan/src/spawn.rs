//! Spawn limits: a workflow's `safety { … }` block, enforced when a step
//! spawns child runs (`SPAWN`, `SPAWN_EACH`).

use serde::{Deserialize, Serialize};

/// `safety { … }`: limits on spawning, enforced when a step spawns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Safety {
    /// `max_spawned_tasks N`: the child runs one run may spawn; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_spawned_tasks: Option<u32>,
    /// `max_spawn_depth N`: how deep parent → child → grandchild may go; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_spawn_depth: Option<u32>,
    /// `spawn_cooldown D`: the minimum milliseconds between spawn bursts; `None`: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_cooldown_ms: Option<u64>,
}

impl Safety {
    /// The stricter of two sets of limits (a spawned child inherits its parent's).
    pub fn strictest(&self, other: &Safety) -> Safety {
        fn min<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        fn max<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        }
        Safety {
            max_spawned_tasks: min(self.max_spawned_tasks, other.max_spawned_tasks),
            max_spawn_depth: min(self.max_spawn_depth, other.max_spawn_depth),
            spawn_cooldown_ms: max(self.spawn_cooldown_ms, other.spawn_cooldown_ms),
        }
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.max_spawned_tasks.is_none() && self.max_spawn_depth.is_none() && self.spawn_cooldown_ms.is_none()
    }
}
