//! Between the compiler's byte spans and the protocol's positions (lines and
//! UTF-16 columns), from the compiler's diagnostics to LSP diagnostics, and
//! from the editor features' plain answers (`crate::ide`) to LSP types.

use std::collections::HashMap;

use flowc_compiler::{Diagnostic, Severity};
use tower_lsp_server::ls_types as lsp;

use crate::ide::actions::CodeAction;
use crate::ide::completion::{CompletionItem, CompletionKind};
use crate::ide::hover::Hover;
use crate::ide::navigate::Highlight;
use crate::ide::symbols::{Symbol, SymbolKind};
use crate::ide::tokens::{DECLARATION, DEFAULT_LIBRARY, Token, TokenType};
use crate::ide::{FileEdits, FileSpan, TextEdit};
use crate::ide::docs_url;
use crate::snapshot::Snapshot;
pub use crate::text::TextRef;

/// One compiler diagnostic as the protocol shows it. `locate` turns a path
/// (the file the diagnostic or a related location is in) into its URI and
/// text; a related location in a file the server does not know is dropped.
pub fn diagnostic<'a>(
    d: &Diagnostic,
    here: TextRef<'_>,
    locate: &dyn Fn(&str) -> Option<(lsp::Uri, TextRef<'a>)>,
) -> lsp::Diagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related: Vec<lsp::DiagnosticRelatedInformation> = d
        .related
        .iter()
        .filter_map(|r| {
            let (uri, text) = locate(&r.path)?;
            Some(lsp::DiagnosticRelatedInformation {
                location: lsp::Location { uri, range: text.range(r.span) },
                message: r.message.clone(),
            })
        })
        .collect();
    let href = docs_url(d.code.as_str()).parse::<lsp::Uri>().ok();
    lsp::Diagnostic {
        range: here.range(d.span),
        severity: Some(match d.severity {
            Severity::Error => lsp::DiagnosticSeverity::ERROR,
            Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        }),
        code: Some(lsp::NumberOrString::String(d.code.as_str().to_string())),
        code_description: href.map(|href| lsp::CodeDescription { href }),
        source: Some("flowc".to_string()),
        message,
        related_information: if related.is_empty() { None } else { Some(related) },
        tags: if d.code == flowc_compiler::Code::Unused { Some(vec![lsp::DiagnosticTag::UNNECESSARY]) } else { None },
        data: None,
    }
}

/// A hover with its range.
pub fn hover(text: TextRef<'_>, hover: Hover) -> lsp::Hover {
    lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent { kind: lsp::MarkupKind::Markdown, value: hover.markdown }),
        range: Some(text.range(hover.span)),
    }
}

/// A span of a project file as a location; `None` for a file the snapshot
/// does not know.
pub fn location(snap: &Snapshot, at: &FileSpan) -> Option<lsp::Location> {
    let (uri, text) = snap.locate(&at.path)?;
    Some(lsp::Location { uri, range: text.range(at.span) })
}

/// Definitions: one location alone, several as an array.
pub fn definition(snap: &Snapshot, defs: &[FileSpan]) -> Option<lsp::GotoDefinitionResponse> {
    let mut locations: Vec<lsp::Location> = defs.iter().filter_map(|d| location(snap, d)).collect();
    match locations.len() {
        0 => None,
        1 => locations.pop().map(lsp::GotoDefinitionResponse::Scalar),
        _ => Some(lsp::GotoDefinitionResponse::Array(locations)),
    }
}

/// References as locations.
pub fn locations(snap: &Snapshot, spans: &[FileSpan]) -> Vec<lsp::Location> {
    spans.iter().filter_map(|s| location(snap, s)).collect()
}

/// Document highlights: a definition is a write, a use a read.
pub fn highlights(text: TextRef<'_>, highlights: Vec<Highlight>) -> Vec<lsp::DocumentHighlight> {
    highlights
        .into_iter()
        .map(|h| lsp::DocumentHighlight {
            range: text.range(h.span),
            kind: Some(if h.def { lsp::DocumentHighlightKind::WRITE } else { lsp::DocumentHighlightKind::READ }),
        })
        .collect()
}

fn completion_kind(kind: CompletionKind) -> lsp::CompletionItemKind {
    match kind {
        CompletionKind::Keyword => lsp::CompletionItemKind::KEYWORD,
        CompletionKind::Step => lsp::CompletionItemKind::FUNCTION,
        CompletionKind::Variable => lsp::CompletionItemKind::VARIABLE,
        CompletionKind::Field => lsp::CompletionItemKind::FIELD,
        CompletionKind::Agent | CompletionKind::ResourceKind => lsp::CompletionItemKind::CLASS,
        CompletionKind::Policy => lsp::CompletionItemKind::INTERFACE,
        CompletionKind::Template => lsp::CompletionItemKind::SNIPPET,
        CompletionKind::Workflow => lsp::CompletionItemKind::MODULE,
        CompletionKind::Store => lsp::CompletionItemKind::STRUCT,
        CompletionKind::Set => lsp::CompletionItemKind::ENUM,
        CompletionKind::Key => lsp::CompletionItemKind::ENUM_MEMBER,
    }
}

/// Completion items as a plain array.
pub fn completion(items: Vec<CompletionItem>) -> lsp::CompletionResponse {
    lsp::CompletionResponse::Array(
        items
            .into_iter()
            .map(|i| lsp::CompletionItem {
                label: i.label,
                kind: Some(completion_kind(i.kind)),
                detail: i.detail,
                insert_text: i.insert_text,
                ..Default::default()
            })
            .collect(),
    )
}

/// Edits of one file.
pub fn text_edits(text: TextRef<'_>, edits: Vec<TextEdit>) -> Vec<lsp::TextEdit> {
    edits.into_iter().map(|e| lsp::TextEdit { range: text.range(e.span), new_text: e.new_text }).collect()
}

/// Edits across files as a workspace edit; `None` when one of the files is
/// unknown to the snapshot.
pub fn workspace_edit(snap: &Snapshot, edits: FileEdits) -> Option<lsp::WorkspaceEdit> {
    let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for (path, edits) in edits {
        let (uri, text) = snap.locate(&path)?;
        changes.entry(uri).or_default().extend(text_edits(text, edits));
    }
    Some(lsp::WorkspaceEdit { changes: Some(changes), ..Default::default() })
}

/// Quick fixes, each with the diagnostic it fixes as the client was sent it.
pub fn code_actions(snap: &Snapshot, text: TextRef<'_>, actions: Vec<CodeAction>) -> lsp::CodeActionResponse {
    actions
        .into_iter()
        .filter_map(|a| {
            let shown = diagnostic(&a.diagnostic, text, &|p| snap.locate(p));
            Some(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: a.title,
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![shown]),
                edit: Some(workspace_edit(snap, a.edits)?),
                is_preferred: a.preferred.then_some(true),
                ..Default::default()
            }))
        })
        .collect()
}

fn symbol_kind(kind: SymbolKind) -> lsp::SymbolKind {
    match kind {
        SymbolKind::Workflow => lsp::SymbolKind::MODULE,
        SymbolKind::Agent | SymbolKind::Resource => lsp::SymbolKind::CLASS,
        SymbolKind::Env => lsp::SymbolKind::VARIABLE,
        SymbolKind::Secrets => lsp::SymbolKind::KEY,
        SymbolKind::Store => lsp::SymbolKind::STRUCT,
        SymbolKind::Policy => lsp::SymbolKind::INTERFACE,
        SymbolKind::Template | SymbolKind::Step => lsp::SymbolKind::FUNCTION,
        SymbolKind::Instance => lsp::SymbolKind::OBJECT,
        SymbolKind::Test => lsp::SymbolKind::EVENT,
        SymbolKind::Input => lsp::SymbolKind::FIELD,
        SymbolKind::Output => lsp::SymbolKind::PROPERTY,
        SymbolKind::Invariant => lsp::SymbolKind::EVENT,
        SymbolKind::Group => lsp::SymbolKind::NAMESPACE,
    }
}

/// The outline as nested document symbols.
#[allow(deprecated)] // `deprecated` is a required field of the struct.
pub fn document_symbol(text: TextRef<'_>, s: Symbol) -> lsp::DocumentSymbol {
    let children: Vec<lsp::DocumentSymbol> = s.children.into_iter().map(|c| document_symbol(text, c)).collect();
    lsp::DocumentSymbol {
        name: s.name,
        detail: s.detail,
        kind: symbol_kind(s.kind),
        tags: None,
        deprecated: None,
        range: text.range(s.span),
        selection_range: text.range(s.name_span),
        children: if children.is_empty() { None } else { Some(children) },
    }
}

fn token_type(t: TokenType) -> lsp::SemanticTokenType {
    match t {
        TokenType::Function => lsp::SemanticTokenType::FUNCTION,
        TokenType::Namespace => lsp::SemanticTokenType::NAMESPACE,
        TokenType::Class => lsp::SemanticTokenType::CLASS,
        TokenType::Interface => lsp::SemanticTokenType::INTERFACE,
        TokenType::Struct => lsp::SemanticTokenType::STRUCT,
        TokenType::Macro => lsp::SemanticTokenType::MACRO,
        TokenType::Type => lsp::SemanticTokenType::TYPE,
        TokenType::Variable => lsp::SemanticTokenType::VARIABLE,
        TokenType::Enum => lsp::SemanticTokenType::ENUM,
        TokenType::EnumMember => lsp::SemanticTokenType::ENUM_MEMBER,
        TokenType::Parameter => lsp::SemanticTokenType::PARAMETER,
        TokenType::Property => lsp::SemanticTokenType::PROPERTY,
    }
}

/// The semantic tokens legend: the token types in `TokenType::ALL` order,
/// the modifiers by bit.
pub fn legend() -> lsp::SemanticTokensLegend {
    let mut token_modifiers = Vec::new();
    for (bit, modifier) in [(DECLARATION, lsp::SemanticTokenModifier::DECLARATION), (DEFAULT_LIBRARY, lsp::SemanticTokenModifier::DEFAULT_LIBRARY)] {
        debug_assert_eq!(bit, 1 << token_modifiers.len());
        token_modifiers.push(modifier);
    }
    lsp::SemanticTokensLegend { token_types: TokenType::ALL.into_iter().map(token_type).collect(), token_modifiers }
}

/// Tokens (in text order, each on one line) in the protocol's relative
/// encoding: line and start deltas, lengths in UTF-16 units.
pub fn semantic_tokens(text: TextRef<'_>, tokens: Vec<Token>) -> lsp::SemanticTokensResult {
    let mut data = Vec::with_capacity(tokens.len());
    let (mut line, mut col) = (0u32, 0u32);
    for (span, ty, mods) in tokens {
        let start = text.position(span.start);
        let end = text.position(span.end);
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 { start.character - col } else { start.character };
        data.push(lsp::SemanticToken { delta_line, delta_start, length: end.character - start.character, token_type: ty.index(), token_modifiers_bitset: mods });
        line = start.line;
        col = start.character;
    }
    lsp::SemanticTokensResult::Tokens(lsp::SemanticTokens { result_id: None, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::apply_change;

    fn pos(line: u32, character: u32) -> lsp::Position {
        lsp::Position { line, character }
    }

    #[test]
    fn incremental_changes_apply_in_utf16_units() {
        let mut text = "a😀b\ncd\n".to_string();
        let change = |l0, c0, l1, c1, t: &str| lsp::TextDocumentContentChangeEvent {
            range: Some(lsp::Range { start: pos(l0, c0), end: pos(l1, c1) }),
            range_length: None,
            text: t.to_string(),
        };
        apply_change(&mut text, None, &change(0, 3, 0, 4, "X"));
        assert_eq!(text, "a😀X\ncd\n");
        apply_change(&mut text, None, &change(0, 4, 1, 1, ""));
        assert_eq!(text, "a😀Xd\n");
        // Past the end of a line or the file: clamped, never a panic.
        apply_change(&mut text, None, &change(0, 99, 0, 99, "!"));
        assert_eq!(text, "a😀Xd!\n");
        apply_change(&mut text, None, &change(7, 0, 9, 9, "?"));
        assert_eq!(text, "a😀Xd!\n?");
        // A position inside a surrogate pair does not split the character.
        apply_change(&mut text, None, &change(0, 2, 0, 2, "_"));
        assert_eq!(text, "a😀_Xd!\n?");
    }
}
