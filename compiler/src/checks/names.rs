//! Names: every step, agent, policy, store, template, workflow, env/secret set
//! and key, and resource kind a file mentions must exist.
//!
//! What a file mentions comes from `refs`, the list the editor's name index
//! (`name_index`) reads too; each reference is checked here against the
//! project's declarations (`model::item_index`) and the workflow's graph.
//! The checks run piecewise, so salsa re-runs only the piece that changed:
//! a step's references in [`step_names`], a workflow header's in
//! [`workflow_names`], another declaration's in [`decl_names`]. Which
//! required inputs a call or spawn leaves out is read from the value it
//! passes, as a whole.

use std::collections::BTreeSet;

use flowc_grammar::ast::{self, Decl, DeclKind, EnvEntryKind, Field, Name, Span, StepKind, StepStmtKind, Value, WorkflowStmtKind};

use flowc_grammar::errors::did_you_mean;

use super::{StepCx, known_list, suggest};
use crate::codes::Code;
use crate::db::{Db, Project};
use crate::graph::{WorkflowGraph, workflow_graph};
use crate::model::{ItemIndex, OtherDef, WorkflowDef, item_index};
use crate::pending::{Anchor, Loc, Pending};
use crate::refs::{Ref, StepRole, decl_refs, deps_refs, step_refs, workflow_stmt_refs};

/// Names expressions bind (`inputs.x`, `run.id`, `item`, …): the same list
/// as the interpreter's `RESERVED_NAMES`.
pub const RESERVED_STEP_NAMES: &[&str] = &["inputs", "run", "item", "items", "event", "env", "self", "input", "params"];

pub(super) fn step_names<'db>(cx: &StepCx<'db>, step: &ast::Step, out: &mut Vec<Pending<'db>>) {
    let db = cx.db;
    // Expressions bind these names themselves; a step of that name could
    // never be read (the interpreter refuses such a plan).
    if RESERVED_STEP_NAMES.contains(&step.name.text.as_str()) {
        let name = &step.name.text;
        out.push(
            Pending::new(Code::ReservedStepName, cx.at(step.name.span), format!("`{name}` is a name expressions use, so it cannot name a step"))
                .label("reserved")
                .help(format!(
                    "rename the step, e.g. `{name}_step`; reserved: {}",
                    RESERVED_STEP_NAMES.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                )),
        );
    }
    let at = |s: Span| cx.at(s);
    let names = Resolver { db, index: item_index(db, cx.project), at: &at, wf: Some((cx.wf, workflow_graph(db, cx.wf))) };
    // A `call` passes its first `with`; a second is an error of its own
    // (shape), and the keys in it are not checked.
    let mut withs = step.body.iter().filter_map(|s| match &s.kind {
        StepStmtKind::With(v) => Some(v),
        _ => None,
    });
    let with = withs.next();
    let ignored: Vec<Span> = withs.map(|v| v.span).collect();
    for r in step_refs(step) {
        if let Ref::InputKey { field, .. } = r
            && ignored.iter().any(|w| w.start <= field.span.start && field.span.end <= w.end)
        {
            continue;
        }
        names.check(r, out);
    }
    // The required inputs each `then spawn` and the `call` leave out.
    for stmt in &step.body {
        if let StepStmtKind::Spawn { workflow, inputs } | StepStmtKind::SpawnEach { workflow, inputs, .. } = &stmt.kind {
            names.missing_inputs(workflow, inputs.as_ref(), out);
        }
    }
    if let StepKind::Call(callee) = &step.kind {
        names.missing_inputs(callee, with, out);
    }
    if let StepKind::Use(template) = &step.kind {
        template_args(cx, template, step.use_args.as_ref(), &at, out);
    }
}

/// `use TEMPLATE with { … }`: each argument names a parameter (E0212), each
/// parameter without a default has one (E0213), and a literal argument fits
/// the parameter's type (E0408; a backtick one is typed by `references`).
fn template_args<'db>(cx: &StepCx<'db>, template: &Name, args: Option<&Value>, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    let Some(def) = item_index(cx.db, cx.project).other(DeclKind::Template, &template.text) else { return };
    let Decl::Template(tpl) = &**def.ast(cx.db) else { return };
    let params = &tpl.params;
    let names = || params.iter().map(|p| p.name.text.as_str());
    if let Some(v) = args
        && v.as_object().is_none() {
            return;
        }
    let given: &[Field] = args.and_then(Value::as_object).unwrap_or(&[]);
    for f in given {
        let Some(param) = params.iter().find(|p| p.name.text == f.key.text) else {
            let help = if params.is_empty() {
                format!("template `{}` declares no parameters: remove the `with`, or declare one as `template {}({}: TYPE)`", template.text, template.text, f.key.text)
            } else {
                suggest(&f.key.text, names()).unwrap_or_else(|| known_list("parameters", names()))
            };
            out.push(
                Pending::new(Code::UnknownInput, at(f.key.span), format!("template `{}` has no parameter `{}`", template.text, f.key.text))
                    .label("not a parameter")
                    .help(help),
            );
            continue;
        };
        if let Err((span, why)) = super::values::value_fits(&f.value, &param.ty) {
            out.push(
                Pending::new(Code::TypeMismatch, at(span), format!("the argument `{}` does not fit its parameter's type: {why}", f.key.text))
                    .label("wrong type")
                    .related(Loc::new(Anchor::Decl(def), param.ty.span), "the parameter's type")
                    .help(format!("pass a value of the declared type for `{}`", f.key.text)),
            );
        }
    }
    let missing: Vec<String> =
        params.iter().filter(|p| p.default.is_none() && !given.iter().any(|f| f.key.text == p.name.text)).map(|p| format!("`{}`", p.name.text)).collect();
    if !missing.is_empty() {
        let span = args.map_or(template.span, |a| a.span);
        let noun = if missing.len() == 1 { "parameter" } else { "parameters" };
        let example: Vec<String> = missing.iter().map(|m| format!("{}: …", m.trim_matches('`'))).collect();
        out.push(
            Pending::new(Code::MissingInput, at(span), format!("template `{}` needs the {noun} {}", template.text, missing.join(", ")))
                .label("missing here")
                .help(format!("pass them: `use {} with {{ {} }}`, or give the parameter a default in the template", template.text, example.join(", "))),
        );
    }
}

pub(super) fn workflow_names<'db>(db: &'db dyn Db, project: Project, wf: WorkflowDef<'db>, out: &mut Vec<Pending<'db>>) {
    let graph = workflow_graph(db, wf);
    let index = item_index(db, project);
    for (item, stmt) in wf.header(db).iter() {
        let at = |s: Span| Loc::new(Anchor::Item(wf, *item), s);
        let names = Resolver { db, index, at: &at, wf: Some((wf, graph)) };
        for r in workflow_stmt_refs(stmt) {
            names.check(r, out);
        }
    }
    // A group's `after` (its members' references are checked with each
    // member): a misspelt dependency would otherwise leave the graph.
    for group in wf.groups(db).iter() {
        let at = |s: Span| Loc::new(Anchor::Item(wf, group.item), s);
        let names = Resolver { db, index, at: &at, wf: Some((wf, graph)) };
        for r in deps_refs(group.deps.as_ref()) {
            names.check(r, out);
        }
    }
}

pub(super) fn decl_names<'db>(db: &'db dyn Db, project: Project, decl: OtherDef<'db>, out: &mut Vec<Pending<'db>>) {
    let at = |s: Span| Loc::new(Anchor::Decl(decl), s);
    let names = Resolver { db, index: item_index(db, project), at: &at, wf: None };
    for r in decl_refs(decl.ast(db)) {
        match r {
            // In a template: `use` is refused on its own (shape, E0601),
            // and the steps it names belong to each workflow using it, none
            // here. The keys of its spawns' inputs are the spawned
            // workflow's inputs wherever the template is used: checked here.
            Ref::Decl { kind: DeclKind::Template, .. } | Ref::Step { .. } => {}
            r => names.check(r, out),
        }
    }
}

/// What references are checked against: the project's declarations, and
/// the workflow whose steps step references name.
struct Resolver<'db, 'a> {
    db: &'db dyn Db,
    index: &'a ItemIndex<'db>,
    /// Where a span of the piece being checked is.
    at: &'a dyn Fn(Span) -> Loc<'db>,
    /// The workflow and its graph; none outside a workflow.
    wf: Option<(WorkflowDef<'db>, &'a WorkflowGraph)>,
}

impl<'db> Resolver<'db, '_> {
    /// Checks that a reference resolves; a diagnostic when it does not.
    fn check(&self, r: Ref<'_>, out: &mut Vec<Pending<'db>>) {
        match r {
            Ref::Step { name, role } => self.step(name, role, out),
            // Only an instance names a resource kind.
            Ref::Decl { kind: DeclKind::Resource, name } => self.instance_kind(name, out),
            Ref::Decl { kind, name } => decl_ref(self.index, kind, name, self.at, out),
            Ref::SetUse(set) => self.env_use(set, out),
            Ref::SetKey { set, key } => self.set_key(set, key, out),
            Ref::Signature { set, key } => self.signature(set, key, out),
            Ref::InputKey { workflow, field } => self.input_key(workflow, field, out),
        }
    }

    /// A step or group of the workflow; a checkpoint must be a step.
    fn step(&self, name: &Name, role: StepRole, out: &mut Vec<Pending<'db>>) {
        let Some((wf, graph)) = self.wf else { return };
        let at = self.at;
        let known = match role {
            StepRole::Checkpoint => graph.step_index(&name.text).is_some(),
            _ => name.text.is_empty() || graph.by_name.contains_key(&name.text),
        };
        if known {
            return;
        }
        // Only for a name that does not resolve: a list of every step per
        // reference made the check quadratic (issue 18: 71 s for 100,000
        // steps after 20 dependencies each).
        let candidates: Vec<&str> = match role {
            StepRole::Checkpoint => graph.nodes.iter().take(graph.steps).map(|n| n.name.as_str()).collect(),
            _ => graph.nodes.iter().map(|n| n.name.as_str()).collect(),
        };
        let p = Pending::new(Code::UnknownStep, at(name.span), format!("there is no step `{}` in workflow `{}`", name.text, wf.name(self.db)))
            .label(format!("unknown {}", role.noun()))
            .help(suggest(&name.text, candidates.iter().copied()).unwrap_or_else(|| known_list("steps", candidates.iter().copied())));
        out.push(replace_fix(p, at(name.span), &name.text, candidates.iter().copied()));
    }

    /// An instance's resource kind.
    fn instance_kind(&self, kind: &Name, out: &mut Vec<Pending<'db>>) {
        let (index, at) = (self.index, self.at);
        if index.get(DeclKind::Resource, &kind.text).is_some() {
            return;
        }
        let p = Pending::new(Code::UnknownResourceKind, at(kind.span), format!("there is no resource kind `{}`", kind.text))
            .label("unknown kind")
            .help(suggest(&kind.text, index.names(DeclKind::Resource)).unwrap_or_else(|| format!("declare it with `resource {} {{ schema {{ … }} }}`", kind.text)));
        out.push(replace_fix(p, at(kind.span), &kind.text, index.names(DeclKind::Resource)));
    }

    /// `use SET` in an env block: an env set (a secret set's keys are imported one by one).
    fn env_use(&self, set: &Name, out: &mut Vec<Pending<'db>>) {
        let index = self.index;
        if index.get(DeclKind::Env, &set.text).is_some() {
            return;
        }
        let help = if index.get(DeclKind::Secrets, &set.text).is_some() {
            format!("`{}` is a secret set: secrets are imported one key at a time, `NAME = {}.KEY`, so each use is deliberate", set.text, set.text)
        } else {
            suggest(&set.text, index.names(DeclKind::Env)).unwrap_or_else(|| known_list("env sets", index.names(DeclKind::Env)))
        };
        out.push(
            Pending::new(Code::UnknownEnv, (self.at)(set.span), format!("there is no env set `{}`", set.text))
                .label("unknown env set")
                .help(help),
        );
    }

    /// `NAME = SET.KEY` in an env block: an env or secret set and one of its keys.
    fn set_key(&self, set: &Name, key: &Name, out: &mut Vec<Pending<'db>>) {
        let (index, at) = (self.index, self.at);
        match set_keys(self.db, index, &set.text) {
            None => {
                let names: Vec<&str> = index.names(DeclKind::Env).chain(index.names(DeclKind::Secrets)).collect();
                let p = Pending::new(Code::UnknownEnv, at(set.span), format!("there is no env or secret set `{}`", set.text))
                    .label("unknown set")
                    .help(suggest(&set.text, names.iter().copied()).unwrap_or_else(|| known_list("sets", names.iter().copied())));
                out.push(replace_fix(p, at(set.span), &set.text, names.iter().copied()));
            }
            Some(keys) if !keys.contains(&key.text) => {
                let p = Pending::new(Code::UnknownEnv, at(key.span), format!("`{}` has no key `{}`", set.text, key.text))
                    .label("unknown key")
                    .help(suggest(&key.text, keys.iter().map(String::as_str)).unwrap_or_else(|| known_list("keys", keys.iter().map(String::as_str))));
                out.push(replace_fix(p, at(key.span), &key.text, keys.iter().map(String::as_str)));
            }
            Some(_) => {}
        }
    }

    /// `signed … with SET.KEY` must name a key of a `secrets` set: an env
    /// set's values are not redacted, and a signing secret must never be recorded.
    fn signature(&self, set: &Name, key: &Name, out: &mut Vec<Pending<'db>>) {
        let (index, at) = (self.index, self.at);
        if index.get(DeclKind::Secrets, &set.text).is_none() {
            let names: Vec<&str> = index.names(DeclKind::Secrets).collect();
            let help = if index.get(DeclKind::Env, &set.text).is_some() {
                format!("`{}` is an env set, whose values are not redacted: move the key into a `secrets` set, e.g. `secrets hooks {{ {} = from_env(\"…\") }}`", set.text, key.text)
            } else {
                suggest(&set.text, names.iter().copied()).unwrap_or_else(|| known_list("secrets sets", names.iter().copied()))
            };
            let p = Pending::new(Code::UnknownEnv, at(set.span), format!("there is no secrets set `{}`", set.text))
                .label("unknown secrets set")
                .help(help);
            out.push(replace_fix(p, at(set.span), &set.text, names.iter().copied()));
            return;
        }
        let Some(def) = index.other(DeclKind::Secrets, &set.text) else { return };
        let Decl::Secrets(secrets) = &**def.ast(self.db) else { return };
        let keys: BTreeSet<String> = secrets.entries.iter().map(|e| e.key.text.clone()).collect();
        if !keys.contains(&key.text) {
            let p = Pending::new(Code::UnknownEnv, at(key.span), format!("`{}` has no key `{}`", set.text, key.text))
                .label("unknown key")
                .help(suggest(&key.text, keys.iter().map(String::as_str)).unwrap_or_else(|| known_list("keys", keys.iter().map(String::as_str))));
            out.push(replace_fix(p, at(key.span), &key.text, keys.iter().map(String::as_str)));
        }
    }

    /// A key of the inputs passed to a called or spawned workflow must be
    /// one of its inputs (when the workflow exists; if not, that is reported).
    fn input_key(&self, workflow: &Name, field: &Field, out: &mut Vec<Pending<'db>>) {
        let Some(declared) = self.inputs_of(workflow) else { return };
        if !declared.iter().any(|i| i.name.text == field.key.text) {
            let names = declared.iter().map(|i| i.name.text.as_str());
            out.push(
                Pending::new(Code::UnknownInput, (self.at)(field.key.span), format!("workflow `{}` has no input `{}`", workflow.text, field.key.text))
                    .label("not an input")
                    .help(suggest(&field.key.text, names.clone()).unwrap_or_else(|| known_list("inputs", names))),
            );
        }
    }

    /// The inputs without a default that a call or spawn of `callee`
    /// passing `with` leaves out.
    fn missing_inputs(&self, callee: &Name, with: Option<&Value>, out: &mut Vec<Pending<'db>>) {
        let Some(declared) = self.inputs_of(callee) else { return };
        let given: Vec<&Field> = with.and_then(Value::as_object).map(|f| f.iter().collect()).unwrap_or_default();
        let missing: Vec<&str> = declared
            .iter()
            .filter(|i| i.default.is_none() && !given.iter().any(|f| f.key.text == i.name.text))
            .map(|i| i.name.text.as_str())
            .collect();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
            out.push(
                Pending::new(
                    Code::MissingInput,
                    (self.at)(with.map_or(callee.span, |w| w.span)),
                    format!("workflow `{}` needs {} {}", callee.text, if missing.len() == 1 { "input" } else { "inputs" }, list.join(", ")),
                )
                .label("missing here")
                .help(format!("pass {} in the inputs, or give the input a default in `{}`", list.join(", "), callee.text)),
            );
        }
    }

    /// The inputs a called or spawned workflow declares; none when it does not exist.
    fn inputs_of(&self, workflow: &Name) -> Option<Vec<&'db ast::Input>> {
        if workflow.text.is_empty() {
            return None;
        }
        let wf = self.index.workflow(&workflow.text)?;
        Some(
            wf.header(self.db)
                .iter()
                .filter_map(|(_, s)| match &s.kind {
                    WorkflowStmtKind::Input(i) => Some(i),
                    _ => None,
                })
                .collect(),
        )
    }
}

/// Checks that a declaration of `kind` named `name` exists.
fn decl_ref<'db>(index: &ItemIndex<'db>, kind: DeclKind, name: &Name, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    if name.text.is_empty() || index.get(kind, &name.text).is_some() {
        return;
    }
    let code = match kind {
        DeclKind::Agent => Code::UnknownAgent,
        DeclKind::Policy => Code::UnknownPolicy,
        DeclKind::Store => Code::UnknownStore,
        DeclKind::Template => Code::UnknownTemplate,
        DeclKind::Workflow => Code::UnknownWorkflow,
        DeclKind::Env | DeclKind::Secrets => Code::UnknownEnv,
        DeclKind::Resource | DeclKind::Instance => Code::UnknownResourceKind,
        // Nothing names a test; a test's own names are checked in `checks::tests`.
        DeclKind::Test => Code::UnknownWorkflow,
    };
    let noun = kind.noun();
    let plural = format!("{noun}s").replace("policys", "policies");
    let p = Pending::new(code, at(name.span), format!("there is no {noun} `{}`", name.text))
        .label(format!("unknown {noun}"))
        .help(
            suggest(&name.text, index.names(kind))
                .unwrap_or_else(|| format!("{}; declare it with `{} {} {{ … }}`", known_list(&plural, index.names(kind)), decl_keyword(kind), name.text)),
        );
    out.push(replace_fix(p, at(name.span), &name.text, index.names(kind)));
}

/// Adds the "did you mean" replacement as a fix, when there is one: the
/// same suggestion the help line gives, as an edit an editor can apply.
fn replace_fix<'db, 'a>(p: Pending<'db>, at: Loc<'db>, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Pending<'db> {
    let list: Vec<&str> = candidates.into_iter().collect();
    match did_you_mean(name, &list) {
        Some(s) => {
            let s = s.to_string();
            p.fix(format!("replace `{name}` with `{s}`"), vec![(at, s)])
        }
        None => p,
    }
}

fn decl_keyword(kind: DeclKind) -> &'static str {
    match kind {
        DeclKind::Workflow => "workflow",
        DeclKind::Agent => "agent",
        DeclKind::Env => "env",
        DeclKind::Secrets => "secrets",
        DeclKind::Store => "store",
        DeclKind::Policy => "policy",
        DeclKind::Resource => "resource",
        DeclKind::Template => "template",
        DeclKind::Instance => "Kind",
        DeclKind::Test => "test",
    }
}

/// The keys of an env or secret set, `use`d sets included.
pub(crate) fn set_keys<'db>(db: &'db dyn Db, index: &ItemIndex<'db>, name: &str) -> Option<BTreeSet<String>> {
    let def = index.other(DeclKind::Env, name).or_else(|| index.other(DeclKind::Secrets, name))?;
    let mut keys = BTreeSet::new();
    let mut seen = BTreeSet::new();
    collect_keys(db, index, def, &mut keys, &mut seen);
    Some(keys)
}

fn collect_keys<'db>(db: &'db dyn Db, index: &ItemIndex<'db>, def: OtherDef<'db>, keys: &mut BTreeSet<String>, seen: &mut BTreeSet<String>) {
    if !seen.insert(def.name(db).clone()) {
        return;
    }
    match &**def.ast(db) {
        Decl::Env(set) => {
            for e in &set.body.entries {
                match &e.kind {
                    EnvEntryKind::Assign { key, .. } => {
                        keys.insert(key.text.clone());
                    }
                    EnvEntryKind::Use(other) => {
                        if let Some(o) = index.other(DeclKind::Env, &other.text) {
                            collect_keys(db, index, o, keys, seen);
                        }
                    }
                }
            }
        }
        Decl::Secrets(set) => keys.extend(set.entries.iter().map(|e| e.key.text.clone())),
        _ => {}
    }
}
