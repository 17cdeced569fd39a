//! Persistent key-value stores: the plan's `stores` table, read by
//! `READ_STORE` and written by `STORE_PUT`.

use serde::{Deserialize, Serialize};

/// A store's index in the plan's `stores` table.
pub type StoreId = u32;

/// A persistent key-value store the plan's steps read or write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreDef {
    /// The store's name, as `reads STORE.KEY` and `then put STORE.KEY` name it.
    pub name: String,
    /// Where the values live.
    #[serde(default)]
    pub backend: StoreBackend,
    /// A JSON Schema every stored value must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
    /// `retention { max_entries N }`: the oldest entries past N are evicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u64>,
    /// `retention { ttl D }`: entries older than this many milliseconds are evicted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

/// Where a store keeps its values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// Tables in the state database.
    #[default]
    Local,
    /// An external command speaking the store protocol (docs/runs.md).
    Command(String),
}
