//! A small YAML writer for JSON values (`flowc export --format yaml`,
//! `flowc describe`).
//!
//! Written by hand rather than pulling in a YAML library: we only ever
//! *write* YAML, from `serde_json::Value`s, and block style with plain or
//! double-quoted scalars covers all of it. A string is written plain only
//! when YAML would read it back as that same string; otherwise it is
//! double-quoted with JSON's escapes, which YAML's double-quoted style
//! reads identically.

use serde_json::Value;

/// The documents, separated by `---`.
pub fn documents(values: &[Value]) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(v));
    }
    out
}

/// One document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => object(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => array(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn pad(n: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn object(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (i, (k, v)) in m.iter().enumerate() {
        // The first key of an object inside a list follows its `- `.
        if i > 0 || !out.ends_with("- ") {
            pad(indent, out);
        }
        out.push_str(&string(k));
        out.push(':');
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                object(inner, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                array(items, indent, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn array(items: &[Value], indent: usize, out: &mut String) {
    for v in items {
        pad(indent, out);
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => object(m, indent + 2, out),
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                array(a, indent + 2, out);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string, plain when that reads back as the same string, else quoted.
pub fn string(s: &str) -> String {
    if plain_ok(s) { s.to_string() } else { serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()) }
}

fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if s.trim() != s || s.chars().any(|c| c.is_control()) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if ["null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"].contains(&lower.as_str()) {
        return false;
    }
    // Anything YAML could read as a number.
    let numeric = s.parse::<f64>().is_ok() || lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with(".inf") || lower == ".nan";
    !numeric
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style_with_safe_scalars() {
        let v = json!({
            "apiVersion": "orchestrator.dev/v2",
            "metadata": { "name": "qa_prompts", "labels": { "team": "platform" } },
            "spec": { "prompts": [ { "name": "code-review", "tags": ["qa", "review"] } ], "empty": [], "n": 3, "yes": "yes", "t": "a: b" }
        });
        assert_eq!(
            to_yaml(&v),
            "apiVersion: orchestrator.dev/v2\nmetadata:\n  labels:\n    team: platform\n  name: qa_prompts\nspec:\n  empty: []\n  \"n\": 3\n  prompts:\n  - name: code-review\n    tags:\n    - qa\n    - review\n  t: \"a: b\"\n  \"yes\": \"yes\"\n"
        );
    }
}
