//! Semantic tokens: what a TextMate grammar cannot know. Which words are
//! steps, agents, policies, stores, sets and keys, inputs, and which parts
//! of an expression are fields. Keywords, strings, comments and durations
//! are the grammar's (`editors/vscode/syntaxes`).

use std::collections::BTreeMap;

use flowc_grammar::ast::{DeclKind, Span};
use tower_lsp_server::ls_types as lsp;

use super::FileCx;
use super::index::{Sym, expr_paths, file_index};
use crate::state::Snapshot;

const TYPES: &[lsp::SemanticTokenType] = &[
    lsp::SemanticTokenType::FUNCTION,
    lsp::SemanticTokenType::NAMESPACE,
    lsp::SemanticTokenType::CLASS,
    lsp::SemanticTokenType::INTERFACE,
    lsp::SemanticTokenType::STRUCT,
    lsp::SemanticTokenType::MACRO,
    lsp::SemanticTokenType::TYPE,
    lsp::SemanticTokenType::VARIABLE,
    lsp::SemanticTokenType::ENUM,
    lsp::SemanticTokenType::ENUM_MEMBER,
    lsp::SemanticTokenType::PARAMETER,
    lsp::SemanticTokenType::PROPERTY,
];

const MODIFIERS: &[lsp::SemanticTokenModifier] = &[lsp::SemanticTokenModifier::DECLARATION, lsp::SemanticTokenModifier::DEFAULT_LIBRARY];

fn type_index(t: &lsp::SemanticTokenType) -> u32 {
    TYPES.iter().position(|x| x == t).unwrap_or(0) as u32
}

pub fn legend() -> lsp::SemanticTokensLegend {
    lsp::SemanticTokensLegend { token_types: TYPES.to_vec(), token_modifiers: MODIFIERS.to_vec() }
}

fn sym_type(sym: &Sym) -> lsp::SemanticTokenType {
    match sym {
        Sym::Step { .. } => lsp::SemanticTokenType::FUNCTION,
        Sym::Decl(kind, _) => match kind {
            DeclKind::Workflow => lsp::SemanticTokenType::NAMESPACE,
            DeclKind::Agent => lsp::SemanticTokenType::CLASS,
            DeclKind::Policy => lsp::SemanticTokenType::INTERFACE,
            DeclKind::Store => lsp::SemanticTokenType::STRUCT,
            DeclKind::Template => lsp::SemanticTokenType::MACRO,
            DeclKind::Resource => lsp::SemanticTokenType::TYPE,
            DeclKind::Instance | DeclKind::Env | DeclKind::Secrets => lsp::SemanticTokenType::VARIABLE,
        },
        Sym::Set(_) => lsp::SemanticTokenType::ENUM,
        Sym::Key { .. } => lsp::SemanticTokenType::ENUM_MEMBER,
        Sym::Input { .. } => lsp::SemanticTokenType::PARAMETER,
    }
}

/// Names the language gives every expression.
const BUILTINS: &[&str] = &["inputs", "run", "env", "item", "items", "event", "output", "self", "input"];

pub fn semantic_tokens(snap: &Snapshot, uri: &lsp::Uri) -> Option<lsp::SemanticTokensResult> {
    let cx = FileCx::new(snap, uri)?;
    let index = file_index(&snap.db, cx.file.source);
    // By start: a span holds one token; names (occurrences) win over the
    // generic expression paths that cover the same text.
    let mut tokens: BTreeMap<u32, (Span, u32, u32)> = BTreeMap::new();
    for site in &index.exprs {
        let Ok(node) = flowc_compiler::cel_check::parse_expr(&site.expr) else { continue };
        for path in expr_paths(&node) {
            for (i, (name, span)) in path.iter().enumerate() {
                let (ty, mods) = if i > 0 {
                    (lsp::SemanticTokenType::PROPERTY, 0)
                } else if BUILTINS.contains(&name.as_str()) {
                    (lsp::SemanticTokenType::VARIABLE, 2)
                } else {
                    (lsp::SemanticTokenType::VARIABLE, 0)
                };
                tokens.insert(span.start, (*span, type_index(&ty), mods));
            }
        }
    }
    for occ in &index.occs {
        tokens.insert(occ.span.start, (occ.span, type_index(&sym_type(&occ.sym)), u32::from(occ.def)));
    }
    let mut data = Vec::with_capacity(tokens.len());
    let (mut line, mut col) = (0u32, 0u32);
    let mut last_end = 0u32;
    for (span, ty, mods) in tokens.into_values() {
        // Tokens must not overlap, and each stays on one line.
        if span.start < last_end || span.is_empty() || cx.text.text.get(span.range()).is_none_or(|t| t.contains('\n')) {
            continue;
        }
        last_end = span.end;
        let start = cx.text.position(span.start);
        let end = cx.text.position(span.end);
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 { start.character - col } else { start.character };
        data.push(lsp::SemanticToken { delta_line, delta_start, length: end.character - start.character, token_type: ty, token_modifiers_bitset: mods });
        line = start.line;
        col = start.character;
    }
    Some(lsp::SemanticTokensResult::Tokens(lsp::SemanticTokens { result_id: None, data }))
}
