//! Renderers of diagnostics: one module per output format.

pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use flowc_compiler::{Diagnostic, LineIndex};
use flowc_grammar::ast::Span;

/// The texts of every checked file, by path, for renderers that show source.
pub type Sources = std::collections::HashMap<String, String>;


/// The sources with their line indexes, each built once, on first use: a
/// renderer asks for thousands of positions (a diagnostic per step, a cycle
/// with thousands of related locations), and rebuilding a file's index for
/// each would make the output quadratic in the file's size.
pub struct Files<'a> {
    sources: &'a Sources,
    indexes: RefCell<HashMap<&'a str, Rc<LineIndex>>>,
}

impl<'a> Files<'a> {
    pub fn new(sources: &'a Sources) -> Files<'a> {
        Files { sources, indexes: RefCell::default() }
    }

    /// A file's text ("" for a file the sources do not hold).
    pub fn text(&self, path: &str) -> &'a str {
        self.sources.get(path).map_or("", String::as_str)
    }

    fn index(&self, path: &str) -> Rc<LineIndex> {
        let text = self.text(path);
        let key: &'a str = self.sources.get_key_value(path).map_or("", |(k, _)| k.as_str());
        self.indexes.borrow_mut().entry(key).or_insert_with(|| Rc::new(LineIndex::new(text))).clone()
    }

    /// 1-based (line, column) of an offset, the column in characters.
    pub fn line_col(&self, path: &str, offset: u32) -> (usize, usize) {
        self.index(path).line_col(self.text(path), offset)
    }

    /// 1-based (line, column) of the start and end of a span.
    pub fn span(&self, path: &str, span: Span) -> ((usize, usize), (usize, usize)) {
        let index = self.index(path);
        let text = self.text(path);
        (index.line_col(text, span.start), index.line_col(text, span.end))
    }

    /// 1-based (line, column) of the start and end of a diagnostic's span.
    pub fn positions(&self, d: &Diagnostic) -> ((usize, usize), (usize, usize)) {
        self.span(&d.path, d.span)
    }
}

#[cfg(test)]
mod tests;
