//! The pest parser generated from `flow.pest`, and its `Rule` enum: one variant per grammar rule, named as in the grammar (`Rule::step_item`).

// pest_derive writes no doc for `Rule::all_rules` or for undocumented rules.
#![allow(missing_docs)]

/// The pest parser of `flow.pest`; [`crate::parser::parse`] drives it.
#[derive(pest_derive::Parser)]
#[grammar = "flow.pest"]
pub struct FlowParser;
