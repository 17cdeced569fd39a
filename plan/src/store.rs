//! Persistent key-value stores: the plan's `stores` table, read by
//! `READ_STORE` and written by `STORE_PUT`.

use serde::{Deserialize, Serialize};

/// A store's index in the plan's `stores` table.
pub type StoreId = u32;

/// A persistent key-value store the plan's steps read or write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreDef {
    pub name: String,
    #[serde(default)]
    pub backend: StoreBackend,
    /// A JSON Schema every stored value must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// Tables in the state database.
    #[default]
    Local,
    /// An external command speaking the store protocol (docs/runs.md).
    Command(String),
}
