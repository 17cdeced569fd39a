//! The `.flow` grammar: text in, an owned AST with byte spans and syntax errors out.
//!
//! **Architecture invariant:** this crate knows nothing of salsa, the language
//! server or the runtime, and does no IO. Parsing never fails: [`parse`]
//! returns the tree it could build plus every syntax error it found, so an
//! editor gets diagnostics and symbols even for a broken file.

#![deny(missing_docs)]

pub mod ast;
pub mod errors;
pub mod format;
pub mod keywords;
pub mod lexer;
pub mod outline;
pub mod parser;
pub mod pathological;
pub mod rules;

pub use errors::{SyntaxError, SyntaxErrorKind, SyntaxFix};
pub use format::format;
pub use parser::{Parse, PieceAst, parse, parse_piece};
