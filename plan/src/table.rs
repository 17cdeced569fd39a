//! Templates: strings with CEL holes, pre-split by the lowering.
//!
//! A template is a list of parts; literal text is already unescaped (`$$`
//! resolved), and each hole indexes the workflow's `exprs` table. A hole's
//! `shell` flag says its rendered value must reach `sh -c` as one literal
//! word: [`shell_quote`] wraps it in single quotes. Rendering a value: a
//! string as it is, anything else as compact JSON (LANGUAGE.md §2).

use serde::{Deserialize, Serialize};

use super::ExprId;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Part {
    Text(String),
    Hole(Hole),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hole {
    pub expr: ExprId,
    #[serde(default)]
    pub shell: bool,
    /// The rendered value is escaped for a glob pattern (`wait` types and
    /// subjects), so it matches only itself: [`glob_escape`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub glob: bool,
}

impl Template {
    /// A template of literal text only.
    pub fn literal(text: impl Into<String>) -> Template {
        Template { parts: vec![Part::Text(text.into())] }
    }

    pub fn has_shell_holes(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Hole(Hole { shell: true, .. })))
    }

    pub fn holes(&self) -> impl Iterator<Item = &Hole> {
        self.parts.iter().filter_map(|p| match p {
            Part::Hole(h) => Some(h),
            Part::Text(_) => None,
        })
    }
}

/// Quotes `value` so that `sh` reads it as exactly one word with exactly this
/// text: nothing inside is expanded. Words made only of characters the shell
/// never treats specially stay bare, which keeps logged commands readable.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b',' | b':' | b'@' | b'+' | b'%'));
    if plain {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for ch in value.chars() {
        if ch == '\'' {
            // Close the quote, add an escaped quote, reopen.
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    out
}

/// Escapes the characters a glob pattern treats specially (`*`, `?`, `[`,
/// `]`, `\`) with a backslash.
pub fn glob_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// How a hole's value becomes text: strings as they are, the rest as JSON.
pub fn render_value(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_hostile_text_literal() {
        assert_eq!(shell_quote("'; rm -rf ~ #"), r"''\''; rm -rf ~ #'");
        assert_eq!(shell_quote("plain-word_1.2"), "plain-word_1.2");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn non_strings_render_as_json() {
        assert_eq!(render_value(&serde_json::json!("a b")), "a b");
        assert_eq!(render_value(&serde_json::json!({"a": [1, true]})), r#"{"a":[1,true]}"#);
    }
}
