//! What the grammar's tests share.

/// Pathological inputs (also read by the compiler's `deep_input` test).
pub mod shapes;
