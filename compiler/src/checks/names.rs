//! Names: every step, agent, policy, store, template, workflow, env/secret set
//! and key, and resource kind a file mentions must exist.

use std::collections::BTreeSet;

use flowc_grammar::ast::{
    self, AgentStmtKind, Compensate, Decl, DeclKind, EnvBlock, EnvEntryKind, EnvValue, InvariantStmtKind, Name,
    OnFail, Span, StepKind, StepStmtKind, Value, WorkflowStmtKind,
};

use flowc_grammar::errors::did_you_mean;

use super::{StepCx, known_list, suggest};
use crate::codes::Code;
use crate::db::{Db, Project};
use crate::graph::workflow_graph;
use crate::model::{ItemIndex, OtherDef, WorkflowDef, item_index, kind_decl_ref, stmt_decl_ref};
use crate::pending::{Anchor, Loc, Pending};

/// Names expressions bind (`inputs.x`, `run.id`, `item`, …): the same list
/// as the interpreter's `RESERVED_NAMES`.
pub const RESERVED_STEP_NAMES: &[&str] = &["inputs", "run", "item", "items", "event", "env", "self", "input"];

pub(super) fn step_names<'db>(cx: &StepCx<'db>, step: &ast::Step, out: &mut Vec<Pending<'db>>) {
    let db = cx.db;
    let graph = workflow_graph(db, cx.wf);
    let index = item_index(db, cx.project);
    let all_names = || graph.nodes.iter().map(|n| n.name.as_str());
    let unknown_step = |name: &Name, role: &str, out: &mut Vec<Pending<'db>>| {
        if name.text.is_empty() || graph.by_name.contains_key(&name.text) {
            return;
        }
        let p = Pending::new(Code::UnknownStep, cx.at(name.span), format!("there is no step `{}` in workflow `{}`", name.text, cx.wf.name(db)))
            .label(format!("unknown {role}"))
            .help(suggest(&name.text, all_names()).unwrap_or_else(|| known_list("steps", all_names())));
        out.push(replace_fix(p, cx.at(name.span), &name.text, all_names()));
    };
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
    if let Some(deps) = &step.deps {
        for dep in &deps.names {
            unknown_step(dep, "dependency", out);
        }
    }
    for stmt in &step.body {
        match &stmt.kind {
            StepStmtKind::Arm { target, .. } => unknown_step(target, "branch target", out),
            StepStmtKind::OnFail(OnFail::Fix { step, .. }) => unknown_step(step, "fix step", out),
            StepStmtKind::Compensate(Compensate::Step(s)) => unknown_step(s, "compensation step", out),
            StepStmtKind::Env(env) => env_refs(db, index, env, &|s| cx.at(s), out),
            stmt => {
                // `reads`, `then put`, `then spawn`: a store or a workflow.
                if let Some((kind, name)) = stmt_decl_ref(stmt)
                    && decl_ref(index, kind, name, &|s| cx.at(s), out)
                    && let StepStmtKind::Spawn { inputs, .. } | StepStmtKind::SpawnEach { inputs, .. } = stmt
                {
                    call_inputs(db, index, name, inputs.as_ref(), &|s| cx.at(s), out);
                }
            }
        }
    }
    // `agent A`, `check P`, `use T`, `call W`.
    if let Some((kind, n)) = kind_decl_ref(&step.kind)
        && decl_ref(index, kind, n, &|s| cx.at(s), out)
        && let StepKind::Call(_) = &step.kind
    {
        let with = step.body.iter().find_map(|s| match &s.kind {
            StepStmtKind::With(v) => Some(v),
            _ => None,
        });
        call_inputs(db, index, n, with, &|s| cx.at(s), out);
    }
}

/// Checks that a declaration of `kind` named `name` exists; true if it does.
fn decl_ref<'db>(index: &ItemIndex<'db>, kind: DeclKind, name: &Name, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) -> bool {
    if name.text.is_empty() || index.get(kind, &name.text).is_some() {
        return !name.text.is_empty();
    }
    let code = match kind {
        DeclKind::Agent => Code::UnknownAgent,
        DeclKind::Policy => Code::UnknownPolicy,
        DeclKind::Store => Code::UnknownStore,
        DeclKind::Template => Code::UnknownTemplate,
        DeclKind::Workflow => Code::UnknownWorkflow,
        DeclKind::Env | DeclKind::Secrets => Code::UnknownEnv,
        DeclKind::Resource | DeclKind::Instance => Code::UnknownResourceKind,
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
    false
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
    }
}

/// The inputs passed to a called or spawned workflow must be its inputs, and
/// its inputs without a default must be passed.
fn call_inputs<'db>(
    db: &'db dyn Db,
    index: &ItemIndex<'db>,
    callee: &Name,
    with: Option<&Value>,
    at: &dyn Fn(Span) -> Loc<'db>,
    out: &mut Vec<Pending<'db>>,
) {
    let Some(wf) = index.workflow(&callee.text) else { return };
    let declared: Vec<&ast::Input> = wf
        .header(db)
        .iter()
        .filter_map(|(_, s)| match &s.kind {
            WorkflowStmtKind::Input(i) => Some(i),
            _ => None,
        })
        .collect();
    let given: Vec<&ast::Field> = with.and_then(Value::as_object).map(|f| f.iter().collect()).unwrap_or_default();
    for field in &given {
        if !declared.iter().any(|i| i.name.text == field.key.text) {
            let names = declared.iter().map(|i| i.name.text.as_str());
            out.push(
                Pending::new(Code::UnknownInput, at(field.key.span), format!("workflow `{}` has no input `{}`", callee.text, field.key.text))
                    .label("not an input")
                    .help(suggest(&field.key.text, names.clone()).unwrap_or_else(|| known_list("inputs", names))),
            );
        }
    }
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
                at(with.map_or(callee.span, |w| w.span)),
                format!("workflow `{}` needs {} {}", callee.text, if missing.len() == 1 { "input" } else { "inputs" }, list.join(", ")),
            )
            .label("missing here")
            .help(format!("pass {} in the inputs, or give the input a default in `{}`", list.join(", "), callee.text)),
        );
    }
}

/// `use SET` and `NAME = set.KEY` must name an env or secret set and one of its keys.
fn env_refs<'db>(db: &'db dyn Db, index: &ItemIndex<'db>, env: &EnvBlock, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    for entry in &env.entries {
        match &entry.kind {
            EnvEntryKind::Use(set) => {
                if index.get(DeclKind::Env, &set.text).is_none() {
                    let help = if index.get(DeclKind::Secrets, &set.text).is_some() {
                        format!("`{}` is a secret set: secrets are imported one key at a time, `NAME = {}.KEY`, so each use is deliberate", set.text, set.text)
                    } else {
                        suggest(&set.text, index.names(DeclKind::Env)).unwrap_or_else(|| known_list("env sets", index.names(DeclKind::Env)))
                    };
                    out.push(
                        Pending::new(Code::UnknownEnv, at(set.span), format!("there is no env set `{}`", set.text))
                            .label("unknown env set")
                            .help(help),
                    );
                }
            }
            EnvEntryKind::Assign { value: EnvValue::Ref { set, key }, .. } => {
                let keys = set_keys(db, index, &set.text);
                match keys {
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
            EnvEntryKind::Assign { .. } => {}
        }
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

pub(super) fn workflow_names<'db>(db: &'db dyn Db, project: Project, wf: WorkflowDef<'db>, out: &mut Vec<Pending<'db>>) {
    let graph = workflow_graph(db, wf);
    let index = item_index(db, project);
    for (item, stmt) in wf.header(db).iter() {
        let at = |s: Span| Loc::new(Anchor::Item(wf, *item), s);
        match &stmt.kind {
            WorkflowStmtKind::Invariant(inv) => {
                for s in &inv.body {
                    if let InvariantStmtKind::At(names) = &s.kind {
                        for n in names {
                            if graph.step_index(&n.text).is_none() {
                                let steps = graph.nodes.iter().take(graph.steps).map(|n| n.name.as_str());
                                let p = Pending::new(Code::UnknownStep, at(n.span), format!("there is no step `{}` in workflow `{}`", n.text, wf.name(db)))
                                    .label("unknown checkpoint")
                                    .help(suggest(&n.text, steps.clone()).unwrap_or_else(|| known_list("steps", steps.clone())));
                                out.push(replace_fix(p, at(n.span), &n.text, steps));
                            }
                        }
                    }
                }
            }
            WorkflowStmtKind::Env(env) => env_refs(db, index, env, &at, out),
            WorkflowStmtKind::On(ast::Trigger::Webhook { signature: Some(sig), .. }) => signature_ref(db, index, sig, &at, out),
            _ => {}
        }
    }
}

/// `signed … with SET.KEY` must name a key of a `secrets` set: an env set's
/// values are not redacted, and a signing secret must never be recorded.
fn signature_ref<'db>(db: &'db dyn Db, index: &ItemIndex<'db>, sig: &ast::Signature, at: &dyn Fn(Span) -> Loc<'db>, out: &mut Vec<Pending<'db>>) {
    let (set, key) = (&sig.set, &sig.key);
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
    let Decl::Secrets(secrets) = &**def.ast(db) else { return };
    let keys: BTreeSet<String> = secrets.entries.iter().map(|e| e.key.text.clone()).collect();
    if !keys.contains(&key.text) {
        let p = Pending::new(Code::UnknownEnv, at(key.span), format!("`{}` has no key `{}`", set.text, key.text))
            .label("unknown key")
            .help(suggest(&key.text, keys.iter().map(String::as_str)).unwrap_or_else(|| known_list("keys", keys.iter().map(String::as_str))));
        out.push(replace_fix(p, at(key.span), &key.text, keys.iter().map(String::as_str)));
    }
}

pub(super) fn decl_names<'db>(db: &'db dyn Db, project: Project, decl: OtherDef<'db>, out: &mut Vec<Pending<'db>>) {
    let index = item_index(db, project);
    let at = |s: Span| Loc::new(Anchor::Decl(decl), s);
    match &**decl.ast(db) {
        Decl::Agent(agent) => {
            for stmt in &agent.body {
                if let AgentStmtKind::Env(env) = &stmt.kind {
                    env_refs(db, index, env, &at, out);
                }
            }
        }
        Decl::Env(set) => env_refs(db, index, &set.body, &at, out),
        Decl::Template(tpl) => {
            match &tpl.kind {
                Some(StepKind::Agent(n)) => {
                    decl_ref(index, DeclKind::Agent, n, &at, out);
                }
                Some(StepKind::Check(n)) => {
                    decl_ref(index, DeclKind::Policy, n, &at, out);
                }
                Some(StepKind::Call(n)) => {
                    decl_ref(index, DeclKind::Workflow, n, &at, out);
                }
                _ => {}
            }
            for stmt in &tpl.body {
                match &stmt.kind {
                    StepStmtKind::Reads { key, .. } | StepStmtKind::Put { key, .. } => {
                        decl_ref(index, DeclKind::Store, &key.store, &at, out);
                    }
                    StepStmtKind::Spawn { workflow, .. } | StepStmtKind::SpawnEach { workflow, .. } => {
                        decl_ref(index, DeclKind::Workflow, workflow, &at, out);
                    }
                    StepStmtKind::Env(env) => env_refs(db, index, env, &at, out),
                    _ => {}
                }
            }
        }
        Decl::Instance(inst)
            if index.get(DeclKind::Resource, &inst.kind.text).is_none() => {
                let p = Pending::new(Code::UnknownResourceKind, at(inst.kind.span), format!("there is no resource kind `{}`", inst.kind.text))
                    .label("unknown kind")
                    .help(suggest(&inst.kind.text, index.names(DeclKind::Resource)).unwrap_or_else(|| {
                        format!("declare it with `resource {} {{ schema {{ … }} }}`", inst.kind.text)
                    }));
                out.push(replace_fix(p, at(inst.kind.span), &inst.kind.text, index.names(DeclKind::Resource)));
            }
        _ => {}
    }
}
