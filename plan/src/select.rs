//! Selection: `SELECT`, which keeps the best items of a step's output by a
//! strategy (min, max, threshold, weighted).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How `SELECT` ranks and keeps items (docs/language.md, "Step statements").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Lowest `metric` first; keeps one item unless `top_k` says otherwise.
    Min,
    /// Highest `metric` first; keeps one item unless `top_k` says otherwise.
    Max,
    /// Items whose `metric` is at least `threshold`, highest first.
    Threshold,
    /// Items ranked by the weighted sum of their fields (`weights`), at least `threshold` when given.
    Weighted,
}

impl Strategy {
    /// The strategy as `strategy` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            Strategy::Min => "min",
            Strategy::Max => "max",
            Strategy::Threshold => "threshold",
            Strategy::Weighted => "weighted",
        }
    }
}

/// The operands of `SELECT`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    /// How items are ranked.
    pub strategy: Strategy,
    /// The item field compared (`min`, `max`, `threshold`); for `weighted`, the tie-breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// At most this many items are kept; `None`: one for `min`/`max`, every qualifying item otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// The lowest score kept (required by `threshold`, optional for `weighted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The weight of each item field (`weighted`); empty for other strategies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, f64>,
    /// The step's declared output type, which the kept items must match.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub output_type: Option<crate::TypeId>,
}
