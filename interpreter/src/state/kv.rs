//! Persistent key-value stores: the entries steps `put` and `reads`, with
//! their retention. Entries are not run history: `kv_put` commits on its
//! own (with the retention it triggers), when the step that puts has
//! succeeded.

use serde::Serialize;

use super::StateError;

/// One entry of a store.
#[derive(Clone, Debug, Serialize)]
pub struct KvEntry {
    /// The entry's key.
    pub key: String,
    /// The entry's value, valid against the store's schema when it was written.
    pub value: serde_json::Value,
    /// When it was last written (RFC 3339).
    pub written_at: String,
    /// The run whose step put it (none: `flowc store put`).
    pub run: Option<String>,
}

/// The entries of the project's persistent stores.
pub trait KeyValues {
    /// The value of a key, unless absent or older than `ttl_ms` (expired
    /// entries of the store are purged first).
    fn kv_get(&mut self, store: &str, key: &str, ttl_ms: Option<u64>) -> Result<Option<KvEntry>, StateError>;
    /// Writes a key, then applies retention: entries older than `ttl_ms` and
    /// the oldest writes past `max_entries` are removed.
    fn kv_put(
        &mut self,
        store: &str,
        key: &str,
        value: &serde_json::Value,
        run: Option<&str>,
        max_entries: Option<u64>,
        ttl_ms: Option<u64>,
    ) -> Result<(), StateError>;
    /// Removes a key; `false` when it was not there.
    fn kv_delete(&mut self, store: &str, key: &str) -> Result<bool, StateError>;
    /// Every live entry, oldest write first.
    fn kv_list(&mut self, store: &str, ttl_ms: Option<u64>) -> Result<Vec<KvEntry>, StateError>;
}
