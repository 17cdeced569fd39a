//! Byte offsets to line/column, for renderers that want them.

use std::cell::Cell;

thread_local! {
    static BUILT: Cell<usize> = const { Cell::new(0) };
}

/// The start offset of every line of a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        BUILT.with(|n| n.set(n.get() + 1));
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i as u32 + 1));
        LineIndex { starts }
    }

    /// How many indexes this thread has built. Building one reads the whole
    /// text, so a renderer must build one per file, not one per position;
    /// tests hold them to it with this count (a thread's own, so tests
    /// running in parallel do not disturb each other).
    pub fn built_on_this_thread() -> usize {
        BUILT.with(Cell::get)
    }

    /// The 0-based line containing `offset`.
    pub fn line(&self, offset: u32) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    pub fn line_start(&self, line: usize) -> u32 {
        self.starts[line.min(self.starts.len() - 1)]
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// 1-based line and 1-based column counted in characters (Unicode scalar values).
    pub fn line_col(&self, text: &str, offset: u32) -> (usize, usize) {
        let offset = char_floor(text, offset);
        let line = self.line(offset);
        let start = self.starts[line] as usize;
        let col = text.get(start..offset as usize).map_or(0, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// 0-based line and column counted in UTF-16 code units (the LSP default).
    pub fn line_col_utf16(&self, text: &str, offset: u32) -> (u32, u32) {
        let offset = char_floor(text, offset);
        let line = self.line(offset);
        let start = self.starts[line] as usize;
        let col = text.get(start..offset as usize).map_or(0, |s| s.encode_utf16().count());
        (line as u32, col as u32)
    }

    /// The byte offset of a 0-based line and UTF-16 column, clamped to the text.
    pub fn offset_utf16(&self, text: &str, line: u32, col: u32) -> u32 {
        if line as usize >= self.starts.len() {
            return text.len() as u32;
        }
        let start = self.starts[line as usize] as usize;
        let end = self.starts.get(line as usize + 1).map_or(text.len(), |e| *e as usize);
        let mut units = 0u32;
        for (i, ch) in text[start..end].char_indices() {
            if units >= col {
                return (start + i) as u32;
            }
            units += ch.len_utf16() as u32;
        }
        end.min(text.len()) as u32
    }
}

/// `offset` clamped into the text and moved back to the start of the
/// character it falls in (a stale or foreign span may point inside one).
fn char_floor(text: &str, offset: u32) -> u32 {
    let mut at = (offset as usize).min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let text = "ab\ncé\n\nx";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 0), (1, 1));
        assert_eq!(idx.line_col(text, 4), (2, 2));
        assert_eq!(idx.line_col(text, 6), (2, 3));
        assert_eq!(idx.line_col(text, 8), (4, 1));
        assert_eq!(idx.offset_utf16(text, 1, 2), 6);
        assert_eq!(LineIndex::new("a😀b").line_col_utf16("a😀b", 5), (0, 3));
    }

    #[test]
    fn offsets_inside_a_character_count_as_its_start() {
        let text = "é😀\nx";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_col(text, 1), (1, 1));
        assert_eq!(idx.line_col(text, 3), (1, 2));
        assert_eq!(idx.line_col(text, 6), (1, 3));
        assert_eq!(idx.line_col_utf16(text, 4), (0, 1));
        assert_eq!(idx.line_col_utf16(text, 99), (1, 1));
    }
}
