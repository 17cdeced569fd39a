//! Semantic tokens: what a TextMate grammar cannot know. Which words are
//! steps, agents, policies, stores, sets and keys, inputs, and which parts
//! of an expression are fields. Keywords, strings, comments and durations
//! are the grammar's (`editors/vscode/syntaxes`).

use std::collections::BTreeMap;

use flowc_compiler::name_index::{Sym, expr_paths, name_index};
use flowc_grammar::ast::{DeclKind, Span};

use super::{File, FileCx, World};

/// What a token is, as the editor colours it. `ALL` is the legend: a
/// token's type is sent as its position there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    /// A step or group.
    Function,
    /// A workflow.
    Namespace,
    /// An agent.
    Class,
    /// A policy.
    Interface,
    /// A store.
    Struct,
    /// A template.
    Macro,
    /// A resource kind.
    Type,
    /// An instance, env or secret set as a declaration, or a name an
    /// expression starts from.
    Variable,
    /// An env or secret set where it is used.
    Enum,
    /// A key of a set.
    EnumMember,
    /// A workflow input.
    Parameter,
    /// A field after the first segment of an expression path.
    Property,
}

impl TokenType {
    /// Every token type, in legend order.
    pub const ALL: [TokenType; 12] = [
        TokenType::Function,
        TokenType::Namespace,
        TokenType::Class,
        TokenType::Interface,
        TokenType::Struct,
        TokenType::Macro,
        TokenType::Type,
        TokenType::Variable,
        TokenType::Enum,
        TokenType::EnumMember,
        TokenType::Parameter,
        TokenType::Property,
    ];

    /// The token type's position in the legend.
    pub fn index(self) -> u32 {
        TokenType::ALL.iter().position(|t| *t == self).unwrap_or(0) as u32
    }
}

/// The modifier bit of a defining occurrence (bit 0 of the legend).
pub const DECLARATION: u32 = 1;
/// The modifier bit of a name the language gives every expression (bit 1).
pub const DEFAULT_LIBRARY: u32 = 2;

/// One semantic token: where, what, and its modifier bits.
pub type Token = (Span, TokenType, u32);

fn sym_type(sym: &Sym) -> TokenType {
    match sym {
        Sym::Step { .. } => TokenType::Function,
        Sym::Decl(kind, _) => match kind {
            DeclKind::Workflow => TokenType::Namespace,
            DeclKind::Agent => TokenType::Class,
            DeclKind::Policy => TokenType::Interface,
            DeclKind::Store => TokenType::Struct,
            DeclKind::Template => TokenType::Macro,
            DeclKind::Resource => TokenType::Type,
            DeclKind::Instance | DeclKind::Env | DeclKind::Secrets | DeclKind::Test => TokenType::Variable,
        },
        Sym::Set(_) => TokenType::Enum,
        Sym::Key { .. } => TokenType::EnumMember,
        Sym::Input { .. } | Sym::Param { .. } => TokenType::Parameter,
    }
}

/// Names the language gives every expression.
const BUILTINS: &[&str] = &["inputs", "run", "env", "item", "items", "event", "output", "self", "input", "params"];

/// The file's semantic tokens, in text order: never overlapping, never
/// empty, each within one line.
pub fn semantic_tokens(world: &World, file: &File) -> Vec<Token> {
    let cx = FileCx::new(world, file);
    let index = name_index(&world.db, cx.file.source);
    // By start: a span holds one token; names (occurrences) win over the
    // generic expression paths that cover the same text.
    let mut tokens: BTreeMap<u32, Token> = BTreeMap::new();
    for site in &index.exprs {
        let Ok(node) = flowc_compiler::cel_check::parse_expr(&site.expr) else { continue };
        for path in expr_paths(&node) {
            for (i, (name, span)) in path.iter().enumerate() {
                let (ty, mods) = if i > 0 {
                    (TokenType::Property, 0)
                } else if BUILTINS.contains(&name.as_str()) {
                    (TokenType::Variable, DEFAULT_LIBRARY)
                } else {
                    (TokenType::Variable, 0)
                };
                tokens.insert(span.start, (*span, ty, mods));
            }
        }
    }
    for occ in &index.occs {
        tokens.insert(occ.span.start, (occ.span, sym_type(&occ.sym), if occ.def { DECLARATION } else { 0 }));
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut last_end = 0u32;
    for token in tokens.into_values() {
        let span = token.0;
        // Tokens must not overlap, and each stays on one line.
        if span.start < last_end || span.is_empty() || cx.text.get(span.range()).is_none_or(|t| t.contains('\n')) {
            continue;
        }
        last_end = span.end;
        out.push(token);
    }
    out
}
