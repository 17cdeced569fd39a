//! The `.flow` interpreter: the plan format, durable run state, and the
//! runtime that executes plans.
//!
//! **Architecture Invariant:** this crate never depends on the grammar, the
//! compiler or salsa, and never parses `.flow` source. It executes a
//! [`plan::Plan`] — plain serde data with a format version — from wherever it
//! came: `flowc run plan.json`, or the compiler's lowering.
//!
//! ```no_run
//! use flowc_interpreter::{plan::Plan, runtime::{self, RunOptions}};
//! let plan = Plan::from_json(&std::fs::read_to_string("plan.json").unwrap()).unwrap();
//! let options = RunOptions::new(".flow/state.db", ".");
//! let report = runtime::run(plan, serde_json::Map::new(), &options).unwrap();
//! println!("{}", report.to_json());
//! ```

#![deny(missing_docs)]

pub mod cloudevents;
pub mod inputs;
pub mod plan;
pub mod private;
pub mod runtime;
pub mod state;
pub mod time;

pub use runtime::{run, Error, RunOptions, RunReport};
