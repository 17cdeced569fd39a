//! Diagnostics as plain data.
//!
//! A diagnostic names its file by path and points into it with byte spans.
//! Nothing here knows how it will be shown: the CLI renders it with miette or
//! as JSON/SARIF/GitHub annotations, the language server as LSP types.

use flowc_grammar::ast::Span;

pub use crate::codes::Severity;
use crate::codes::Code;

/// A secondary location, possibly in another file (the other half of a
/// duplicate, the next edge of a cycle).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Related {
    pub path: String,
    pub span: Span,
    pub message: String,
}

/// A text edit that fixes (part of) the problem.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Edit {
    pub path: String,
    pub span: Span,
    pub new_text: String,
}

/// A suggested fix: a title and the edits it makes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fix {
    pub title: String,
    pub edits: Vec<Edit>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub path: String,
    pub span: Span,
    /// The text under the primary span.
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<Related>,
    pub fixes: Vec<Fix>,
}

impl Diagnostic {
    /// A diagnostic with the severity its code carries in the catalogue.
    pub fn new(code: Code, path: impl Into<String>, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            path: path.into(),
            span,
            label: None,
            help: None,
            related: Vec::new(),
            fixes: Vec::new(),
        }
    }
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn with_related(mut self, path: impl Into<String>, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related { path: path.into(), span, message: message.into() });
        self
    }
    pub fn with_fix(mut self, title: impl Into<String>, edits: Vec<Edit>) -> Self {
        self.fixes.push(Fix { title: title.into(), edits });
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Orders diagnostics for output: by file, position, then code.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.path, a.span.start, a.span.end, a.code.as_str()).cmp(&(&b.path, b.span.start, b.span.end, b.code.as_str()))
    });
}
