//! `--format human`: miette reports with source snippets, on stderr.

use std::fmt;

use flowc_compiler::{Diagnostic, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::Cli;
use crate::check::Sources;

/// Prints every diagnostic, then a one-line summary.
pub fn print(cli: &Cli, diags: &[Diagnostic], sources: &Sources, file_count: usize) {
    let color = cli.stderr_color();
    for d in diags {
        if cli.quiet && d.severity == Severity::Warning {
            continue;
        }
        eprint!("{}", render(d, sources, color));
    }
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = diags.len() - errors;
    let files = plural(file_count, "file");
    if errors == 0 && warnings == 0 {
        if !cli.quiet {
            eprintln!("checked {files}: no problems found");
        }
    } else {
        let mut parts = Vec::new();
        if errors > 0 {
            parts.push(plural(errors, "error"));
        }
        if warnings > 0 && !cli.quiet {
            parts.push(plural(warnings, "warning"));
        }
        if !parts.is_empty() {
            eprintln!("checked {files}: {}", parts.join(" and "));
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// Renders one diagnostic as text.
pub fn render(d: &Diagnostic, sources: &Sources, color: bool) -> String {
    let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
    let report = Report::new(d, sources);
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        out = format!("{}: {}\n", d.code.as_str(), d.message);
    }
    out.push('\n');
    out
}

/// Adapts a diagnostic (and the related locations in other files) to miette.
struct Report {
    code: &'static str,
    severity: miette::Severity,
    message: String,
    help: Option<String>,
    source: NamedSource<String>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(d: &Diagnostic, sources: &Sources) -> Report {
        let text = sources.get(&d.path).cloned().unwrap_or_default();
        let mut labels = vec![LabeledSpan::new_primary_with_span(d.label.clone(), to_span(d.span, &text))];
        let mut related = Vec::new();
        for r in &d.related {
            if r.path == d.path {
                labels.push(LabeledSpan::new_with_span(Some(r.message.clone()), to_span(r.span, &text)));
            } else {
                let other = sources.get(&r.path).cloned().unwrap_or_default();
                related.push(Report {
                    code: d.code.as_str(),
                    severity: miette::Severity::Advice,
                    message: r.message.clone(),
                    help: None,
                    labels: vec![LabeledSpan::new_primary_with_span(None, to_span(r.span, &other))],
                    source: NamedSource::new(&r.path, other),
                    related: Vec::new(),
                });
            }
        }
        Report {
            code: d.code.as_str(),
            severity: match d.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            message: d.message.clone(),
            help: d.help.clone(),
            source: NamedSource::new(&d.path, text),
            labels,
            related,
        }
    }
}

/// A byte span clamped to the text, so a stale span can never make miette panic.
fn to_span(span: flowc_grammar::ast::Span, text: &str) -> SourceSpan {
    let start = (span.start as usize).min(text.len());
    let end = (span.end as usize).clamp(start, text.len());
    SourceSpan::from(start..end)
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic)))
        }
    }
}
