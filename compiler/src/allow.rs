//! Silencing a warning where it is wrong.
//!
//! A line comment `// flowc: allow W0104` (several codes: `allow W0101,
//! W0104`) silences those warnings on the line it ends, or, when the comment
//! stands alone on its line, on the next line. A project can silence a code
//! everywhere with `allow = ["W0104"]` in `flowc.toml` ([`ProjectSettings`]).
//! Errors are never silenced: an allow naming an error code, or a code that
//! does not exist, is ignored (the catalogue page says so).

use crate::codes::Code;
use crate::db::{Db, SourceFile};
use crate::diagnostic::{Diagnostic, Severity};

/// The directive's prefix, after `//` and any spaces.
const DIRECTIVE: &str = "flowc: allow";

/// The lines (0-based) on which each allowed warning code is silenced.
#[salsa::tracked(returns(ref))]
pub fn file_allows(db: &dyn Db, file: SourceFile) -> Vec<(u32, Code)> {
    allows_in(file.text(db))
}

fn allows_in(text: &str) -> Vec<(u32, Code)> {
    // Most files have none: skip the lexer then.
    if !text.contains(DIRECTIVE) {
        return Vec::new();
    }
    let lexed = flowc_grammar::lexer::lex(text);
    let mut out = Vec::new();
    for token in lexed.comments().filter(|t| t.kind == flowc_grammar::lexer::TokenKind::LineComment) {
        let (start, end) = (token.span.start as usize, token.span.end as usize);
        let comment = &text[start..end];
        let Some(rest) = comment.strip_prefix("//").map(str::trim_start) else { continue };
        let Some(codes) = rest.strip_prefix(DIRECTIVE) else { continue };
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line = text.as_bytes()[..start].iter().filter(|b| **b == b'\n').count() as u32;
        let alone = text[line_start..start].trim().is_empty();
        let target = if alone { line + 1 } else { line };
        for code in codes.split([',', ' ']).filter(|c| !c.is_empty()).filter_map(Code::parse) {
            if code.severity() == Severity::Warning {
                out.push((target, code));
            }
        }
    }
    out
}

/// The project settings file.
pub const SETTINGS_FILE: &str = "flowc.toml";

/// Where the settings of a project are: `flowc.toml` in the project's
/// directory, or, for a project of one file (`flowc check FILE`, a file
/// outside every workspace folder), in that file's directory. `flowc check`
/// and the language server both find it so; each reads it itself (the
/// compiler reads no file).
pub fn settings_path(project: &std::path::Path, is_dir: bool) -> std::path::PathBuf {
    let dir = if is_dir {
        project
    } else {
        project.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."))
    };
    dir.join(SETTINGS_FILE)
}

/// Why a `flowc.toml` was refused: the message, and the bytes of the file
/// it is about when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsError {
    pub message: String,
    pub span: Option<std::ops::Range<usize>>,
}

/// Project-wide settings that change what `check` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProjectSettings {
    /// Warning codes silenced everywhere in the project.
    pub allow: Vec<Code>,
    /// `[principals]` and `[groups]`: who may decide (see `flowc_plan::directory`).
    pub directory: flowc_plan::directory::Directory,
}

impl ProjectSettings {
    /// Parses `flowc.toml`: `allow = ["W0104", …]` (at the top, or under
    /// `[check]`). Unknown keys, unknown codes and error codes are errors:
    /// a typo must not silence nothing quietly.
    pub fn parse(text: &str) -> Result<ProjectSettings, String> {
        Self::parse_located(text).map_err(|e| e.message)
    }

    /// [`parse`](Self::parse), saying where in the text the problem is.
    pub fn parse_located(text: &str) -> Result<ProjectSettings, SettingsError> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            allow: Vec<String>,
            #[serde(default)]
            check: Option<Check>,
            // Read by `Directory::parse` below.
            #[serde(default)]
            principals: Option<toml::Value>,
            #[serde(default)]
            groups: Option<toml::Value>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Check {
            #[serde(default)]
            allow: Vec<String>,
        }
        let file: File =
            toml::from_str(text).map_err(|e| SettingsError { message: e.message().to_string(), span: e.span() })?;
        // The codes are plain strings: their place is found in the text.
        let at = |name: &str| {
            let quoted = format!("\"{name}\"");
            text.find(&quoted).or_else(|| text.find(&format!("'{name}'"))).map(|i| i..i + quoted.len())
        };
        let mut allow = Vec::new();
        for name in file.allow.iter().chain(file.check.iter().flat_map(|c| c.allow.iter())) {
            let Some(code) = Code::parse(name) else {
                let message = format!("`{name}` is not a diagnostic code (see `flowc explain --list`)");
                return Err(SettingsError { message, span: at(name) });
            };
            if code.severity() != Severity::Warning {
                let message = format!("`{name}` is an error: only warnings can be allowed");
                return Err(SettingsError { message, span: at(name) });
            }
            allow.push(code);
        }
        let directory = flowc_plan::directory::Directory::parse(text).map_err(|message| {
            // Point at the table the message names, if it can be found.
            let span = ["[principals", "[groups"].iter().find_map(|k| text.find(k)).map(|i| i..i + text[i..].find(']').map_or(1, |e| e + 1));
            SettingsError { message, span }
        })?;
        let _ = (&file.principals, &file.groups);
        Ok(ProjectSettings { allow, directory })
    }

    /// Whether the settings silence `d` (only warnings can be silenced).
    pub fn silences(&self, d: &Diagnostic) -> bool {
        d.severity == Severity::Warning && self.allow.contains(&d.code)
    }
}

/// Drops the warnings an allow comment silences (on the line it ends, or
/// the next). The project's settings are the caller's: [`ProjectSettings::silences`].
pub fn apply(db: &dyn Db, files: &[SourceFile], diags: &mut Vec<Diagnostic>) {
    if diags.iter().all(|d| d.severity != Severity::Warning) {
        return;
    }
    let by_path: std::collections::HashMap<&str, SourceFile> = files.iter().map(|f| (f.path(db).as_str(), *f)).collect();
    diags.retain(|d| {
        if d.severity != Severity::Warning {
            return true;
        }
        let Some(file) = by_path.get(d.path.as_str()) else { return true };
        let allows = file_allows(db, *file);
        if allows.is_empty() {
            return true;
        }
        let text = file.text(db);
        let at = (d.span.start as usize).min(text.len());
        let line = text.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() as u32;
        !allows.iter().any(|(l, c)| *l == line && *c == d.code)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_comment_allows_its_line_and_a_lone_one_the_next() {
        let text = "a // flowc: allow W0104\n// flowc: allow W0101, W0104 E0101 nonsense\nb\n\"// flowc: allow W0102\"\n";
        let allows = allows_in(text);
        assert_eq!(allows, [(0, Code::SingleDepTriggerRule), (2, Code::parse("W0101").unwrap()), (2, Code::SingleDepTriggerRule)]);
    }

    #[test]
    fn settings_refuse_typos_and_errors() {
        assert_eq!(ProjectSettings::parse("allow = [\"W0104\"]").unwrap().allow, [Code::SingleDepTriggerRule]);
        assert_eq!(ProjectSettings::parse("[check]\nallow = [\"W0104\"]").unwrap().allow, [Code::SingleDepTriggerRule]);
        assert!(ProjectSettings::parse("allow = [\"E0101\"]").unwrap_err().contains("only warnings"));
        assert!(ProjectSettings::parse("allow = [\"W9999\"]").unwrap_err().contains("not a diagnostic code"));
        assert!(ProjectSettings::parse("alow = []").is_err());
    }

    #[test]
    fn settings_errors_say_where() {
        let text = "[check]\nallow = [\"W0104\", \"W9999\"]\n";
        let e = ProjectSettings::parse_located(text).unwrap_err();
        assert_eq!(&text[e.span.unwrap()], "\"W9999\"");
        let text = "[check]\nalow = []\n";
        let e = ProjectSettings::parse_located(text).unwrap_err();
        assert!(text[e.span.clone().unwrap()].contains("alow"), "{e:?}");
    }

    #[test]
    fn the_settings_file_is_in_the_project_directory_or_beside_the_file() {
        use std::path::Path;
        assert_eq!(settings_path(Path::new("proj"), true), Path::new("proj/flowc.toml"));
        assert_eq!(settings_path(Path::new("proj/a.flow"), false), Path::new("proj/flowc.toml"));
        assert_eq!(settings_path(Path::new("a.flow"), false), Path::new("./flowc.toml"));
    }
}
