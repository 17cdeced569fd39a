//! What a CEL expression sees, and evaluating it.
//!
//! A [`Scope`] binds only the names a step's expressions reference (found at
//! load time), so building one costs nothing for steps that reference
//! nothing — the scheduler builds one per dispatched step. Values are
//! `cel::Value`s, whose compound variants share their contents through `Arc`,
//! so binding a large upstream output is a reference-count bump.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::value::CowVal;
use cel::objects::{Key, Map};

use crate::plan::table::{ShellContext, heredoc_breaks, render_value, shell_escape};
use crate::plan::{Part, Template};

/// serde_json → CEL: integral numbers become `int` (docs/language.md), others `double`.
pub fn to_cel(value: &serde_json::Value) -> cel::Value {
    match value {
        serde_json::Value::Null => cel::Value::Null,
        serde_json::Value::Bool(b) => cel::Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => match n.as_u64() {
                Some(u) => cel::Value::UInt(u),
                None => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        serde_json::Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        serde_json::Value::Object(map) => {
            let map: HashMap<Key, cel::Value> =
                map.iter().map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v))).collect();
            cel::Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// CEL → serde_json, for outputs, `with` data and rendering. Timestamps
/// and durations become the text CEL's `string()` gives them
/// (`2024-01-02T03:04:05Z`, `90s`), not the crate's JSON forms (a local
/// offset; nanoseconds), so `${run.started_at}` reads as `string(…)` does.
pub fn from_cel(value: &cel::Value) -> Result<serde_json::Value, String> {
    let plain;
    let value = if has_time(value) {
        plain = time_as_text(value);
        &plain
    } else {
        value
    };
    value.json().map_err(|e| format!("the value cannot be represented as JSON: {e:?}"))
}

fn has_time(value: &cel::Value) -> bool {
    match value {
        cel::Value::Timestamp(_) | cel::Value::Duration(_) => true,
        cel::Value::List(items) => items.iter().any(has_time),
        cel::Value::Map(m) => m.map.values().any(has_time),
        _ => false,
    }
}

fn time_as_text(value: &cel::Value) -> cel::Value {
    match value {
        cel::Value::Timestamp(t) => {
            let utc = t.with_timezone(&chrono::Utc);
            let base = utc.format("%Y-%m-%dT%H:%M:%S");
            cel::Value::String(Arc::new(format!("{base}{}Z", fraction(utc.timestamp_subsec_nanos()))))
        }
        cel::Value::Duration(d) => {
            let (secs, nanos) = (d.num_seconds(), d.subsec_nanos());
            let sign = if secs == 0 && nanos < 0 { "-" } else { "" };
            cel::Value::String(Arc::new(format!("{sign}{secs}{}s", fraction(nanos.unsigned_abs()))))
        }
        cel::Value::List(items) => cel::Value::List(Arc::new(items.iter().map(time_as_text).collect())),
        cel::Value::Map(m) => {
            cel::Value::Map(Map { map: Arc::new(m.map.iter().map(|(k, v)| (k.clone(), time_as_text(v))).collect()) })
        }
        other => other.clone(),
    }
}

/// `.25` for 250,000,000 ns; nothing for 0.
fn fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let digits = format!("{:09}", nanos % 1_000_000_000);
    format!(".{}", digits.trim_end_matches('0'))
}

/// A CEL timestamp (UTC) for milliseconds since the epoch; the epoch itself
/// for a time chrono cannot represent (beyond ±262,000 years).
pub fn timestamp_ms(ms: i64) -> cel::Value {
    let at = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    cel::Value::Timestamp(at.fixed_offset())
}

/// An RFC 3339 text as a CEL timestamp (`run.started_at`, `event.time`);
/// `None` when it is not one.
pub fn timestamp(text: &str) -> Option<cel::Value> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(cel::Value::Timestamp)
}

/// A CEL map of string keys.
pub fn cel_map<'a>(entries: impl IntoIterator<Item = (&'a str, cel::Value)>) -> cel::Value {
    let map: HashMap<Key, cel::Value> = entries.into_iter().map(|(k, v)| (Key::String(Arc::new(k.to_string())), v)).collect();
    cel::Value::Map(Map { map: Arc::new(map) })
}

/// What `STEP.output` is for a step that ended without completing (skipped,
/// upstream_failed, or failed and let through by `on_failure continue`):
/// empty, in the shape its output would have had. `[]` for a `for each`
/// step or a declared list, `null` for a declared scalar, and otherwise
/// `{}`, an object without fields, so `has(STEP.output.field)` is false
/// (docs/language.md, "A step that did not complete").
pub fn absent_output(step: &crate::plan::Step, types: &[crate::plan::Type]) -> cel::Value {
    use crate::plan::{Instr, Type};
    if step.for_each {
        return cel::Value::List(Arc::new(Vec::new()));
    }
    let declared = step.code.iter().find_map(|i| match i {
        Instr::ParseOutput { ty: Some(t), .. } => types.get(*t as usize),
        _ => None,
    });
    match declared {
        Some(Type::List { .. }) => cel::Value::List(Arc::new(Vec::new())),
        Some(Type::String | Type::Number | Type::Int | Type::Bool) => cel::Value::Null,
        Some(Type::Any | Type::Object { .. }) | None => cel_map([]),
    }
}

/// The value expressions see as `STEP`: `output`, `status`, `attempts`,
/// `cost_usd`, `stdout`, `stderr`. `absent` is the output of a step that
/// did not complete and recorded none ([`absent_output`]).
pub fn step_view(
    status: &str,
    attempts: u32,
    output: Option<&serde_json::Value>,
    absent: impl FnOnce() -> cel::Value,
    cost: f64,
    stdout: Option<&str>,
    stderr: Option<&str>,
) -> cel::Value {
    let text = |t: Option<&str>| cel::Value::String(Arc::new(t.unwrap_or_default().to_string()));
    let output = match output {
        Some(o) => to_cel(o),
        None if status != "completed" => absent(),
        None => cel::Value::Null,
    };
    cel_map([
        ("output", output),
        ("status", cel::Value::String(Arc::new(status.to_string()))),
        ("attempts", cel::Value::Int(attempts as i64)),
        ("cost_usd", cel::Value::Float(cost)),
        ("stdout", text(stdout)),
        ("stderr", text(stderr)),
    ])
}

pub use crate::plan::cel::{cel_context, cel_env};

/// The names bound for one evaluation.
#[derive(Clone, Default)]
pub struct Scope {
    vars: Vec<(String, cel::Value)>,
    /// Names that could not be bound, and why: an expression that reads
    /// one fails with that reason rather than "undeclared reference".
    unbound: Vec<(String, String)>,
}

impl Scope {
    /// Binds `name` to `value` for the expressions evaluated in this scope.
    pub fn bind(&mut self, name: impl Into<String>, value: cel::Value) {
        self.vars.push((name.into(), value));
    }

    /// Binds `name`, replacing an earlier binding of it.
    pub fn set(&mut self, name: &str, value: cel::Value) {
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_string(), value)),
        }
        self.unbound.retain(|(n, _)| n != name);
    }

    /// Records that `name` could not be bound, and why.
    pub fn unbound(&mut self, name: &str, why: String) {
        if !self.vars.iter().any(|(n, _)| n == name) {
            self.unbound.retain(|(n, _)| n != name);
            self.unbound.push((name.to_string(), why));
        }
    }

    /// An evaluation error, with the reason a name it reads was not bound
    /// in place of the evaluator's "undeclared reference".
    fn explain(&self, error: String) -> String {
        for (name, why) in &self.unbound {
            if error.contains(&format!("Undeclared reference to '{name}'")) {
                return format!("`{name}` is not bound: {why}");
            }
        }
        error
    }
}

impl cel::context::VariableResolver for Scope {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        self.vars
            .iter()
            .find(|(name, _)| name == variable)
            .and_then(|(_, v)| v.clone().try_into().ok())
            .map(CowVal::Owned)
    }
}

/// Renders a step's environment entries (`bindings`: its workflow's, its
/// agent's and its own; never secrets) in order. With `with_env` (the step's
/// expressions name `env`), each entry sees the entries rendered before it
/// as `env` (docs/language.md, "Expressions"); a later entry of a name
/// replaces an earlier one there. Every entry is tried; each comes back with
/// its value or why it did not render.
pub fn render_env<'b>(
    ev: &Evaluator<'_>,
    templates: &[crate::plan::Template],
    bindings: &'b [crate::plan::EnvBinding],
    scope: &Scope,
    with_env: bool,
) -> Vec<(&'b str, Result<String, String>)> {
    if !with_env {
        return bindings.iter().map(|b| (b.name.as_str(), ev.render(&templates[b.template as usize], scope))).collect();
    }
    let mut scope = scope.clone();
    let mut seen: Vec<(&str, cel::Value)> = Vec::new();
    let mut out = Vec::with_capacity(bindings.len());
    for b in bindings {
        scope.set("env", cel_map(seen.iter().cloned()));
        let value = ev.render(&templates[b.template as usize], &scope);
        if let Ok(v) = &value {
            seen.retain(|(n, _)| *n != b.name);
            seen.push((&b.name, cel::Value::String(v.clone().into())));
        }
        out.push((b.name.as_str(), value));
    }
    out
}

/// Binds `env` in `scope` to the entries of [`render_env`] that render, a
/// later entry of a name replacing an earlier one. One that does not render
/// is left out here; the attempt fails on it when it renders the environment
/// for its process.
pub fn bind_env(ev: &Evaluator<'_>, templates: &[crate::plan::Template], bindings: &[crate::plan::EnvBinding], scope: &mut Scope) {
    let mut entries: Vec<(&str, cel::Value)> = Vec::new();
    for (name, value) in render_env(ev, templates, bindings, scope, true) {
        if let Ok(v) = value {
            entries.retain(|(n, _)| *n != name);
            entries.push((name, cel::Value::String(v.into())));
        }
    }
    scope.set("env", cel_map(entries));
}

/// Binds `params`, a template's arguments (expression `params` of the
/// step, a map of every parameter), evaluated in `scope` (they never read
/// `params` themselves). Arguments that fail to evaluate (a field of an
/// upstream output that is not there) leave `params` unbound, so each
/// expression of the step that reads it fails the attempt with the
/// argument's error.
pub fn bind_params(ev: &Evaluator<'_>, params: u32, scope: &mut Scope) -> bool {
    match ev.eval(params, scope) {
        Ok(value) => {
            scope.set("params", to_cel(&value));
            true
        }
        Err(e) => {
            scope.unbound("params", format!("the template arguments failed: {e}"));
            false
        }
    }
}

/// The `run` value expressions see: its id, workflow, start (a timestamp),
/// cost so far, depth, and published version (0 for a run of unpublished
/// source; the checker types it `int`).
pub fn run_value(id: &str, workflow: &str, started_ms: i64, cost_usd: f64, depth: u32, version: Option<i64>) -> cel::Value {
    cel_map([
        ("id", cel::Value::String(id.to_string().into())),
        ("workflow", cel::Value::String(workflow.to_string().into())),
        ("started_at", timestamp_ms(started_ms)),
        ("cost_usd", cel::Value::Float(cost_usd)),
        ("depth", cel::Value::Int(depth as i64)),
        ("version", cel::Value::Int(version.unwrap_or(0))),
    ])
}

/// `run` in a step of the exit handler: `run` (a [`run_value`] map) with
/// how the run ended before the handler, `status`, `error` and `failures`
/// (the `finally_started` entry's payload, a JSON object).
pub fn with_ending(run: cel::Value, ended: &serde_json::Value) -> cel::Value {
    let (cel::Value::Map(base), cel::Value::Map(more)) = (run.clone(), to_cel(ended)) else { return run };
    let mut map: HashMap<Key, cel::Value> = (*base.map).clone();
    map.extend(more.map.iter().map(|(k, v)| (k.clone(), v.clone())));
    cel::Value::Map(Map { map: Arc::new(map) })
}

/// An evaluator: the shared CEL environment and a workflow's compiled programs.
pub struct Evaluator<'a> {
    /// The plan's CEL environment.
    pub env: &'a Arc<cel::Env>,
    /// The workflow's compiled expressions.
    pub programs: &'a [cel::Program],
    /// The workflow's expressions as written, for messages.
    pub exprs: &'a [String],
}

impl Evaluator<'_> {
    /// Evaluates expression `expr` in `scope`, as JSON.
    pub fn eval(&self, expr: u32, scope: &Scope) -> Result<serde_json::Value, String> {
        let mut ctx = cel_context(self.env);
        ctx.set_variable_resolver(scope);
        let program = &self.programs[expr as usize];
        let value = program.execute(&ctx).map_err(|e| format!("`{}`: {}", self.exprs[expr as usize], scope.explain(e.to_string())))?;
        from_cel(&value).map_err(|e| format!("`{}`: {e}", self.exprs[expr as usize]))
    }

    /// Evaluates expression `expr` in `scope`; anything but a bool is an error.
    pub fn eval_bool(&self, expr: u32, scope: &Scope) -> Result<bool, String> {
        match self.eval(expr, scope)? {
            serde_json::Value::Bool(b) => Ok(b),
            other => Err(format!("`{}` should be a bool but is {other}", self.exprs[expr as usize])),
        }
    }

    /// Renders a template. A shell hole's value is escaped for the quoting
    /// context the compiler found it in, so the command receives exactly its
    /// text; a value that cannot be (a NUL, a here-document line equal to the
    /// delimiter) fails the render with a message naming the hole.
    pub fn render(&self, template: &Template, scope: &Scope) -> Result<String, String> {
        let mut out = String::new();
        let mut heredoc_values = Vec::new();
        for part in &template.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Hole(hole) => {
                    let mut value = render_value(&self.eval(hole.expr, scope)?);
                    if hole.glob {
                        value = crate::plan::table::glob_escape(&value);
                    }
                    match &hole.shell {
                        Some(ctx) => {
                            let escaped = shell_escape(ctx, &value).map_err(|why| self.refused(hole.expr, &why))?;
                            let start = out.len();
                            out.push_str(&escaped);
                            if let ShellContext::Heredoc { delimiter, strip_tabs, .. } = ctx {
                                heredoc_values.push((hole.expr, start..out.len(), delimiter, *strip_tabs));
                            }
                        }
                        None => out.push_str(&value),
                    }
                }
            }
        }
        // Lines are only whole once every hole is in.
        for (expr, range, delimiter, strip_tabs) in heredoc_values {
            if let Some(why) = heredoc_breaks(&out, range, delimiter, strip_tabs) {
                return Err(self.refused(expr, &why));
            }
        }
        Ok(out)
    }

    fn refused(&self, expr: u32, why: &str) -> String {
        format!("the value of `${{{}}}` {why}, so the command was not run", self.exprs[expr as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_against_bound_names() {
        let env = Arc::new(cel_env());
        let exprs = vec!["a.output.n > 2 && inputs.who == 'x'".to_string(), "inputs.who".to_string()];
        let programs: Vec<cel::Program> = exprs.iter().map(|e| env.compile(e).unwrap()).collect();
        let ev = Evaluator { env: &env, programs: &programs, exprs: &exprs };
        let mut scope = Scope::default();
        scope.bind("inputs", to_cel(&json!({"who": "x"})));
        scope.bind("a", to_cel(&json!({"output": {"n": 3}})));
        assert_eq!(ev.eval(0, &scope), Ok(json!(true)));
        let t = Template {
            parts: vec![Part::Text("echo ".into()), Part::Hole(crate::plan::table::Hole { expr: 1, shell: Some(ShellContext::Word), glob: false })],
        };
        assert_eq!(ev.render(&t, &scope).unwrap(), "echo 'x'");
        scope.set("inputs", to_cel(&json!({"who": "a\u{0}b"})));
        assert_eq!(
            ev.render(&t, &scope).unwrap_err(),
            "the value of `${inputs.who}` contains a NUL byte, which no shell command can hold, so the command was not run"
        );
        let here = |quoted| Template {
            parts: vec![
                Part::Text("cat <<EOF\n".into()),
                Part::Hole(crate::plan::table::Hole {
                    expr: 1,
                    shell: Some(ShellContext::Heredoc { delimiter: "EOF".into(), quoted, strip_tabs: false }),
                    glob: false,
                }),
                Part::Text("\nEOF".into()),
            ],
        };
        scope.set("inputs", to_cel(&json!({"who": "x\nEOF\ntouch pwned"})));
        let err = ev.render(&here(true), &scope).unwrap_err();
        assert!(err.contains("`${inputs.who}` makes a line `EOF`"), "{err}");
        scope.set("inputs", to_cel(&json!({"who": "$HOME"})));
        assert_eq!(ev.render(&here(false), &scope).unwrap(), "cat <<EOF\n\\$HOME\nEOF");
        let err = ev.eval(0, &Scope::default()).unwrap_err();
        assert!(err.contains("Undeclared reference"), "{err}");
    }
}

/// Evaluates CEL `text` in `scope` with the plan environment's functions:
/// for expressions that are no part of a plan (a test's expectations).
pub fn eval_text(text: &str, scope: &Scope) -> Result<serde_json::Value, String> {
    thread_local! {
        static ENV: std::sync::Arc<cel::Env> = std::sync::Arc::new(cel_env());
    }
    ENV.with(|env| {
        let program = env.compile(text).map_err(|e| format!("not valid CEL: {e}"))?;
        let mut ctx = cel_context(env);
        ctx.set_variable_resolver(scope);
        let value = program.execute(&ctx).map_err(|e| scope.explain(e.to_string()))?;
        from_cel(&value)
    })
}
