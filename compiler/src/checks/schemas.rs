//! JSON Schemas of stores and resources, and resource instances validated
//! against their schema and rules at compile time. Errors point at the
//! offending value inside the instance, with the schema path in the help.

use flowc_grammar::ast::{self, Decl, DeclKind, ResourceStmtKind, Span, StoreStmtKind, Value, ValueKind};

use crate::codes::Code;
use crate::db::{Db, Project};
use crate::model::{OtherDef, item_index};
use crate::pending::{Anchor, Loc, Pending};

pub(crate) use crate::literal::to_json;

/// The span of the value a JSON pointer (`/prompts/0/name`) names inside a
/// literal; the closest enclosing value when the path goes further than the
/// literal does (a missing property points at the object that lacks it).
pub(crate) fn pointer_span(v: &Value, pointer: &str) -> Span {
    let mut cur = v;
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        let next = match &cur.kind {
            ValueKind::Object(fields) => fields.iter().find(|f| f.key.text == seg).map(|f| &f.value),
            ValueKind::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => break,
        }
    }
    cur.span
}

/// Compiles a schema literal, reporting where it is not valid JSON Schema.
fn compile_schema<'db>(schema: &Value, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) -> Option<jsonschema::Validator> {
    let json = match to_json(schema) {
        Ok(j) => j,
        Err(span) => {
            out.push(
                Pending::new(Code::InvalidSchema, at(span), "a schema cannot contain expressions")
                    .label("computed value")
                    .help("a schema is data: write the value itself"),
            );
            return None;
        }
    };
    match jsonschema::validator_for(&json) {
        Ok(v) => Some(v),
        Err(e) => {
            let pointer = e.instance_path().as_str().to_string();
            out.push(
                Pending::new(Code::InvalidSchema, at(pointer_span(schema, &pointer)), format!("invalid JSON Schema: {}", e.masked()))
                    .label("not valid here")
                    .help(format!("at `{}` of the schema; see https://json-schema.org/understanding-json-schema", if pointer.is_empty() { "/" } else { &pointer })),
            );
            None
        }
    }
}

/// Store and resource schemas must be valid JSON Schema.
pub(super) fn decl_schemas<'db>(db: &'db dyn Db, project: Project, decl: OtherDef<'db>, out: &mut Vec<Pending<'db>>) {
    let at = |s: Span| Loc::new(Anchor::Decl(decl), s);
    match &**decl.ast(db) {
        Decl::Store(store) => {
            for stmt in &store.body {
                if let StoreStmtKind::Schema(schema) = &stmt.kind {
                    compile_schema(schema, &at, out);
                }
            }
        }
        Decl::Resource(res) => {
            for stmt in &res.body {
                if let ResourceStmtKind::Schema(schema) = &stmt.kind {
                    compile_schema(schema, &at, out);
                }
            }
        }
        Decl::Instance(inst) => instance(db, project, decl, inst, out),
        _ => {}
    }
}

/// Validates an instance against its resource's schema and rules.
fn instance<'db>(db: &'db dyn Db, project: Project, decl: OtherDef<'db>, inst: &ast::Instance, out: &mut Vec<Pending<'db>>) {
    let at = |s: Span| Loc::new(Anchor::Decl(decl), s);
    let Some(res_def) = item_index(db, project).other(DeclKind::Resource, &inst.kind.text) else { return };
    let Decl::Resource(res) = &**res_def.ast(db) else { return };
    // `labels` is metadata (as in Kubernetes): a map of strings, not part of the spec.
    let mut spec_fields = Vec::new();
    for f in &inst.fields {
        if f.key.text == "labels" {
            let ok = f.value.as_object().is_some_and(|fs| fs.iter().all(|l| l.value.as_str().is_some()));
            if !ok {
                out.push(
                    Pending::new(Code::InstanceSchemaMismatch, at(f.value.span), "`labels` must map names to strings")
                        .label("not a map of strings")
                        .help("write `labels: { team: \"platform\" }`"),
                );
            }
        } else {
            spec_fields.push(f.clone());
        }
    }
    let spec = Value { kind: ValueKind::Object(spec_fields), span: inst.body_span };
    let json = match to_json(&spec) {
        Ok(j) => j,
        Err(span) => {
            out.push(
                Pending::new(Code::InstanceSchemaMismatch, at(span), "a resource instance cannot contain expressions")
                    .label("computed value")
                    .help("instances are data, checked when the project is compiled: write the value itself"),
            );
            return;
        }
    };
    let mut scratch = Vec::new();
    for stmt in &res.body {
        if let ResourceStmtKind::Schema(schema) = &stmt.kind {
            let Some(validator) = compile_schema(schema, &|s| Loc::new(Anchor::Decl(res_def), s), &mut scratch) else { continue };
            for e in validator.iter_errors(&json) {
                let pointer = e.instance_path().as_str().to_string();
                let schema_path = e.schema_path().as_str().to_string();
                out.push(
                    Pending::new(
                        Code::InstanceSchemaMismatch,
                        at(pointer_span(&spec, &pointer)),
                        format!("`{}` does not match the schema of `{}`: {}", inst.name.text, inst.kind.text, e.masked()),
                    )
                    .label(if pointer.is_empty() { "this instance".to_string() } else { format!("at `{pointer}`") })
                    .help(format!("required by the schema at `{schema_path}` in resource `{}`", inst.kind.text)),
                );
            }
        }
    }
    for stmt in &res.body {
        if let ResourceStmtKind::Rule { condition, message } = &stmt.kind {
            rule(&json, inst, condition, message.as_ref(), &at, out);
        }
    }
}

/// Evaluates one CEL rule over the instance (`self`).
fn rule<'db>(
    json: &serde_json::Value,
    inst: &ast::Instance,
    condition: &ast::Expr,
    message: Option<&ast::StrLit>,
    at: &dyn Fn(Span) -> Loc<'db>,
    out: &mut Vec<Pending<'db>>,
) {
    // Point at the first field of `self` the rule reads, if the instance has it.
    let field = condition
        .text
        .split("self.")
        .nth(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>());
    let target = field
        .and_then(|f| inst.fields.iter().find(|x| x.key.text == f).map(|x| x.value.span))
        .unwrap_or(inst.name.span);
    let Ok(program) = cel::Program::compile(&condition.text) else { return }; // parse errors: the expression checks report them
    let Ok(value) = cel::to_value(json) else { return };
    let mut ctx = cel::Context::default();
    ctx.add_variable_from_value("self", value);
    let verdict = match program.execute(&ctx) {
        Ok(cel::Value::Bool(true)) => return,
        Ok(cel::Value::Bool(false)) => None,
        Ok(other) => Some(format!("the rule gave {other:?}, not a boolean")),
        Err(e) => Some(format!("the rule failed: {e}")),
    };
    let why = message.map(|m| m.value.clone()).unwrap_or_else(|| format!("rule `{}` does not hold", condition.text));
    out.push(
        Pending::new(Code::ResourceRuleFailed, at(target), format!("`{}` breaks a rule of `{}`: {why}", inst.name.text, inst.kind.text))
            .label(verdict.clone().unwrap_or_else(|| "the rule is false here".into()))
            .help(format!("the rule is `{}`", condition.text)),
    );
}

/// `then put STORE.KEY = `literal`` is checked against the store's schema when
/// the expression is a constant (it evaluates with no names in scope).
pub(super) fn store_puts<'db>(cx: &super::StepCx<'db>, step: &ast::Step, out: &mut Vec<Pending<'db>>) {
    use flowc_grammar::ast::StepStmtKind;
    for stmt in &step.body {
        let StepStmtKind::Put { key, value } = &stmt.kind else { continue };
        let Some(store) = item_index(cx.db, cx.project).other(DeclKind::Store, &key.store.text) else { continue };
        let Decl::Store(s) = &**store.ast(cx.db) else { continue };
        let Some(schema) = s.body.iter().find_map(|st| match &st.kind {
            StoreStmtKind::Schema(v) => Some(v),
            _ => None,
        }) else {
            continue;
        };
        let Some(constant) = constant_json(&value.text) else { continue };
        let Ok(schema_json) = to_json(schema) else { continue };
        let Ok(validator) = jsonschema::validator_for(&schema_json) else { continue };
        for e in validator.iter_errors(&constant) {
            out.push(
                Pending::new(Code::StorePutMismatch, cx.at(value.span), format!(
                    "the value put into `{}.{}` does not match the store's schema: {}",
                    key.store.text,
                    key.key.text,
                    e.masked()
                ))
                .label("does not fit the store")
                .help(format!("required by the schema of store `{}` at `{}`", key.store.text, e.schema_path().as_str())),
            );
        }
    }
}

/// The value of a CEL expression that needs no names (a literal), as JSON.
pub(crate) fn constant_json(text: &str) -> Option<serde_json::Value> {
    let program = cel::Program::compile(text).ok()?;
    if !program.references().variables().is_empty() {
        return None;
    }
    let value = program.execute(&cel::Context::default()).ok()?;
    cel_to_json(&value)
}

fn cel_to_json(v: &cel::Value) -> Option<serde_json::Value> {
    use cel::Value as V;
    Some(match v {
        V::Null => serde_json::Value::Null,
        V::Bool(b) => serde_json::Value::Bool(*b),
        V::Int(i) => serde_json::Value::from(*i),
        V::UInt(u) => serde_json::Value::from(*u),
        V::Float(f) => serde_json::Number::from_f64(*f).map(serde_json::Value::Number)?,
        V::String(s) => serde_json::Value::String(s.to_string()),
        V::List(items) => serde_json::Value::Array(items.iter().map(cel_to_json).collect::<Option<_>>()?),
        V::Map(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map.map.iter() {
                let key = match k {
                    cel::objects::Key::String(s) => s.to_string(),
                    cel::objects::Key::Int(i) => i.to_string(),
                    cel::objects::Key::Uint(u) => u.to_string(),
                    cel::objects::Key::Bool(b) => b.to_string(),
                };
                out.insert(key, cel_to_json(v)?);
            }
            serde_json::Value::Object(out)
        }
        _ => return None,
    })
}
