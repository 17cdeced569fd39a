//! Values: numbers in range, durations, cron expressions, globs, types,
//! input defaults, select options, invariants, secrets, static spawn limits.

use std::collections::HashMap;

use flowc_grammar::ast::{
    self, AgentStmtKind, Decl, InvariantStmtKind, RetentionItem, SafetyItem, SecretValue, Span, StepStmtKind,
    Strategy, StoreStmtKind, Trigger, TypeExpr, TypeKind, Value, ValueKind, ViolationAction,
    WorkflowStmtKind,
};

use super::{StepCx, suggest};
use crate::codes::Code;
use crate::db::{Db, Project};
use crate::model::{OtherDef, WorkflowDef};
use crate::pending::{Anchor, Loc, Pending};

fn out_of_range<'db>(at: Loc<'db>, what: &str, rule: &str) -> Pending<'db> {
    Pending::new(Code::ValueOutOfRange, at, format!("{what} {rule}")).label("out of range")
}

fn check_retry<'db>(r: &ast::Retry, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    let start = out.len();
    if r.count.value < 0 {
        out.push(out_of_range(at(r.count.span), "`retry`", "must be 0 or more").help("`retry 0` means one attempt and no retries"));
    }
    if let Some(on) = &r.on {
        for code in &on.exits {
            if code.value == 0 {
                out.push(
                    Pending::new(Code::RetryNeverApplies, at(code.span), "exit 0 is success: it is never retried")
                        .label("never a failure")
                        .help("name the non-zero exit statuses to retry, such as `on exit 75`"),
                );
            } else if !(1..=255).contains(&code.value) {
                out.push(
                    out_of_range(at(code.span), "an exit status", "must be 1 to 255")
                        .help("a command's exit status is a number from 0 to 255, and 0 is success"),
                );
            }
        }
    }
    if let Some(b) = &r.backoff {
        if let Some(max) = &b.max
            && max.millis < b.delay.millis
        {
            out.push(
                out_of_range(at(max.span), "the backoff `max`", "is shorter than its first delay")
                    .help("`max` caps the growing delay; make it at least the first delay"),
            );
        }
        if let Some(f) = &b.factor {
            if b.kind == ast::BackoffKind::Fixed {
                out.push(
                    Pending::new(Code::RetryNeverApplies, at(f.span), "`factor` has no effect with `backoff fixed`")
                        .label("every wait is the same")
                        .related(at(b.kind_span), "the backoff is fixed here")
                        .help("write `backoff exponential` to grow the waits, or remove `factor`"),
                );
            } else if f.value.value < 1.0 {
                out.push(
                    out_of_range(at(f.span), "the backoff `factor`", "must be at least 1")
                        .help("the factor multiplies each wait; below 1 the waits would shrink"),
                );
            }
        }
        if let Some(j) = &b.jitter
            && j.value > 100
        {
            out.push(
                out_of_range(at(j.span), "`jitter`", "must be 0% to 100%")
                    .help("`jitter 20%` spreads each wait by up to ±20%; `100%` draws it from 0 to twice the wait"),
            );
        }
    }
    if let Some(limit) = &r.max_duration {
        if limit.millis == 0 {
            out.push(out_of_range(at(limit.span), "`max_duration`", "must be longer than 0s").help("write a positive duration such as `10m`"));
            return;
        }
        let bad_values = out[start..].iter().any(|p| p.code == Code::ValueOutOfRange);
        if r.count.value > 0 && !bad_values {
            let policy = crate::retry::plan_retry(r);
            let fit = policy.retries_within_max_duration();
            if fit == 0 {
                out.push(
                    Pending::new(Code::RetryNeverApplies, at(limit.span), "no retry can start within `max_duration`: the first wait is as long")
                        .label("too short for the first wait")
                        .help(format!(
                            "the first retry waits at least {}; make `max_duration` longer than that, or the backoff shorter",
                            flowc_plan::disasm::format_duration(policy.min_delay_before(2))
                        )),
                );
            } else if fit < policy.count {
                out.push(
                    Pending::new(
                        Code::RetriesPastMaxDuration,
                        at(r.count.span),
                        format!("only {fit} of these {} retries can start within `max_duration`", policy.count),
                    )
                    .label("more than fit")
                    .related(at(limit.span), "the waits alone reach this limit")
                    .help(format!("write `retry {fit}`, or make `max_duration` longer or the backoff shorter")),
                );
            }
        }
    }
}

/// Whether a step can stop by its own timeout: it has a `timeout`, or its
/// agent or template may supply one (an unresolved one counts as may).
fn may_time_out(db: &dyn Db, project: Project, step: &ast::Step) -> bool {
    if step.body.iter().any(|s| matches!(s.kind, StepStmtKind::Timeout(_))) {
        return true;
    }
    match &step.kind {
        ast::StepKind::Agent(name) => {
            let Some(agent) = crate::model::item_index(db, project).other(ast::DeclKind::Agent, &name.text) else {
                return true;
            };
            match &**agent.ast(db) {
                Decl::Agent(a) => a.body.iter().any(|s| matches!(s.kind, AgentStmtKind::Timeout(_))),
                _ => true,
            }
        }
        ast::StepKind::Use(_) => true,
        _ => false,
    }
}

/// `on timeout` where the policy's steps cannot time out.
fn timeout_never_happens<'db>(on: &ast::RetryOn, whose: &str, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    if let Some(t) = on.timeout {
        out.push(
            Pending::new(Code::RetryOnTimeoutWithoutTimeout, at(t), format!("`on timeout` never applies: {whose}"))
                .label("nothing here times out")
                .help("give the step a `timeout D`, or remove `timeout` from `on`"),
        );
    }
}

/// An exit code both in `skip_on_exit` and in the step's `retry … on exit`:
/// the skip comes first, so that retry can never happen.
fn skipped_and_retried<'db>(step: &ast::Step, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    let skips: Vec<i64> = step
        .body
        .iter()
        .filter_map(|s| match &s.kind {
            StepStmtKind::SkipOnExit(codes) => Some(codes.iter().map(|c| c.value)),
            _ => None,
        })
        .flatten()
        .collect();
    for stmt in &step.body {
        let StepStmtKind::Retry(r) = &stmt.kind else { continue };
        for code in r.on.iter().flat_map(|on| &on.exits).filter(|c| skips.contains(&c.value)) {
            out.push(
                Pending::new(Code::RetryNeverApplies, at(code.span), format!("exit {} skips the step (`skip_on_exit`), so it is never retried", code.value))
                    .label("never retried")
                    .help(format!("an attempt that exits {} ends the step skipped; drop the code from `retry … on exit` or from `skip_on_exit`", code.value)),
            );
        }
    }
}

/// `skip_on_exit N, …`: exit codes a process can end with, other than
/// success, each once; and a step that runs once (an item of a `for each`
/// cannot be skipped alone).
fn skip_codes<'db>(codes: &[ast::IntLit], for_each: bool, stmt: Span, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    if for_each {
        out.push(
            Pending::new(Code::StatementNotAllowed, at(stmt), "`skip_on_exit` does not belong in a `for each item` step")
                .label("not allowed here")
                .help("an item cannot be skipped alone; let the command exit 0 for the items it passes over, or move the check into a step before the `for each`"),
        );
    }
    let mut seen = Vec::new();
    for c in codes {
        if c.value == 0 {
            out.push(
                out_of_range(at(c.span), "`skip_on_exit 0`", "would skip every successful attempt")
                    .help("name the codes the command exits with to say \"nothing to do\", e.g. `skip_on_exit 99`"),
            );
        } else if !(1..=255).contains(&c.value) {
            out.push(
                out_of_range(at(c.span), &format!("exit code {}", c.value), "is not one a process can end with")
                    .help("exit codes are 1 to 255"),
            );
        } else if seen.contains(&c.value) {
            out.push(
                Pending::new(Code::RepeatedStatement, at(c.span), format!("exit code {} is listed twice", c.value))
                    .label("again")
                    .help("list each code once"),
            );
        }
        seen.push(c.value);
    }
}

fn positive_duration<'db>(d: &ast::DurationLit, what: &str, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    if d.millis == 0 {
        out.push(out_of_range(at(d.span), what, "must be longer than 0s").help("write a positive duration such as `30s` or `10m`"));
    }
}

pub(super) fn step_values<'db>(cx: &StepCx<'db>, step: &ast::Step, out: &mut Vec<Pending<'db>>) {
    let at = |s: Span| cx.at(s);
    if let Some(Err(problems)) = step.for_each_in.as_ref().map(crate::matrix::expand) {
        for p in problems {
            out.push(Pending::new(Code::InvalidItems, at(p.span), p.message).label(p.label).help(p.help));
        }
    }
    skipped_and_retried(step, &at, out);
    if step.for_each.is_none()
        && let Some(stmt) = step.body.iter().find(|s| matches!(s.kind, StepStmtKind::FailFast))
    {
        out.push(
            Pending::new(Code::StatementNotAllowed, at(stmt.span), "`fail_fast` belongs in a `for each item` step")
                .label("not a `for each item` step")
                .help("`fail_fast` stops the other items of a `for each item` step when one fails; this step runs once. To stop a group's other members when one fails, write it in the group's header: `parallel NAME fail_fast { … }`"),
        );
    }
    for stmt in &step.body {
        if let StepStmtKind::TimerUntil(ast::TimerArg::Literal(lit)) = &stmt.kind
            && let Some(problem) = crate::literal::rfc3339_problem(&lit.value)
        {
            out.push(
                Pending::new(Code::InvalidTimestamp, at(lit.span), format!("`{}` is not an RFC 3339 date-time: {problem}", lit.value))
                    .label("not a timestamp")
                    .help("write the date, `T`, the time and the zone: `\"2026-12-24T09:00:00Z\"` (UTC) or `\"2026-12-24T10:00:00+01:00\"`"),
            );
        }
    }
    // `compensate_on_failure` says when a compensation runs; without one there is none.
    // (A `use` step may take its `compensate` from the template.)
    if let Some(stmt) = step.body.iter().find(|s| matches!(s.kind, StepStmtKind::CompensateOnFailure))
        && !matches!(step.kind, ast::StepKind::Use(_))
        && !step.body.iter().any(|s| matches!(s.kind, StepStmtKind::Compensate(_)))
    {
        out.push(
            Pending::new(Code::MissingStatement, at(stmt.span), format!("step `{}` says `compensate_on_failure` but has no `compensate`", step.name.text))
                .label("nothing to run")
                .help("add `compensate \"…\"` (or `compensate STEP`) with what undoes the step, or remove `compensate_on_failure`"),
        );
    }
    let mut strategy: Option<(Strategy, Span)> = None;
    let mut has_metric = false;
    let mut has_weights = false;
    let mut threshold_at = None;
    let mut weights_at = None;
    let mut has_channel = false;
    for stmt in &step.body {
        match &stmt.kind {
            StepStmtKind::Retry(r) => {
                check_retry(r, &at, out);
                if let Some(on) = &r.on
                    && !may_time_out(cx.db, cx.project, step)
                {
                    timeout_never_happens(on, &format!("step `{}` has no `timeout`", step.name.text), &at, out);
                }
            }
            StepStmtKind::Timeout(d) => positive_duration(d, "a step `timeout`", &at, out),
            StepStmtKind::SkipOnExit(codes) => skip_codes(codes, step.for_each.is_some(), stmt.span, &at, out),
            StepStmtKind::TopK(k) if k.value < 1 => {
                out.push(out_of_range(at(k.span), "`top_k`", "must be at least 1").help("`top_k N` keeps the best N items"));
            }
            StepStmtKind::Weights(w) => {
                has_weights = true;
                weights_at = Some(stmt.span);
                match w.as_object() {
                    Some(fields) => {
                        for f in fields {
                            match &f.value.kind {
                                ValueKind::Number(n) if n.value < 0.0 => out.push(
                                    out_of_range(at(f.value.span), &format!("the weight of `{}`", f.key.text), "must be 0 or more")
                                        .help("weights scale each metric; a negative weight would reward a worse score"),
                                ),
                                ValueKind::Number(_) => {}
                                _ => out.push(
                                    Pending::new(Code::ValueOutOfRange, at(f.value.span), format!("the weight of `{}` must be a number", f.key.text))
                                        .label("not a number")
                                        .help("write `weights { metric: 0.5, other: 0.5 }`"),
                                ),
                            }
                        }
                    }
                    None => out.push(
                        Pending::new(Code::ValueOutOfRange, at(w.span), "`weights` must be an object of numbers")
                            .help("write `weights { metric: 0.5, other: 0.5 }`"),
                    ),
                }
            }
            StepStmtKind::Threshold(_) => threshold_at = Some(stmt.span),
            StepStmtKind::Strategy { strategy: s, span } => strategy = Some((*s, *span)),
            StepStmtKind::Metric(_) => has_metric = true,
            StepStmtKind::OnFail(ast::OnFail::Fix { retries, .. }) if retries.value < 1 => {
                out.push(out_of_range(at(retries.span), "`on_fail fix … retry`", "must be at least 1").help("use `on_fail fail` to give up at once"));
            }
            StepStmtKind::Output(t) => type_well_formed(t, &at, out),
            StepStmtKind::Channel(_) => has_channel = true,
            StepStmtKind::Command(t) if t.as_literal().is_some_and(|s| s.trim().is_empty()) => {
                out.push(
                    Pending::new(Code::NoEffect, at(t.span), format!("step `{}` runs an empty command", step.name.text))
                        .label("nothing to run")
                        .help("write the command to run, or remove the step"),
                );
            }
            StepStmtKind::When(e) if e.text.trim() == "false" => {
                out.push(
                    Pending::new(Code::NoEffect, at(e.span), format!("step `{}` never runs: its condition is `false`", step.name.text))
                        .label("always false")
                        .help("remove the step, or write the condition that should decide it"),
                );
            }
            StepStmtKind::With(v) | StepStmtKind::Approvers(v) => plain_string_holes(v, &at, out),
            StepStmtKind::Spawn { inputs: Some(v), .. } | StepStmtKind::SpawnEach { inputs: Some(v), .. } => {
                plain_string_holes(v, &at, out)
            }
            _ => {}
        }
    }
    if let Some((s, span)) = strategy {
        if let Some(t) = threshold_at {
            if !matches!(s, Strategy::Threshold | Strategy::Weighted) {
                out.push(
                    Pending::new(Code::SelectOptionMismatch, at(t), format!("`threshold` has no meaning with `strategy {}`", s.keyword()))
                        .label("ignored")
                        .related(at(span), "the strategy is chosen here")
                        .help("use `strategy threshold` or `strategy weighted`, or remove `threshold`"),
                );
            }
        } else if s == Strategy::Threshold {
            out.push(
                Pending::new(Code::MissingStatement, at(span), "`strategy threshold` needs a `threshold`")
                    .label("no threshold given")
                    .help("add `threshold 0.7`: items whose metric reaches it are kept"),
            );
        }
        if let Some(w) = weights_at
            && s != Strategy::Weighted {
                out.push(
                    Pending::new(Code::SelectOptionMismatch, at(w), format!("`weights` has no meaning with `strategy {}`", s.keyword()))
                        .label("ignored")
                        .related(at(span), "the strategy is chosen here")
                        .help("use `strategy weighted`, or remove `weights`"),
                );
            }
        if matches!(s, Strategy::Min | Strategy::Max | Strategy::Threshold) && !has_metric {
            out.push(
                Pending::new(Code::MissingStatement, at(span), format!("`strategy {}` needs a `metric`", s.keyword()))
                    .label("compares which field?")
                    .help("add `metric FIELD`: the field of each item to compare"),
            );
        }
        if s == Strategy::Weighted && !has_weights {
            out.push(
                Pending::new(Code::MissingStatement, at(span), "`strategy weighted` needs `weights`")
                    .label("no weights")
                    .help("add `weights { field: 0.6, other: 0.4 }`"),
            );
        }
    }
    if matches!(step.kind, ast::StepKind::Notify) && !has_channel {
        out.push(
            Pending::new(Code::NotifyWithoutChannel, at(step.kind_span.unwrap_or(step.name.span)), format!("notify step `{}` has no `channel`", step.name.text))
                .label("goes to the default sink")
                .help("add `channel \"slack:#team\"` (or any name your sink understands) so the message reaches someone"),
        );
    }
    spawn_limits(cx, step, out);
}

/// Spawn counts known at compile time against the workflow's `safety` limits.
fn spawn_limits<'db>(cx: &StepCx<'db>, step: &ast::Step, out: &mut Vec<Pending<'db>>) {
    let db = cx.db;
    let max = cx.wf.header(db).iter().find_map(|(_, s)| match &s.kind {
        WorkflowStmtKind::Safety(safety) => safety.items.iter().find_map(|i| match i {
            SafetyItem::MaxSpawnedTasks(n) => Some(n.value),
            _ => None,
        }),
        _ => None,
    });
    let Some(max) = max else { return };
    let mut count: i64 = 0;
    let mut last = None;
    for stmt in &step.body {
        match &stmt.kind {
            StepStmtKind::Spawn { .. } => {
                count += 1;
                last = Some(stmt.span);
            }
            StepStmtKind::SpawnEach { list, .. } => {
                if let Some(n) = literal_list_len(&list.text) {
                    count += n as i64;
                    last = Some(list.span);
                }
            }
            _ => {}
        }
    }
    if count > max
        && let Some(span) = last {
            out.push(
                Pending::new(Code::SpawnLimitExceeded, cx.at(span), format!(
                    "step `{}` spawns {count} tasks, more than `max_spawned_tasks {max}` allows",
                    step.name.text
                ))
                .label("over the limit")
                .help("raise `max_spawned_tasks` in the workflow's `safety` block, or spawn fewer tasks"),
            );
        }
}

/// The length of a CEL list literal `[a, b, c]` (top-level commas), if it is one.
fn literal_list_len(text: &str) -> Option<usize> {
    let t = text.trim();
    let inner = t.strip_prefix('[')?.strip_suffix(']')?;
    if inner.trim().is_empty() {
        return Some(0);
    }
    let mut depth = 0i32;
    let mut count = 1;
    let mut quote: Option<char> = None;
    for c in inner.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{' | '(') => depth += 1,
            (None, ']' | '}' | ')') => depth -= 1,
            (None, ',') if depth == 0 => count += 1,
            _ => {}
        }
    }
    Some(count)
}

/// A `${…}` in a plain data string is text, not a hole: say so.
fn plain_string_holes<'db>(v: &Value, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    match &v.kind {
        ValueKind::String(s) => {
            if let Some(i) = s.find("${") {
                let end = s[i..].find('}').map_or(s.len(), |j| i + j + 1);
                let inner = &s[i + 2..end.saturating_sub(1).max(i + 2)];
                out.push(
                    Pending::new(Code::HoleInPlainString, at(v.span), "`${…}` is not substituted in a data string")
                        .label("taken literally")
                        .help(format!("data literals compute values with backticks: write `{inner}` in backticks instead of the string")),
                );
            }
        }
        ValueKind::Array(items) => items.iter().for_each(|i| plain_string_holes(i, at, out)),
        ValueKind::Object(fields) => fields.iter().for_each(|f| plain_string_holes(&f.value, at, out)),
        _ => {}
    }
}

/// Unknown type names and repeated fields in `input`/`output` types.
pub(crate) fn type_well_formed<'db>(t: &TypeExpr, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    match &t.kind {
        TypeKind::Unknown(name) => out.push(
            Pending::new(Code::MalformedType, at(name.span), format!("there is no type `{}`", name.text))
                .label("unknown type")
                .help(
                    suggest(&name.text, ["string", "number", "int", "bool", "any"])
                        .unwrap_or_else(|| "the types are `string`, `number`, `int`, `bool`, `any`, `[T]` and `{ field: T }`".into()),
                ),
        ),
        TypeKind::List(inner) => type_well_formed(inner, at, out),
        TypeKind::Object(fields) => {
            let mut seen: HashMap<&str, Span> = HashMap::new();
            for f in fields {
                if let Some(first) = seen.get(f.name.text.as_str()) {
                    out.push(
                        Pending::new(Code::MalformedType, at(f.name.span), format!("the field `{}` is declared twice", f.name.text))
                            .label("second one")
                            .related(at(*first), "first one here")
                            .help("remove one of them"),
                    );
                } else {
                    seen.insert(&f.name.text, f.name.span);
                }
                type_well_formed(&f.ty, at, out);
            }
        }
        _ => {}
    }
}

/// Whether a literal fits a declared type; `Err((span, reason))` points at the part that does not.
pub(crate) fn value_fits(v: &Value, t: &TypeExpr) -> Result<(), (Span, String)> {
    let mismatch = |want: &str| Err((v.span, format!("expected {want}, found {}", value_noun(v))));
    match (&t.kind, &v.kind) {
        (TypeKind::Any | TypeKind::Unknown(_), _) | (_, ValueKind::Expr(_)) => Ok(()),
        (TypeKind::String, ValueKind::String(_)) | (TypeKind::Bool, ValueKind::Bool(_)) => Ok(()),
        (TypeKind::Number, ValueKind::Number(_)) => Ok(()),
        (TypeKind::Int, ValueKind::Number(n)) if n.is_int => Ok(()),
        (TypeKind::Int, ValueKind::Number(_)) => Err((v.span, "expected a whole number (`int`), found a fraction".into())),
        (TypeKind::List(inner), ValueKind::Array(items)) => items.iter().try_for_each(|i| value_fits(i, inner)),
        (TypeKind::Object(fields), ValueKind::Object(given)) => {
            for f in fields {
                match given.iter().find(|g| g.key.text == f.name.text) {
                    Some(g) => value_fits(&g.value, &f.ty)?,
                    None if f.optional => {}
                    None => return Err((v.span, format!("the field `{}` is missing", f.name.text))),
                }
            }
            for g in given {
                if !fields.iter().any(|f| f.name.text == g.key.text) {
                    return Err((g.key.span, format!("there is no field `{}` in the declared type", g.key.text)));
                }
            }
            Ok(())
        }
        (TypeKind::String, _) => mismatch("a string"),
        (TypeKind::Number, _) => mismatch("a number"),
        (TypeKind::Int, _) => mismatch("a whole number"),
        (TypeKind::Bool, _) => mismatch("`true` or `false`"),
        (TypeKind::List(_), _) => mismatch("a list"),
        (TypeKind::Object(_), _) => mismatch("an object"),
    }
}

fn value_noun(v: &Value) -> &'static str {
    match &v.kind {
        ValueKind::Null => "`null`",
        ValueKind::Bool(_) => "a boolean",
        ValueKind::Number(_) => "a number",
        ValueKind::String(_) => "a string",
        ValueKind::Array(_) => "a list",
        ValueKind::Object(_) => "an object",
        ValueKind::Expr(_) => "an expression",
    }
}

pub(super) fn workflow_values<'db>(db: &'db dyn Db, project: Project, wf: WorkflowDef<'db>, out: &mut Vec<Pending<'db>>) {
    let mut inputs: HashMap<&str, Loc<'db>> = HashMap::new();
    let mut outputs: HashMap<&str, Loc<'db>> = HashMap::new();
    for (item, stmt) in wf.header(db).iter() {
        let at = |s: Span| Loc::new(Anchor::Item(wf, *item), s);
        match &stmt.kind {
            WorkflowStmtKind::Input(input) => {
                if let Some(first) = inputs.get(input.name.text.as_str()) {
                    out.push(
                        Pending::new(Code::DuplicateInput, at(input.name.span), format!("the input `{}` is declared twice", input.name.text))
                            .label("second one")
                            .related(*first, "first one here")
                            .help("remove one of them or rename it"),
                    );
                } else {
                    inputs.insert(&input.name.text, at(input.name.span));
                }
                type_well_formed(&input.ty, &at, out);
                if let Some(default) = &input.default
                    && let Err((span, why)) = value_fits(default, &input.ty) {
                        out.push(
                            Pending::new(Code::DefaultTypeMismatch, at(span), format!("the default of `{}` does not fit its type: {why}", input.name.text))
                                .label("does not fit")
                                .related(at(input.ty.span), "the declared type")
                                .help("change the default or the type"),
                        );
                    }
            }
            WorkflowStmtKind::Output(o) => {
                if let Some(first) = outputs.get(o.name.text.as_str()) {
                    out.push(
                        Pending::new(Code::DuplicateInput, at(o.name.span), format!("the output `{}` is declared twice", o.name.text))
                            .label("second one")
                            .related(*first, "first one here")
                            .help("remove one of them or rename it"),
                    );
                } else {
                    outputs.insert(&o.name.text, at(o.name.span));
                }
            }
            WorkflowStmtKind::On(trigger) => trigger_values(trigger, &at, out),
            WorkflowStmtKind::Retry(r) => {
                check_retry(r, &at, out);
                if let Some(on) = &r.on
                    && !wf.steps(db).iter().any(|st| may_time_out(db, project, st.ast(db)))
                {
                    timeout_never_happens(on, &format!("no step of `{}` has a `timeout`", wf.name(db)), &at, out);
                }
            }
            WorkflowStmtKind::Timeout(d) => positive_duration(d, "the workflow `timeout`", &at, out),
            WorkflowStmtKind::Concurrency(n) if n.value < 1 => {
                out.push(out_of_range(at(n.span), "`concurrency`", "must be at least 1").help("`concurrency 1` runs one step at a time"));
            }
            WorkflowStmtKind::Budget(b) if b.value.value <= 0.0 => {
                out.push(out_of_range(at(b.span), "`budget`", "must be more than 0").help("the budget is in USD, e.g. `budget 5.00`"));
            }
            WorkflowStmtKind::Safety(s) => {
                for item in &s.items {
                    if let SafetyItem::MaxSpawnedTasks(n) | SafetyItem::MaxSpawnDepth(n) = item
                        && n.value < 1 {
                            out.push(out_of_range(at(n.span), &format!("`{}`", item.keyword()), "must be at least 1").help("a limit of 0 would forbid spawning: remove the spawns instead"));
                        }
                }
            }
            WorkflowStmtKind::Invariant(inv) => invariant_values(inv, &at, out),
            _ => {}
        }
    }
}

fn trigger_values<'db>(trigger: &Trigger, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    match trigger {
        Trigger::Schedule { cron, catchup } => {
            if let Some(c) = catchup
                && let Some(w) = &c.within
            {
                if c.mode == ast::CatchupMode::None {
                    out.push(
                        Pending::new(Code::TriggerOptionMismatch, at(w.span), "`within` with `catchup none`: nothing is caught up, so there is no window")
                            .label("no catch-up to limit")
                            .help("remove `within`, or catch up with `catchup latest within D` (one run) or `catchup all within D` (every missed time)"),
                    );
                } else if w.millis == 0 {
                    out.push(out_of_range(at(w.span), "the catch-up window", "must be more than 0").help("a window of 0 would catch nothing up: write `catchup none` instead"));
                }
            }
            if let Err((offset, len, why)) = check_cron(&cron.value) {
                // The cron text starts one byte into the literal (after the quote).
                let span = if len == 0 { cron.span } else { Span::new(cron.span.start + 1 + offset as u32, cron.span.start + 1 + (offset + len) as u32) };
                out.push(
                    Pending::new(Code::InvalidCron, at(span), format!("invalid cron expression: {why}"))
                        .label("here")
                        .help("five fields: minute hour day-of-month month day-of-week, e.g. `0 9 * * MON-FRI`"),
                );
            }
        }
        Trigger::Webhook { path, signature } => {
            if path.text.split('.').count() != 3 {
                out.push(
                    Pending::new(Code::InvalidTriggerPattern, at(path.span), format!("`{}` is not a webhook path", path.text))
                        .label("needs three parts")
                        .help("write `provider.entity.action`, e.g. `hubspot.contact.created` (`*` matches any entity or action)"),
                );
            }
            if let Some(sig) = signature {
                signature_values(sig, at, out);
            }
        }
        Trigger::Event { event_type, .. } => {
            if event_type.value.trim().is_empty() {
                out.push(
                    Pending::new(Code::InvalidTriggerPattern, at(event_type.span), "the event type is empty")
                        .label("empty")
                        .help("write the CloudEvents type to match, e.g. `\"crm.lead.qualified\"` (globs like `crm.*` work)"),
                );
            }
        }
    }
}

/// `signed …`: a tolerance only where a timestamp is signed (stripe), and
/// not 0; an `hmac` header that is a valid HTTP header name.
fn signature_values<'db>(sig: &ast::Signature, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    if let Some(t) = &sig.tolerance {
        if sig.scheme != ast::SignatureScheme::Stripe {
            out.push(
                Pending::new(
                    Code::TriggerOptionMismatch,
                    at(t.span),
                    format!("`tolerance` with `signed {}`: only a stripe signature carries a timestamp to check", sig.scheme.keyword()),
                )
                .label("no timestamp to check")
                .help("remove `tolerance` (it applies to `signed stripe` only)"),
            );
        } else if t.millis < 1000 {
            out.push(out_of_range(at(t.span), "the signature `tolerance`", "must be at least 1s").help("Stripe's own default is `tolerance 5m`"));
        }
    }
    if let Some(h) = &sig.header
        && let Err(why) = check_header_name(&h.value)
    {
        out.push(
            Pending::new(Code::InvalidHeaderName, at(h.span), format!("`{}` is not an HTTP header name: {why}", h.value.escape_debug()))
                .label("not a header name")
                .help("name the header the provider signs with, e.g. `hmac \"X-Acme-Signature\"`: letters, digits and `-` (no spaces or `:`)"),
        );
    }
}

/// An HTTP header name is a non-empty RFC 9110 token.
fn check_header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    match name.chars().find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c))) {
        Some(c) => Err(format!("`{}` may not appear in one", c.escape_debug())),
        None => Ok(()),
    }
}

/// Validates a five-field cron expression with croner. On failure, the
/// (byte offset, length) of the field at fault within the text, and why.
pub(crate) fn check_cron(text: &str) -> Result<(), (usize, usize, String)> {
    let parse = |t: &str| croner::parser::CronParser::new().parse(t).map(|_| ()).map_err(|e| e.to_string());
    if text.trim_start().starts_with('@') {
        return parse(text.trim()).map_err(|why| (0, 0, why));
    }
    let fields: Vec<(usize, &str)> = text.split_whitespace().map(|f| (f.as_ptr() as usize - text.as_ptr() as usize, f)).collect();
    if fields.len() != 5 {
        return Err((0, 0, format!("expected 5 fields (minute hour day month weekday), found {}", fields.len())));
    }
    let Err(why) = parse(text) else { return Ok(()) };
    // Find the field at fault: replace the others by `*` and see which still fails.
    let names = ["minute", "hour", "day of month", "month", "day of week"];
    for (i, (offset, field)) in fields.iter().enumerate() {
        let probe: Vec<&str> = (0..5).map(|j| if j == i { *field } else { "*" }).collect();
        if parse(&probe.join(" ")).is_err() {
            return Err((*offset, field.len(), format!("the {} field `{field}` is not valid", names[i])));
        }
    }
    Err((0, 0, why))
}

fn invariant_values<'db>(inv: &ast::Invariant, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    let mut has_check = false;
    let mut has_protect = false;
    let mut rollback = false;
    let mut then_at = None;
    for stmt in &inv.body {
        match &stmt.kind {
            InvariantStmtKind::Check(c) => {
                has_check = true;
                if c.expect.is_none() {
                    out.push(
                        Pending::new(Code::CheckWithoutExpect, at(stmt.span), "an invariant's `check` needs `expect`")
                            .label("what output means the invariant holds?")
                            .help("write `check \"cmd\" expect \"output\"`: the invariant holds when the command prints exactly that"),
                    );
                }
            }
            InvariantStmtKind::Protect(globs) => {
                has_protect = true;
                for g in globs {
                    if let Err(e) = globset::Glob::new(&g.value) {
                        out.push(
                            Pending::new(Code::InvalidGlob, at(g.span), format!("invalid glob `{}`: {}", g.value, glob_reason(&e)))
                                .label("not a glob")
                                .help("globs use `*`, `**`, `?`, `[abc]` and `{a,b}`"),
                        );
                    }
                }
            }
            InvariantStmtKind::OnViolation { action, then, .. } => {
                rollback = *action == ViolationAction::Rollback;
                then_at = then.map(|(_, s)| s);
            }
            _ => {}
        }
    }
    if let Some(span) = then_at
        && !rollback {
            out.push(
                Pending::new(Code::StatementNotAllowed, at(span), "`then pause|fail` only follows `on_violation rollback`")
                    .label("not after abort or warn")
                    .help("abort fails the run and warn continues; only rollback then pauses or fails"),
            );
        }
    if !has_check && !has_protect {
        out.push(
            Pending::new(Code::MissingStatement, at(inv.name.span), format!("invariant `{}` checks nothing", inv.name.text))
                .label("no check and no protected files")
                .help("add `check \"cmd\" expect \"out\"` or `protect \"glob\"`"),
        );
    }
}

fn glob_reason(e: &globset::Error) -> String {
    e.kind().to_string()
}

pub(super) fn decl_values<'db>(db: &'db dyn Db, decl: OtherDef<'db>, out: &mut Vec<Pending<'db>>) {
    let at = |s: Span| Loc::new(Anchor::Decl(decl), s);
    match &**decl.ast(db) {
        Decl::Agent(agent) => {
            for stmt in &agent.body {
                match &stmt.kind {
                    AgentStmtKind::CostPerCall(c) if c.value.value < 0.0 => {
                        out.push(out_of_range(at(c.span), "`cost_per_call`", "must be 0 or more").help("the cost is in USD per call"));
                    }
                    AgentStmtKind::Timeout(d) => positive_duration(d, "an agent `timeout`", &at, out),
                    AgentStmtKind::Retry(r) => check_retry(r, &at, out),
                    _ => {}
                }
            }
        }
        Decl::Secrets(set) => {
            for e in &set.entries {
                if let SecretValue::Literal(span) = e.value {
                    out.push(
                        Pending::new(Code::LiteralSecret, at(span), format!("the secret `{}` is written inline", e.key.text))
                            .label("a secret value in the source")
                            .help(format!(
                                "secrets come from the environment or a file: `{} = from_env(\"{}\")` or `from_file(\"path\")`",
                                e.key.text, e.key.text
                            )),
                    );
                }
            }
        }
        Decl::Store(store) => {
            for stmt in &store.body {
                if let StoreStmtKind::Retention(items) = &stmt.kind {
                    for item in items {
                        match item {
                            RetentionItem::MaxEntries(n) if n.value < 1 => {
                                out.push(out_of_range(at(n.span), "`max_entries`", "must be at least 1").help("remove `max_entries` to keep every entry"));
                            }
                            RetentionItem::Ttl(d) => positive_duration(d, "`ttl`", &at, out),
                            _ => {}
                        }
                    }
                }
            }
        }
        Decl::Template(tpl) => {
            let mut seen: HashMap<&str, Span> = HashMap::new();
            for param in &tpl.params {
                if let Some(first) = seen.get(param.name.text.as_str()) {
                    out.push(
                        Pending::new(Code::DuplicateInput, at(param.name.span), format!("the parameter `{}` is declared twice", param.name.text))
                            .label("second one")
                            .related(at(*first), "first one here")
                            .help("remove one of them or rename it"),
                    );
                } else {
                    seen.insert(&param.name.text, param.name.span);
                }
                type_well_formed(&param.ty, &at, out);
                if let Some(default) = &param.default {
                    if let ValueKind::Expr(e) = &default.kind {
                        out.push(
                            Pending::new(Code::DefaultTypeMismatch, at(e.span), format!("the default of `{}` is an expression", param.name.text))
                                .label("not a literal")
                                .help("a parameter's default is a data literal; pass computed values as an argument: `use NAME with { PARAM: `EXPR` }`"),
                        );
                    } else if let Err((span, why)) = value_fits(default, &param.ty) {
                        out.push(
                            Pending::new(Code::DefaultTypeMismatch, at(span), format!("the default of `{}` does not fit its type: {why}", param.name.text))
                                .label("does not fit")
                                .related(at(param.ty.span), "the declared type")
                                .help("change the default or the type"),
                        );
                    }
                }
            }
            for stmt in &tpl.body {
                if let StepStmtKind::Output(t) = &stmt.kind {
                    type_well_formed(t, &at, out);
                }
            }
        }
        _ => {}
    }
}
