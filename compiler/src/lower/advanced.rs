//! Lowering of the advanced primitives: stores (`reads`, `then put`),
//! secrets in `env` blocks, spawning (`then spawn`, `then spawn each`,
//! `safety`), dynamic items (`items`, `for each item`, `select`), quality
//! gates and invariants.
//!
//! Choices (they follow `flowc_plan::advanced`):
//! - `reads` become `READ_STORE` instructions before the step's work, post
//!   actions (`then put`, `then spawn`, `then spawn each`, `items`) become
//!   instructions after it, in the order written.
//! - A `secrets` set's key in an `env` block becomes a redacted plan secret;
//!   a plain `from_env`/`from_file` value becomes an unredacted one. Values
//!   never enter the plan, only where they come from.
//! - An `on_fail fix GROUP` target re-runs every step of the group.
//! - `on_violation rollback` without `then` pauses the run (docs/language.md,
//!   choice 17); `on_fail fix … retry N` without `then` fails it (choice 16).

use std::collections::{BTreeMap, HashMap};

use flowc_grammar::ast::{
    self, Backend, Decl, DeclKind, EnvValue, FailMode, InvariantStmtKind, OnFail, RetentionItem, SecretSourceKind,
    SecretValue, StepStmt, StepStmtKind, StoreStmtKind, ValueKind, ViolationAction,
};
use flowc_plan as plan;
use flowc_plan::advanced::{self as adv, StoreDef};

use super::{WorkflowLowerer, cel_literal};
use crate::db::{Db, Project};
use crate::model::item_index;

/// The plan-level tables the advanced primitives add: stores and secrets,
/// filled as steps use them.
#[derive(Default)]
pub(super) struct Tables {
    pub stores: Vec<StoreDef>,
    store_ids: HashMap<String, u32>,
    pub secrets: Vec<adv::Secret>,
    secret_ids: HashMap<(String, bool), u32>,
}

impl Tables {
    fn store(&mut self, db: &dyn Db, project: Project, name: &str) -> Option<u32> {
        if let Some(id) = self.store_ids.get(name) {
            return Some(*id);
        }
        let def = store_def(db, project, name)?;
        let id = self.stores.len() as u32;
        self.stores.push(def);
        self.store_ids.insert(name.to_string(), id);
        Some(id)
    }

    fn secret(&mut self, secret: adv::Secret) -> u32 {
        let key = (format!("{}\0{}\0{}", secret.name, secret.from.keyword(), secret.arg), secret.redact);
        if let Some(id) = self.secret_ids.get(&key) {
            return *id;
        }
        let id = self.secrets.len() as u32;
        self.secrets.push(secret);
        self.secret_ids.insert(key, id);
        id
    }
}

/// Every workflow a step starts as a detached child run (`then spawn`, `then spawn each`).
pub(super) fn spawned_workflows(step: &ast::Step) -> Vec<String> {
    step.body
        .iter()
        .filter_map(|s| match &s.kind {
            StepStmtKind::Spawn { workflow, .. } | StepStmtKind::SpawnEach { workflow, .. } => Some(workflow.text.clone()),
            _ => None,
        })
        .collect()
}

/// The definition of a store of the project, as the plan holds it.
pub fn store_def(db: &dyn Db, project: Project, name: &str) -> Option<StoreDef> {
    let def = item_index(db, project).other(DeclKind::Store, name)?;
    let Decl::Store(store) = &**def.ast(db) else { return None };
    let mut out = StoreDef { name: name.to_string(), backend: adv::StoreBackend::Local, schema: None, max_entries: None, ttl_ms: None };
    for stmt in &store.body {
        match &stmt.kind {
            StoreStmtKind::Backend(Backend::Local) => out.backend = adv::StoreBackend::Local,
            StoreStmtKind::Backend(Backend::Command(c)) => out.backend = adv::StoreBackend::Command(c.value.clone()),
            StoreStmtKind::Schema(v) => out.schema = crate::checks::value_json(v),
            StoreStmtKind::Retention(items) => {
                for item in items {
                    match item {
                        RetentionItem::MaxEntries(n) => out.max_entries = Some(n.value.max(1) as u64),
                        RetentionItem::Ttl(d) => out.ttl_ms = Some(d.millis),
                    }
                }
            }
            StoreStmtKind::Description(_) => {}
        }
    }
    Some(out)
}

/// Every store the project declares (for `flowc store`).
pub fn project_stores(db: &dyn Db, project: Project) -> Vec<StoreDef> {
    let names: Vec<String> = item_index(db, project).names(DeclKind::Store).map(str::to_string).collect();
    names.iter().filter_map(|n| store_def(db, project, n)).collect()
}

/// The statements of a step the advanced lowering turns into code, in order.
#[derive(Default)]
pub(super) struct StepParts {
    reads: Vec<StepStmtKind>,
    posts: Vec<StepStmtKind>,
}

impl StepParts {
    /// Takes the statement if it is one of ours; `false` leaves it to the caller.
    pub fn take(&mut self, kind: &StepStmtKind) -> bool {
        match kind {
            StepStmtKind::Reads { .. } => self.reads.push(kind.clone()),
            StepStmtKind::Put { .. } | StepStmtKind::Spawn { .. } | StepStmtKind::SpawnEach { .. } | StepStmtKind::Items(_) => {
                self.posts.push(kind.clone())
            }
            _ => return false,
        }
        true
    }
}

/// An env entry whose value is only known at run time, as a plan secret.
pub(super) enum RuntimeValue {
    /// `SET.KEY` of a `secrets` set.
    Secret { set: String, key: String },
    /// `from_env("VAR")` / `from_file("path")` written in an env block.
    Source(ast::SecretSource),
}

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    /// `safety { … }`.
    pub(super) fn safety(&self, s: &ast::Safety) -> adv::Safety {
        let mut out = adv::Safety::default();
        for item in &s.items {
            match item {
                ast::SafetyItem::MaxSpawnedTasks(n) => out.max_spawned_tasks = Some(n.value.clamp(0, u32::MAX as i64) as u32),
                ast::SafetyItem::MaxSpawnDepth(n) => out.max_spawn_depth = Some(n.value.clamp(0, u32::MAX as i64) as u32),
                ast::SafetyItem::SpawnCooldown(d) => out.spawn_cooldown_ms = Some(d.millis),
            }
        }
        out
    }

    /// `invariant NAME { … }`.
    pub(super) fn invariant(&mut self, inv: &ast::Invariant) -> adv::Invariant {
        let mut out = adv::Invariant {
            name: inv.name.text.clone(),
            description: None,
            check: None,
            on_violation: adv::ViolationAction::Abort,
            then: adv::FailMode::Pause,
            protect: Vec::new(),
            at: Vec::new(),
        };
        for stmt in &inv.body {
            match &stmt.kind {
                InvariantStmtKind::Description(d) => out.description = Some(d.value.clone()),
                InvariantStmtKind::Check(c) => {
                    let template = self.template(&c.command, true);
                    out.check = Some(adv::InvariantCheck { template, expect: c.expect.as_ref().map(|e| e.value.clone()) });
                }
                InvariantStmtKind::OnViolation { action, then, .. } => {
                    out.on_violation = match action {
                        ViolationAction::Abort => adv::ViolationAction::Abort,
                        ViolationAction::Warn => adv::ViolationAction::Warn,
                        ViolationAction::Rollback => adv::ViolationAction::Rollback,
                    };
                    out.then = match then.map(|(m, _)| m) {
                        Some(FailMode::Fail) => adv::FailMode::Fail,
                        Some(FailMode::Pause) | None => adv::FailMode::Pause,
                    };
                }
                InvariantStmtKind::Protect(globs) => out.protect.extend(globs.iter().map(|g| g.value.clone())),
                InvariantStmtKind::At(names) => {
                    for n in names {
                        let ids = self.dep_ids(&n.text);
                        if ids.is_empty() {
                            self.error(None, format!("invariant `{}`: `at` names `{}`, which is not a step", inv.name.text, n.text));
                        }
                        out.at.extend(ids);
                    }
                }
            }
        }
        out.at.sort_unstable();
        out.at.dedup();
        out
    }

    /// The plan secret for an env value known only at run time.
    pub(super) fn runtime_value(&mut self, step: Option<&str>, value: RuntimeValue) -> Option<u32> {
        let secret = match value {
            RuntimeValue::Source(s) => adv::Secret {
                name: format!("{}({:?})", source_keyword(s.kind), s.arg.value),
                from: source_from(s.kind),
                arg: s.arg.value.clone(),
                redact: false,
            },
            RuntimeValue::Secret { set, key } => {
                let found = item_index(self.db, self.project).other(DeclKind::Secrets, &set).and_then(|d| match &**d.ast(self.db) {
                    Decl::Secrets(s) => s.entries.iter().find(|e| e.key.text == key).map(|e| e.value.clone()),
                    _ => None,
                });
                match found {
                    Some(SecretValue::Source(s)) => adv::Secret {
                        name: format!("{set}.{key}"),
                        from: source_from(s.kind),
                        arg: s.arg.value.clone(),
                        redact: true,
                    },
                    _ => {
                        self.error(step, format!("`{set}.{key}` is not a key of an env or secrets set"));
                        return None;
                    }
                }
            }
        };
        Some(self.agents.adv.secret(secret))
    }

    fn store_id(&mut self, step: &str, name: &str) -> Option<u32> {
        let id = self.agents.adv.store(self.db, self.project, name);
        if id.is_none() {
            self.error(Some(step), format!("there is no store `{name}`"));
        }
        id
    }

    /// The step's code with its reads before and its post actions after.
    pub(super) fn wrap_code(&mut self, step: &str, parts: StepParts, code: Vec<plan::Instr>) -> Vec<plan::Instr> {
        let mut out = Vec::with_capacity(code.len() + parts.reads.len() + parts.posts.len() + 1);
        for r in &parts.reads {
            if let StepStmtKind::Reads { key, alias } = r
                && let Some(store) = self.store_id(step, &key.store.text) {
                    out.push(plan::Instr::ReadStore { store, key: key.key.text.clone(), name: alias.text.clone() });
                }
        }
        out.extend(code);
        for p in &parts.posts {
            match p {
                StepStmtKind::Put { key, value } => {
                    if let Some(store) = self.store_id(step, &key.store.text) {
                        let expr = self.expr(&value.text);
                        out.push(plan::Instr::StorePut { store, key: key.key.text.clone(), expr });
                    }
                }
                StepStmtKind::Spawn { workflow, inputs } => {
                    let inputs = inputs.as_ref().map(|v| self.expr(&cel_literal(v)));
                    out.push(plan::Instr::Spawn { workflow: workflow.text.clone(), inputs });
                }
                StepStmtKind::SpawnEach { list, workflow, inputs } => {
                    let list = self.expr(&list.text);
                    let inputs = inputs.as_ref().map(|v| self.expr(&cel_literal(v)));
                    out.push(plan::Instr::SpawnEach { list, workflow: workflow.text.clone(), inputs });
                }
                StepStmtKind::Items(e) => {
                    let expr = self.expr(&e.text);
                    out.push(plan::Instr::Items { expr });
                }
                _ => {}
            }
        }
        out
    }

    /// A `select` step: one `SELECT` over the current item list.
    pub(super) fn select_code(&mut self, step: &str, body: &[StepStmt]) -> Option<Vec<plan::Instr>> {
        let mut strategy = None;
        let mut select = adv::Select { strategy: adv::Strategy::Max, metric: None, top_k: None, threshold: None, weights: BTreeMap::new(), output_type: None };
        for stmt in body {
            match &stmt.kind {
                StepStmtKind::Strategy { strategy: s, .. } => {
                    strategy = Some(match s {
                        ast::Strategy::Min => adv::Strategy::Min,
                        ast::Strategy::Max => adv::Strategy::Max,
                        ast::Strategy::Threshold => adv::Strategy::Threshold,
                        ast::Strategy::Weighted => adv::Strategy::Weighted,
                    })
                }
                StepStmtKind::Metric(m) => select.metric = Some(m.text.clone()),
                StepStmtKind::TopK(k) => select.top_k = Some(k.value.clamp(1, u32::MAX as i64) as u32),
                StepStmtKind::Threshold(t) => select.threshold = Some(t.value.value),
                StepStmtKind::Weights(w) => {
                    for f in w.as_object().unwrap_or_default() {
                        match &f.value.kind {
                            ValueKind::Number(n) => {
                                select.weights.insert(f.key.text.clone(), n.value);
                            }
                            _ => self.error(Some(step), format!("the weight of `{}` is not a number", f.key.text)),
                        }
                    }
                }
                StepStmtKind::Output(t) => select.output_type = Some(self.ty(t)),
                _ => {}
            }
        }
        let Some(strategy) = strategy else {
            self.error(Some(step), "a `select` step needs a `strategy`");
            return None;
        };
        select.strategy = strategy;
        Some(vec![plan::Instr::Select(select)])
    }

    /// A `gate` step: its checks, and its failure policy.
    pub(super) fn gate_code(&mut self, step: &str, body: &[StepStmt]) -> Option<(Vec<plan::Instr>, adv::Gate)> {
        let mut checks = Vec::new();
        let mut gate = adv::Gate::default();
        for stmt in body {
            match &stmt.kind {
                StepStmtKind::Check(c) => {
                    let template = self.template(&c.command, true);
                    checks.push(adv::GateCheck { template, expect: c.expect.as_ref().map(|e| e.value.clone()) });
                }
                StepStmtKind::OnFail(OnFail::Fix { step: target, retries, then }) => {
                    gate.fix = self.dep_ids(&target.text);
                    if gate.fix.is_empty() {
                        self.error(Some(step), format!("`on_fail fix` names `{}`, which is not a step or group", target.text));
                    }
                    gate.fix_retries = retries.value.clamp(0, u32::MAX as i64) as u32;
                    gate.on_fail = Some(match then.map(|(m, _)| m) {
                        Some(FailMode::Pause) => adv::FailMode::Pause,
                        Some(FailMode::Fail) | None => adv::FailMode::Fail,
                    });
                }
                StepStmtKind::OnFail(OnFail::Mode { mode, .. }) => {
                    gate.on_fail = Some(match mode {
                        FailMode::Pause => adv::FailMode::Pause,
                        FailMode::Fail => adv::FailMode::Fail,
                    })
                }
                StepStmtKind::Skippable => gate.skippable = true,
                _ => {}
            }
        }
        if checks.is_empty() {
            self.error(Some(step), "a `gate` step needs at least one `check`");
            return None;
        }
        Some((vec![plan::Instr::Gate { checks }], gate))
    }
}

/// Whether an env value is only known at run time, and which.
pub(super) fn runtime_value(db: &dyn Db, project: Project, value: &EnvValue) -> Option<RuntimeValue> {
    match value {
        EnvValue::Source(s) => Some(RuntimeValue::Source(s.clone())),
        EnvValue::Ref { set, key } if item_index(db, project).other(DeclKind::Secrets, &set.text).is_some() => {
            Some(RuntimeValue::Secret { set: set.text.clone(), key: key.text.clone() })
        }
        _ => None,
    }
}

fn source_from(kind: SecretSourceKind) -> adv::SecretFrom {
    match kind {
        SecretSourceKind::Env => adv::SecretFrom::Env,
        SecretSourceKind::File => adv::SecretFrom::File,
    }
}

fn source_keyword(kind: SecretSourceKind) -> &'static str {
    source_from(kind).keyword()
}
