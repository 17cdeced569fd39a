//! The comments of a file, consumed in source order as the printer walks the
//! tree.
//!
//! The tree has no comments in it, so the printer re-inserts them by byte
//! position: every printed element knows where it came from, and a comment is
//! printed just before the first element that came after it. Because the tree
//! is walked in source order, one cursor over the sorted list is enough, and
//! every comment is printed exactly once.

use crate::ast::Span;
use crate::lexer::{Lexed, TokenKind};

#[derive(Clone, Copy, Debug)]
pub(super) struct Comment {
    pub(super) span: Span,
    /// A `//` comment (runs to the end of its line) rather than `/* … */`.
    pub(super) is_line: bool,
}

pub(super) struct Comments {
    list: Vec<Comment>,
    next: usize,
}

impl Comments {
    pub(super) fn new(lexed: &Lexed) -> Self {
        let list =
            lexed.comments().map(|t| Comment { span: t.span, is_line: t.kind == TokenKind::LineComment }).collect();
        Comments { list, next: 0 }
    }

    /// The next comment not yet printed, if it starts before `pos`.
    pub(super) fn next_before(&self, pos: u32) -> Option<Comment> {
        self.list.get(self.next).copied().filter(|c| c.span.start < pos)
    }

    pub(super) fn advance(&mut self) {
        self.next += 1;
    }

    /// Marks every comment that starts before `pos` as printed (they are part
    /// of text printed verbatim).
    pub(super) fn skip_before(&mut self, pos: u32) {
        while self.next_before(pos).is_some() {
            self.next += 1;
        }
    }

    /// The comment that starts exactly at `pos`, printed or not.
    pub(super) fn starting_at(&self, pos: u32) -> Option<Comment> {
        let i = self.list.partition_point(|c| c.span.start < pos);
        self.list.get(i).copied().filter(|c| c.span.start == pos)
    }
}
