//! Templates: strings with CEL holes, pre-split by the lowering.
//!
//! A template is a list of parts; literal text is already unescaped (`$$`
//! resolved), and each hole indexes the workflow's `exprs` table. A hole's
//! `shell` context says where in the shell's syntax the hole sits (the
//! compiler's shell lexer finds it) and so how its rendered value is escaped
//! to reach the command as exactly its own text: [`shell_escape`]. Rendering
//! a value: a string as it is, anything else as compact JSON (docs/language.md).

use serde::{Deserialize, Serialize};

use super::ExprId;

/// A string template with CEL holes, rendered when the instruction using it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The literal text and holes, in order.
    pub parts: Vec<Part>,
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Part {
    /// Literal text, escapes and `$$` already resolved.
    Text(String),
    /// A hole, replaced by its expression's rendered value.
    Hole(Hole),
}

/// A hole of a template: an expression and how its value is escaped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hole {
    /// The expression, an index into the `exprs` of the workflow (or policy) holding the template.
    pub expr: ExprId,
    /// Set for holes of templates run by `sh -c` (commands, compensation
    /// commands, checks): the quoting context of the shell at the hole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<ShellContext>,
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

    /// Whether any hole is escaped for a shell (the template is a command).
    pub fn has_shell_holes(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Hole(Hole { shell: Some(_), .. })))
    }

    /// The template's holes, in order.
    pub fn holes(&self) -> impl Iterator<Item = &Hole> {
        self.parts.iter().filter_map(|p| match p {
            Part::Hole(h) => Some(h),
            Part::Text(_) => None,
        })
    }
}

/// Where a hole sits in the shell syntax of its command, as the compiler's
/// lexer (`flowc_compiler::shell_lex`) found it. Contexts that cannot be made
/// safe (command substitution, `eval`, `sh -c` scripts…) are refused by
/// `flowc check` (E0701) and never reach a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ShellContext {
    /// Unquoted: the value becomes a single-quoted piece of the word (always
    /// quoted: bare, `root` after `~` would be a home directory).
    Word,
    /// Inside `"…"`: `\`, `"`, `$` and `` ` `` are backslash-escaped.
    Double,
    /// Inside `'…'`: each `'` becomes `'\''` (close, escaped quote, reopen).
    Single,
    /// Inside bash's `$'…'`: the quote is closed, the value single-quoted,
    /// and `$'` reopened (dash, which reads `$'…'` as `$` and `'…'`, still
    /// gets the value literally).
    DollarSingle,
    /// Where the shell evaluates arithmetic (`$((…))`, `((…))`, `-eq` in
    /// `[[ ]]`, `declare -i`, an array subscript), which would expand names
    /// and `a[$(…)]` in the value: it must be an integer, written bare.
    Number,
    /// A line of a here-document's body. With an unquoted delimiter `\`,
    /// `$` and `` ` `` are backslash-escaped; with a quoted one nothing can
    /// be escaped. Either way, a rendered value that would make a line equal
    /// to the delimiter (or, for `<<-`, start a line with tabs) is refused.
    Heredoc {
        /// The word that ends the here-document.
        delimiter: String,
        /// The delimiter was quoted (`<<'EOF'`): the body is not expanded.
        quoted: bool,
        /// Written `<<-`: leading tabs of the body's lines are stripped.
        strip_tabs: bool,
    },
}

impl ShellContext {
    /// How the disassembly shows the context: `sh`, `sh"`, `sh'`, `sh$'`,
    /// `sh<<EOF`, `sh<<-'EOF'`.
    pub fn label(&self) -> String {
        match self {
            ShellContext::Word => "sh".into(),
            ShellContext::Double => "sh\"".into(),
            ShellContext::Single => "sh'".into(),
            ShellContext::DollarSingle => "sh$'".into(),
            ShellContext::Number => "sh#".into(),
            ShellContext::Heredoc { delimiter, quoted, strip_tabs } => {
                let dash = if *strip_tabs { "-" } else { "" };
                if *quoted { format!("sh<<{dash}'{delimiter}'") } else { format!("sh<<{dash}{delimiter}") }
            }
        }
    }
}

/// Escapes `value` for a hole in context `ctx`, so the shell reads exactly
/// this text. A NUL cannot be passed to `sh -c` at all: that is an error.
/// Here-documents also need [`heredoc_breaks`] on the whole rendered command.
pub fn shell_escape(ctx: &ShellContext, value: &str) -> Result<String, String> {
    if value.contains('\0') {
        return Err("contains a NUL byte, which no shell command can hold".into());
    }
    Ok(match ctx {
        // Always quoted: a bare value could still be a reserved word, an
        // assignment or a `~user` prefix where it lands.
        ShellContext::Word => shell_quote_always(value),
        ShellContext::Double => backslash_escape(value, &['\\', '"', '$', '`']),
        ShellContext::Single => value.replace('\'', "'\\''"),
        ShellContext::DollarSingle => format!("'{}$'", shell_quote_always(value)),
        ShellContext::Number => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || value.parse::<i64>().is_err() {
                return Err("is not an integer (64-bit), and shell arithmetic reads its text as an expression".into());
            }
            if digits.len() > 1 && digits.starts_with('0') {
                return Err("is not an integer without leading zeros, which shell arithmetic would read as octal".into());
            }
            value.to_string()
        }
        ShellContext::Heredoc { quoted: true, .. } => value.to_string(),
        ShellContext::Heredoc { quoted: false, .. } => backslash_escape(value, &['\\', '$', '`']),
    })
}

fn backslash_escape(value: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for ch in value.chars() {
        if special.contains(&ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Why a rendered here-document value would not reach the command as its
/// own text: a line of `command` that overlaps `range` (the value's bytes)
/// equals the delimiter, so the body would end early and the rest run as
/// commands; or, under `<<-`, its leading tabs (which the shell strips)
/// overlap the value. `None` when the value is safe.
pub fn heredoc_breaks(command: &str, range: std::ops::Range<usize>, delimiter: &str, strip_tabs: bool) -> Option<String> {
    let mut start = command[..range.start].rfind('\n').map_or(0, |i| i + 1);
    while start <= range.end && start <= command.len() {
        let end = command[start..].find('\n').map_or(command.len(), |i| start + i);
        let line = &command[start..end];
        let tabs = line.len() - line.trim_start_matches('\t').len();
        if strip_tabs && tabs > 0 && range.start < start + tabs && start < range.end {
            return Some("starts a line of a `<<-` here-document with tabs, which the shell would strip".into());
        }
        let body = if strip_tabs { &line[tabs..] } else { line };
        if body == delimiter {
            return Some(format!("makes a line `{delimiter}`, which would end the here-document early"));
        }
        // dash (0.5.12) drops a non-ASCII byte that follows the start of
        // the delimiter at the start of a line (`EOé` reads as `EO` and a
        // stray byte), so such a line would not arrive as written.
        let common = body.bytes().zip(delimiter.bytes()).take_while(|(a, b)| a == b).count();
        if common > 0 && body.as_bytes().get(common).is_some_and(|b| !b.is_ascii()) {
            return Some(format!(
                "starts a here-document line with the start of its delimiter `{delimiter}` and then a non-ASCII character, which dash misreads"
            ));
        }
        start = end + 1;
    }
    None
}

fn shell_quote_always(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
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
    fn escaping_per_context() {
        let v = r#"a'b"c$d`e\f"#;
        assert_eq!(shell_escape(&ShellContext::Word, v).unwrap(), r#"'a'\''b"c$d`e\f'"#);
        assert_eq!(shell_escape(&ShellContext::Word, "root").unwrap(), "'root'");
        assert_eq!(shell_escape(&ShellContext::Double, v).unwrap(), r#"a'b\"c\$d\`e\\f"#);
        assert_eq!(shell_escape(&ShellContext::Single, v).unwrap(), r#"a'\''b"c$d`e\f"#);
        assert_eq!(shell_escape(&ShellContext::DollarSingle, "x'y").unwrap(), r"''x'\''y'$'");
        let here = |quoted| ShellContext::Heredoc { delimiter: "EOF".into(), quoted, strip_tabs: false };
        assert_eq!(shell_escape(&here(false), v).unwrap(), r#"a'b"c\$d\`e\\f"#);
        assert_eq!(shell_escape(&here(true), v).unwrap(), v);
        assert_eq!(shell_escape(&ShellContext::Number, "-12").unwrap(), "-12");
        for bad in ["", "-", "+1", "1.5", "a[$(id)]", "1 + 1", "012", "99999999999999999999"] {
            assert!(shell_escape(&ShellContext::Number, bad).unwrap_err().contains("not an integer"), "{bad}");
        }
        let nul = shell_escape(&ShellContext::Word, "a\0b").unwrap_err();
        assert!(nul.contains("NUL"), "{nul}");
    }

    #[test]
    fn heredoc_lines_made_by_a_value_are_found() {
        // "cat <<EOF\n" + value + "\nEOF": the value spans 10..10+len.
        let cmd = |v: &str| (format!("cat <<EOF\nE{v}\nEOF"), 11..11 + v.len());
        let (c, r) = cmd("OF");
        assert!(heredoc_breaks(&c, r, "EOF", false).unwrap().contains("end the here-document"));
        let (c, r) = cmd("x\nEOF\ny");
        assert!(heredoc_breaks(&c, r, "EOF", false).is_some());
        let (c, r) = cmd("x\nEOFy");
        assert_eq!(heredoc_breaks(&c, r, "EOF", false), None);
        let (c, r) = cmd("x\n\ty");
        assert_eq!(heredoc_breaks(&c, r.clone(), "EOF", false), None);
        assert!(heredoc_breaks(&c, r, "EOF", true).unwrap().contains("tabs"));
        let (c, r) = cmd("x\nEO\u{e9}");
        assert!(heredoc_breaks(&c, r, "EOF", false).unwrap().contains("dash misreads"));
        let (c, r) = cmd("x\n\u{e9}EOF");
        assert_eq!(heredoc_breaks(&c, r, "EOF", false), None);
        // Tabs the author wrote, before a value that has none, are the author's.
        let c = "cat <<-EOF\n\tx\n\tEOF";
        assert_eq!(heredoc_breaks(c, 12..13, "EOF", true), None);
    }

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
