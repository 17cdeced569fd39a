//! Which statements each kind of step and declaration takes, which it needs,
//! and which may appear only once.

use std::collections::HashMap;

use flowc_grammar::ast::{
    self, AgentStmtKind, Decl, DeclKind, ResourceStmtKind, Span, StepKind, StepStmt, StepStmtKind, StoreStmtKind,
    WorkflowStmtKind,
};

use super::{StepCx, keyword_span};
use crate::codes::Code;
use crate::db::Db;
use crate::model::{OtherDef, WorkflowDef};
use crate::pending::{Anchor, Loc, Pending};

/// The key a statement is judged by: arms are told from conditions.
fn shape_key(kind: &StepStmtKind) -> &'static str {
    match kind {
        StepStmtKind::Arm { condition: Some(_), .. } => "when ->",
        other => other.keyword(),
    }
}

const COMMON: &[&str] = &[
    "description", "when", "timeout", "retry", "on_failure", "env", "reads", "then put", "then spawn",
    "then spawn each", "items", "compensate", "compensate_on_failure", "output", "fail_fast",
];
const POST: &[&str] = &["then put", "then spawn", "then spawn each"];

/// Statements a step kind takes beyond those every step takes.
fn allowed(kind: &StepKind) -> (&'static [&'static str], bool) {
    // (own statements, whether COMMON applies)
    match kind {
        // `skip_on_exit` needs a process whose exit code it reads.
        StepKind::Run | StepKind::Use(_) => (&["command", "skip_on_exit"], true),
        StepKind::Agent(_) => (&["prompt", "skip_on_exit"], true),
        // A check's approval statements configure its implicit approval gate.
        StepKind::Check(_) => (&["with", "approvers", "distinct_from_initiator", "message"], true),
        StepKind::Call(_) => (&["with"], true),
        StepKind::Wait => (&["event"], true),
        StepKind::Approval => (
            &["description", "when", "timeout", "approvers", "distinct_from_initiator", "message", "on_failure", "compensate", "compensate_on_failure"],
            false,
        ),
        StepKind::Branch => (&["description", "when", "when ->", "else"], false),
        StepKind::Notify => (&["description", "when", "channel", "message", "env"], false),
        StepKind::Human => (&["description", "when", "timeout", "message", "output", "approvers", "on_failure"], false),
        // A timer's wait is its own time limit, and it has nothing to retry.
        StepKind::Timer => (&["description", "when", "for", "until", "on_failure"], false),
        StepKind::Select => (
            &["description", "when", "strategy", "metric", "top_k", "threshold", "weights", "output", "timeout"],
            false,
        ),
        StepKind::Gate => (
            &["description", "when", "timeout", "check", "on_fail", "skippable", "env", "retry", "on_failure"],
            false,
        ),
    }
}

fn is_allowed(kind: &StepKind, key: &str) -> bool {
    if waits(kind) && POST_ACTIONS.contains(&key) {
        return false;
    }
    let (own, common) = allowed(kind);
    own.contains(&key) || (common && COMMON.contains(&key)) || POST.contains(&key)
}

/// What runs once a step's work has succeeded.
const POST_ACTIONS: &[&str] = &["then put", "then spawn", "then spawn each", "items"];

/// A step that waits for a person or an event (a `check` may, when its
/// policy requires approval) is ended by the decision or the event itself:
/// it has no "after the work" for post actions to run in.
fn waits(kind: &StepKind) -> bool {
    matches!(kind, StepKind::Approval | StepKind::Human | StepKind::Wait | StepKind::Timer | StepKind::Check(_))
}

/// What a step of this kind cannot do without.
fn required(kind: &StepKind) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        StepKind::Run => ("command", "command \"…\""),
        StepKind::Agent(_) => ("prompt", "prompt \"…\""),
        StepKind::Wait => ("event", "event \"type\" subject \"…\""),
        StepKind::Branch => ("when ->", "when `condition` -> STEP"),
        StepKind::Notify => ("message", "message \"…\""),
        StepKind::Select => ("strategy", "strategy weighted"),
        StepKind::Gate => ("check", "check \"command\""),
        _ => return None,
    })
}

/// Statements that say one thing; a second one is a mistake.
const SINGLE: &[&str] = &[
    "description", "command", "prompt", "output", "with", "when", "approvers", "distinct_from_initiator", "message",
    "timeout", "retry", "compensate", "channel", "event", "items", "strategy", "metric", "top_k", "threshold",
    "weights", "on_fail", "skippable", "on_failure", "env", "skip_on_exit", "compensate_on_failure", "fail_fast",
    "for", "until",
];

/// Where each kind's own statements are explained, for help lines.
fn kind_phrase(kind: &StepKind) -> String {
    let (own, common) = allowed(kind);
    let mut list: Vec<String> = own.iter().filter(|k| **k != "when ->").map(|k| format!("`{k}`")).collect();
    if common {
        list.push("the common step options".into());
    }
    format!("{} takes {}", a_step(kind.keyword()), list.join(", "))
}

/// "a `run` step", "an `agent NAME` step".
fn a_step(keyword: &str) -> String {
    let a = if keyword.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{a} `{keyword}` step")
}

/// The kind that does take a statement, for "did you mean" on the kind.
fn kind_for(key: &str) -> Option<&'static str> {
    Some(match key {
        "command" | "skip_on_exit" => "run",
        "prompt" => "agent NAME",
        "with" => "check POLICY` or `call WORKFLOW",
        "event" => "wait",
        "for" | "until" => "timer",
        "approvers" | "distinct_from_initiator" => "approval",
        "channel" => "notify",
        "when ->" | "else" => "branch",
        "strategy" | "metric" | "top_k" | "threshold" | "weights" => "select",
        "check" | "on_fail" | "skippable" => "gate",
        _ => return None,
    })
}

pub(super) fn step_shape<'db>(cx: &StepCx<'db>, step: &ast::Step, out: &mut Vec<Pending<'db>>) {
    let db = cx.db;
    // A `use TEMPLATE` step has the template's kind and body, its own lines winning.
    let (kind, inherited): (StepKind, Vec<StepStmt>) = match &step.kind {
        StepKind::Use(t) => match crate::model::item_index(db, cx.project).other(DeclKind::Template, &t.text) {
            Some(def) => match &**def.ast(db) {
                Decl::Template(tpl) => (tpl.kind.clone().unwrap_or(StepKind::Run), tpl.body.clone()),
                _ => (StepKind::Run, Vec::new()),
            },
            None => return, // reported by the name checks
        },
        k => (k.clone(), Vec::new()),
    };
    let mut found = Vec::new();
    body_shape(&kind, &step.body, &inherited, step.kind_span.unwrap_or(step.name.span), &|s| cx.at(s), &mut found);
    // After a syntax error in the step, a "missing" statement is most likely
    // the one the parser had to drop: the syntax error says it better.
    let recovered = cx.step.recovered(cx.db);
    out.extend(found.into_iter().filter(|p| !(recovered && p.code == Code::MissingStatement)));
}

/// Shape rules over a step body (of a step or a template).
fn body_shape<'db>(
    kind: &StepKind,
    body: &[StepStmt],
    inherited: &[StepStmt],
    header: Span,
    at: &dyn Fn(Span) -> Loc<'db>,
    out: &mut Vec<Pending<'db>>,
) {
    let mut seen: HashMap<&'static str, Span> = HashMap::new();
    let mut else_at: Option<Span> = None;
    for stmt in body {
        let key = shape_key(&stmt.kind);
        let kw = keyword_span(stmt);
        if !is_allowed(kind, key) {
            let shown = if key == "when ->" { "a branch arm" } else { stmt.kind.keyword() };
            let help = match kind_for(key) {
                _ if *kind == StepKind::Timer && matches!(key, "retry" | "timeout") => format!(
                    "a timer does not fail or hang, so there is nothing to {}: the wait is `for D` or `until \"…\"`; {}",
                    if key == "retry" { "retry" } else { "limit" },
                    kind_phrase(kind)
                ),
                _ if waits(kind) && POST_ACTIONS.contains(&key) => format!(
                    "{} ends when its {} arrives, so it takes no post actions: move `{shown}` to a `run` step `after` it that reads its `output`",
                    a_step(kind.keyword()),
                    if *kind == StepKind::Timer { "due time" } else { "decision or event" }
                ),
                Some(k) => format!("{shown} belongs in {}; {}", a_step(k), kind_phrase(kind)),
                None => kind_phrase(kind),
            };
            out.push(
                Pending::new(Code::StatementNotAllowed, at(kw), format!("{shown} does not belong in {}", a_step(kind.keyword())))
                    .label("not allowed here")
                    .help(help),
            );
            continue;
        }
        if SINGLE.contains(&key) {
            if let Some(first) = seen.get(key) {
                out.push(
                    Pending::new(Code::RepeatedStatement, at(kw), format!("`{}` is given twice", stmt.kind.keyword()))
                        .label("second one")
                        .related(at(*first), "first one here")
                        .help("keep one: a step has one value for each option"),
                );
                continue;
            }
            seen.insert(key, kw);
        }
        match &stmt.kind {
            StepStmtKind::Arm { condition: None, .. } => {
                if let Some(first) = else_at {
                    out.push(
                        Pending::new(Code::RepeatedStatement, at(kw), "a branch has only one `else`")
                            .label("second `else`")
                            .related(at(first), "first `else` here")
                            .help("remove one of them"),
                    );
                }
                else_at.get_or_insert(kw);
            }
            StepStmtKind::Arm { condition: Some(_), .. } => {
                if let Some(e) = else_at {
                    out.push(
                        Pending::new(Code::ArmAfterElse, at(kw), "this arm comes after `else`, so it can never be picked")
                            .label("never reached")
                            .related(at(e), "`else` catches everything before this")
                            .help("move the `else` arm to the end"),
                    );
                }
            }
            _ => {}
        }
    }
    if *kind == StepKind::Timer {
        timer_shape(body, inherited, header, at, out);
    }
    if let Some((key, example)) = required(kind) {
        let has = |stmts: &[StepStmt]| stmts.iter().any(|s| shape_key(&s.kind) == key);
        if !has(body) && !has(inherited) {
            let (what, none) = if key == "when ->" { ("a branch arm".to_string(), "no branch arm".to_string()) } else { (format!("`{key}`"), format!("no `{key}`")) };
            out.push(
                Pending::new(Code::MissingStatement, at(header), format!("{} needs {what}", a_step(kind.keyword())))
                    .label(format!("{none} in this step"))
                    .help(format!("add `{example}` to the step body")),
            );
        }
    }
}

/// A timer waits `for` a duration or `until` a time: exactly one of them.
fn timer_shape<'db>(body: &[StepStmt], inherited: &[StepStmt], header: Span, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    let find = |k: &str| body.iter().chain(inherited).find(|s| s.kind.keyword() == k).map(keyword_span);
    match (find("for"), find("until")) {
        (None, None) => out.push(
            Pending::new(Code::MissingStatement, at(header), "a `timer` step needs `for` or `until`")
                .label("no `for` or `until` in this step")
                .help("add `for 10m` (a duration) or `until \"2026-12-24T09:00:00Z\"` (a time) to the step body"),
        ),
        (Some(f), Some(u)) => {
            // Point at the one written second: the first one reads as meant.
            let (second, first, which) = if u.start > f.start { (u, f, "until") } else { (f, u, "for") };
            out.push(
                Pending::new(Code::TimerForAndUntil, at(second), "a `timer` step waits `for` a duration or `until` a time, not both")
                    .label(format!("`{which}` after the other"))
                    .related(at(first), "the wait is already given here")
                    .help("keep one: `for D` waits D from when the timer starts, `until \"…\"` waits until that time"),
            )
        }
        _ => {}
    }
}

pub(super) fn workflow_shape<'db>(db: &'db dyn Db, wf: WorkflowDef<'db>, out: &mut Vec<Pending<'db>>) {
    let mut seen: HashMap<&'static str, Loc<'db>> = HashMap::new();
    for (item, stmt) in wf.header(db).iter() {
        let key = match &stmt.kind {
            WorkflowStmtKind::Description(_) => "description",
            WorkflowStmtKind::Retry(_) => "retry",
            WorkflowStmtKind::Timeout(_) => "timeout",
            WorkflowStmtKind::Concurrency(_) => "concurrency",
            WorkflowStmtKind::Budget(_) => "budget",
            WorkflowStmtKind::OnFailure { .. } => "on_failure",
            WorkflowStmtKind::Safety(_) => "safety",
            WorkflowStmtKind::Env(_) => "env",
            _ => continue,
        };
        let kw = Span::new(stmt.span.start, stmt.span.start + key.len() as u32);
        let at = Loc::new(Anchor::Item(wf, *item), kw);
        if let Some(first) = seen.get(key) {
            out.push(
                Pending::new(Code::RepeatedStatement, at, format!("`{key}` is given twice in workflow `{}`", wf.name(db)))
                    .label("second one")
                    .related(*first, "first one here")
                    .help("keep one: a workflow has one value for each option"),
            );
        } else {
            seen.insert(key, at);
        }
    }
    // Step and group names share one namespace per workflow.
    let mut names: HashMap<&str, Loc<'db>> = HashMap::new();
    for step in wf.steps(db) {
        let sig = crate::model::step_sig(db, *step);
        let at = Loc::new(Anchor::Step(wf, *step), sig.name.span);
        if let Some(first) = names.get(sig.name.text.as_str()) {
            out.push(duplicate_step(&sig.name.text, "step", at, *first));
        } else {
            names.insert(&sig.name.text, at);
        }
    }
    let mut handler: Option<Loc<'db>> = None;
    for g in wf.groups(db).iter() {
        let at = Loc::new(Anchor::Item(wf, g.item), g.name.span);
        if g.kind == flowc_grammar::ast::GroupKind::Finally {
            if let Some(first) = handler {
                out.push(
                    Pending::new(Code::RepeatedStatement, at, format!("`finally` is given twice in workflow `{}`", wf.name(db)))
                        .label("second exit handler")
                        .related(first, "first one here")
                        .help("a workflow has one exit handler: move these steps into the first `finally` block")
                );
                continue;
            }
            handler = Some(at);
        }
        if let Some(first) = names.get(g.name.text.as_str()) {
            out.push(duplicate_step(&g.name.text, g.kind.keyword(), at, *first));
        } else {
            names.insert(&g.name.text, at);
        }
    }
}

fn duplicate_step<'db>(name: &str, what: &str, at: Loc<'db>, first: Loc<'db>) -> Pending<'db> {
    Pending::new(Code::DuplicateStep, at, format!("the name `{name}` is used twice in this workflow"))
        .label(format!("this {what} reuses it"))
        .related(first, "first used here")
        .help("steps and groups of a workflow need distinct names: rename one of them")
}

pub(super) fn decl_shape<'db>(db: &'db dyn Db, decl: OtherDef<'db>, out: &mut Vec<Pending<'db>>) {
    let at = |s: Span| Loc::new(Anchor::Decl(decl), s);
    let ast = decl.ast(db);
    match &**ast {
        Decl::Agent(agent) => {
            let mut seen: HashMap<&'static str, Span> = HashMap::new();
            let mut has_command = false;
            for stmt in &agent.body {
                let key = match &stmt.kind {
                    AgentStmtKind::Description(_) => "description",
                    AgentStmtKind::Command(_) => {
                        has_command = true;
                        "command"
                    }
                    AgentStmtKind::Capabilities(_) => "capabilities",
                    AgentStmtKind::Env(_) => "env",
                    AgentStmtKind::CostPerCall(_) => "cost_per_call",
                    AgentStmtKind::Timeout(_) => "timeout",
                    AgentStmtKind::Retry(_) => "retry",
                };
                repeated(key, stmt.span, &mut seen, &at, "an agent", out);
            }
            if !has_command {
                out.push(
                    Pending::new(Code::MissingStatement, at(agent.name.span), format!("agent `{}` has no `command`", agent.name.text))
                        .label("no command")
                        .help("add `command \"…\"`: the program that receives the prompt on stdin and prints the answer"),
                );
            }
        }
        Decl::Store(store) => {
            let mut seen = HashMap::new();
            for stmt in &store.body {
                let key = match &stmt.kind {
                    StoreStmtKind::Description(_) => "description",
                    StoreStmtKind::Backend(_) => "backend",
                    StoreStmtKind::Schema(_) => "schema",
                    StoreStmtKind::Retention(_) => "retention",
                };
                repeated(key, stmt.span, &mut seen, &at, "a store", out);
            }
        }
        Decl::Resource(res) => {
            let mut seen = HashMap::new();
            let mut has_schema = false;
            for stmt in &res.body {
                let key = match &stmt.kind {
                    ResourceStmtKind::Description(_) => "description",
                    ResourceStmtKind::Group(_) => "group",
                    ResourceStmtKind::Version(_) => "version",
                    ResourceStmtKind::Plural(_) => "plural",
                    ResourceStmtKind::Short(_) => "short",
                    ResourceStmtKind::Schema(_) => {
                        has_schema = true;
                        "schema"
                    }
                    ResourceStmtKind::Rule { .. } => continue,
                };
                repeated(key, stmt.span, &mut seen, &at, "a resource", out);
            }
            if !has_schema {
                out.push(
                    Pending::new(Code::MissingStatement, at(res.kind.span), format!("resource `{}` has no `schema`", res.kind.text))
                        .label("no schema")
                        .help("add `schema { type: \"object\", properties: { … } }`: instances are validated against it"),
                );
            }
        }
        Decl::Template(tpl) => {
            let kind = tpl.kind.clone().unwrap_or(StepKind::Run);
            // A template is a partial step: what it lacks, the step that uses it supplies.
            let mut scratch = Vec::new();
            body_shape(&kind, &tpl.body, &tpl.body, tpl.kind_span.unwrap_or(tpl.name.span), &at, &mut scratch);
            out.extend(scratch.into_iter().filter(|p| p.code != Code::MissingStatement));
            if matches!(kind, StepKind::Use(_)) {
                out.push(
                    Pending::new(Code::StatementNotAllowed, at(tpl.kind_span.unwrap_or(tpl.name.span)), "a template cannot `use` another template")
                        .help("copy the shared lines into this template, or give it a step kind such as `run` or `agent NAME`"),
                );
            }
        }
        Decl::Env(set) => duplicate_keys(set.body.entries.iter().filter_map(|e| match &e.kind {
            ast::EnvEntryKind::Assign { key, .. } => Some(key),
            ast::EnvEntryKind::Use(_) => None,
        }), &at, out),
        Decl::Secrets(set) => duplicate_keys(set.entries.iter().map(|e| &e.key), &at, out),
        Decl::Policy(_) | Decl::Instance(_) | Decl::Workflow(_) | Decl::Test(_) => {}
    }
}

fn repeated<'db>(
    key: &'static str,
    span: Span,
    seen: &mut HashMap<&'static str, Span>,
    at: &dyn Fn(Span) -> Loc<'db>,
    what: &str,
    out: &mut Vec<Pending<'db>>,
) {
    let kw = Span::new(span.start, (span.start + key.len() as u32).min(span.end));
    if let Some(first) = seen.get(key) {
        out.push(
            Pending::new(Code::RepeatedStatement, at(kw), format!("`{key}` is given twice"))
                .label("second one")
                .related(at(*first), "first one here")
                .help(format!("keep one: {what} has one value for each option")),
        );
    } else {
        seen.insert(key, kw);
    }
}

fn duplicate_keys<'a, 'db>(keys: impl Iterator<Item = &'a ast::Name>, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for key in keys {
        if let Some(first) = seen.get(key.text.as_str()) {
            out.push(
                Pending::new(Code::RepeatedStatement, at(key.span), format!("the key `{}` is given twice", key.text))
                    .label("second one")
                    .related(at(*first), "first one here")
                    .help("keep one: each key has one value"),
            );
        } else {
            seen.insert(&key.text, key.span);
        }
    }
}

#[cfg(test)]
mod tests {
    use flowc_grammar::ast::{Name, Span, StepKind};
    use flowc_grammar::keywords::keyword;

    use super::{COMMON, POST, POST_ACTIONS, SINGLE, allowed, required};

    /// Every statement these tables name (`then spawn each`, `when ->`) is
    /// made of words of the keyword table (`flowc_grammar::keywords`).
    #[test]
    fn the_shape_tables_name_only_keywords() {
        let name = || Name { text: "x".into(), span: Span::new(0, 0) };
        let kinds = [
            StepKind::Run, StepKind::Agent(name()), StepKind::Approval, StepKind::Check(name()), StepKind::Wait,
            StepKind::Timer, StepKind::Branch, StepKind::Notify, StepKind::Human, StepKind::Call(name()), StepKind::Select,
            StepKind::Gate, StepKind::Use(name()),
        ];
        let mut statements: Vec<&str> = [COMMON, POST, POST_ACTIONS, SINGLE].concat();
        for kind in &kinds {
            assert!(keyword(kind.keyword()).is_some(), "step kind `{}`", kind.keyword());
            statements.extend(allowed(kind).0);
            statements.extend(required(kind).map(|(key, _)| key));
        }
        for statement in statements {
            for word in statement.split(' ').filter(|w| *w != "->") {
                assert!(keyword(word).is_some(), "`{statement}`: `{word}` is not in the keyword table");
            }
        }
    }
}
