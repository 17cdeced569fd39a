//! What the compiler's tests share.

/// Pathological inputs: an exact copy of the grammar's (`grammar/tests/support/shapes.rs`).
#[allow(dead_code)]
pub mod shapes;
