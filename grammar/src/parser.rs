//! From text to the owned AST. Parsing never fails: it returns the tree it
//! could build and the syntax errors it found.

use pest::Parser as _;
use pest::iterators::Pair;

use crate::ast::*;
use crate::errors::{self, SyntaxError, SyntaxErrorKind};
use crate::lexer::{self, LexErrorKind};

pub use crate::rules::{FlowParser, Rule};

/// The result of parsing one file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Parse {
    /// The tree built: every declaration that parsed, with the statements that did.
    pub file: SourceFile,
    /// Every syntax error found, lexical and grammatical, sorted by position.
    pub errors: Vec<SyntaxError>,
}

/// Parses a whole `.flow` file.
pub fn parse(src: &str) -> Parse {
    parse_lexed(src).0
}

/// Parses a whole file, and returns the lexical scan made on the way (the
/// formatter needs its comments).
pub(crate) fn parse_lexed(src: &str) -> (Parse, lexer::Lexed) {
    let lexed = lexer::lex(src);
    if let Some(at) = lexed.too_deep {
        let parse = Parse {
            file: SourceFile::default(),
            errors: vec![SyntaxError {
                fix: None,
                kind: SyntaxErrorKind::NestingTooDeep,
                span: at,
                message: format!("brackets nest more than {} deep here", lexer::MAX_NESTING),
                label: "too deep".into(),
                help: Some("flatten the nested lists or objects".into()),
            }],
        };
        return (parse, lexed);
    }
    let mut b = Builder { errors: Vec::new(), chunks: Vec::new() };
    let file = match FlowParser::parse(Rule::file, src) {
        Ok(mut pairs) => match pairs.next() {
            Some(pair) => b.file(pair),
            None => SourceFile::default(),
        },
        // The top rule always matches (recovery accepts any character), so the
        // only failure left is pest's own recursion guard on absurd nesting.
        Err(e) => {
            let at = match e.location {
                pest::error::InputLocation::Pos(p) => p,
                pest::error::InputLocation::Span((s, _)) => s,
            };
            b.errors.push(SyntaxError {
                fix: None,
                kind: SyntaxErrorKind::NestingTooDeep,
                span: errors::found_token(src, at).1,
                message: "this file nests too deeply to parse".into(),
                label: "nesting gives up here".into(),
                help: Some("flatten the nested lists or objects".into()),
            });
            SourceFile::default()
        }
    };
    let mut errors = lex_errors(&lexed);
    let swallowed_from = lexed
        .errors
        .iter()
        .filter(|e| e.kind != LexErrorKind::InvalidEscape)
        .map(|e| e.token.start)
        .min();
    let chunks = std::mem::take(&mut b.chunks);
    for chunk in chunks {
        let err = chunk_error(src, &chunk, &lexed);
        let at = err.span.start;
        // A lexical error explains everything that fails inside its token, and an
        // unterminated token swallows the rest of the file.
        let explained = lexed.errors.iter().any(|e| e.token.start <= at && at <= e.token.end)
            || swallowed_from.is_some_and(|s| at >= s);
        if !explained {
            errors.push(err);
        }
    }
    errors.extend(b.errors);
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    errors.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    (Parse { file, errors }, lexed)
}

fn lex_errors(lexed: &lexer::Lexed) -> Vec<SyntaxError> {
    lexed
        .errors
        .iter()
        .map(|e| match e.kind {
            LexErrorKind::UnterminatedString => SyntaxError {
                fix: None,
                kind: SyntaxErrorKind::UnterminatedString,
                span: e.span,
                message: "this string is never closed".into(),
                label: "the string starts here".into(),
                help: Some("add the closing `\"`".into()),
            },
            LexErrorKind::UnterminatedBacktick => SyntaxError {
                fix: None,
                kind: SyntaxErrorKind::UnterminatedExpression,
                span: e.span,
                message: "this expression is never closed".into(),
                label: "the expression starts here".into(),
                help: Some("add the closing backtick".into()),
            },
            LexErrorKind::UnterminatedComment => SyntaxError {
                fix: None,
                kind: SyntaxErrorKind::UnterminatedComment,
                span: e.span,
                message: "this block comment is never closed".into(),
                label: "the comment starts here".into(),
                help: Some("add the closing `*/`".into()),
            },
            LexErrorKind::InvalidEscape => SyntaxError {
                fix: None,
                kind: SyntaxErrorKind::InvalidEscape,
                span: e.span,
                message: "unknown escape sequence in a string".into(),
                label: "not an escape".into(),
                help: Some(
                    "the escapes are \\\" \\\\ \\/ \\n \\t \\r \\0 \\$ and \\u{…}; write \\\\ for a backslash".into(),
                ),
            },
        })
        .collect()
}

/// One piece of a file parsed on its own (see [`crate::outline`]); spans are
/// relative to the start of the piece.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PieceAst {
    /// A top-level declaration ([`crate::outline::PieceKind::Declaration`]).
    Decl(Decl),
    /// One workflow statement, or a group header parsed as an empty group.
    Item(WorkflowStmt),
}

/// Parses one piece. `None` when the piece is not one declaration or workflow
/// item at all; otherwise the tree and whether it is clean (no recovered
/// statement, no out-of-range literal). The compiler's fast path wants clean
/// pieces and falls back to the whole file for real messages otherwise.
pub fn parse_piece(kind: crate::outline::PieceKind, text: &str) -> Option<(PieceAst, bool)> {
    use crate::outline::PieceKind;
    // A group header is the group up to its `{`: closed here, it parses as a
    // group without members, with the same spans.
    let closed;
    // The compiler splits only files the lexer passed (`outline`), but a piece
    // is input too: nesting beyond the bound would exhaust pest's stack.
    // Only `[`, `(` and `{` deepen the lexer's count, so a piece with fewer of
    // them than the bound (every ordinary piece) cannot be too deep, and is
    // not lexed a second time just to learn that.
    let openers = text.bytes().filter(|b| matches!(b, b'[' | b'(' | b'{')).count();
    if openers > lexer::MAX_NESTING && lexer::lex(text).too_deep.is_some() {
        return None;
    }
    let (rule, text) = match kind {
        PieceKind::Declaration => (Rule::piece_declaration, text),
        PieceKind::WorkflowItem => (Rule::piece_workflow_item, text),
        PieceKind::GroupHeader => {
            closed = format!("{text}}}");
            (Rule::piece_workflow_item, closed.as_str())
        }
    };
    let top = FlowParser::parse(rule, text).ok()?.next()?;
    let mut b = Builder { errors: Vec::new(), chunks: Vec::new() };
    let inner = top.into_inner().next()?;
    let piece = match kind {
        PieceKind::Declaration => PieceAst::Decl(b.decl(inner.into_inner().next()?)),
        PieceKind::WorkflowItem | PieceKind::GroupHeader => PieceAst::Item(b.workflow_stmt(inner.into_inner().next()?)),
    };
    Some((piece, b.errors.is_empty() && b.chunks.is_empty()))
}

/// The kind of block a recovered chunk was found in, which names the strict
/// rule to re-parse it with.
#[derive(Clone, Copy, Debug)]
enum Block {
    Top,
    Workflow,
    Group,
    Step,
    Safety,
    Invariant,
    Env,
    Secrets,
    Agent,
    Store,
    Retention,
    Policy,
    Resource,
    Test,
}

impl Block {
    fn strict_rule(self) -> Rule {
        match self {
            Block::Top => Rule::file_strict,
            Block::Workflow => Rule::workflow_items_strict,
            Block::Group => Rule::group_items_strict,
            Block::Step => Rule::step_items_strict,
            Block::Safety => Rule::safety_items_strict,
            Block::Invariant => Rule::invariant_items_strict,
            Block::Env => Rule::env_entries_strict,
            Block::Secrets => Rule::secret_entries_strict,
            Block::Agent => Rule::agent_items_strict,
            Block::Store => Rule::store_items_strict,
            Block::Retention => Rule::retention_items_strict,
            Block::Policy => Rule::policy_items_strict,
            Block::Resource => Rule::resource_items_strict,
            Block::Test => Rule::test_items_strict,
        }
    }
}

/// Text the parser skipped to recover.
struct Chunk {
    span: Span,
    block: Block,
    /// Where to start the strict re-parse: the statement before the chunk (its
    /// optional trailing clauses may be what went wrong) or the chunk itself.
    from: u32,
}

/// How far past a chunk its strict re-parse reads before trying the rest of the file.
const STRICT_WINDOW: usize = 256;

/// Where a strict parse of `text` fails, and what it expected there.
fn strict_failure(rule: Rule, text: &str) -> Option<(usize, Vec<Rule>)> {
    let e = FlowParser::parse(rule, text).err()?;
    let at = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let positives = match e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives,
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    Some((at, positives))
}

/// Re-parses from the statement before the chunk without recovery: pest's
/// furthest failure then says exactly what was expected.
fn chunk_error(src: &str, chunk: &Chunk, lexed: &lexer::Lexed) -> SyntaxError {
    let from = chunk.from as usize;
    // pest's error finds the line of its position by scanning from the end
    // of the input, so a re-parse over the rest of the file costs the rest
    // of the file: with a chunk on every line, the file's length squared.
    // The failure is almost always within the chunk, so try a window past
    // it first, and the whole rest only when the window ran out.
    let mut window = (chunk.span.end as usize).saturating_add(STRICT_WINDOW).min(src.len());
    while !src.is_char_boundary(window) {
        window -= 1;
    }
    let mut failure = strict_failure(chunk.block.strict_rule(), &src[from..window]);
    if window < src.len() && failure.as_ref().is_none_or(|(at, _)| from + at >= window) {
        failure = strict_failure(chunk.block.strict_rule(), &src[from..]);
    }
    let (at, positives) = match failure {
        Some((at, positives)) => (from + at, positives),
        // Cannot happen (the recovering parse failed here), but never panic on input.
        None => (chunk.span.start as usize, Vec::new()),
    };
    let at = at.max(chunk.span.start as usize).min(src.len());
    if positives.contains(&Rule::hole_close) {
        let open = src[..at].rfind("${").unwrap_or(at);
        return SyntaxError {
            fix: None,
            kind: SyntaxErrorKind::UnclosedHole,
            span: Span::from_range(open..open + 2),
            message: "this `${` hole is never closed".into(),
            label: "the hole starts here".into(),
            help: Some(
                "close it with `}` on the same line; inside a hole, CEL strings take single quotes ('text'), and `$${` writes a literal `${`"
                    .into(),
            ),
        };
    }
    if at >= src.len() && positives.contains(&Rule::close_brace)
        && let Some(open) = lexer::unclosed_brace(src, &lexed.tokens) {
            return SyntaxError {
                fix: None,
                kind: SyntaxErrorKind::UnclosedBrace,
                span: open,
                message: "this `{` is never closed".into(),
                label: "opened here".into(),
                help: Some("add the matching `}`".into()),
            };
        }
    if let Some(err) = unknown_trigger_rule(src, at) {
        return err;
    }
    errors::unexpected(src, at, &positives)
}

/// `after any_success(a, b)`: the grammar reads `any_success` as the name of a
/// dependency and only stumbles at the `(`, where "expected `{`" would blame
/// the wrong token. Name the word that is not a trigger rule instead.
fn unknown_trigger_rule(src: &str, at: usize) -> Option<SyntaxError> {
    if !src[at..].starts_with('(') {
        return None;
    }
    let before = src[..at].trim_end();
    // After the char that ends the word, which may take several bytes.
    let word_start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &before[word_start..];
    let head = before[..word_start].trim_end();
    let after_keyword = head.strip_suffix("after").is_some_and(|rest| {
        rest.chars().next_back().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    });
    if word.is_empty() || !after_keyword {
        return None;
    }
    // "any" reads as "one" more often than as "all": offer one_success first on a tie.
    let first = ["one_success", "all_done", "all_success"];
    let candidates: Vec<&str> = first.into_iter().chain(TriggerRule::ALL.iter().map(|r| r.keyword()).filter(|w| !first.contains(w))).collect();
    let suggestion = errors::did_you_mean(word, &candidates);
    let rules = "trigger rules are `all_success` (the default), `all_failed`, `all_done`, `all_skipped`, `one_success`, `one_failed`, `one_done`, `none_failed`, `none_failed_min_one_success`, `none_skipped` and `always`";
    Some(SyntaxError {
        fix: None,
        kind: SyntaxErrorKind::Unexpected,
        span: Span::from_range(word_start..word_start + word.len()),
        message: format!("`{word}` is not a trigger rule"),
        label: "not a trigger rule".into(),
        help: Some(match suggestion {
            Some(s) => format!("did you mean `{s}`? The {rules}"),
            None => format!("the {rules}"),
        }),
    })
}

struct Builder {
    errors: Vec<SyntaxError>,
    chunks: Vec<Chunk>,
}

fn span(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    let text = s.as_str();
    // Only blanks and comments can end a rule's text with a blank or `*/`.
    let end = if text.ends_with(|c: char| c.is_ascii_whitespace() || c == '\u{FEFF}') || text.ends_with("*/") {
        content_end(p)
    } else {
        s.end()
    };
    Span::from_range(s.start()..end)
}

/// Where a rule's own text ends. pest puts the blanks and comments after a
/// rule's last token inside its span when the rule ends with an optional or
/// repeated part (`a ~ b?` skips them before trying `b`, and keeps them when
/// `b` is absent). Spans must not: a statement's span would swallow the
/// comment after it, and the blank line that separates it from the next.
fn content_end(p: &Pair<'_, Rule>) -> usize {
    let s = p.as_span();
    match p.clone().into_inner().last() {
        Some(last) => {
            let end = content_end(&last);
            if is_trivia(s.get_input().get(end..s.end()).unwrap_or("")) { end } else { s.end() }
        }
        None => s.end(),
    }
}

/// Whether a text is only blanks and comments.
fn is_trivia(mut text: &str) -> bool {
    loop {
        text = text.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\u{FEFF}');
        if let Some(rest) = text.strip_prefix("//") {
            text = rest.find('\n').map_or("", |i| &rest[i..]);
        } else if let Some(rest) = text.strip_prefix("/*") {
            match rest.find("*/") {
                Some(i) => text = &rest[i + 2..],
                None => return false,
            }
        } else {
            return text.is_empty();
        }
    }
}

/// Rules that are pure punctuation or keywords: the builder never needs them.
fn is_token(rule: Rule) -> bool {
    // Asked for every pair of every parse: answer from a table built once
    // instead of formatting the rule's name each time.
    static TOKENS: std::sync::LazyLock<Vec<bool>> = std::sync::LazyLock::new(|| {
        use Rule::*;
        let all = Rule::all_rules();
        let mut table = vec![false; all.iter().map(|r| *r as usize + 1).max().unwrap_or(0)];
        for rule in all {
            table[*rule as usize] = matches!(
                rule,
                open_brace | open_paren | colon | close_brace | close_bracket | close_paren | arrow | equals | kind_call_kw
            ) || format!("{rule:?}").starts_with("kw_");
        }
        table
    });
    TOKENS.get(rule as usize).copied().unwrap_or(false)
}

/// The meaningful children of a pair.
fn missing_path(sp: Span) -> StepPath {
    StepPath { workflow: None, step: missing(sp), span: sp }
}

fn kids<'i>(p: Pair<'i, Rule>) -> impl Iterator<Item = Pair<'i, Rule>> {
    p.into_inner().filter(|c| !is_token(c.as_rule()))
}

impl Builder {
    /// Walks a block's children, handing statements to `each` and recording
    /// recovered chunks (one per run of consecutive chunks, so one mistake
    /// does not cascade into a screenful).
    fn block<'i>(&mut self, pairs: impl Iterator<Item = Pair<'i, Rule>>, block: Block, mut each: impl FnMut(&mut Self, Pair<'i, Rule>)) {
        let mut prev_start: Option<u32> = None;
        let mut prev_recovered = false;
        for child in pairs {
            match child.as_rule() {
                Rule::recover | Rule::recover_top => {
                    // At the top level, a run of skipped lines is one mistake (usually a
                    // broken declaration); inside a block each skipped statement is its own.
                    if !(prev_recovered && matches!(block, Block::Top)) {
                        let s = span(&child);
                        self.chunks.push(Chunk { span: s, block, from: prev_start.unwrap_or(s.start) });
                    }
                    prev_recovered = true;
                    // The statement before a later chunk is this chunk, not the
                    // last good statement: re-parse from the chunk itself.
                    prev_start = None;
                }
                Rule::EOI => {}
                _ => {
                    prev_start = Some(span(&child).start);
                    prev_recovered = false;
                    each(self, child);
                }
            }
        }
    }

    fn file(&mut self, p: Pair<'_, Rule>) -> SourceFile {
        let mut decls = Vec::new();
        self.block(kids(p), Block::Top, |b, decl| {
            if let Some(inner) = decl.into_inner().next() {
                decls.push(b.decl(inner));
            }
        });
        SourceFile { decls }
    }

    fn decl(&mut self, p: Pair<'_, Rule>) -> Decl {
        let sp = span(&p);
        match p.as_rule() {
            Rule::workflow => Decl::Workflow(self.workflow(p)),
            Rule::agent => {
                let mut it = kids(p);
                let name = self.name(it.next());
                let mut body = Vec::new();
                self.block(it, Block::Agent, |b, item| body.push(b.agent_stmt(item)));
                Decl::Agent(Agent { name, body, span: sp })
            }
            Rule::env_set => {
                let mut it = kids(p);
                let name = self.name(it.next());
                let mut entries = Vec::new();
                self.block(it, Block::Env, |b, item| entries.push(b.env_entry(item)));
                let body_start = name.span.end;
                Decl::Env(EnvSet { name, body: EnvBlock { entries, span: Span::new(body_start, sp.end) }, span: sp })
            }
            Rule::secret_set => {
                let mut it = kids(p);
                let name = self.name(it.next());
                let mut entries = Vec::new();
                self.block(it, Block::Secrets, |b, item| entries.push(b.secret_entry(item)));
                Decl::Secrets(SecretSet { name, entries, span: sp })
            }
            Rule::store => {
                let mut it = kids(p);
                let name = self.name(it.next());
                let mut body = Vec::new();
                self.block(it, Block::Store, |b, item| body.push(b.store_stmt(item)));
                Decl::Store(Store { name, body, span: sp })
            }
            Rule::policy => {
                let mut it = kids(p);
                let name = self.name(it.next());
                let mut body = Vec::new();
                self.block(it, Block::Policy, |b, item| body.push(b.policy_stmt(item)));
                Decl::Policy(Policy { name, body, span: sp })
            }
            Rule::resource => {
                let mut it = kids(p);
                let kind = self.name(it.next());
                let mut body = Vec::new();
                self.block(it, Block::Resource, |b, item| body.push(b.resource_stmt(item)));
                Decl::Resource(Resource { kind, body, span: sp })
            }
            Rule::template_decl => {
                let mut name = None;
                let mut params = Vec::new();
                let mut params_span = None;
                let mut kind = None;
                let mut kind_span = None;
                let mut body = Vec::new();
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::ident => name = Some(self.ident(c)),
                        Rule::template_params => {
                            params_span = Some(span(&c));
                            for param in kids(c).filter(|k| k.as_rule() == Rule::template_param) {
                                let psp = span(&param);
                                let mut it = kids(param);
                                let name = self.name(it.next());
                                let ty = it.next().map(|t| self.type_expr(t)).unwrap_or_else(|| any_type(psp));
                                let default = it.next().map(|v| self.value(v));
                                params.push(Input { name, ty, default });
                            }
                        }
                        Rule::kind_clause => {
                            let (k, s, _) = self.kind_clause(c);
                            kind = Some(k);
                            kind_span = Some(s);
                        }
                        Rule::step_body => body = self.step_body(c),
                        _ => {}
                    }
                }
                Decl::Template(Template { name: name.unwrap_or_else(|| missing(sp)), params, params_span, kind, kind_span, body, span: sp })
            }
            Rule::instance => {
                let mut it = kids(p);
                let kind = self.name(it.next());
                let name = self.name(it.next());
                let (fields, body_span) = match it.next() {
                    Some(body) => {
                        let bs = span(&body);
                        (kids(body).map(|f| self.field(f)).collect(), bs)
                    }
                    None => (Vec::new(), sp),
                };
                Decl::Instance(Instance { kind, name, fields, body_span, span: sp })
            }
            Rule::test_decl => {
                let mut it = kids(p);
                let name = match it.next() {
                    Some(s) if s.as_rule() == Rule::string => {
                        let lit = self.string(s);
                        Name { text: lit.value, span: lit.span }
                    }
                    _ => missing(sp),
                };
                let mut body = Vec::new();
                self.block(it, Block::Test, |b, item| body.push(b.test_stmt(item)));
                Decl::Test(Test { name, body, span: sp })
            }
            other => unreachable_rule(other, sp, || Decl::Workflow(Workflow { name: missing(sp), body: Vec::new(), span: sp })),
        }
    }

    // ---------------------------------------------------------------- tests

    fn test_stmt(&mut self, item: Pair<'_, Rule>) -> TestStmt {
        let sp = span(&item);
        match item.into_inner().next() {
            Some(p) => self.test_action(p),
            None => TestStmt { kind: TestStmtKind::Advance(DurationLit { millis: 0, span: sp }), span: sp },
        }
    }

    /// One statement of a test, from its own rule (`test_run`, `test_mock`, …).
    fn test_action(&mut self, p: Pair<'_, Rule>) -> TestStmt {
        let sp = span(&p);
        let fallback = TestStmt { kind: TestStmtKind::Advance(DurationLit { millis: 0, span: sp }), span: sp };
        let kind = match p.as_rule() {
            Rule::test_run => {
                let mut workflow = missing(sp);
                let (mut inputs, mut initiator) = (None, None);
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::ident => workflow = self.ident(c),
                        Rule::object => inputs = Some(self.value(c)),
                        Rule::string => initiator = Some(self.string(c)),
                        _ => {}
                    }
                }
                TestStmtKind::Run { workflow, inputs, initiator }
            }
            Rule::test_mock => {
                let mut target = MockTarget::Agent(missing(sp));
                let mut results = Vec::new();
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::mock_agent => target = MockTarget::Agent(self.name(kids(c).next())),
                        Rule::step_path => target = MockTarget::Step(self.step_path(c)),
                        Rule::mock_result => {
                            if let Some(r) = c.into_inner().next() {
                                results.push(self.mock_result(r));
                            }
                        }
                        _ => {}
                    }
                }
                TestStmtKind::Mock { target, results }
            }
            Rule::test_decide => {
                let mut approve = true;
                let mut step = None;
                let mut strings = Vec::new();
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::decide_word => approve = c.as_str() == "approve",
                        Rule::step_path => step = Some(self.step_path(c)),
                        Rule::string => strings.push(self.string(c)),
                        _ => {}
                    }
                }
                let mut strings = strings.into_iter();
                let actor = strings.next().unwrap_or(StrLit { value: String::new(), span: sp });
                TestStmtKind::Decide { approve, step: step.unwrap_or_else(|| missing_path(sp)), actor, comment: strings.next() }
            }
            Rule::test_complete => {
                let (mut step, mut actor, mut output) = (None, None, None);
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::step_path => step = Some(self.step_path(c)),
                        Rule::string if actor.is_none() => actor = Some(self.string(c)),
                        Rule::value => output = Some(self.value(c)),
                        _ => {}
                    }
                }
                TestStmtKind::Complete {
                    step: step.unwrap_or_else(|| missing_path(sp)),
                    actor: actor.unwrap_or(StrLit { value: String::new(), span: sp }),
                    output: output.unwrap_or(Value { kind: ValueKind::Null, span: sp }),
                }
            }
            Rule::test_send => {
                let mut strings = Vec::new();
                let mut data = None;
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::string => strings.push(self.string(c)),
                        Rule::value => data = Some(self.value(c)),
                        _ => {}
                    }
                }
                let mut strings = strings.into_iter();
                let event_type = strings.next().unwrap_or(StrLit { value: String::new(), span: sp });
                TestStmtKind::Send { event_type, subject: strings.next(), data }
            }
            Rule::test_advance => match kids(p).next() {
                Some(d) => TestStmtKind::Advance(self.duration(d)),
                None => TestStmtKind::Advance(DurationLit { millis: 0, span: sp }),
            },
            Rule::test_expect => match kids(p).next() {
                Some(c) if c.as_rule() == Rule::cel => TestStmtKind::Expect(Expectation::Expr(self.cel(c))),
                Some(c) if c.as_rule() == Rule::expect_refused => {
                    let inner = match kids(c).next() {
                        Some(action) => self.test_action(action),
                        None => TestStmt { kind: TestStmtKind::Advance(DurationLit { millis: 0, span: sp }), span: sp },
                    };
                    TestStmtKind::Expect(Expectation::Refused(Box::new(inner)))
                }
                Some(c) => {
                    let mut it = kids(c);
                    let target = it.next().map(|t| self.step_path(t)).unwrap_or_else(|| missing_path(sp));
                    let status = self.name(it.next());
                    TestStmtKind::Expect(Expectation::Status { target, status })
                }
                None => TestStmtKind::Expect(Expectation::Expr(empty_expr(sp))),
            },
            _ => return fallback,
        };
        TestStmt { kind, span: sp }
    }

    fn step_path(&mut self, p: Pair<'_, Rule>) -> StepPath {
        let sp = span(&p);
        let names: Vec<Name> = kids(p).map(|n| self.ident(n)).collect();
        let mut names = names.into_iter();
        match (names.next(), names.next()) {
            (Some(workflow), Some(step)) => StepPath { workflow: Some(workflow), step, span: sp },
            (Some(step), None) => StepPath { workflow: None, step, span: sp },
            _ => missing_path(sp),
        }
    }

    fn mock_result(&mut self, p: Pair<'_, Rule>) -> MockResult {
        let sp = span(&p);
        match p.as_rule() {
            Rule::mock_returns => {
                let value = kids(p).next().map(|v| self.value(v)).unwrap_or(Value { kind: ValueKind::Null, span: sp });
                MockResult::Returns { value, span: sp }
            }
            _ => {
                let (mut exit, mut stderr) = (None, None);
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::int => exit = Some(self.int(c)),
                        Rule::string => stderr = Some(self.string(c)),
                        _ => {}
                    }
                }
                MockResult::Fails { exit, stderr, span: sp }
            }
        }
    }

    // ------------------------------------------------------------ workflow

    fn workflow(&mut self, p: Pair<'_, Rule>) -> Workflow {
        let sp = span(&p);
        let mut it = kids(p);
        let name = self.name(it.next());
        let mut body = Vec::new();
        if let Some(wb) = it.next() {
            self.block(kids(wb), Block::Workflow, |b, item| {
                if let Some(stmt) = item.into_inner().next() {
                    body.push(b.workflow_stmt(stmt));
                }
            });
        }
        Workflow { name, body, span: sp }
    }

    fn workflow_stmt(&mut self, p: Pair<'_, Rule>) -> WorkflowStmt {
        let sp = span(&p);
        let kind = match p.as_rule() {
            Rule::description_stmt => WorkflowStmtKind::Description(self.first_string(p)),
            Rule::input_stmt => {
                let mut it = kids(p);
                let name = self.name(it.next());
                let ty = it.next().map(|t| self.type_expr(t)).unwrap_or_else(|| any_type(sp));
                let default = it.next().map(|v| self.value(v));
                WorkflowStmtKind::Input(Input { name, ty, default })
            }
            Rule::on_stmt => {
                let trig = kids(p).next();
                WorkflowStmtKind::On(match trig {
                    Some(t) => self.trigger(t),
                    None => Trigger::Schedule { cron: StrLit { value: String::new(), span: sp }, catchup: None },
                })
            }
            Rule::retry_stmt => WorkflowStmtKind::Retry(self.retry(p)),
            Rule::timeout_stmt => WorkflowStmtKind::Timeout(self.first_duration(p)),
            Rule::run_on_failure_stmt => {
                let c = kids(p).find(|k| k.as_rule() == Rule::run_failure_mode);
                let s = c.as_ref().map(span).unwrap_or(sp);
                WorkflowStmtKind::OnFailure { compensate: c.is_some_and(|c| c.as_str() == "compensate"), span: s }
            }
            Rule::concurrency_stmt => WorkflowStmtKind::Concurrency(self.first_int(p)),
            Rule::budget_stmt => WorkflowStmtKind::Budget(self.first_number(p)),
            Rule::wf_output_stmt => {
                let mut it = kids(p);
                let name = self.name(it.next());
                let expr = it.next().map(|e| self.cel(e)).unwrap_or_else(|| empty_expr(sp));
                WorkflowStmtKind::Output(WorkflowOutput { name, expr })
            }
            Rule::safety_block => {
                let mut items = Vec::new();
                self.block(kids(p), Block::Safety, |b, item| {
                    if let Some(stmt) = item.into_inner().next() {
                        let r = stmt.as_rule();
                        match r {
                            Rule::max_spawned_tasks_stmt => items.push(SafetyItem::MaxSpawnedTasks(b.first_int(stmt))),
                            Rule::max_spawn_depth_stmt => items.push(SafetyItem::MaxSpawnDepth(b.first_int(stmt))),
                            _ => items.push(SafetyItem::SpawnCooldown(b.first_duration(stmt))),
                        }
                    }
                });
                WorkflowStmtKind::Safety(Safety { items })
            }
            Rule::invariant => WorkflowStmtKind::Invariant(self.invariant(p)),
            Rule::env_block => WorkflowStmtKind::Env(self.env_block(p)),
            Rule::step => WorkflowStmtKind::Step(self.step(p)),
            Rule::group | Rule::finally_block => WorkflowStmtKind::Group(self.group(p)),
            other => {
                return unreachable_rule(other, sp, || WorkflowStmt {
                    kind: WorkflowStmtKind::Description(StrLit { value: String::new(), span: sp }),
                    span: sp,
                });
            }
        };
        WorkflowStmt { kind, span: sp }
    }

    fn trigger(&mut self, p: Pair<'_, Rule>) -> Trigger {
        let sp = span(&p);
        match p.as_rule() {
            Rule::on_event => {
                let mut event_type = None;
                let mut subject = None;
                let mut filter = None;
                let mut after_subject = false;
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::kw_subject => after_subject = true,
                        Rule::string if after_subject => subject = Some(self.string(c)),
                        Rule::string => event_type = Some(self.string(c)),
                        Rule::cel => filter = Some(self.cel(c)),
                        _ => {}
                    }
                }
                Trigger::Event {
                    event_type: event_type.unwrap_or_else(|| StrLit { value: String::new(), span: sp }),
                    subject,
                    filter,
                }
            }
            Rule::on_webhook => {
                let mut it = kids(p);
                let path = it.next().map(|c| self.ident(c)).unwrap_or_else(|| missing(sp));
                let signature = it.next().map(|c| self.signature(c));
                Trigger::Webhook { path, signature }
            }
            _ => {
                let mut cron = None;
                let mut catchup = None;
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::string => cron = Some(self.string(c)),
                        Rule::catchup_clause => catchup = Some(self.catchup(c)),
                        _ => {}
                    }
                }
                Trigger::Schedule { cron: cron.unwrap_or_else(|| StrLit { value: String::new(), span: sp }), catchup }
            }
        }
    }

    fn signature(&mut self, p: Pair<'_, Rule>) -> Signature {
        let sp = span(&p);
        let mut out = Signature {
            scheme: SignatureScheme::Github,
            scheme_span: sp,
            header: None,
            set: missing(sp),
            key: missing(sp),
            tolerance: None,
            span: sp,
        };
        for c in kids(p) {
            match c.as_rule() {
                Rule::signature_scheme => {
                    out.scheme_span = span(&c);
                    out.scheme = if c.as_str() == "stripe" { SignatureScheme::Stripe } else { SignatureScheme::Github };
                }
                Rule::hmac_scheme => {
                    out.scheme = SignatureScheme::Hmac;
                    let mut inner = c.into_inner();
                    if let Some(kw) = inner.next() {
                        out.scheme_span = span(&kw);
                    }
                    out.header = inner.find(|h| h.as_rule() == Rule::string).map(|h| self.string(h));
                }
                Rule::key_ref => {
                    let mut r = kids(c);
                    out.set = self.name(r.next());
                    out.key = self.name(r.next());
                }
                Rule::tolerance_clause => out.tolerance = Some(self.first_duration(c)),
                _ => {}
            }
        }
        out
    }

    fn catchup(&mut self, p: Pair<'_, Rule>) -> CatchupClause {
        let sp = span(&p);
        let mut out = CatchupClause { mode: CatchupMode::Latest, mode_span: sp, within: None, span: sp };
        for c in kids(p) {
            match c.as_rule() {
                Rule::catchup_mode => {
                    out.mode_span = span(&c);
                    out.mode = match c.as_str() {
                        "none" => CatchupMode::None,
                        "all" => CatchupMode::All,
                        _ => CatchupMode::Latest,
                    };
                }
                Rule::within_clause => out.within = Some(self.first_duration(c)),
                _ => {}
            }
        }
        out
    }

    fn retry(&mut self, p: Pair<'_, Rule>) -> Retry {
        let sp = span(&p);
        let mut count = None;
        let mut on = None;
        let mut backoff = None;
        let mut max_duration = None;
        for c in kids(p) {
            match c.as_rule() {
                Rule::int => count = Some(self.int(c)),
                Rule::retry_on => {
                    let mut cond = RetryOn { span: span(&c), exits: Vec::new(), timeout: None };
                    for d in kids(c) {
                        match d.as_rule() {
                            Rule::retry_exit => {
                                for code in kids(d) {
                                    if code.as_rule() == Rule::int {
                                        cond.exits.push(self.int(code));
                                    }
                                }
                            }
                            Rule::retry_timeout => cond.timeout = Some(span(&d)),
                            _ => {}
                        }
                    }
                    on = Some(cond);
                }
                Rule::backoff_clause => {
                    let mut kind = BackoffKind::Exponential;
                    let mut kind_span = span(&c);
                    let mut durations = Vec::new();
                    let mut factor = None;
                    let mut jitter = None;
                    for d in kids(c) {
                        match d.as_rule() {
                            Rule::backoff_kind => {
                                kind_span = span(&d);
                                kind = if d.as_str() == "fixed" { BackoffKind::Fixed } else { BackoffKind::Exponential };
                            }
                            Rule::duration => durations.push(self.duration(d)),
                            Rule::factor_clause => {
                                if let Some(n) = kids(d).find(|n| n.as_rule() == Rule::number) {
                                    factor = Some(self.number(n));
                                }
                            }
                            Rule::jitter_clause => {
                                if let Some(n) = kids(d).find(|n| n.as_rule() == Rule::percent) {
                                    jitter = Some(self.percent(n));
                                }
                            }
                            _ => {}
                        }
                    }
                    let mut durations = durations.into_iter();
                    let delay = durations.next().unwrap_or(DurationLit { millis: 0, span: kind_span });
                    backoff = Some(Backoff { kind, kind_span, delay, factor, max: durations.next(), jitter });
                }
                Rule::max_duration_clause => {
                    if let Some(d) = kids(c).find(|d| d.as_rule() == Rule::duration) {
                        max_duration = Some(self.duration(d));
                    }
                }
                _ => {}
            }
        }
        Retry { count: count.unwrap_or(IntLit { value: 0, span: sp }), on, backoff, max_duration }
    }

    /// `20%`: the number before the `%`, with the span of both.
    fn percent(&mut self, p: Pair<'_, Rule>) -> IntLit {
        let sp = span(&p);
        match p.as_str().trim_end_matches('%').parse::<i64>() {
            Ok(value) => IntLit { value, span: sp },
            Err(_) => {
                self.errors.push(SyntaxError {
                    fix: None,
                    kind: SyntaxErrorKind::NumberOutOfRange,
                    span: sp,
                    message: "this percentage does not fit in 64 bits".into(),
                    label: "out of range".into(),
                    help: Some("a jitter is at most `100%`".into()),
                });
                IntLit { value: i64::MAX, span: sp }
            }
        }
    }

    fn invariant(&mut self, p: Pair<'_, Rule>) -> Invariant {
        let sp = span(&p);
        let mut it = kids(p);
        let name = self.name(it.next());
        let mut body = Vec::new();
        self.block(it, Block::Invariant, |b, item| {
            let Some(stmt) = item.into_inner().next() else { return };
            let ssp = span(&stmt);
            let kind = match stmt.as_rule() {
                Rule::description_stmt => InvariantStmtKind::Description(b.first_string(stmt)),
                Rule::check_cmd_stmt => InvariantStmtKind::Check(b.check_cmd(stmt)),
                Rule::on_violation_stmt => {
                    let mut action = ViolationAction::Abort;
                    let mut action_span = ssp;
                    let mut then = None;
                    for c in kids(stmt) {
                        match c.as_rule() {
                            Rule::violation_action => {
                                action_span = span(&c);
                                action = match c.as_str() {
                                    "warn" => ViolationAction::Warn,
                                    "rollback" => ViolationAction::Rollback,
                                    _ => ViolationAction::Abort,
                                };
                            }
                            Rule::fail_mode => then = Some((fail_mode(c.as_str()), span(&c))),
                            _ => {}
                        }
                    }
                    InvariantStmtKind::OnViolation { action, action_span, then }
                }
                Rule::protect_stmt => InvariantStmtKind::Protect(
                    kids(stmt).flat_map(|l| kids(l).collect::<Vec<_>>()).map(|s| b.string(s)).collect(),
                ),
                _ => InvariantStmtKind::At(b.ident_list(stmt)),
            };
            body.push(InvariantStmt { kind, span: ssp });
        });
        Invariant { name, body, span: sp }
    }

    fn check_cmd(&mut self, p: Pair<'_, Rule>) -> CheckCommand {
        let sp = span(&p);
        let mut command = None;
        let mut expect = None;
        for c in kids(p) {
            match c.as_rule() {
                Rule::template => command = Some(self.template(c)),
                Rule::string => expect = Some(self.string(c)),
                _ => {}
            }
        }
        CheckCommand { command: command.unwrap_or_else(|| empty_template(sp)), expect }
    }

    fn env_block(&mut self, p: Pair<'_, Rule>) -> EnvBlock {
        let sp = span(&p);
        let mut entries = Vec::new();
        self.block(kids(p), Block::Env, |b, item| entries.push(b.env_entry(item)));
        EnvBlock { entries, span: sp }
    }

    fn env_entry(&mut self, p: Pair<'_, Rule>) -> EnvEntry {
        let sp = span(&p);
        let Some(inner) = p.into_inner().next() else {
            return EnvEntry { kind: EnvEntryKind::Use(missing(sp)), span: sp };
        };
        let kind = match inner.as_rule() {
            Rule::env_use => EnvEntryKind::Use(self.name(kids(inner).next())),
            _ => {
                let mut it = kids(inner);
                let key = self.name(it.next());
                let value = match it.next() {
                    Some(v) => match v.as_rule() {
                        Rule::secret_source => EnvValue::Source(self.secret_source(v)),
                        Rule::key_ref => {
                            let mut r = kids(v);
                            let set = self.name(r.next());
                            let key = self.name(r.next());
                            EnvValue::Ref { set, key }
                        }
                        Rule::template => EnvValue::Template(self.template(v)),
                        _ => EnvValue::Value(self.value(v)),
                    },
                    None => EnvValue::Template(empty_template(sp)),
                };
                EnvEntryKind::Assign { key, value }
            }
        };
        EnvEntry { kind, span: sp }
    }

    fn secret_source(&mut self, p: Pair<'_, Rule>) -> SecretSource {
        let sp = span(&p);
        let inner = p.into_inner().next();
        let kind = match inner.as_ref().map(|i| i.as_rule()) {
            Some(Rule::from_file) => SecretSourceKind::File,
            _ => SecretSourceKind::Env,
        };
        let arg = match inner {
            Some(i) => self.first_string(i),
            None => StrLit { value: String::new(), span: sp },
        };
        SecretSource { kind, arg, span: sp }
    }

    fn secret_entry(&mut self, p: Pair<'_, Rule>) -> SecretEntry {
        let sp = span(&p);
        let mut it = kids(p);
        let key = self.name(it.next());
        let value = match it.next() {
            Some(v) if v.as_rule() == Rule::secret_source => SecretValue::Source(self.secret_source(v)),
            Some(v) => SecretValue::Literal(span(&v)),
            None => SecretValue::Literal(sp),
        };
        SecretEntry { key, value, span: sp }
    }

    // --------------------------------------------------------------- steps

    fn group(&mut self, p: Pair<'_, Rule>) -> Group {
        let sp = span(&p);
        let mut kind = GroupKind::Parallel;
        let mut name = None;
        // `finally { … }` is named by its keyword (a token `kids` skips).
        if p.as_rule() == Rule::finally_block
            && let Some(kw) = p.clone().into_inner().next() {
                kind = GroupKind::Finally;
                name = Some(Name { text: "finally".into(), span: span(&kw) });
            }
        let mut deps = None;
        let mut for_each = None;
        let mut for_each_in = None;
        let mut fail_fast = None;
        let mut members = Vec::new();
        for c in kids(p) {
            match c.as_rule() {
                Rule::group_kind => {
                    kind = if c.as_str() == "phase" { GroupKind::Phase } else { GroupKind::Parallel };
                }

                Rule::ident => name = Some(self.ident(c)),
                Rule::after_clause => deps = Some(self.after(c)),
                Rule::group_fail_fast => fail_fast = Some(span(&c)),
                Rule::for_each_clause => {
                    let (s, items) = self.for_each_clause(c);
                    for_each = Some(s);
                    for_each_in = items;
                }
                Rule::group_body => {
                    self.block(kids(c), Block::Group, |b, item| {
                        if let Some(m) = item.into_inner().next() {
                            match m.as_rule() {
                                Rule::step => members.push(GroupMember::Step(b.step(m))),
                                _ => members.push(GroupMember::Group(b.group(m))),
                            }
                        }
                    });
                }
                _ => {}
            }
        }
        Group { kind, name: name.unwrap_or_else(|| missing(sp)), deps, for_each, for_each_in, fail_fast, members, span: sp }
    }

    /// `for each item [in [..] | in matrix { … }]`: its span and the literal items.
    fn for_each_clause(&mut self, c: Pair<'_, Rule>) -> (Span, Option<ItemSource>) {
        let at = span(&c);
        let mut items = None;
        for k in kids(c) {
            match k.as_rule() {
                Rule::array => items = Some(ItemSource::List(self.value(k))),
                Rule::matrix_items => {
                    let v = self.first_value_of(k, Rule::object);
                    items = Some(ItemSource::Matrix(v));
                }
                _ => {}
            }
        }
        (at, items)
    }

    fn step(&mut self, p: Pair<'_, Rule>) -> Step {
        let sp = span(&p);
        let mut name = None;
        let mut kind = StepKind::Run;
        let mut kind_span = None;
        let mut deps = None;
        let mut for_each = None;
        let mut for_each_in = None;
        let mut use_args = None;
        let mut body = Vec::new();
        for c in kids(p) {
            match c.as_rule() {
                Rule::ident => name = Some(self.ident(c)),
                Rule::kind_clause => {
                    let (k, s, args) = self.kind_clause(c);
                    kind = k;
                    kind_span = Some(s);
                    use_args = args;
                }
                Rule::after_clause => deps = Some(self.after(c)),
                Rule::for_each_clause => {
                    let (s, items) = self.for_each_clause(c);
                    for_each = Some(s);
                    for_each_in = items;
                }
                Rule::step_body => body = self.step_body(c),
                _ => {}
            }
        }
        Step { name: name.unwrap_or_else(|| missing(sp)), kind, kind_span, deps: deps.map(std::sync::Arc::new), for_each, for_each_in, use_args, body, span: sp }
    }

    /// The kind, where it is written (for `use`, the template's name without
    /// its arguments), and a `use`'s `with { … }` arguments.
    fn kind_clause(&mut self, p: Pair<'_, Rule>) -> (StepKind, Span, Option<Value>) {
        let sp = span(&p);
        let Some(sk) = kids(p).next() else { return (StepKind::Run, sp, None) };
        let kind_span = span(&sk);
        let Some(k) = sk.into_inner().next() else { return (StepKind::Run, kind_span, None) };
        let mut kind_span = kind_span;
        let mut args = None;
        let kind = match k.as_rule() {
            Rule::kind_agent => StepKind::Agent(self.name(kids(k).next())),
            Rule::kind_check => StepKind::Check(self.name(kids(k).next())),
            Rule::kind_call => StepKind::Call(self.name(kids(k).next())),
            Rule::kind_use => {
                let mut it = kids(k);
                let name = self.name(it.next());
                if let Some(obj) = it.find(|c| c.as_rule() == Rule::object) {
                    args = Some(self.value(obj));
                    kind_span = Span { start: kind_span.start, end: name.span.end.max(kind_span.start) };
                }
                StepKind::Use(name)
            }
            _ => match k.as_str() {
                "approval" => StepKind::Approval,
                "wait" => StepKind::Wait,
                "timer" => StepKind::Timer,
                "branch" => StepKind::Branch,
                "notify" => StepKind::Notify,
                "human" => StepKind::Human,
                "select" => StepKind::Select,
                "gate" => StepKind::Gate,
                _ => StepKind::Run,
            },
        };
        (kind, kind_span, args)
    }

    fn after(&mut self, p: Pair<'_, Rule>) -> Deps {
        let sp = span(&p);
        let items: Vec<Cond> = kids(p).filter(|c| c.as_rule() == Rule::dep_item).map(|c| self.dep_item(c)).collect();
        let mut names = Vec::new();
        for item in &items {
            item.visit(&mut |c| match c {
                Cond::Outcome { name, .. } => names.push(name.clone()),
                Cond::Rule { names: ns, .. } => names.extend(ns.iter().cloned()),
                _ => {}
            });
        }
        // A lone `RULE(a, b)`: the rule form.
        if let [Cond::Rule { rule, names, span: rule_span }] = items.as_slice() {
            return Deps { rule: *rule, rule_span: Some(*rule_span), names: names.clone(), condition: Vec::new(), span: sp };
        }
        // Bare names only: `after a, b`.
        let plain = items.iter().all(|c| matches!(c, Cond::Outcome { written: false, .. }));
        let condition = if plain { Vec::new() } else { items };
        Deps { rule: TriggerRule::AllSuccess, rule_span: None, names, condition, span: sp }
    }

    /// `x || y`, or the one `x && …` it holds.
    fn dep_item(&mut self, p: Pair<'_, Rule>) -> Cond {
        let sp = span(&p);
        let mut terms: Vec<Cond> = kids(p).filter(|c| c.as_rule() == Rule::dep_and).map(|c| self.dep_and(c)).collect();
        if terms.len() == 1 { terms.pop().unwrap_or(Cond::And(Vec::new(), sp)) } else { Cond::Or(terms, sp) }
    }

    fn dep_and(&mut self, p: Pair<'_, Rule>) -> Cond {
        let sp = span(&p);
        let mut terms: Vec<Cond> = kids(p).filter(|c| c.as_rule() == Rule::dep_atom).map(|c| self.dep_atom(c)).collect();
        if terms.len() == 1 { terms.pop().unwrap_or(Cond::And(Vec::new(), sp)) } else { Cond::And(terms, sp) }
    }

    fn dep_atom(&mut self, p: Pair<'_, Rule>) -> Cond {
        let sp = span(&p);
        let Some(inner) = kids(p).next() else { return Cond::And(Vec::new(), sp) };
        match inner.as_rule() {
            Rule::trigger_call => {
                let mut rule = TriggerRule::AllSuccess;
                let mut names = Vec::new();
                for c in kids(inner) {
                    match c.as_rule() {
                        Rule::trigger_name => {
                            rule = TriggerRule::from_keyword(c.as_str()).unwrap_or(TriggerRule::AllSuccess)
                        }
                        Rule::ident_list => names = kids(c).map(|n| self.ident(n)).collect(),
                        _ => {}
                    }
                }
                Cond::Rule { rule, names, span: sp }
            }
            Rule::outcome_call => {
                let mut outcome = Outcome::Succeeded;
                let mut name = None;
                for c in kids(inner) {
                    match c.as_rule() {
                        Rule::outcome_name => outcome = Outcome::from_keyword(c.as_str()).unwrap_or(Outcome::Succeeded),
                        Rule::ident => name = Some(self.ident(c)),
                        _ => {}
                    }
                }
                match name {
                    Some(name) => Cond::Outcome { outcome, name, written: true, span: sp },
                    None => Cond::And(Vec::new(), sp),
                }
            }
            Rule::dep_paren => {
                let item = kids(inner).find(|c| c.as_rule() == Rule::dep_item).map(|c| self.dep_item(c));
                Cond::Paren(Box::new(item.unwrap_or(Cond::And(Vec::new(), sp))), sp)
            }
            _ => Cond::Outcome { outcome: Outcome::Succeeded, name: self.ident(inner), written: false, span: sp },
        }
    }

    fn step_body(&mut self, p: Pair<'_, Rule>) -> Vec<StepStmt> {
        let mut body = Vec::new();
        self.block(kids(p), Block::Step, |b, item| {
            if let Some(stmt) = item.into_inner().next() {
                body.push(b.step_stmt(stmt));
            }
        });
        body
    }

    fn step_stmt(&mut self, p: Pair<'_, Rule>) -> StepStmt {
        let sp = span(&p);
        let kind = match p.as_rule() {
            Rule::description_stmt => StepStmtKind::Description(self.first_string(p)),
            Rule::command_stmt => StepStmtKind::Command(self.first_template(p)),
            Rule::prompt_stmt => StepStmtKind::Prompt(self.first_template(p)),
            Rule::output_type_stmt => {
                StepStmtKind::Output(kids(p).next().map(|t| self.type_expr(t)).unwrap_or_else(|| any_type(sp)))
            }
            Rule::with_stmt => StepStmtKind::With(self.first_value(p)),
            Rule::branch_arm => {
                let mut it = kids(p);
                let condition = it.next().map(|c| self.cel(c));
                let targets = self.arm_targets(it);
                StepStmtKind::Arm { condition: Some(condition.unwrap_or_else(|| empty_expr(sp))), targets }
            }
            Rule::else_arm => {
                let targets = self.arm_targets(kids(p));
                StepStmtKind::Arm { condition: None, targets }
            }
            Rule::when_stmt => StepStmtKind::When(self.first_cel(p)),
            Rule::approvers_stmt => StepStmtKind::Approvers(self.first_value(p)),
            Rule::distinct_stmt => StepStmtKind::DistinctFromInitiator,
            Rule::message_stmt => StepStmtKind::Message(self.first_template(p)),
            Rule::timeout_stmt => StepStmtKind::Timeout(self.first_duration(p)),
            Rule::retry_stmt => StepStmtKind::Retry(self.retry(p)),
            Rule::compensate_stmt => match kids(p).next() {
                Some(c) if c.as_rule() == Rule::template => StepStmtKind::Compensate(Compensate::Command(self.template(c))),
                c => StepStmtKind::Compensate(Compensate::Step(self.name(c))),
            },
            Rule::channel_stmt => StepStmtKind::Channel(self.first_template(p)),
            Rule::event_stmt => {
                let mut it = kids(p);
                let event_type = it.next().map(|t| self.template(t)).unwrap_or_else(|| empty_template(sp));
                let subject = it.next().map(|t| self.template(t));
                StepStmtKind::Event { event_type, subject }
            }
            Rule::then_stmt => match kids(p).next() {
                Some(action) => self.then_action(action, sp),
                None => StepStmtKind::Skippable,
            },
            Rule::reads_stmt => {
                let mut it = kids(p);
                let key = it.next().map(|k| self.store_key(k)).unwrap_or_else(|| missing_key(sp));
                let alias = self.name(it.next());
                StepStmtKind::Reads { key, alias }
            }
            Rule::items_stmt => StepStmtKind::Items(self.first_cel(p)),
            Rule::strategy_stmt => {
                let c = kids(p).next();
                let s = c.as_ref().map(span).unwrap_or(sp);
                let strategy = match c.as_ref().map(|c| c.as_str()) {
                    Some("min") => Strategy::Min,
                    Some("max") => Strategy::Max,
                    Some("threshold") => Strategy::Threshold,
                    _ => Strategy::Weighted,
                };
                StepStmtKind::Strategy { strategy, span: s }
            }
            Rule::metric_stmt => StepStmtKind::Metric(self.name(kids(p).next())),
            Rule::top_k_stmt => StepStmtKind::TopK(self.first_int(p)),
            Rule::threshold_stmt => StepStmtKind::Threshold(self.first_number(p)),
            Rule::weights_stmt => StepStmtKind::Weights(self.first_value(p)),
            Rule::check_cmd_stmt => StepStmtKind::Check(self.check_cmd(p)),
            Rule::on_fail_stmt => match kids(p).next() {
                Some(c) if c.as_rule() == Rule::on_fail_fix => {
                    let mut step = None;
                    let mut retries = None;
                    let mut then = None;
                    for d in kids(c) {
                        match d.as_rule() {
                            Rule::ident => step = Some(self.ident(d)),
                            Rule::int => retries = Some(self.int(d)),
                            Rule::fail_mode => then = Some((fail_mode(d.as_str()), span(&d))),
                            _ => {}
                        }
                    }
                    StepStmtKind::OnFail(OnFail::Fix {
                        step: step.unwrap_or_else(|| missing(sp)),
                        retries: retries.unwrap_or(IntLit { value: 0, span: sp }),
                        then,
                    })
                }
                Some(c) => StepStmtKind::OnFail(OnFail::Mode { mode: fail_mode(c.as_str()), span: span(&c) }),
                None => StepStmtKind::OnFail(OnFail::Mode { mode: FailMode::Fail, span: sp }),
            },
            Rule::skippable_stmt => StepStmtKind::Skippable,
            Rule::compensate_on_failure_stmt => StepStmtKind::CompensateOnFailure,
            Rule::fail_fast_stmt => StepStmtKind::FailFast,
            Rule::timer_for_stmt => match kids(p).find(|c| matches!(c.as_rule(), Rule::duration | Rule::cel)) {
                Some(c) if c.as_rule() == Rule::cel => StepStmtKind::TimerFor(TimerArg::Expr(self.cel(c))),
                Some(c) => StepStmtKind::TimerFor(TimerArg::Literal(self.duration(c))),
                None => StepStmtKind::TimerFor(TimerArg::Literal(DurationLit { millis: 0, span: sp })),
            },
            Rule::timer_until_stmt => match kids(p).find(|c| matches!(c.as_rule(), Rule::string | Rule::cel)) {
                Some(c) if c.as_rule() == Rule::cel => StepStmtKind::TimerUntil(TimerArg::Expr(self.cel(c))),
                Some(c) => StepStmtKind::TimerUntil(TimerArg::Literal(self.string(c))),
                None => StepStmtKind::TimerUntil(TimerArg::Expr(empty_expr(sp))),
            },
            Rule::skip_on_exit_stmt => {
                let codes = kids(p).filter(|k| k.as_rule() == Rule::int).map(|k| self.int(k)).collect();
                StepStmtKind::SkipOnExit(codes)
            }
            Rule::on_failure_stmt => {
                let c = kids(p).next();
                let s = c.as_ref().map(span).unwrap_or(sp);
                let mode = match c.as_ref().map(|c| c.as_str()) {
                    Some("pause") => OnFailure::Pause,
                    Some("continue") => OnFailure::Continue,
                    _ => OnFailure::Fail,
                };
                StepStmtKind::OnFailure { mode, span: s }
            }
            Rule::env_block => StepStmtKind::Env(self.env_block(p)),
            other => return unreachable_rule(other, sp, || StepStmt { kind: StepStmtKind::Skippable, span: sp }),
        };
        StepStmt { kind, span: sp }
    }

    fn then_action(&mut self, p: Pair<'_, Rule>, sp: Span) -> StepStmtKind {
        match p.as_rule() {
            Rule::then_put => {
                let mut it = kids(p);
                let key = it.next().map(|k| self.store_key(k)).unwrap_or_else(|| missing_key(sp));
                let value = it.next().map(|e| self.cel(e)).unwrap_or_else(|| empty_expr(sp));
                StepStmtKind::Put { key, value }
            }
            Rule::then_spawn_each => {
                let mut it = kids(p);
                let list = it.next().map(|e| self.cel(e)).unwrap_or_else(|| empty_expr(sp));
                let workflow = self.name(it.next());
                let inputs = it.next().map(|v| self.value(v));
                StepStmtKind::SpawnEach { list, workflow, inputs }
            }
            _ => {
                let mut it = kids(p);
                let workflow = self.name(it.next());
                let inputs = it.next().map(|v| self.value(v));
                StepStmtKind::Spawn { workflow, inputs }
            }
        }
    }

    fn store_key(&mut self, p: Pair<'_, Rule>) -> StoreKey {
        let sp = span(&p);
        let mut it = kids(p);
        let store = self.name(it.next());
        let key = match it.next() {
            Some(k) if k.as_rule() == Rule::string => {
                let s = self.string(k);
                Name { text: s.value, span: s.span }
            }
            k => self.name(k),
        };
        StoreKey { store, key, span: sp }
    }

    // -------------------------------------------------------- declarations

    fn agent_stmt(&mut self, item: Pair<'_, Rule>) -> AgentStmt {
        let sp = span(&item);
        let Some(p) = item.into_inner().next() else {
            return AgentStmt { kind: AgentStmtKind::Description(StrLit { value: String::new(), span: sp }), span: sp };
        };
        let kind = match p.as_rule() {
            Rule::description_stmt => AgentStmtKind::Description(self.first_string(p)),
            Rule::command_stmt => AgentStmtKind::Command(self.first_template(p)),
            Rule::capabilities_stmt => AgentStmtKind::Capabilities(self.first_value(p)),
            Rule::env_block => AgentStmtKind::Env(self.env_block(p)),
            Rule::cost_stmt => AgentStmtKind::CostPerCall(self.first_number(p)),
            Rule::timeout_stmt => AgentStmtKind::Timeout(self.first_duration(p)),
            _ => AgentStmtKind::Retry(self.retry(p)),
        };
        AgentStmt { kind, span: sp }
    }

    fn store_stmt(&mut self, item: Pair<'_, Rule>) -> StoreStmt {
        let sp = span(&item);
        let Some(p) = item.into_inner().next() else {
            return StoreStmt { kind: StoreStmtKind::Description(StrLit { value: String::new(), span: sp }), span: sp };
        };
        let kind = match p.as_rule() {
            Rule::description_stmt => StoreStmtKind::Description(self.first_string(p)),
            Rule::backend_stmt => match kids(p).next() {
                Some(c) if c.as_rule() == Rule::backend_command => StoreStmtKind::Backend(Backend::Command(self.first_string(c))),
                _ => StoreStmtKind::Backend(Backend::Local),
            },
            Rule::schema_stmt => StoreStmtKind::Schema(self.first_value(p)),
            _ => {
                let mut items = Vec::new();
                self.block(kids(p), Block::Retention, |b, item| {
                    if let Some(r) = item.into_inner().next() {
                        items.push(match r.as_rule() {
                            Rule::max_entries_stmt => RetentionItem::MaxEntries(b.first_int(r)),
                            _ => RetentionItem::Ttl(b.first_duration(r)),
                        });
                    }
                });
                StoreStmtKind::Retention(items)
            }
        };
        StoreStmt { kind, span: sp }
    }

    fn policy_stmt(&mut self, item: Pair<'_, Rule>) -> PolicyStmt {
        let sp = span(&item);
        let Some(p) = item.into_inner().next() else {
            return PolicyStmt { kind: PolicyStmtKind::Description(StrLit { value: String::new(), span: sp }), span: sp };
        };
        let kind = match p.as_rule() {
            Rule::description_stmt => PolicyStmtKind::Description(self.first_string(p)),
            _ => {
                let mut effect = PolicyEffect::Deny;
                let mut effect_span = sp;
                let mut condition = None;
                let mut reason = None;
                for c in kids(p) {
                    match c.as_rule() {
                        Rule::policy_effect => {
                            effect_span = span(&c);
                            effect = match c.as_str() {
                                "require_approval" => PolicyEffect::RequireApproval,
                                "allow" => PolicyEffect::Allow,
                                _ => PolicyEffect::Deny,
                            };
                        }
                        Rule::cel => condition = Some(self.cel(c)),
                        Rule::template => reason = Some(self.template(c)),
                        _ => {}
                    }
                }
                PolicyStmtKind::Rule(PolicyRule {
                    effect,
                    effect_span,
                    condition: condition.unwrap_or_else(|| empty_expr(sp)),
                    reason,
                })
            }
        };
        PolicyStmt { kind, span: sp }
    }

    fn resource_stmt(&mut self, item: Pair<'_, Rule>) -> ResourceStmt {
        let sp = span(&item);
        let Some(p) = item.into_inner().next() else {
            return ResourceStmt { kind: ResourceStmtKind::Description(StrLit { value: String::new(), span: sp }), span: sp };
        };
        let kind = match p.as_rule() {
            Rule::description_stmt => ResourceStmtKind::Description(self.first_string(p)),
            Rule::group_stmt => ResourceStmtKind::Group(self.first_string(p)),
            Rule::version_stmt => match kids(p).next() {
                Some(c) if c.as_rule() == Rule::string => {
                    let s = self.string(c);
                    ResourceStmtKind::Version(Name { text: s.value, span: s.span })
                }
                c => ResourceStmtKind::Version(self.name(c)),
            },
            Rule::plural_stmt => ResourceStmtKind::Plural(self.name(kids(p).next())),
            Rule::short_stmt => ResourceStmtKind::Short(self.ident_list(p)),
            Rule::schema_stmt => ResourceStmtKind::Schema(self.first_value(p)),
            _ => {
                let mut it = kids(p);
                let condition = it.next().map(|c| self.cel(c)).unwrap_or_else(|| empty_expr(sp));
                let message = it.next().map(|m| self.string(m));
                ResourceStmtKind::Rule { condition, message }
            }
        };
        ResourceStmt { kind, span: sp }
    }

    // -------------------------------------------------------------- values

    fn value(&mut self, p: Pair<'_, Rule>) -> Value {
        let sp = span(&p);
        // `value` wraps one alternative; the alternatives are also accepted directly.
        let p = if p.as_rule() == Rule::value {
            match p.into_inner().next() {
                Some(inner) => inner,
                None => return Value { kind: ValueKind::Null, span: sp },
            }
        } else {
            p
        };
        let kind = match p.as_rule() {
            Rule::object | Rule::instance_body => ValueKind::Object(kids(p).map(|f| self.field(f)).collect()),
            Rule::array => ValueKind::Array(kids(p).map(|v| self.value(v)).collect()),
            Rule::string => ValueKind::String(self.string(p).value),
            Rule::number => ValueKind::Number(self.number(p).value),
            Rule::bool_lit => ValueKind::Bool(p.as_str() == "true"),
            Rule::cel => ValueKind::Expr(self.cel(p)),
            _ => ValueKind::Null,
        };
        Value { kind, span: sp }
    }

    fn field(&mut self, p: Pair<'_, Rule>) -> Field {
        let sp = span(&p);
        let mut it = kids(p);
        let (key, quoted) = match it.next() {
            Some(k) if k.as_rule() == Rule::string => {
                let s = self.string(k);
                (Name { text: s.value, span: s.span }, true)
            }
            k => (self.name(k), false),
        };
        let value = it.next().map(|v| self.value(v)).unwrap_or(Value { kind: ValueKind::Null, span: sp });
        Field { key, quoted, value, span: sp }
    }

    fn type_expr(&mut self, p: Pair<'_, Rule>) -> TypeExpr {
        let sp = span(&p);
        let p = if p.as_rule() == Rule::type_expr {
            match p.into_inner().next() {
                Some(inner) => inner,
                None => return any_type(sp),
            }
        } else {
            p
        };
        let kind = match p.as_rule() {
            Rule::list_type => match kids(p).next() {
                Some(t) => TypeKind::List(Box::new(self.type_expr(t))),
                None => TypeKind::Any,
            },
            Rule::object_type => TypeKind::Object(
                kids(p)
                    .map(|f| {
                        let fsp = span(&f);
                        let mut name = None;
                        let mut optional = false;
                        let mut ty = None;
                        for c in kids(f) {
                            match c.as_rule() {
                                Rule::ident => name = Some(self.ident(c)),
                                Rule::optional_mark => optional = true,
                                _ => ty = Some(self.type_expr(c)),
                            }
                        }
                        TypeField {
                            name: name.unwrap_or_else(|| missing(fsp)),
                            optional,
                            ty: ty.unwrap_or_else(|| any_type(fsp)),
                            span: fsp,
                        }
                    })
                    .collect(),
            ),
            // Match the text before allocating a name: almost every type is a primitive.
            _ => match p.as_str().trim() {
                "string" => TypeKind::String,
                "number" => TypeKind::Number,
                "int" => TypeKind::Int,
                "bool" => TypeKind::Bool,
                "any" => TypeKind::Any,
                // `named_type` is atomic: its own text is the name.
                _ => TypeKind::Unknown(self.ident(p)),
            },
        };
        TypeExpr { kind, span: sp }
    }

    fn string(&mut self, p: Pair<'_, Rule>) -> StrLit {
        let sp = span(&p);
        let raw = p.as_str();
        let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')).unwrap_or(raw);
        StrLit { value: unescape(inner), span: sp }
    }

    fn template(&mut self, p: Pair<'_, Rule>) -> TemplateStr {
        let sp = span(&p);
        let mut parts: Vec<TemplatePart> = Vec::new();
        let push_text = |parts: &mut Vec<TemplatePart>, text: String, s: Span| {
            if let Some(TemplatePart::Text { text: prev, span: prev_span }) = parts.last_mut() {
                prev.push_str(&text);
                *prev_span = prev_span.cover(s);
            } else {
                parts.push(TemplatePart::Text { text, span: s });
            }
        };
        for c in p.into_inner() {
            let csp = span(&c);
            match c.as_rule() {
                Rule::tpl_dollar => push_text(&mut parts, "$".into(), csp),
                Rule::tpl_text => push_text(&mut parts, unescape(c.as_str()), csp),
                Rule::tpl_hole => {
                    let expr = c
                        .into_inner()
                        .find(|x| x.as_rule() == Rule::hole_expr)
                        .map(|x| Expr { text: x.as_str().to_string(), span: span(&x) })
                        .unwrap_or_else(|| empty_expr(csp));
                    parts.push(TemplatePart::Hole(Hole { expr, short: false, span: csp }));
                }
                Rule::tpl_short => {
                    let expr = c
                        .into_inner()
                        .next()
                        .map(|x| Expr { text: x.as_str().to_string(), span: span(&x) })
                        .unwrap_or_else(|| empty_expr(csp));
                    parts.push(TemplatePart::Hole(Hole { expr, short: true, span: csp }));
                }
                _ => {}
            }
        }
        TemplateStr { parts, span: sp }
    }

    fn cel(&mut self, p: Pair<'_, Rule>) -> Expr {
        let sp = span(&p);
        p.into_inner()
            .find(|c| c.as_rule() == Rule::cel_body)
            .map(|b| Expr { text: b.as_str().to_string(), span: span(&b) })
            .unwrap_or_else(|| empty_expr(sp))
    }

    fn number(&mut self, p: Pair<'_, Rule>) -> NumberLit {
        let sp = span(&p);
        let raw = p.as_str();
        let is_int = !raw.contains(['.', 'e', 'E']);
        let value = raw.parse::<f64>().unwrap_or(0.0);
        if !value.is_finite() {
            self.errors.push(SyntaxError {
                fix: None,
                kind: SyntaxErrorKind::NumberOutOfRange,
                span: sp,
                message: "this number is too large".into(),
                label: "out of range".into(),
                help: Some("numbers are 64-bit floating point; write a smaller value".into()),
            });
        }
        // Saturate rather than zero, so range checks downstream do not pile a
        // second error on the one reported here.
        let value = if value.is_finite() { value } else { f64::MAX.copysign(value) };
        NumberLit { value: Number { value, is_int }, span: sp }
    }

    fn int(&mut self, p: Pair<'_, Rule>) -> IntLit {
        let sp = span(&p);
        match p.as_str().parse::<i64>() {
            Ok(value) => IntLit { value, span: sp },
            Err(_) => {
                self.errors.push(SyntaxError {
                    fix: None,
                    kind: SyntaxErrorKind::NumberOutOfRange,
                    span: sp,
                    message: "this whole number does not fit in 64 bits".into(),
                    label: "out of range".into(),
                    help: Some(format!("the largest whole number is {}", i64::MAX)),
                });
                IntLit { value: if p.as_str().starts_with('-') { i64::MIN } else { i64::MAX }, span: sp }
            }
        }
    }

    fn duration(&mut self, p: Pair<'_, Rule>) -> DurationLit {
        let sp = span(&p);
        match parse_duration(p.as_str()) {
            Some(millis) => DurationLit { millis, span: sp },
            None => {
                self.errors.push(SyntaxError {
                    fix: None,
                    kind: SyntaxErrorKind::DurationOutOfRange,
                    span: sp,
                    message: "this duration is too long".into(),
                    label: "out of range".into(),
                    help: Some("durations must fit in 64-bit milliseconds (about 292 million years)".into()),
                });
                DurationLit { millis: u64::MAX, span: sp }
            }
        }
    }

    fn ident(&mut self, p: Pair<'_, Rule>) -> Name {
        Name { text: p.as_str().to_string(), span: span(&p) }
    }

    fn name(&mut self, p: Option<Pair<'_, Rule>>) -> Name {
        match p {
            Some(p) => self.ident(p),
            None => missing(Span::default()),
        }
    }

    fn ident_list(&mut self, p: Pair<'_, Rule>) -> Vec<Name> {
        let mut out = Vec::new();
        for c in kids(p) {
            match c.as_rule() {
                Rule::ident_list => out.extend(kids(c).map(|n| self.ident(n))),
                Rule::ident => out.push(self.ident(c)),
                _ => {}
            }
        }
        out
    }

    fn first_of(p: Pair<'_, Rule>, rule: Rule) -> Option<Pair<'_, Rule>> {
        p.into_inner().find(|c| c.as_rule() == rule)
    }
    fn first_string(&mut self, p: Pair<'_, Rule>) -> StrLit {
        let sp = span(&p);
        match Self::first_of(p, Rule::string) {
            Some(s) => self.string(s),
            None => StrLit { value: String::new(), span: sp },
        }
    }
    fn first_template(&mut self, p: Pair<'_, Rule>) -> TemplateStr {
        let sp = span(&p);
        match Self::first_of(p, Rule::template) {
            Some(s) => self.template(s),
            None => empty_template(sp),
        }
    }
    fn first_cel(&mut self, p: Pair<'_, Rule>) -> Expr {
        let sp = span(&p);
        match Self::first_of(p, Rule::cel) {
            Some(s) => self.cel(s),
            None => empty_expr(sp),
        }
    }
    /// The value of `p`'s first child of rule `rule` (`null` when recovery left none).
    fn first_value_of(&mut self, p: Pair<'_, Rule>, rule: Rule) -> Value {
        let sp = span(&p);
        match Self::first_of(p, rule) {
            Some(v) => self.value(v),
            None => Value { kind: ValueKind::Null, span: sp },
        }
    }

    fn first_value(&mut self, p: Pair<'_, Rule>) -> Value {
        let sp = span(&p);
        match kids(p).next() {
            Some(v) => self.value(v),
            None => Value { kind: ValueKind::Null, span: sp },
        }
    }
    /// The targets after an arm's `->`: its identifiers (one, empty, when
    /// recovery left none).
    fn arm_targets<'i>(&mut self, rest: impl Iterator<Item = Pair<'i, Rule>>) -> Vec<Name> {
        let mut targets: Vec<Name> = rest.filter(|k| k.as_rule() == Rule::ident).map(|k| self.name(Some(k))).collect();
        if targets.is_empty() {
            targets.push(self.name(None));
        }
        targets
    }

    fn first_int(&mut self, p: Pair<'_, Rule>) -> IntLit {
        let sp = span(&p);
        match Self::first_of(p, Rule::int) {
            Some(s) => self.int(s),
            None => IntLit { value: 0, span: sp },
        }
    }
    fn first_number(&mut self, p: Pair<'_, Rule>) -> NumberLit {
        let sp = span(&p);
        match Self::first_of(p, Rule::number) {
            Some(s) => self.number(s),
            None => NumberLit { value: Number { value: 0.0, is_int: true }, span: sp },
        }
    }
    fn first_duration(&mut self, p: Pair<'_, Rule>) -> DurationLit {
        let sp = span(&p);
        match Self::first_of(p, Rule::duration) {
            Some(s) => self.duration(s),
            None => DurationLit { millis: 0, span: sp },
        }
    }
}

/// A rule the builder did not expect where it found it. The grammar and the
/// builder are written together, so this means they disagree; fall back to a
/// harmless node rather than panic on a user's file.
fn unreachable_rule<T>(rule: Rule, span: Span, fallback: impl FnOnce() -> T) -> T {
    debug_assert!(false, "builder got unexpected rule {rule:?} at {span:?}");
    fallback()
}

fn missing(span: Span) -> Name {
    Name { text: String::new(), span }
}

fn missing_key(span: Span) -> StoreKey {
    StoreKey { store: missing(span), key: missing(span), span }
}

fn empty_expr(span: Span) -> Expr {
    Expr { text: String::new(), span }
}

fn empty_template(span: Span) -> TemplateStr {
    TemplateStr { parts: Vec::new(), span }
}

fn any_type(span: Span) -> TypeExpr {
    TypeExpr { kind: TypeKind::Any, span }
}

fn fail_mode(s: &str) -> FailMode {
    if s == "pause" { FailMode::Pause } else { FailMode::Fail }
}

/// Resolves escapes. Invalid escapes are kept as written (the lexer reports them).
pub fn unescape(raw: &str) -> String {
    if !raw.contains('\\') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let rest = &raw[i..];
        if rest.starts_with('\\')
            && let Some((c, len)) = lexer::decode_escape(rest) {
                out.push(c);
                i += len;
                continue;
            }
        let c = rest.chars().next().unwrap_or('\\');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `1h30m` → milliseconds; `None` on overflow.
pub fn parse_duration(raw: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let n: u64 = raw[start..i].parse().ok()?;
        let unit: u64 = if raw[i..].starts_with("ms") {
            i += 2;
            1
        } else {
            let u = match bytes.get(i)? {
                b's' => 1_000,
                b'm' => 60_000,
                b'h' => 3_600_000,
                b'd' => 86_400_000,
                _ => return None,
            };
            i += 1;
            u
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_spans_end_at_their_last_token() {
        // `input` ends with an optional `= value`: pest would keep the blanks
        // and the comment it skipped looking for it.
        let src = "workflow w {\n  input a: string // about a\n\n  step s {}\n}\n";
        let parse = parse(src);
        assert!(parse.errors.is_empty(), "{:?}", parse.errors);
        let Decl::Workflow(w) = &parse.file.decls[0] else { panic!("not a workflow") };
        assert_eq!(&src[w.body[0].span.range()], "input a: string");
    }

    /// `tpl_plain` and `hole_plain` spell "any character but the stop
    /// characters" as ranges: every other character must still be text.
    #[test]
    fn template_text_and_holes_take_every_character_but_their_stops() {
        let text: String = (0u8..0x80)
            .map(char::from)
            .filter(|c| !matches!(c, '"' | '\\' | '$'))
            .chain(['é', '→', '\u{10FFFF}'])
            .collect();
        let hole: String = (0u8..0x80)
            .map(char::from)
            .filter(|c| !matches!(c, '}' | '\n' | '"' | '\'' | '{' | '\\'))
            .chain(['é', '\u{10FFFF}'])
            .collect();
        let src = format!("workflow w {{\n  step s {{\n    command \"{text}${{{hole}}}\"\n  }}\n}}\n");
        let parse = parse(&src);
        assert!(parse.errors.is_empty(), "{:?}", parse.errors);
        let Decl::Workflow(w) = &parse.file.decls[0] else { panic!("not a workflow") };
        let WorkflowStmtKind::Step(step) = &w.body[0].kind else { panic!("not a step") };
        let StepStmtKind::Command(t) = &step.body[0].kind else { panic!("not a command") };
        match &t.parts[..] {
            [TemplatePart::Text { text: got, .. }, TemplatePart::Hole(h)] => {
                assert_eq!(got, &text);
                assert_eq!(h.expr.text, hole);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn after_clause_span_excludes_what_follows() {
        let src = "workflow w {\n  step s after a, b /* why */ {}\n}\n";
        let parse = parse(src);
        let Decl::Workflow(w) = &parse.file.decls[0] else { panic!("not a workflow") };
        let WorkflowStmtKind::Step(step) = &w.body[0].kind else { panic!("not a step") };
        let deps = step.deps.as_ref().map(|d| d.span).unwrap_or_default();
        assert_eq!(&src[deps.range()], "after a, b");
    }

    #[test]
    fn every_trigger_rule_parses_to_its_rule() {
        for rule in TriggerRule::ALL {
            let src = format!("workflow w {{\n  step s after {}(a, b) {{}}\n}}\n", rule.keyword());
            let parse = parse(&src);
            assert!(parse.errors.is_empty(), "{}: {:?}", rule.keyword(), parse.errors);
            let Decl::Workflow(w) = &parse.file.decls[0] else { panic!("not a workflow") };
            let WorkflowStmtKind::Step(step) = &w.body[0].kind else { panic!("not a step") };
            let deps = step.deps.as_ref().expect("deps");
            assert_eq!(deps.rule, rule);
            assert_eq!(&src[deps.rule_span.expect("written").range()], format!("{}(a, b)", rule.keyword()));
            assert_eq!(deps.names.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        }
        // A step may still be named like a rule, and depended on as one.
        let src = "workflow w {\n  step always {}\n  step s after always {}\n}\n";
        let parse = parse(src);
        assert!(parse.errors.is_empty(), "{:?}", parse.errors);
        let Decl::Workflow(w) = &parse.file.decls[0] else { panic!("not a workflow") };
        let WorkflowStmtKind::Step(step) = &w.body[1].kind else { panic!("not a step") };
        let deps = step.deps.as_ref().expect("deps");
        assert_eq!((deps.rule, deps.names[0].text.as_str()), (TriggerRule::AllSuccess, "always"));
    }

    /// `template NAME(PARAM: TYPE = DEFAULT, …)` and `use NAME with { … }`:
    /// the parameters, typed and defaulted, and the arguments, a header
    /// clause the kind's span leaves out (a body `with` stays a statement).
    #[test]
    fn template_parameters_and_use_arguments() {
        let src = "template t(a: string, n: int = 2,): call c { with { x: 1 } }\nworkflow w {\n  step s: use t with { a: \"x\", n: `inputs.n` } after b { with { y: 2 } }\n}\n";
        let parse = parse(src);
        assert!(parse.errors.is_empty(), "{:?}", parse.errors);
        let Decl::Template(t) = &parse.file.decls[0] else { panic!("not a template") };
        let params: Vec<(&str, bool)> = t.params.iter().map(|p| (p.name.text.as_str(), p.default.is_some())).collect();
        assert_eq!(params, [("a", false), ("n", true)]);
        assert_eq!(t.params_span.map(|s| &src[s.range()]), Some("(a: string, n: int = 2,)"));
        assert_eq!(t.body.len(), 1);
        let Decl::Workflow(w) = &parse.file.decls[1] else { panic!("not a workflow") };
        let WorkflowStmtKind::Step(step) = &w.body[0].kind else { panic!("not a step") };
        assert_eq!(step.kind_span.map(|s| &src[s.range()]), Some("use t"));
        let args = step.use_args.as_ref().expect("the arguments");
        assert_eq!(&src[args.span.range()], "{ a: \"x\", n: `inputs.n` }");
        assert_eq!(step.body.len(), 1, "the body's `with` is a statement");
        assert_eq!(&src[step.header_span().range()], "step s: use t with { a: \"x\", n: `inputs.n` } after b");
    }

    fn triggers(src: &str) -> Vec<Trigger> {
        let parse = parse(src);
        assert!(parse.errors.is_empty(), "{:?}", parse.errors);
        let Decl::Workflow(w) = &parse.file.decls[0] else { panic!("not a workflow") };
        w.body.iter().filter_map(|s| if let WorkflowStmtKind::On(t) = &s.kind { Some(t.clone()) } else { None }).collect()
    }

    #[test]
    fn signed_webhooks_parse_with_their_scheme_secret_and_options() {
        let src = concat!(
            "workflow w {\n",
            "  on webhook github.pull_request.* signed github with hooks.GITHUB\n",
            "  on webhook stripe.invoice.paid signed stripe with hooks.STRIPE tolerance 10m\n",
            "  on webhook acme.order.created signed hmac \"X-Acme-Signature\" with hooks.ACME // why\n",
            "  on webhook plain.thing.done\n",
            "}\n"
        );
        let t = triggers(src);
        let sig = |t: &Trigger| match t {
            Trigger::Webhook { signature, .. } => signature.clone(),
            _ => panic!("not a webhook"),
        };
        let github = sig(&t[0]).expect("signed");
        assert_eq!((github.scheme, github.set.text.as_str(), github.key.text.as_str()), (SignatureScheme::Github, "hooks", "GITHUB"));
        assert_eq!(&src[github.scheme_span.range()], "github");
        assert_eq!(&src[github.span.range()], "signed github with hooks.GITHUB");
        assert!(github.header.is_none() && github.tolerance.is_none());
        let stripe = sig(&t[1]).expect("signed");
        assert_eq!(stripe.scheme, SignatureScheme::Stripe);
        assert_eq!(stripe.tolerance.as_ref().map(|d| d.millis), Some(600_000));
        let hmac = sig(&t[2]).expect("signed");
        assert_eq!(hmac.scheme, SignatureScheme::Hmac);
        assert_eq!(&src[hmac.scheme_span.range()], "hmac");
        assert_eq!(hmac.header.as_ref().map(|h| h.value.as_str()), Some("X-Acme-Signature"));
        assert_eq!(&src[hmac.span.range()], "signed hmac \"X-Acme-Signature\" with hooks.ACME");
        assert!(sig(&t[3]).is_none());
    }

    #[test]
    fn schedules_parse_with_their_catchup() {
        let src = "workflow w {\n  on schedule \"0 9 * * *\" catchup all within 1d\n  on schedule \"0 9 * * *\" catchup none\n  on schedule \"0 9 * * *\"\n}\n";
        let t = triggers(src);
        let catchup = |t: &Trigger| match t {
            Trigger::Schedule { catchup, .. } => catchup.clone(),
            _ => panic!("not a schedule"),
        };
        let all = catchup(&t[0]).expect("catchup");
        assert_eq!((all.mode, all.within.as_ref().map(|d| d.millis)), (CatchupMode::All, Some(86_400_000)));
        assert_eq!(&src[all.mode_span.range()], "all");
        assert_eq!(&src[all.span.range()], "catchup all within 1d");
        let none = catchup(&t[1]).expect("catchup");
        assert_eq!((none.mode, none.within), (CatchupMode::None, None));
        assert!(catchup(&t[2]).is_none());
    }

    #[test]
    fn a_misspelt_scheme_or_mode_names_the_alternatives() {
        let e = parse("workflow w {\n  on webhook a.b.c signed gitlab with h.K\n}\n").errors;
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].message, "expected a signature scheme (`github`, `stripe` or `hmac \"HEADER\"`), found `gitlab`");
        let e = parse("workflow w {\n  on webhook a.b.c signed githb with h.K\n}\n").errors;
        assert_eq!(e[0].help.as_deref(), Some("did you mean `github`?"));
        let e = parse("workflow w {\n  on schedule \"* * * * *\" catchup lastest\n}\n").errors;
        assert_eq!(e[0].help.as_deref(), Some("did you mean `latest`?"));
        let e = parse("workflow w {\n  on webhook a.b.c signed hmac with h.K\n}\n").errors;
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].message.starts_with("expected a string"), "{}", e[0].message);
        let e = parse("workflow w {\n  on schedule \"* * * * *\" catchup some\n}\n").errors;
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].message, "expected `none`, `latest` or `all`, found `some`");
        let e = parse("workflow w {\n  on schedule \"* * * * *\" within 1d\n}\n").errors;
        assert_eq!(e.len(), 1, "{e:?}");
    }
}
