//! `--format human`: miette reports with source snippets, on stderr.
//!
//! **Linear in the diagnostics.** Each file's text is borrowed and its
//! [`LineIndex`] built once per [`Renderer`], and a snippet is read from a
//! window of the lines it shows: miette's own reader for a `str` scans from
//! the start of the file, which made 10,000 warnings in one file take
//! seconds (the time grew with diagnostics × file size).
//!
//! **Long lines.** miette pads with `{:width$}` up to a label's column, and
//! Rust refuses widths past 65,535 (a panic), and a snippet of a
//! 70,000-character line helps nobody anyway. So the source handed to miette
//! ([`Source`]) shows only a window of a long line around each label, and
//! reports the true line and column in the `[file:line:col]` header.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use flowc_compiler::{Diagnostic, LineIndex, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use crate::Cli;
use super::Sources;

/// Prints every diagnostic, then a one-line summary.
pub fn print(cli: &Cli, diags: &[Diagnostic], sources: &Sources, file_count: usize) {
    let renderer = Renderer::new(sources, cli.stderr_color());
    for d in diags {
        if cli.quiet && d.severity == Severity::Warning {
            continue;
        }
        eprint!("{}", renderer.render(d));
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
    Renderer::new(sources, color).render(d)
}

/// Renders diagnostics against a set of files, indexing each file once.
pub struct Renderer<'a> {
    sources: &'a Sources,
    handler: GraphicalReportHandler,
    /// Each file's line index, and where it has a `\r` not followed by `\n`
    /// (miette counts those as line breaks; the index does not).
    indexes: RefCell<HashMap<&'a str, (Arc<LineIndex>, Arc<[u32]>)>>,
}

impl<'a> Renderer<'a> {
    pub fn new(sources: &'a Sources, color: bool) -> Renderer<'a> {
        let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100).with_links(false);
        Renderer { sources, handler, indexes: RefCell::new(HashMap::new()) }
    }

    /// One diagnostic as text, with a blank line after it.
    pub fn render(&self, d: &Diagnostic) -> String {
        let report = Report::new(d, self);
        let mut out = String::new();
        if self.handler.render_report(&mut out, &report).is_err() {
            out = format!("{}: {}\n", d.code.as_str(), d.message);
        }
        out.push('\n');
        out
    }

    fn source(&self, path: &str) -> Source<'a> {
        let (name, text) = match self.sources.get_key_value(path) {
            Some((name, text)) => (name.as_str(), text.as_str()),
            None => ("", ""),
        };
        let (index, bare_cr) = self
            .indexes
            .borrow_mut()
            .entry(name)
            .or_insert_with(|| {
                let bytes = text.as_bytes();
                let bare_cr = (0..bytes.len()).filter(|&i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')).map(|i| i as u32).collect();
                (Arc::new(LineIndex::new(text)), bare_cr)
            })
            .clone();
        Source { name: if name.is_empty() { path.to_string() } else { name.to_string() }, text, index, bare_cr }
    }
}

/// Adapts a diagnostic (and the related locations in other files) to miette.
struct Report<'a> {
    code: &'static str,
    severity: miette::Severity,
    message: String,
    help: Option<String>,
    source: Source<'a>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report<'a>>,
}

impl<'a> Report<'a> {
    fn new(d: &Diagnostic, files: &Renderer<'a>) -> Report<'a> {
        let source = files.source(&d.path);
        let mut labels = vec![LabeledSpan::new_primary_with_span(d.label.clone(), source.to_span(d.span))];
        let mut related = Vec::new();
        for r in &d.related {
            if r.path == d.path {
                labels.push(LabeledSpan::new_with_span(Some(r.message.clone()), source.to_span(r.span)));
            } else {
                let other = files.source(&r.path);
                related.push(Report {
                    code: d.code.as_str(),
                    severity: miette::Severity::Advice,
                    message: r.message.clone(),
                    help: None,
                    labels: vec![LabeledSpan::new_primary_with_span(None, other.to_span(r.span))],
                    source: other,
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
            source,
            labels,
            related,
        }
    }
}

/// Lines longer than this (in bytes) are shown as a window around a label.
const LONG_LINE: usize = 400;
/// How much of a long line is shown before and after a label.
const CONTEXT: usize = 60;
/// How much of a label on a long line is underlined.
const LONG_LABEL: usize = 200;

/// A file's text for miette, showing long lines as windows (module docs).
struct Source<'a> {
    name: String,
    text: &'a str,
    index: Arc<LineIndex>,
    bare_cr: Arc<[u32]>,
}

impl Source<'_> {
    /// The end of a line, before its `\n`.
    fn line_end(&self, line: usize) -> usize {
        if line + 1 < self.index.line_count() { self.index.line_start(line + 1) as usize - 1 } else { self.text.len() }
    }

    fn is_long(&self, line: usize) -> bool {
        self.line_end(line) - self.index.line_start(line) as usize > LONG_LINE
    }

    /// A span as miette gets it: clamped to the text and to character
    /// boundaries, so a stale span can never make miette panic; on a long
    /// line, cut to that line and to [`LONG_LABEL`] bytes.
    fn to_span(&self, span: flowc_grammar::ast::Span) -> SourceSpan {
        let text = self.text;
        let start = floor(text, span.start as usize);
        let mut end = ceil(text, (span.end as usize).max(start));
        let (first, last) = (self.index.line(start as u32), self.index.line(end as u32));
        // With the context line either side, as miette reads them.
        let shown = first.saturating_sub(1)..=(last + 1).min(self.index.line_count() - 1);
        if shown.into_iter().any(|l| self.is_long(l)) {
            end = floor(text, end.min(self.line_end(first)).min(start + LONG_LABEL)).max(start);
        }
        SourceSpan::from(start..end)
    }
}

/// `at` clamped to the text, moved back to a character boundary.
fn floor(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// `at` clamped to the text, moved on to a character boundary.
fn ceil(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

impl SourceCode for Source<'_> {
    fn read_span<'b>(&'b self, span: &SourceSpan, before: usize, after: usize) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let text = self.text;
        let start = span.offset().min(text.len());
        let end = (span.offset() + span.len()).min(text.len());
        let (first, last) = (self.index.line(start as u32), self.index.line(end as u32));
        let shown = first.saturating_sub(before)..=(last + after).min(self.index.line_count() - 1);
        if !shown.clone().any(|l| self.is_long(l)) {
            return self.read_lines(span, before, after, *shown.start(), *shown.end());
        }
        // A window of one line, no context lines. Labels on long lines are
        // single-line and short (`to_span`); a span covering several lines
        // or labels far apart is miette merging two contexts, which it does
        // only if this succeeds: refusing keeps them apart.
        let line_start = self.index.line_start(first) as usize;
        if first != last || end - start > 2 * LONG_LABEL {
            return Err(MietteError::OutOfBounds);
        }
        let from = if before == 0 { start } else { floor(text, start.saturating_sub(CONTEXT).max(line_start)) };
        let to = if after == 0 { end } else { ceil(text, (end + CONTEXT).min(self.line_end(first))) };
        // miette's column is in bytes; keep its unit on every line.
        let column = from - line_start;
        Ok(Box::new(MietteSpanContents::new_named(self.name.clone(), &text.as_bytes()[from..to], SourceSpan::from(from..to), first, column, last)))
    }
}

impl Source<'_> {
    /// miette's own reading of a span with its context lines, done on the
    /// lines `first..=last` (and one more either side) instead of the whole text, then
    /// moved back to the file's offsets and lines: the same answer as
    /// reading the whole text (a test compares them), in time that does not
    /// grow with the file.
    fn read_lines<'b>(&'b self, span: &SourceSpan, before: usize, after: usize, first: usize, last: usize) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        // One line more before: miette treats a span at offset 0 apart
        // (`len - 1` saturates), so the window must not start at the span's
        // line unless the file does.
        let first = first.saturating_sub(1);
        let from = self.index.line_start(first) as usize;
        let to = if last + 2 < self.index.line_count() { self.index.line_start(last + 2) as usize } else { self.text.len() };
        let window = &self.text.as_bytes()[from..to];
        let local = SourceSpan::from((span.offset().saturating_sub(from)).min(window.len())..(span.offset() + span.len()).saturating_sub(from).min(window.len()));
        let c = window.read_span(&local, before, after)?;
        let at = SourceSpan::from(c.span().offset() + from..c.span().offset() + from + c.span().len());
        let data: &'b [u8] = &self.text.as_bytes()[at.offset()..at.offset() + at.len()];
        // The lines before the window, as miette counts them: the index's,
        // plus a lone `\r` each.
        let before_window = first + self.bare_cr.partition_point(|&i| (i as usize) < from);
        Ok(Box::new(MietteSpanContents::new_named(self.name.clone(), data, at, c.line() + before_window, c.column(), c.line_count() + before_window)))
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading a window of lines gives miette exactly what reading the
    /// whole text gives it: same bytes, offsets, line and column, for every
    /// span and every number of context lines, with `\n`, `\r\n` and lone `\r` lines,
    /// empty lines and a text with or without a final newline.
    #[test]
    fn a_window_reads_like_the_whole_text() {
        for text in ["ab\ncd\n\nefg\nh\n", "one\r\ntwo\r\n\r\nthree", "x", "\n\n\n", "α\nβγ\nδ", "a\rbc\r\nd\re\n\rf", "\r\r\n\r"] {
            let sources: Sources = [("f.flow".to_string(), text.to_string())].into();
            let renderer = Renderer::new(&sources, false);
            let source = renderer.source("f.flow");
            let bounds: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
            for &start in &bounds {
                for &end in bounds.iter().filter(|e| **e >= start) {
                    for (before, after) in [(0, 0), (1, 1), (2, 3), (0, 2), (3, 0)] {
                        let span = SourceSpan::from(start..end);
                        let ours = source.read_span(&span, before, after);
                        let whole = text.read_span(&span, before, after);
                        match (ours, whole) {
                            (Ok(a), Ok(b)) => {
                                let what = format!("{text:?} {start}..{end} ±{before},{after}");
                                assert_eq!(a.data(), b.data(), "{what}");
                                assert_eq!(a.span(), b.span(), "{what}");
                                assert_eq!((a.line(), a.column()), (b.line(), b.column()), "{what}");
                            }
                            (Err(_), Err(_)) => {}
                            (a, b) => panic!("{text:?} {start}..{end}: {:?} vs {:?}", a.is_ok(), b.is_ok()),
                        }
                    }
                }
            }
        }
    }

    /// One index per file however many diagnostics point into it.
    #[test]
    fn a_file_is_indexed_once_for_all_its_diagnostics() {
        let text = "workflow w {\n  step a { command \"x\" }\n}\n".repeat(50);
        let sources: Sources = [("f.flow".to_string(), text)].into();
        let renderer = Renderer::new(&sources, false);
        let before = LineIndex::built_on_this_thread();
        for i in 0..50u32 {
            let d = Diagnostic::new(flowc_compiler::Code::parse("W0103").unwrap(), "f.flow", flowc_grammar::ast::Span::new(i * 40, i * 40 + 8), "m");
            assert!(renderer.render(&d).contains("W0103"));
        }
        assert_eq!(LineIndex::built_on_this_thread() - before, 1);
    }
}
