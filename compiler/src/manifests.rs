//! The project's declarations as manifests (`apiVersion`, `kind`,
//! `metadata`, `spec`; the shape is in docs/runs.md), for `flowc get`,
//! `flowc describe` and `flowc export`.
//!
//! | declaration | kind | apiVersion |
//! |---|---|---|
//! | `resource Kind` | `CustomResourceDefinition` (named `PLURAL.GROUP`) | `orchestrator.dev/v2` |
//! | `Kind name { … }` | `Kind` (`labels` go to `metadata.labels`, the rest is `spec`) | `GROUP/VERSION` |
//! | `env` / `secrets` | `EnvStore` / `SecretStore` (secrets as their sources, never values) | `orchestrator.dev/v2` |
//! | `store` | `WorkflowStore` | `orchestrator.dev/v2` |
//! | `agent`, `workflow`, `policy`, `template` | `Agent`, `Workflow`, `Policy`, `StepTemplate` | `orchestrator.dev/v2` |
//!
//! Templates and expressions are printed as `.flow` text (`${…}` holes).
//! Only data the analysis already holds is used: the module does no IO.

use serde_json::{json, Map, Value};

use flowc_grammar::ast::{
    self, AgentStmtKind, Backend, Decl, DeclKind, EnvEntryKind, EnvValue, InvariantStmtKind, PolicyStmtKind,
    ResourceStmtKind, RetentionItem, SecretSourceKind, SecretValue, StoreStmtKind, TemplatePart, TemplateStr,
    WorkflowStmtKind,
};

use crate::db::{Db, Project};
use crate::model::item_index;

pub const CORE_API: &str = "orchestrator.dev/v2";

/// A kind `flowc get` knows: a built-in one, or a resource of the project.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// `Workflow`, `PromptLibrary`, …
    pub kind: String,
    pub plural: String,
    pub short: Vec<String>,
    /// For resources: the declaration's kind name.
    pub resource: bool,
}

const BUILTIN: &[(&str, &str, &[&str], DeclKind)] = &[
    ("Workflow", "workflows", &["wf"], DeclKind::Workflow),
    ("Agent", "agents", &[], DeclKind::Agent),
    ("EnvStore", "envstores", &["env", "envs"], DeclKind::Env),
    ("SecretStore", "secretstores", &["secrets"], DeclKind::Secrets),
    ("WorkflowStore", "workflowstores", &["store", "stores"], DeclKind::Store),
    ("Policy", "policies", &["policy"], DeclKind::Policy),
    ("StepTemplate", "steptemplates", &["template", "templates"], DeclKind::Template),
    ("CustomResourceDefinition", "customresourcedefinitions", &["crd", "crds", "resources"], DeclKind::Resource),
];

/// Every kind there is to list: built-ins, then the project's resources.
pub fn kinds(db: &dyn Db, project: Project) -> Vec<KindInfo> {
    let mut out: Vec<KindInfo> = BUILTIN
        .iter()
        .map(|(k, p, s, _)| KindInfo { kind: k.to_string(), plural: p.to_string(), short: s.iter().map(|x| x.to_string()).collect(), resource: false })
        .collect();
    let index = item_index(db, project);
    for name in index.names(DeclKind::Resource).map(str::to_string).collect::<Vec<_>>() {
        let Some(def) = index.other(DeclKind::Resource, &name) else { continue };
        let Decl::Resource(r) = &**def.ast(db) else { continue };
        let info = resource_info(r);
        out.push(KindInfo { kind: name.clone(), plural: info.plural, short: info.short, resource: true });
    }
    out
}

/// The kind a `flowc get` argument names: its kind name, plural, singular
/// (the kind, lower-cased) or a short name, case-insensitively.
pub fn resolve_kind(db: &dyn Db, project: Project, word: &str) -> Option<KindInfo> {
    let w = word.to_ascii_lowercase();
    kinds(db, project).into_iter().find(|k| {
        k.kind.to_ascii_lowercase() == w || k.plural.to_ascii_lowercase() == w || k.short.iter().any(|s| s.to_ascii_lowercase() == w)
    })
}

struct ResourceInfo {
    group: String,
    version: String,
    plural: String,
    short: Vec<String>,
    description: Option<String>,
    schema: Option<Value>,
    rules: Vec<Value>,
}

fn resource_info(r: &ast::Resource) -> ResourceInfo {
    let mut info = ResourceInfo {
        group: String::new(),
        version: "v1".into(),
        plural: format!("{}s", r.kind.text.to_ascii_lowercase()),
        short: Vec::new(),
        description: None,
        schema: None,
        rules: Vec::new(),
    };
    for s in &r.body {
        match &s.kind {
            ResourceStmtKind::Description(d) => info.description = Some(d.value.clone()),
            ResourceStmtKind::Group(g) => info.group = g.value.clone(),
            ResourceStmtKind::Version(v) => info.version = v.text.clone(),
            ResourceStmtKind::Plural(p) => info.plural = p.text.clone(),
            ResourceStmtKind::Short(names) => info.short = names.iter().map(|n| n.text.clone()).collect(),
            ResourceStmtKind::Schema(v) => info.schema = crate::checks::value_json(v),
            ResourceStmtKind::Rule { condition, message } => {
                let mut rule = json!({ "rule": condition.text.trim() });
                if let Some(m) = message {
                    rule["message"] = json!(m.value);
                }
                info.rules.push(rule);
            }
        }
    }
    info
}

/// A template string as `.flow` text.
pub fn template_text(t: &TemplateStr) -> String {
    let mut out = String::new();
    for p in &t.parts {
        match p {
            TemplatePart::Text { text, .. } => out.push_str(&text.replace('$', "$$")),
            TemplatePart::Hole(h) => {
                out.push_str("${");
                out.push_str(h.expr.text.trim());
                out.push('}');
            }
        }
    }
    out
}

fn value_text(v: &ast::Value) -> Value {
    crate::checks::value_json(v).unwrap_or_else(|| json!(crate::lower::cel_literal(v)))
}

fn manifest(api: &str, kind: &str, name: &str, labels: Option<Value>, annotations: Option<Value>, spec: Value) -> Value {
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    if let Some(l) = labels {
        metadata.insert("labels".into(), l);
    }
    if let Some(a) = annotations {
        metadata.insert("annotations".into(), a);
    }
    json!({ "apiVersion": api, "kind": kind, "metadata": Value::Object(metadata), "spec": spec })
}

fn described(d: Option<String>) -> Option<Value> {
    d.map(|d| json!({ "description": d }))
}

fn env_entries(block: &ast::EnvBlock) -> Vec<Value> {
    block
        .entries
        .iter()
        .map(|e| match &e.kind {
            EnvEntryKind::Use(set) => json!({ "fromRef": set.text }),
            EnvEntryKind::Assign { key, value } => match value {
                EnvValue::Source(s) => {
                    let mut m = Map::new();
                    m.insert("name".into(), json!(key.text));
                    m.insert(source_key(s.kind).into(), json!(s.arg.value));
                    Value::Object(m)
                }
                EnvValue::Ref { set, key: k } => json!({ "name": key.text, "refValue": { "name": set.text, "key": k.text } }),
                EnvValue::Template(t) => json!({ "name": key.text, "value": template_text(t) }),
                EnvValue::Value(v) => json!({ "name": key.text, "value": value_text(v) }),
            },
        })
        .collect()
}

fn source_key(kind: SecretSourceKind) -> &'static str {
    match kind {
        SecretSourceKind::Env => "fromEnv",
        SecretSourceKind::File => "fromFile",
    }
}

/// The manifest of one declaration.
pub fn decl_manifest(db: &dyn Db, project: Project, decl: &Decl) -> Value {
    match decl {
        Decl::Resource(r) => {
            let info = resource_info(r);
            let mut version = json!({ "name": info.version, "served": true });
            if let Some(s) = &info.schema {
                version["schema"] = s.clone();
            }
            if !info.rules.is_empty() {
                version["cel_rules"] = json!(info.rules);
            }
            let name = if info.group.is_empty() { info.plural.clone() } else { format!("{}.{}", info.plural, info.group) };
            manifest(
                CORE_API,
                "CustomResourceDefinition",
                &name,
                None,
                described(info.description.clone()),
                json!({ "kind": r.kind.text, "plural": info.plural, "short_names": info.short, "group": info.group, "versions": [version] }),
            )
        }
        Decl::Instance(i) => {
            let index = item_index(db, project);
            let info = index.other(DeclKind::Resource, &i.kind.text).and_then(|d| match &**d.ast(db) {
                Decl::Resource(r) => Some(resource_info(r)),
                _ => None,
            });
            let api = match &info {
                Some(info) if !info.group.is_empty() => format!("{}/{}", info.group, info.version),
                Some(info) => info.version.clone(),
                None => CORE_API.to_string(),
            };
            let mut spec = Map::new();
            let mut labels = None;
            for f in &i.fields {
                if f.key.text == "labels" {
                    labels = Some(value_text(&f.value));
                } else {
                    spec.insert(f.key.text.clone(), value_text(&f.value));
                }
            }
            manifest(&api, &i.kind.text, &i.name.text, labels, None, Value::Object(spec))
        }
        Decl::Env(e) => {
            let mut data = Map::new();
            let mut refs = Vec::new();
            for entry in env_entries(&e.body) {
                match (entry.get("fromRef"), entry.get("name").and_then(Value::as_str)) {
                    (Some(r), _) => refs.push(r.clone()),
                    (None, Some(name)) => {
                        let mut v = entry.clone();
                        if let Value::Object(m) = &mut v {
                            m.remove("name");
                        }
                        let v = match v.get("value") {
                            Some(plain) if v.as_object().is_some_and(|m| m.len() == 1) => plain.clone(),
                            _ => v,
                        };
                        data.insert(name.to_string(), v);
                    }
                    _ => {}
                }
            }
            let mut spec = json!({ "data": data });
            if !refs.is_empty() {
                spec["env"] = refs.into_iter().map(|r| json!({ "fromRef": r })).collect();
            }
            manifest(CORE_API, "EnvStore", &e.name.text, None, None, spec)
        }
        Decl::Secrets(s) => {
            let mut data = Map::new();
            for e in &s.entries {
                let v = match &e.value {
                    SecretValue::Source(src) => {
                        let mut m = Map::new();
                        m.insert(source_key(src.kind).into(), json!(src.arg.value));
                        Value::Object(m)
                    }
                    SecretValue::Literal(_) => json!({ "inline": "(refused: secrets are never written inline)" }),
                };
                data.insert(e.key.text.clone(), v);
            }
            manifest(CORE_API, "SecretStore", &s.name.text, None, None, json!({ "data": data }))
        }
        Decl::Store(st) => {
            let mut spec = json!({ "backend": "local" });
            let mut description = None;
            for s in &st.body {
                match &s.kind {
                    StoreStmtKind::Description(d) => description = Some(d.value.clone()),
                    StoreStmtKind::Backend(Backend::Local) => spec["backend"] = json!("local"),
                    StoreStmtKind::Backend(Backend::Command(c)) => {
                        spec["backend"] = json!("command");
                        spec["command"] = json!(c.value);
                    }
                    StoreStmtKind::Schema(v) => spec["schema"] = value_text(v),
                    StoreStmtKind::Retention(items) => {
                        let mut r = Map::new();
                        for item in items {
                            match item {
                                RetentionItem::MaxEntries(n) => r.insert("max_entries".into(), json!(n.value)),
                                RetentionItem::Ttl(d) => r.insert("ttl_seconds".into(), json!(d.millis / 1000)),
                            };
                        }
                        spec["retention"] = Value::Object(r);
                    }
                }
            }
            manifest(CORE_API, "WorkflowStore", &st.name.text, None, described(description), spec)
        }
        Decl::Agent(a) => {
            let mut spec = Map::new();
            let mut description = None;
            for s in &a.body {
                match &s.kind {
                    AgentStmtKind::Description(d) => description = Some(d.value.clone()),
                    AgentStmtKind::Command(t) => {
                        spec.insert("command".into(), json!(template_text(t)));
                    }
                    AgentStmtKind::Capabilities(v) => {
                        spec.insert("capabilities".into(), value_text(v));
                    }
                    AgentStmtKind::Env(block) => {
                        spec.insert("env".into(), json!(env_entries(block)));
                    }
                    AgentStmtKind::CostPerCall(c) => {
                        spec.insert("cost_per_call".into(), json!(c.value.value));
                    }
                    AgentStmtKind::Timeout(d) => {
                        spec.insert("timeout_seconds".into(), json!(d.millis / 1000));
                    }
                    AgentStmtKind::Retry(r) => {
                        spec.insert("retry".into(), json!({ "count": r.count.value }));
                    }
                }
            }
            manifest(CORE_API, "Agent", &a.name.text, None, described(description), Value::Object(spec))
        }
        Decl::Policy(p) => {
            let mut rules = Vec::new();
            let mut description = None;
            for s in &p.body {
                match &s.kind {
                    PolicyStmtKind::Description(d) => description = Some(d.value.clone()),
                    PolicyStmtKind::Rule(r) => {
                        let mut rule = json!({ "effect": r.effect.keyword(), "when": r.condition.text.trim() });
                        if let Some(reason) = &r.reason {
                            rule["because"] = json!(template_text(reason));
                        }
                        rules.push(rule);
                    }
                }
            }
            manifest(CORE_API, "Policy", &p.name.text, None, described(description), json!({ "rules": rules }))
        }
        Decl::Template(t) => {
            let kind = t.kind.as_ref().map_or("run", |k| k.keyword());
            manifest(CORE_API, "StepTemplate", &t.name.text, None, None, json!({ "type": kind, "body": step_body(&t.body) }))
        }
        Decl::Workflow(w) => workflow_manifest(w),
        // Tests are not resources of the project (`order` above leaves them
        // out); should one be asked for, it says which workflow it runs.
        Decl::Test(t) => {
            let workflow = t.body.iter().find_map(|s| match &s.kind {
                flowc_grammar::ast::TestStmtKind::Run { workflow, .. } => Some(workflow.text.clone()),
                _ => None,
            });
            manifest(CORE_API, "WorkflowTest", &t.name.text, None, None, json!({ "workflow": workflow }))
        }
    }
}

/// A step body as `{keyword: text}`, for templates and workflow steps.
fn step_body(body: &[ast::StepStmt]) -> Value {
    use ast::StepStmtKind as K;
    let mut out = Map::new();
    for s in body {
        let v = match &s.kind {
            K::Command(t) | K::Prompt(t) | K::Message(t) | K::Channel(t) => json!(template_text(t)),
            K::Description(d) => json!(d.value),
            K::With(v) | K::Weights(v) | K::Approvers(v) => value_text(v),
            K::When(e) | K::Items(e) => json!(e.text.trim()),
            K::Timeout(d) => json!(format!("{}ms", d.millis)),
            K::Retry(r) => json!({ "count": r.count.value }),
            K::Strategy { strategy, .. } => json!(strategy.keyword()),
            K::Metric(m) => json!(m.text),
            K::TopK(k) => json!(k.value),
            K::SkipOnExit(codes) => json!(codes.iter().map(|c| c.value).collect::<Vec<_>>()),
            K::Threshold(t) => json!(t.value.value),
            K::OnFailure { mode, .. } => json!(mode.keyword()),
            K::Skippable | K::DistinctFromInitiator => json!(true),
            K::Check(c) => {
                let mut v = json!({ "command": template_text(&c.command) });
                if let Some(e) = &c.expect {
                    v["expect"] = json!(e.value);
                }
                let list = out.entry("checks").or_insert_with(|| json!([]));
                if let Value::Array(a) = list {
                    a.push(v);
                }
                continue;
            }
            _ => continue,
        };
        out.insert(s.kind.keyword().replace(' ', "_"), v);
    }
    Value::Object(out)
}

fn workflow_manifest(w: &ast::Workflow) -> Value {
    let mut spec = Map::new();
    let mut description = None;
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut invariants = Vec::new();
    for s in &w.body {
        match &s.kind {
            WorkflowStmtKind::Description(d) => description = Some(d.value.clone()),
            WorkflowStmtKind::Input(i) => {
                let mut v = json!({ "name": i.name.text, "type": type_text(&i.ty) });
                if let Some(d) = &i.default {
                    v["default"] = value_text(d);
                }
                inputs.push(v);
            }
            WorkflowStmtKind::Output(o) => outputs.push(json!({ "name": o.name.text, "value": o.expr.text.trim() })),
            WorkflowStmtKind::Safety(safety) => {
                let mut v = Map::new();
                for item in &safety.items {
                    match item {
                        ast::SafetyItem::MaxSpawnedTasks(n) => v.insert("max_spawned_tasks".into(), json!(n.value)),
                        ast::SafetyItem::MaxSpawnDepth(n) => v.insert("max_spawn_depth".into(), json!(n.value)),
                        ast::SafetyItem::SpawnCooldown(d) => v.insert("spawn_cooldown_seconds".into(), json!(d.millis / 1000)),
                    };
                }
                spec.insert("safety".into(), Value::Object(v));
            }
            WorkflowStmtKind::Invariant(inv) => {
                let mut v = Map::new();
                v.insert("id".into(), json!(inv.name.text));
                for st in &inv.body {
                    match &st.kind {
                        InvariantStmtKind::Description(d) => {
                            v.insert("description".into(), json!(d.value));
                        }
                        InvariantStmtKind::Check(c) => {
                            v.insert(
                                "check".into(),
                                json!({ "command": template_text(&c.command), "expect": c.expect.as_ref().map(|e| e.value.clone()) }),
                            );
                        }
                        InvariantStmtKind::OnViolation { action, .. } => {
                            let word = match action {
                                ast::ViolationAction::Abort => "abort",
                                ast::ViolationAction::Warn => "warn",
                                ast::ViolationAction::Rollback => "rollback",
                            };
                            v.insert("on_violation".into(), json!(word));
                        }
                        InvariantStmtKind::Protect(globs) => {
                            v.insert("protected_files".into(), json!(globs.iter().map(|g| g.value.clone()).collect::<Vec<_>>()));
                        }
                        InvariantStmtKind::At(names) => {
                            v.insert(
                                "checkpoint_filter".into(),
                                json!({ "steps": names.iter().map(|n| n.text.clone()).collect::<Vec<_>>() }),
                            );
                        }
                    }
                }
                invariants.push(Value::Object(v));
            }
            _ => {}
        }
    }
    let steps: Vec<Value> = w
        .steps()
        .into_iter()
        .map(|s| {
            let mut v = json!({ "id": s.name.text, "type": s.kind.keyword() });
            if let Some(t) = s.kind.target() {
                v["target"] = json!(t.text);
            }
            if let Some(d) = &s.deps {
                let mut names: Vec<String> = Vec::new();
                for n in &d.names {
                    if !names.contains(&n.text) {
                        names.push(n.text.clone());
                    }
                }
                v["depends_on"] = json!(names);
                v["trigger_rule"] = json!(d.rule.keyword());
                if !d.condition.is_empty() {
                    v["condition"] = json!(d.condition_text());
                }
            }
            if s.for_each.is_some() {
                v["for_each"] = json!("item");
            }
            let body = step_body(&s.body);
            if body.as_object().is_some_and(|m| !m.is_empty()) {
                v["spec"] = body;
            }
            v
        })
        .collect();
    if !inputs.is_empty() {
        spec.insert("inputs".into(), json!(inputs));
    }
    if !outputs.is_empty() {
        spec.insert("outputs".into(), json!(outputs));
    }
    if !invariants.is_empty() {
        spec.entry("safety").or_insert_with(|| json!({}));
        if let Some(Value::Object(safety)) = spec.get_mut("safety") {
            safety.insert("invariants".into(), json!(invariants));
        }
    }
    spec.insert("steps".into(), json!(steps));
    manifest(CORE_API, "Workflow", &w.name.text, None, described(description), Value::Object(spec))
}

fn type_text(t: &ast::TypeExpr) -> String {
    crate::lower::plan_type(t).to_string()
}

/// Manifests of every declaration of a kind (all kinds: `None`), CRDs first.
pub fn manifests(db: &dyn Db, project: Project, kind: Option<&KindInfo>) -> Vec<Value> {
    let index = item_index(db, project);
    let mut out = Vec::new();
    let order = [
        DeclKind::Resource,
        DeclKind::Instance,
        DeclKind::Env,
        DeclKind::Secrets,
        DeclKind::Store,
        DeclKind::Agent,
        DeclKind::Policy,
        DeclKind::Template,
        DeclKind::Workflow,
    ];
    for dk in order {
        if let Some(k) = kind {
            let builtin = BUILTIN.iter().find(|(name, ..)| *name == k.kind).map(|(.., d)| *d);
            let wanted = if k.resource { dk == DeclKind::Instance } else { builtin == Some(dk) };
            if !wanted {
                continue;
            }
        }
        for locs in index.of(dk).values() {
            // Names are unique per kind, except instances of different resources.
            let locs = if dk == DeclKind::Instance { &locs[..] } else { &locs[..locs.len().min(1)] };
            for loc in locs {
                let decl = match &loc.def {
                    crate::model::DeclDef::Other(o) => (**o.ast(db)).clone(),
                    crate::model::DeclDef::Workflow(w) => match workflow_decl(db, *w) {
                        Some(d) => d,
                        None => continue,
                    },
                };
                if dk == DeclKind::Instance && kind.is_some_and(|k| matches!(&decl, Decl::Instance(i) if i.kind.text != k.kind)) {
                    continue;
                }
                out.push(decl_manifest(db, project, &decl));
            }
        }
    }
    out
}

/// A workflow's declaration, from its parts in the model.
fn workflow_decl<'db>(db: &'db dyn Db, w: crate::model::WorkflowDef<'db>) -> Option<Decl> {
    let parsed = crate::queries::parse(db, w.file(db));
    parsed.file.decls.iter().find(|d| matches!(d, Decl::Workflow(x) if &x.name.text == w.name(db))).cloned()
}
