//! Completion. What is being typed is read from the text before the cursor
//! (a half-typed statement does not parse, so the tree cannot say); what
//! may be typed there comes from the tree and the model: the keywords of the
//! enclosing block, the workflow's steps, the project's declarations, the
//! names and field types in scope in an expression, the fields a resource
//! kind's schema declares.

use flowc_compiler::Ty;
use flowc_compiler::model::item_index;
use flowc_compiler::name_index::ExprCx;
use flowc_grammar::ast::{self, Decl, DeclKind, GroupMember, ValueKind, WorkflowStmtKind};
use flowc_grammar::errors::{STEP_KEYWORDS, STEP_KINDS, WORKFLOW_KEYWORDS, keywords_of};
use flowc_grammar::keywords;
use flowc_grammar::lexer::{self, LexErrorKind, TokenKind};
use flowc_grammar::parser::Rule;

use super::{File, FileCx, World, scope};

/// What a completion item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    /// A keyword (or a phrase of them, `for each item`), with its doc as detail.
    Keyword,
    /// A step or group, or a step's name in an expression.
    Step,
    /// A name an expression starts from that is no step (`inputs`, `run`, …).
    Variable,
    /// A field of a value, or of a resource instance.
    Field,
    /// An agent, after `step NAME: agent`.
    Agent,
    /// A policy, after `step NAME: check`.
    Policy,
    /// A template, after `step NAME: use`.
    Template,
    /// A workflow: after `call`, `then spawn`, or `->` in a spawn.
    Workflow,
    /// A store, after `reads` or `then put`.
    Store,
    /// An env or secret set.
    Set,
    /// A key of a set.
    Key,
    /// A resource kind, which starts an instance declaration.
    ResourceKind,
}

/// One completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletionItem {
    /// What is shown, and inserted unless `insert_text` says otherwise.
    pub label: String,
    /// What it is.
    pub kind: CompletionKind,
    /// One line about it (a keyword's doc, a type, a step's kind).
    pub detail: Option<String>,
    /// The text to insert when it is not the label.
    pub insert_text: Option<String>,
}

/// The completions at a byte offset of the file.
pub fn completion(world: &World, file: &File, offset: u32) -> Vec<CompletionItem> {
    let cx = FileCx::new(world, file);
    let offset = offset as usize;
    let text = cx.text;
    let prefix = &text[..offset];
    let lexed = lexer::lex(prefix);
    match open_token(&lexed, prefix) {
        Some(Open::Backtick(start)) => expression(&cx, offset, &prefix[start + 1..]),
        Some(Open::String(start)) => match hole_text(&prefix[start + 1..]) {
            Some(expr) => expression(&cx, offset, expr),
            None => Vec::new(),
        },
        Some(Open::Comment) => Vec::new(),
        None => {
            let open = open_braces(&lexed);
            let block = enclosing_block(&open, prefix);
            if let Some(Block::Instance(kind)) = block.last() {
                // `Kind name { field: value, |`: a field name is due after
                // `{`, `,` or a line break.
                let since = &prefix[prefix.rfind(['\n', '{', ',']).map_or(0, |i| i + 1)..];
                let since = since.trim_start();
                return if since.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') { instance_fields(&cx, kind) } else { Vec::new() };
            }
            if let Some(items) = template_arg_keys(&cx, &open, prefix) {
                return items;
            }
            // The statement being typed starts after the last line break or brace.
            let line = &prefix[prefix.rfind(['\n', '{', '}']).map_or(0, |i| i + 1)..];
            statement(&cx, offset, line.trim_start(), &block)
        }
    }
}

/// In `use TEMPLATE with { … }` where a key is due (after `{`, `,` or a
/// line break): the template's parameters not given yet.
fn template_arg_keys(cx: &FileCx<'_>, open_braces: &[usize], prefix: &str) -> Option<Vec<CompletionItem>> {
    let open = *open_braces.last()?;
    let words: Vec<&str> = prefix[..open].split_whitespace().rev().take(3).collect();
    let [with, template, kw_use] = words[..] else { return None };
    if with != "with" || kw_use != "use" {
        return None;
    }
    let since = &prefix[prefix.rfind(['\n', '{', ',']).map_or(0, |i| i + 1)..];
    if !since.trim_start().chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(Vec::new());
    }
    let given = &prefix[open..];
    let def = item_index(&cx.world.db, cx.project).other(DeclKind::Template, template)?;
    let Decl::Template(t) = &**def.ast(&cx.world.db) else { return None };
    Some(
        t.params
            .iter()
            .filter(|p| !given.contains(&format!("{}:", p.name.text)) && !given.contains(&format!("{} :", p.name.text)))
            .map(|p| {
                let ty = Ty::from_type_expr(&p.ty).brief();
                item(&p.name.text, CompletionKind::Field, Some(if p.default.is_some() { format!("{ty} (has a default)") } else { ty }))
            })
            .collect(),
    )
}

/// A token the cursor is inside of: the text before the cursor leaves it open.
enum Open {
    String(usize),
    Backtick(usize),
    Comment,
}

fn open_token(lexed: &lexer::Lexed, prefix: &str) -> Option<Open> {
    for e in &lexed.errors {
        if e.token.end as usize != prefix.len() {
            continue;
        }
        return match e.kind {
            LexErrorKind::UnterminatedString => Some(Open::String(e.token.start as usize)),
            LexErrorKind::UnterminatedBacktick => Some(Open::Backtick(e.token.start as usize)),
            LexErrorKind::UnterminatedComment => Some(Open::Comment),
            LexErrorKind::InvalidEscape => None,
        };
    }
    // A line comment runs to the end of the line, so it is never "open".
    let last = lexed.tokens.last()?;
    (last.kind == TokenKind::LineComment && last.span.end as usize == prefix.len()).then_some(Open::Comment)
}

/// The expression text of the hole the cursor is in, if any: after an
/// unclosed `${`, or a short `$name.path` right before the cursor.
fn hole_text(content: &str) -> Option<&str> {
    if let Some(at) = content.rfind("${") {
        let after = &content[at + 2..];
        let depth = after.chars().fold(0i32, |d, c| match c {
            '{' => d + 1,
            '}' => d - 1,
            _ => d,
        });
        if depth >= 0 && !escaped_dollar(content, at) {
            return Some(after);
        }
    }
    let tail = content.len() - content.chars().rev().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').map(char::len_utf8).sum::<usize>();
    let before = &content[..tail];
    (before.ends_with('$') && !escaped_dollar(content, tail - 1)).then(|| &content[tail..])
}

/// Whether the `$` at `at` is written `$$` (a literal dollar).
fn escaped_dollar(content: &str, at: usize) -> bool {
    content[..at].chars().rev().take_while(|c| *c == '$').count() % 2 == 1
}

// ----------------------------------------------------------- expressions

fn expression(cx: &FileCx<'_>, offset: usize, expr: &str) -> Vec<CompletionItem> {
    let path_len: usize = expr.chars().rev().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').map(char::len_utf8).sum();
    let path = &expr[expr.len() - path_len..];
    // `f().x`: not a path from a scope name.
    if path.starts_with('.') || expr[..expr.len() - path_len].ends_with(['.', ')', ']']) {
        return Vec::new();
    }
    let segments: Vec<String> = path.split('.').map(str::to_string).collect();
    let Some(site) = expression_site(cx, offset as u32) else { return Vec::new() };
    let scope = scope::scope_of(cx, &site);
    if segments.len() == 1 {
        return scope
            .iter()
            .map(|(name, ty)| {
                let is_step = !matches!(name.as_str(), "inputs" | "run" | "env" | "item" | "items" | "event" | "output" | "params");
                item(name, if is_step { CompletionKind::Step } else { CompletionKind::Variable }, Some(root_detail(name, ty, is_step)))
            })
            .collect();
    }
    let Some(ty) = scope::path_type(&scope, &segments[..segments.len() - 1]) else { return Vec::new() };
    scope::fields(&ty)
        .into_iter()
        .map(|(name, ty, optional)| item(&name, CompletionKind::Field, Some(format!("{}{}", ty.brief(), if optional { " (optional)" } else { "" }))))
        .collect()
}

fn root_detail(name: &str, ty: &Ty, is_step: bool) -> String {
    if is_step {
        let output = scope::field_type(ty, "output").map_or_else(|| "dyn".to_string(), |t| t.brief());
        format!("step {name}: output {output}")
    } else {
        ty.brief()
    }
}

/// Where the expression at the cursor is: which step (and whether in its
/// post-actions), or a workflow output.
fn expression_site(cx: &FileCx<'_>, offset: u32) -> Option<ExprCx> {
    let text = cx.text;
    let line_start = text[..offset as usize].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..offset as usize].trim_start();
    for decl in &cx.parse().file.decls {
        if let Decl::Template(t) = decl
            && t.span.touches(offset) {
                return Some(ExprCx::Template { template: t.name.text.clone() });
            }
        if let Decl::Test(t) = decl
            && t.span.touches(offset) {
                let workflow = flowc_compiler::checks::tests::test_workflow(t)?;
                return Some(ExprCx::Test { workflow: workflow.text.clone() });
            }
        let Decl::Workflow(w) = decl else { continue };
        if !w.span.touches(offset) {
            continue;
        }
        if let Some(step) = w.steps().into_iter().find(|s| s.span.touches(offset)) {
            let post = ["then ", "items "].iter().any(|k| line.starts_with(k));
            return Some(ExprCx::Step { workflow: w.name.text.clone(), step: step.name.text.clone(), post });
        }
        if line.starts_with("output ") {
            return Some(ExprCx::WorkflowOutput { workflow: w.name.text.clone() });
        }
    }
    None
}

// ------------------------------------------------------------ statements

/// The kind of block the cursor is in, from the header of its innermost
/// unclosed `{`.
#[derive(Debug, PartialEq)]
enum Block {
    Top,
    Workflow(String),
    Step,
    Group,
    Template,
    Agent,
    Store,
    Policy,
    Resource,
    Invariant,
    Safety,
    Retention,
    Env,
    /// `test "NAME" {`.
    Test,
    /// `Kind name {`: an instance of a resource kind.
    Instance(String),
    /// Data (`with { … }`, a schema, an output type): nothing to suggest.
    Data,
}

/// Where each brace still open before the cursor starts, outermost first.
fn open_braces(lexed: &lexer::Lexed) -> Vec<usize> {
    let mut stack: Vec<usize> = Vec::new();
    for t in &lexed.tokens {
        match t.kind {
            TokenKind::OpenBrace => stack.push(t.span.start as usize),
            TokenKind::CloseBrace => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack
}

fn enclosing_block(stack: &[usize], prefix: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    for &at in stack {
        let line_start = prefix[..at].rfind(['\n', '{', '}']).map_or(0, |i| i + 1);
        let header: Vec<&str> = prefix[line_start..at].split(|c: char| c.is_whitespace() || c == ':').filter(|w| !w.is_empty()).collect();
        let inside_data = matches!(blocks.last(), Some(Block::Data) | Some(Block::Instance(_)));
        let block = match header.first().copied() {
            _ if inside_data => Block::Data,
            Some("workflow") => Block::Workflow(header.get(1).unwrap_or(&"").to_string()),
            Some("step") => Block::Step,
            Some("parallel" | "phase") => Block::Group,
            Some("template") => Block::Template,
            Some("agent") => Block::Agent,
            Some("store") => Block::Store,
            Some("policy") => Block::Policy,
            Some("resource") => Block::Resource,
            Some("invariant") => Block::Invariant,
            Some("safety") => Block::Safety,
            Some("retention") => Block::Retention,
            Some("env") => Block::Env,
            Some("test") if blocks.is_empty() => Block::Test,
            Some(kind) if blocks.is_empty() && header.len() == 2 && kind.starts_with(|c: char| c.is_ascii_uppercase()) => {
                Block::Instance(kind.to_string())
            }
            _ => Block::Data,
        };
        blocks.push(block);
    }
    blocks
}

/// The words that may follow the words of a `retry` statement written so
/// far: `retry N [on exit C, … [or timeout]] [backoff KIND D [factor F]
/// [max D] [jitter P%]] [max_duration D]`, each part in its place.
fn retry_words(done: &[&str]) -> Vec<&'static str> {
    let has = |w: &str| done.contains(&w);
    match done.last().copied().unwrap_or("") {
        // A value is due.
        "retry" | "exit" | "fixed" | "exponential" | "factor" | "max" | "jitter" | "max_duration" => return Vec::new(),
        "on" => return vec!["exit", "timeout"],
        "or" => return if has("exit") { vec!["timeout"] } else { vec!["exit"] },
        "backoff" => return vec!["fixed", "exponential"],
        _ => {}
    }
    let mut out = Vec::new();
    if has("max_duration") {
        return out;
    }
    if has("backoff") {
        if has("exponential") && !has("factor") && !has("max") && !has("jitter") {
            out.push("factor");
        }
        if !has("max") && !has("jitter") {
            out.push("max");
        }
        if !has("jitter") {
            out.push("jitter");
        }
    } else {
        if !has("on") {
            out.push("on");
        } else if !has("or") {
            out.push("or");
        }
        out.push("backoff");
    }
    out.push("max_duration");
    out
}

fn statement(cx: &FileCx<'_>, offset: usize, line: &str, blocks: &[Block]) -> Vec<CompletionItem> {
    let db = &cx.world.db;
    let index = item_index(db, cx.project);
    let block = blocks.last().unwrap_or(&Block::Top);
    let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == ',' || c == '(').filter(|w| !w.is_empty()).collect();
    let typing = !line.is_empty() && !line.ends_with(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ':' || c == '>');
    // The words before the one being typed.
    let done: &[&str] = if typing { &words[..words.len().saturating_sub(1)] } else { &words };
    let decls = |kind: DeclKind, item_kind| -> Vec<CompletionItem> {
        index.names(kind).map(|n| item(n, item_kind, Some(kind.noun().to_string()))).collect()
    };
    let steps = || steps_of(cx, blocks, offset);

    // Headers: `step x: KIND TARGET after …`.
    let header = matches!(done.first(), Some(&"step" | &"parallel" | &"phase" | &"template")) && !line.contains('{');
    if header {
        if let Some(after) = done.iter().position(|w| *w == "after") {
            let own = done.get(1).map(|n| n.trim_end_matches(':')).unwrap_or("");
            // In a condition a name may be tested twice (`succeeded(c) || failed(c)`).
            let condition = line.contains(['(', '|', '&']);
            let listed = |n: &str| !condition && done[after..].contains(&n);
            let mut out: Vec<_> = steps().into_iter().filter(|(n, _)| n != own && !listed(n)).map(|(n, d)| item(&n, CompletionKind::Step, Some(d))).collect();
            if after == done.len() - 1 {
                for rule in ast::TriggerRule::ALL.map(ast::TriggerRule::keyword) {
                    out.push(item(rule, CompletionKind::Keyword, keywords::doc(rule).map(str::to_string)));
                }
            }
            // An outcome test may start any term of a condition, but not
            // the name inside `failed(…)`.
            let in_call = done.last().is_some_and(|w| ast::Outcome::from_keyword(w).is_some()) && line.trim_end().ends_with('(');
            if !in_call {
                for outcome in ast::Outcome::ALL.map(ast::Outcome::keyword) {
                    out.push(item(outcome, CompletionKind::Keyword, keywords::doc(outcome).map(str::to_string)));
                }
            }
            return out;
        }
        if line.contains(':') {
            let after_colon = line[line.find(':').map_or(0, |i| i + 1)..].split_whitespace().collect::<Vec<_>>();
            let kind_done = if typing { after_colon.len().saturating_sub(1) } else { after_colon.len() };
            return match (kind_done, after_colon.first().copied()) {
                (0, _) => STEP_KINDS.iter().map(|k| keyword(k)).collect(),
                (1, Some("agent")) => decls(DeclKind::Agent, CompletionKind::Agent),
                (1, Some("check")) => decls(DeclKind::Policy, CompletionKind::Policy),
                (1, Some("use")) => decls(DeclKind::Template, CompletionKind::Template),
                (1, Some("call")) => decls(DeclKind::Workflow, CompletionKind::Workflow),
                _ => vec![keyword("after"), item("for each item", CompletionKind::Keyword, keywords::doc("for").map(str::to_string))],
            };
        }
        if done.len() >= 2 {
            return vec![keyword("after"), item("for each item", CompletionKind::Keyword, keywords::doc("for").map(str::to_string))];
        }
        return Vec::new();
    }

    if *block == Block::Test {
        return test_statement(cx, offset, done);
    }
    if done.first() == Some(&"on") && matches!(block, Block::Workflow(_)) {
        return trigger_words(cx, done, typing.then(|| words.last().copied()).flatten());
    }

    // Statements that name something.
    let step_items = || steps().into_iter().map(|(n, d)| item(&n, CompletionKind::Step, Some(d))).collect::<Vec<_>>();
    match done {
        ["reads"] | ["then", "put"] => return decls(DeclKind::Store, CompletionKind::Store),
        ["then"] => return ["put", "spawn"].iter().map(|k| keyword(k)).collect(),
        ["then", "spawn"] => {
            let mut out = decls(DeclKind::Workflow, CompletionKind::Workflow);
            out.push(keyword("each"));
            return out;
        }
        ["on_fail"] => return ["fix", "pause", "fail"].iter().map(|k| keyword(k)).collect(),
        ["on_fail", "fix"] | ["compensate"] => return step_items(),
        ["on_failure"] => return ["fail", "pause", "continue"].iter().map(|k| keyword(k)).collect(),
        ["strategy"] => return ["min", "max", "threshold", "weighted"].iter().map(|k| keyword(k)).collect(),
        ["retry", ..] => return retry_words(done).iter().map(|k| keyword(k)).collect(),
        [.., "->"] if done.first() == Some(&"then") => return decls(DeclKind::Workflow, CompletionKind::Workflow),
        [.., "->"] => return step_items(),
        ["at", ..] if *block == Block::Invariant => return step_items(),
        _ => {}
    }
    // After `-> a, ` in a branch arm: the steps it does not name yet.
    let typed = if typing { words.last().map_or(0, |w| w.len()) } else { 0 };
    if done.first() != Some(&"then")
        && line[..line.len() - typed].trim_end().ends_with(',')
        && let Some(arrow) = done.iter().position(|w| *w == "->")
    {
        let listed = &done[arrow + 1..];
        return steps().into_iter().filter(|(n, _)| !listed.contains(&n.as_str())).map(|(n, d)| item(&n, CompletionKind::Step, Some(d))).collect();
    }
    if *block == Block::Env || done.first() == Some(&"env") {
        if done.last() == Some(&"use") {
            return decls(DeclKind::Env, CompletionKind::Set);
        }
        if done.last() == Some(&"=") {
            // `KEY = set.KEY`, or a source.
            let mut out: Vec<_> = index.names(DeclKind::Env).chain(index.names(DeclKind::Secrets)).map(|n| item(n, CompletionKind::Set, Some("env or secret set".into()))).collect();
            out.extend(["from_env", "from_file"].iter().map(|k| keyword(k)));
            return out;
        }
        if let Some(set) = typing.then(|| words.last()).flatten().and_then(|w| w.split_once('.')).map(|(s, _)| s) {
            return set_keys(cx, set).into_iter().map(|k| item(&k, CompletionKind::Key, Some(format!("key of `{set}`")))).collect();
        }
    }
    if !done.is_empty() {
        return Vec::new();
    }
    // The start of a statement: the keywords of the block.
    let list: &[&str] = match block {
        Block::Top => keywords_of(Rule::declaration).unwrap_or(&[]),
        Block::Workflow(_) => WORKFLOW_KEYWORDS,
        Block::Step | Block::Template => STEP_KEYWORDS,
        Block::Group => keywords_of(Rule::group_item).unwrap_or(&[]),
        Block::Agent => keywords_of(Rule::agent_item).unwrap_or(&[]),
        Block::Store => keywords_of(Rule::store_item).unwrap_or(&[]),
        Block::Policy => keywords_of(Rule::policy_item).unwrap_or(&[]),
        Block::Resource => keywords_of(Rule::resource_item).unwrap_or(&[]),
        Block::Invariant => keywords_of(Rule::invariant_item).unwrap_or(&[]),
        Block::Safety => keywords_of(Rule::safety_item).unwrap_or(&[]),
        Block::Retention => keywords_of(Rule::retention_item).unwrap_or(&[]),
        Block::Env => &["use"],
        Block::Test => keywords_of(Rule::test_item).unwrap_or(&[]),
        Block::Instance(kind) => return instance_fields(cx, kind),
        Block::Data => &[],
    };
    let mut out: Vec<_> = list.iter().map(|k| keyword(k)).collect();
    if *block == Block::Top {
        // Instances of the project's resource kinds are declarations too.
        out.extend(index.names(DeclKind::Resource).map(|k| item(k, CompletionKind::ResourceKind, Some("resource kind".into()))));
    }
    out
}

/// The words of an `on` line after `done`: the trigger kinds, then a
/// webhook's `signed SCHEME with SET.KEY [tolerance D]` or a schedule's
/// `catchup MODE [within D]`.
fn trigger_words(cx: &FileCx<'_>, done: &[&str], typing: Option<&str>) -> Vec<CompletionItem> {
    let keywords = |ks: &[&str]| ks.iter().map(|k| keyword(k)).collect();
    let at = |w: &str| done.iter().rposition(|d| *d == w);
    match (done.get(1).copied(), done.last().copied()) {
        (None, _) => keywords(&["event", "webhook", "schedule"]),
        (Some("webhook"), Some("signed")) => keywords(&["github", "stripe", "hmac"]),
        (Some("webhook"), Some("with")) => {
            if let Some((set, _)) = typing.and_then(|w| w.split_once('.')) {
                return set_keys(cx, set).into_iter().map(|k| item(&k, CompletionKind::Key, Some(format!("key of `{set}`")))).collect();
            }
            let index = item_index(&cx.world.db, cx.project);
            index.names(DeclKind::Secrets).map(|n| item(n, CompletionKind::Set, Some("secrets set".into()))).collect()
        }
        (Some("webhook"), _) if done.len() == 3 => keywords(&["signed"]),
        (Some("webhook"), _)
            if at("with").is_none()
                && at("signed").is_some_and(|i| done.len() == if done.get(i + 1) == Some(&"hmac") { i + 3 } else { i + 2 }) =>
        {
            keywords(&["with"])
        }
        (Some("webhook"), _) if at("with").is_some_and(|i| done.len() == i + 2) && done.contains(&"stripe") => keywords(&["tolerance"]),
        (Some("schedule"), Some("catchup")) => keywords(&["none", "latest", "all"]),
        (Some("schedule"), Some("latest" | "all")) if at("catchup").is_some() => keywords(&["within"]),
        // After the cron's closing quote (its fields are words too).
        (Some("schedule"), Some(w)) if done.len() > 2 && w.ends_with('"') && at("catchup").is_none() => keywords(&["catchup"]),
        _ => Vec::new(),
    }
}

fn keyword(k: &str) -> CompletionItem {
    item(k, CompletionKind::Keyword, keywords::doc(k).map(str::to_string))
}

fn item(label: &str, kind: CompletionKind, detail: Option<String>) -> CompletionItem {
    CompletionItem { label: label.to_string(), kind, detail, insert_text: None }
}

/// The steps and groups of the workflow the cursor is in, with a detail line.
/// A statement of a test: its keywords, then the workflows, steps, agents
/// and statuses each takes. Steps are those of the test's workflow, which
/// may be declared in another file.
fn test_statement(cx: &FileCx<'_>, offset: usize, done: &[&str]) -> Vec<CompletionItem> {
    let db = &cx.world.db;
    let index = item_index(db, cx.project);
    let workflow = cx.parse().file.decls.iter().find_map(|d| match d {
        Decl::Test(t) if t.span.touches(offset as u32) => flowc_compiler::checks::tests::test_workflow(t).map(|w| w.text.clone()),
        _ => None,
    });
    let steps = || -> Vec<CompletionItem> {
        let Some(wf) = workflow.as_deref().and_then(|w| index.workflow(w)) else { return Vec::new() };
        wf.steps(db).iter().map(|s| item(s.name(db), CompletionKind::Step, Some(format!("step: {}", s.ast(db).kind.keyword())))).collect()
    };
    let statuses = |list: &[&str]| list.iter().map(|k| item(k, CompletionKind::Keyword, Some("status".into()))).collect();
    match done {
        [] => keywords_of(Rule::test_item).unwrap_or(&[]).iter().map(|k| keyword(k)).collect(),
        ["expect", "refused"] => ["approve", "reject", "complete"].iter().map(|k| keyword(k)).collect(),
        ["expect", "refused", "approve" | "reject" | "complete"] => steps(),
        ["run"] => index.names(DeclKind::Workflow).map(|n| item(n, CompletionKind::Workflow, Some("workflow".into()))).collect(),
        ["mock"] => {
            let mut out = steps();
            out.push(keyword("agent"));
            out
        }
        ["mock", "agent"] => index.names(DeclKind::Agent).map(|n| item(n, CompletionKind::Agent, Some("agent".into()))).collect(),
        ["mock", _] | ["mock", "agent", _] => ["returns", "fails"].iter().map(|k| keyword(k)).collect(),
        ["approve" | "reject" | "complete"] => steps(),
        ["expect"] => {
            let mut out = steps();
            out.push(item("run", CompletionKind::Keyword, Some("the run".into())));
            out.push(keyword("refused"));
            out
        }
        ["expect", "run"] => statuses(flowc_compiler::checks::tests::RUN_STATUSES),
        ["expect", s] if !s.starts_with('`') => statuses(flowc_compiler::checks::tests::STEP_STATUSES),
        ["send"] => vec![keyword("event")],
        _ => Vec::new(),
    }
}

fn steps_of(cx: &FileCx<'_>, blocks: &[Block], offset: usize) -> Vec<(String, String)> {
    let parse = cx.parse();
    let by_span = parse.file.decls.iter().find_map(|d| match d {
        Decl::Workflow(w) if w.span.touches(offset as u32) => Some(w),
        _ => None,
    });
    let by_name = || {
        let name = blocks.iter().find_map(|b| match b {
            Block::Workflow(n) => Some(n.as_str()),
            _ => None,
        })?;
        parse.file.decls.iter().find_map(|d| match d {
            Decl::Workflow(w) if w.name.text == name => Some(w),
            _ => None,
        })
    };
    let Some(w) = by_span.or_else(by_name) else { return Vec::new() };
    let mut out = Vec::new();
    for stmt in &w.body {
        match &stmt.kind {
            WorkflowStmtKind::Step(s) => out.push(step_entry(s)),
            WorkflowStmtKind::Group(g) => group_entries(g, &mut out),
            _ => {}
        }
    }
    out
}

fn step_entry(s: &ast::Step) -> (String, String) {
    let kind = match s.kind.target() {
        Some(t) => format!("{} {}", s.kind.keyword(), t.text),
        None => s.kind.keyword().to_string(),
    };
    (s.name.text.clone(), format!("step: {kind}"))
}

fn group_entries(g: &ast::Group, out: &mut Vec<(String, String)>) {
    out.push((g.name.text.clone(), g.kind.keyword().to_string()));
    for m in &g.members {
        match m {
            GroupMember::Step(s) => out.push(step_entry(s)),
            GroupMember::Group(inner) => group_entries(inner, out),
        }
    }
}

/// The keys of an env or secret set.
fn set_keys(cx: &FileCx<'_>, set: &str) -> Vec<String> {
    let db = &cx.world.db;
    let index = item_index(db, cx.project);
    let Some(def) = index.other(DeclKind::Env, set).or_else(|| index.other(DeclKind::Secrets, set)) else { return Vec::new() };
    match &**def.ast(db) {
        Decl::Env(e) => e
            .body
            .entries
            .iter()
            .filter_map(|e| match &e.kind {
                ast::EnvEntryKind::Assign { key, .. } => Some(key.text.clone()),
                ast::EnvEntryKind::Use(_) => None,
            })
            .collect(),
        Decl::Secrets(s) => s.entries.iter().map(|e| e.key.text.clone()).collect(),
        _ => Vec::new(),
    }
}

/// The properties a resource kind's schema declares, for an instance body.
fn instance_fields(cx: &FileCx<'_>, kind: &str) -> Vec<CompletionItem> {
    let db = &cx.world.db;
    let Some(def) = item_index(db, cx.project).other(DeclKind::Resource, kind) else { return Vec::new() };
    let Decl::Resource(res) = &**def.ast(db) else { return Vec::new() };
    let Some(schema) = res.body.iter().find_map(|s| match &s.kind {
        ast::ResourceStmtKind::Schema(v) => Some(v),
        _ => None,
    }) else {
        return Vec::new();
    };
    let field = |v: &ast::Value, name: &str| v.as_object().and_then(|f| f.iter().find(|f| f.key.text == name)).map(|f| f.value.clone());
    let required: Vec<String> = field(schema, "required")
        .and_then(|v| v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()))
        .unwrap_or_default();
    let Some(props) = field(schema, "properties") else { return Vec::new() };
    props
        .as_object()
        .unwrap_or(&[])
        .iter()
        .map(|p| {
            let ty = field(&p.value, "type").and_then(|t| match t.kind {
                ValueKind::String(s) => Some(s),
                _ => None,
            });
            let detail = format!("{}{}", ty.unwrap_or_else(|| "any".into()), if required.contains(&p.key.text) { " (required)" } else { "" });
            let mut it = item(&p.key.text, CompletionKind::Field, Some(detail));
            it.insert_text = Some(format!("{}: ", p.key.text));
            it
        })
        .collect()
}
