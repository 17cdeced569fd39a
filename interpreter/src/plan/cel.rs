//! The CEL environment a loaded plan's expressions compile and evaluate in: the standard library, the strings extension, and the variadic `max` and `min`.

use std::sync::Arc;

/// The CEL environment every plan's expressions run in: the crate's
/// standard library (with `timestamp`, `duration` and `matches`, from its
/// `chrono` and `regex` features) and its strings extension. Together with
/// `max`/`min`, which [`cel_context`] adds to each evaluation, these are
/// the overloads of `flowc_plan::cel_functions::FUNCTIONS`, the table the
/// checker reads (`tests/cel_functions.rs` proves it overload by overload).
pub fn cel_env() -> cel::Env {
    let mut env = cel::Env::stdlib();
    // Registering a crate extension on a fresh stdlib cannot conflict.
    env.add_extension(cel::extensions::strings).expect("the strings extension registers on the stdlib");
    env
}

/// A context for one evaluation: `env` plus the variadic `max` and `min`,
/// which the crate offers only as context functions.
pub fn cel_context<'p, 'v>(env: &Arc<cel::Env>) -> cel::Context<'p, 'v> {
    let mut ctx = cel::Context::with_env(env.clone());
    // `max`/`min` are no overloads of the stdlib: adding them cannot conflict.
    ctx.add_function("max", cel::functions::max).expect("max is free in the stdlib");
    ctx.add_function("min", cel::functions::min).expect("min is free in the stdlib");
    ctx
}
