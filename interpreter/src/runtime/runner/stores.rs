//! Persistent stores: `reads STORE.KEY as NAME`, `then put STORE.KEY = …`
//! and `flowc store put|get|list|delete`.
//!
//! `backend local` keeps entries in the state database (`store_entries`);
//! retention applies on every access: entries older than `ttl` are purged
//! (so never seen), and a put evicts the oldest writes past `max_entries`.
//!
//! `backend command "CMD"` runs `sh -c 'CMD OP STORE [KEY]'` in the project
//! dir (STORE and KEY shell-quoted), with `FLOW_STORE_OP`, `FLOW_STORE`,
//! `FLOW_STORE_KEY`, and the retention settings as `FLOW_STORE_MAX_ENTRIES`
//! and `FLOW_STORE_TTL_MS` (the command applies them itself):
//!
//! | OP | stdin | exit 0 and stdout |
//! |---|---|---|
//! | `get` | | the value as JSON; nothing (or only whitespace) when the key is absent |
//! | `put` | the value as JSON, one line | ignored |
//! | `delete` | | ignored; deleting an absent key is not an error |
//! | `list` | | one key per line |
//!
//! Any other exit status is an error, reported with the last line of stderr.
//! Values are validated against the store's schema before any backend sees
//! them, and redacted (`secrets`) like everything else the runtime records.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::Shared;
use crate::plan::{StoreBackend, StoreDef};
use crate::plan::table::shell_quote;
use crate::runtime::{Error, RunOptions};
use crate::state::{KvEntry, Store};

/// How long a store command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Checks a value against the store's schema; the error names the key and the first mismatch.
pub fn validate(def: &StoreDef, key: &str, value: &Value) -> Result<(), String> {
    let Some(schema) = &def.schema else { return Ok(()) };
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("store `{}` has an invalid schema: {}", def.name, e.masked()))?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .take(3)
        .map(|e| {
            let at = e.instance_path().as_str().to_string();
            if at.is_empty() { e.masked().to_string() } else { format!("at {at}: {}", e.masked()) }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("the value for `{}.{key}` does not match the store's schema: {}", def.name, problems.join("; ")))
    }
}

async fn command_op(def: &StoreDef, cmd: &str, op: &str, key: Option<&str>, stdin: Option<String>, cwd: &Path) -> Result<String, String> {
    use tokio::io::AsyncWriteExt;
    let mut line = format!("{cmd} {op} {}", shell_quote(&def.name));
    if let Some(k) = key {
        line.push(' ');
        line.push_str(&shell_quote(k));
    }
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(&line)
        .current_dir(cwd)
        .env("FLOW_STORE_OP", op)
        .env("FLOW_STORE", &def.name)
        .env("FLOW_STORE_KEY", key.unwrap_or(""))
        .env("FLOW_STORE_MAX_ENTRIES", def.max_entries.map(|n| n.to_string()).unwrap_or_default())
        .env("FLOW_STORE_TTL_MS", def.ttl_ms.map(|n| n.to_string()).unwrap_or_default())
        .stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("store `{}`: cannot start `sh -c`: {e}", def.name))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(format!("{text}\n").as_bytes()).await;
        drop(pipe);
    }
    let output = match tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(format!("store `{}`: `{line}` failed: {e}", def.name)),
        Err(_) => return Err(format!("store `{}`: `{line}` took more than {}s", def.name, COMMAND_TIMEOUT.as_secs())),
    };
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).map(|l| format!(": {}", l.trim())).unwrap_or_default();
    let status = output.status.code().map_or_else(|| "a signal".to_string(), |c| format!("status {c}"));
    Err(format!("store `{}`: `{line}` exited with {status}{last}", def.name))
}

fn parse_get(def: &StoreDef, key: &str, stdout: &str) -> Result<Option<Value>, String> {
    let text = stdout.trim();
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| format!("store `{}`: the value of `{key}` the command printed is not JSON ({e})", def.name))
}

/// The value of `STORE.KEY` for a `reads`: `null` when absent or expired.
pub(crate) async fn read(sh: &Shared, store: u32, key: &str) -> Result<Value, String> {
    // The loader checked the id.
    let Some(def) = sh.plan.plan.stores.get(store as usize) else { return Ok(Value::Null) };
    match &def.backend {
        StoreBackend::Local => {
            let entry = sh.store.borrow_mut().kv_get(&def.name, key, def.ttl_ms).map_err(|e| e.to_string())?;
            Ok(entry.map(|e| e.value).unwrap_or(Value::Null))
        }
        StoreBackend::Command(cmd) => {
            let out = command_op(def, cmd, "get", Some(key), None, &sh.options.project_dir).await?;
            Ok(parse_get(def, key, &out)?.unwrap_or(Value::Null))
        }
    }
}

/// Validates and writes `STORE.KEY` for a `then put`.
pub(crate) async fn put(sh: &Shared, run: &str, store: u32, key: &str, mut value: Value) -> Result<(), String> {
    let Some(def) = sh.plan.plan.stores.get(store as usize) else { return Ok(()) };
    sh.secrets.redact_value(&mut value);
    validate(def, key, &value)?;
    // Never hold the store across an await: other steps use it meanwhile.
    match &def.backend {
        StoreBackend::Local => {
            sh.store.borrow_mut().kv_put(&def.name, key, &value, Some(run), def.max_entries, def.ttl_ms).map_err(|e| e.to_string())
        }
        StoreBackend::Command(cmd) => {
            command_op(def, cmd, "put", Some(key), Some(value.to_string()), &sh.options.project_dir).await.map(|_| ())
        }
    }
}

// ----------------------------------------------------------- flowc store

fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Io(format!("cannot start the async runtime: {e}")))?;
    Ok(rt.block_on(f))
}

fn open(options: &RunOptions) -> Result<Box<dyn Store>, Error> {
    Ok(crate::state::open(&options.state_path, None)?)
}

/// `flowc store get STORE KEY`.
pub fn get(options: &RunOptions, def: &StoreDef, key: &str) -> Result<Option<KvEntry>, Error> {
    match &def.backend {
        StoreBackend::Local => Ok(open(options)?.kv_get(&def.name, key, def.ttl_ms)?),
        StoreBackend::Command(cmd) => {
            let out = block_on(command_op(def, cmd, "get", Some(key), None, &options.project_dir))?.map_err(Error::Run)?;
            let value = parse_get(def, key, &out).map_err(Error::Run)?;
            Ok(value.map(|value| KvEntry { key: key.to_string(), value, written_at: String::new(), run: None }))
        }
    }
}

/// `flowc store put STORE KEY VALUE`: validated against the schema first.
pub fn put_value(options: &RunOptions, def: &StoreDef, key: &str, value: &Value) -> Result<(), Error> {
    validate(def, key, value).map_err(Error::Input)?;
    match &def.backend {
        StoreBackend::Local => Ok(open(options)?.kv_put(&def.name, key, value, None, def.max_entries, def.ttl_ms)?),
        StoreBackend::Command(cmd) => {
            block_on(command_op(def, cmd, "put", Some(key), Some(value.to_string()), &options.project_dir))?.map_err(Error::Run)?;
            Ok(())
        }
    }
}

/// `flowc store delete STORE KEY`: whether the key was there (always true for a command backend).
pub fn delete(options: &RunOptions, def: &StoreDef, key: &str) -> Result<bool, Error> {
    match &def.backend {
        StoreBackend::Local => Ok(open(options)?.kv_delete(&def.name, key)?),
        StoreBackend::Command(cmd) => {
            block_on(command_op(def, cmd, "delete", Some(key), None, &options.project_dir))?.map_err(Error::Run)?;
            Ok(true)
        }
    }
}

/// `flowc store list STORE`: live entries, oldest write first (a command
/// backend gives keys only: values are `null`, times empty).
pub fn list(options: &RunOptions, def: &StoreDef) -> Result<Vec<KvEntry>, Error> {
    match &def.backend {
        StoreBackend::Local => Ok(open(options)?.kv_list(&def.name, def.ttl_ms)?),
        StoreBackend::Command(cmd) => {
            let out = block_on(command_op(def, cmd, "list", None, None, &options.project_dir))?.map_err(Error::Run)?;
            Ok(out
                .lines()
                .map(str::trim_end)
                .filter(|l| !l.is_empty())
                .map(|k| KvEntry { key: k.to_string(), value: Value::Null, written_at: String::new(), run: None })
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_errors_name_the_key_and_the_place() {
        let def = StoreDef {
            name: "context".into(),
            backend: StoreBackend::Local,
            schema: Some(json!({"type": "object", "properties": {"value": {"type": "string"}}})),
            max_entries: None,
            ttl_ms: None,
        };
        assert!(validate(&def, "k", &json!({"value": "x"})).is_ok());
        let err = validate(&def, "k", &json!({"value": 3})).unwrap_err();
        assert!(err.starts_with("the value for `context.k` does not match the store's schema: at /value: "), "{err}");
    }
}
