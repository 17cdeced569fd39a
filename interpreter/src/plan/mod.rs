//! The plan format lives in the `flowc-plan` crate (shared with the
//! compiler's lowering); this module re-exports it and adds the loader, which
//! validates a plan and compiles its CEL once before the runtime uses it.

pub use flowc_plan::*;

pub mod cel;
pub mod load;
pub mod schedule;

pub use load::{LoadedPlan, LoadedWorkflow};
pub use load::check::policy::LoadedPolicy;
