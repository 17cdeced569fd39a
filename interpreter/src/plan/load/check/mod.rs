//! The loader's checks and indexes, one module per concept. Whatever passes
//! here the runtime may index without checking.

pub(super) mod inbox;
pub(super) mod invariant;
pub(super) mod items;
pub(in crate::plan) mod policy;
pub(super) mod quality_gate;
pub(super) mod secret;
pub(super) mod step_code;
pub(super) mod store;
#[cfg(test)]
mod tests;
pub(super) mod trigger;
