//! The advanced primitives of the plan: persistent stores, secrets, spawn
//! limits, invariants, dynamic items, selection and quality gates.
//!
//! # Shape (additions to the plan, all optional in JSON)
//!
//! ```text
//! Plan     { …, stores: [StoreDef…], secrets: [Secret…] }        // StoreId, SecretId = index
//! Workflow { …, safety?: Safety, invariants: [Invariant…] }
//! Step     { …, for_each: bool, secret_env: [SecretEnv…], gate?: Gate }
//! Agent    { …, secret_env: [SecretEnv…] }
//! StoreDef { name, backend: "local" | { "command": CMD }, schema?: JSON Schema, max_entries?, ttl_ms? }
//! Secret   { name, from: env|file, arg, redact }
//! Safety   { max_spawned_tasks?, max_spawn_depth?, spawn_cooldown_ms? }
//! Invariant { name, description?, check?: { template, expect? }, on_violation: abort|warn|rollback,
//!             then: pause|fail, protect: [glob…], at: [StepId…] }
//! Gate     { fix: [StepId…], fix_retries, on_fail?: pause|fail, skippable }
//! ```
//!
//! # Choices the lowering must follow
//!
//! - **Post actions are a suffix.** `STORE_PUT`, `SPAWN`, `SPAWN_EACH` and
//!   `ITEMS` come after every other instruction (before `END`): they run once
//!   the step's work succeeded, with `output` bound to the step's output. In
//!   a `for_each` step the instructions before them run once per item and
//!   `output` is the list of the instances' outputs, in item order.
//! - **Reads come first.** `READ_STORE` binds a name for the expressions of
//!   the instructions after it; the lowering puts them before everything else.
//! - **Secrets are referenced, never inlined.** A plan holds where a secret
//!   comes from (`from_env`/`from_file`), never its value; the runtime resolves
//!   it when a step starts, and a `redact`ed value is replaced by `***` in
//!   everything it records. Plain `from_env`/`from_file` values in `env`
//!   blocks are `Secret`s with `redact: false`.
//! - **Gates.** A `gate` step's checks are one `GATE` instruction; what a
//!   failure does is the step's `gate` policy: `fix` lists the steps to re-run
//!   (a fix group is lowered to its steps), `fix_retries` bounds the rounds,
//!   `on_fail` says what happens after them (absent: the step's `on_failure`).
//! - **Invariants** are checked after every completed step, or only after the
//!   steps in `at`. Their check command is a template of the workflow.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ExprId, StepId, TemplateId};

pub type StoreId = u32;
pub type SecretId = u32;

/// A persistent key-value store the plan's steps read or write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreDef {
    pub name: String,
    #[serde(default)]
    pub backend: StoreBackend,
    /// A JSON Schema every stored value must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// Tables in the state database.
    #[default]
    Local,
    /// An external command speaking the store protocol (docs/runs.md).
    Command(String),
}

/// Where a secret (or a plain run-time value) comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// For messages: `SET.KEY`, or `from_env("VAR")` for a plain source.
    pub name: String,
    pub from: SecretFrom,
    /// The environment variable, or the file (relative to the project dir).
    pub arg: String,
    /// Replace the value by `***` in everything the run records.
    #[serde(default)]
    pub redact: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretFrom {
    Env,
    File,
}

impl SecretFrom {
    pub fn keyword(self) -> &'static str {
        match self {
            SecretFrom::Env => "from_env",
            SecretFrom::File => "from_file",
        }
    }
}

/// An environment variable whose value is a secret, resolved when the step starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretEnv {
    pub name: String,
    pub secret: SecretId,
}

/// `safety { … }`: limits on spawning, enforced when a step spawns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Safety {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_spawned_tasks: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_spawn_depth: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_cooldown_ms: Option<u64>,
}

impl Safety {
    /// The stricter of two sets of limits (a spawned child inherits its parent's).
    pub fn strictest(&self, other: &Safety) -> Safety {
        fn min<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        fn max<T: Ord + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        }
        Safety {
            max_spawned_tasks: min(self.max_spawned_tasks, other.max_spawned_tasks),
            max_spawn_depth: min(self.max_spawn_depth, other.max_spawn_depth),
            spawn_cooldown_ms: max(self.spawn_cooldown_ms, other.spawn_cooldown_ms),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.max_spawned_tasks.is_none() && self.max_spawn_depth.is_none() && self.spawn_cooldown_ms.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invariant {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<InvariantCheck>,
    #[serde(default)]
    pub on_violation: ViolationAction,
    /// After a rollback: pause the run (default) or fail it.
    #[serde(default, skip_serializing_if = "is_pause")]
    pub then: FailMode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protect: Vec<String>,
    /// Checked after these steps only; empty: after every step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at: Vec<StepId>,
}

fn is_pause(m: &FailMode) -> bool {
    *m == FailMode::Pause
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvariantCheck {
    /// The command, a template of the workflow (holes shell-quoted).
    pub template: TemplateId,
    /// The stdout (surrounding whitespace trimmed) that means the invariant holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationAction {
    #[default]
    Abort,
    Warn,
    Rollback,
}

impl ViolationAction {
    pub fn keyword(self) -> &'static str {
        match self {
            ViolationAction::Abort => "abort",
            ViolationAction::Warn => "warn",
            ViolationAction::Rollback => "rollback",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    #[default]
    Pause,
    Fail,
}

impl FailMode {
    pub fn keyword(self) -> &'static str {
        match self {
            FailMode::Pause => "pause",
            FailMode::Fail => "fail",
        }
    }
}

/// What a failing gate does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// `on_fail fix STEP`: the steps re-run (with everything between them and the gate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fix: Vec<StepId>,
    /// How many fix rounds before `on_fail` applies.
    #[serde(default)]
    pub fix_retries: u32,
    /// Pause or fail when the checks still fail; absent: the step's `on_failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<FailMode>,
    /// `flowc skip RUN STEP` may pass the gate when it paused the run.
    #[serde(default)]
    pub skippable: bool,
}

/// One check of a gate: a command, and optionally the stdout it must print.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateCheck {
    pub template: TemplateId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    Min,
    Max,
    Threshold,
    Weighted,
}

impl Strategy {
    pub fn keyword(self) -> &'static str {
        match self {
            Strategy::Min => "min",
            Strategy::Max => "max",
            Strategy::Threshold => "threshold",
            Strategy::Weighted => "weighted",
        }
    }
}

/// The operands of `SELECT`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    pub strategy: Strategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub weights: BTreeMap<String, f64>,
    /// The step's declared output type, which the kept items must match.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub output_type: Option<super::TypeId>,
}

/// The expressions and templates an advanced instruction uses (for the
/// loader's reference analysis and the disassembly).
pub fn instr_uses(instr: &super::Instr) -> (Vec<ExprId>, Vec<TemplateId>) {
    use super::Instr;
    match instr {
        Instr::StorePut { expr, .. } | Instr::Items { expr } => (vec![*expr], vec![]),
        Instr::Spawn { inputs, .. } => (inputs.iter().copied().collect(), vec![]),
        Instr::SpawnEach { list, inputs, .. } => (std::iter::once(*list).chain(inputs.iter().copied()).collect(), vec![]),
        Instr::Gate { checks } => (vec![], checks.iter().map(|c| c.template).collect()),
        _ => (vec![], vec![]),
    }
}

/// Whether the instruction is a post action (runs after the step's work).
pub fn is_post_action(instr: &super::Instr) -> bool {
    use super::Instr;
    matches!(instr, Instr::StorePut { .. } | Instr::Spawn { .. } | Instr::SpawnEach { .. } | Instr::Items { .. })
}

/// A 64-bit FNV-1a hash, in hex: stable across builds and platforms, for
/// change detection (pinned invariants, file fingerprints), not security.
pub fn fnv1a_hex(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A template as `.flow` text: literal parts as written (`$` doubled), holes as `${expr}`.
pub fn template_text(wf: &super::Workflow, t: TemplateId) -> String {
    let mut out = String::new();
    if let Some(t) = wf.templates.get(t as usize) {
        for part in &t.parts {
            match part {
                super::Part::Text(text) => out.push_str(&text.replace('$', "$$")),
                super::Part::Hole(h) => {
                    out.push_str("${");
                    out.push_str(wf.exprs.get(h.expr as usize).map_or("", String::as_str));
                    out.push('}');
                }
            }
        }
    }
    out
}

/// The hash a run pins its workflow's invariants under: FNV-1a over a
/// canonical JSON form (check commands as template text, `at` as step
/// names), so a plan compiled from changed source can be compared with it.
pub fn invariants_hash(wf: &super::Workflow) -> String {
    let list: Vec<serde_json::Value> = wf
        .invariants
        .iter()
        .map(|inv| {
            serde_json::json!({
                "name": inv.name,
                "check": inv.check.as_ref().map(|c| template_text(wf, c.template)),
                "expect": inv.check.as_ref().and_then(|c| c.expect.clone()),
                "on_violation": inv.on_violation.keyword(),
                "then": inv.then.keyword(),
                "protect": inv.protect,
                "at": inv.at.iter().map(|s| wf.steps.get(*s as usize).map_or("", |st| st.name.as_str())).collect::<Vec<_>>(),
            })
        })
        .collect();
    fnv1a_hex(serde_json::Value::Array(list).to_string().as_bytes())
}

/// The disassembly of the advanced parts (called from `crate::disasm`).
pub mod disasm {
    use std::fmt::Write;

    use super::{StoreBackend, ViolationAction};
    use crate::disasm::format_duration;
    use crate::{Instr, Plan, Step, Workflow};

    fn quoted(text: &str) -> String {
        serde_json::to_string(text).unwrap_or_default()
    }

    fn step_ref(wf: &Workflow, id: u32) -> String {
        format!("{id} {}", wf.steps.get(id as usize).map_or("?", |s| s.name.as_str()))
    }

    fn store_name(plan: &Plan, id: u32) -> &str {
        plan.stores.get(id as usize).map_or("?", |s| s.name.as_str())
    }

    /// `store N NAME …` and `secret#N NAME …` lines.
    pub fn plan_tables(plan: &Plan, out: &mut String) {
        for (i, store) in plan.stores.iter().enumerate() {
            let _ = write!(out, "store {i} {}", store.name);
            match &store.backend {
                StoreBackend::Local => out.push_str("  local"),
                StoreBackend::Command(c) => {
                    let _ = write!(out, "  command {}", quoted(c));
                }
            }
            if let Some(n) = store.max_entries {
                let _ = write!(out, "  max_entries {n}");
            }
            if let Some(t) = store.ttl_ms {
                let _ = write!(out, "  ttl {}", format_duration(t));
            }
            if let Some(schema) = &store.schema {
                let _ = write!(out, "  schema {schema}");
            }
            out.push('\n');
        }
        for (i, secret) in plan.secrets.iter().enumerate() {
            let _ = writeln!(
                out,
                "secret#{i} {}  {}({}){}",
                secret.name,
                secret.from.keyword(),
                quoted(&secret.arg),
                if secret.redact { "  redacted" } else { "" }
            );
        }
    }

    /// `safety …` and `invariant …` lines of a workflow.
    pub fn workflow_extras(wf: &Workflow, out: &mut String) {
        if let Some(s) = &wf.safety {
            out.push_str("  safety");
            if let Some(n) = s.max_spawned_tasks {
                let _ = write!(out, "  max_spawned_tasks {n}");
            }
            if let Some(n) = s.max_spawn_depth {
                let _ = write!(out, "  max_spawn_depth {n}");
            }
            if let Some(d) = s.spawn_cooldown_ms {
                let _ = write!(out, "  spawn_cooldown {}", format_duration(d));
            }
            out.push('\n');
        }
        for inv in &wf.invariants {
            let _ = write!(out, "  invariant {}  on_violation {}", inv.name, inv.on_violation.keyword());
            if inv.on_violation == ViolationAction::Rollback {
                let _ = write!(out, " then {}", inv.then.keyword());
            }
            if let Some(c) = &inv.check {
                let _ = write!(out, "  check t{}", c.template);
                if let Some(e) = &c.expect {
                    let _ = write!(out, " expect {}", quoted(e));
                }
            }
            if !inv.protect.is_empty() {
                let globs: Vec<String> = inv.protect.iter().map(|g| quoted(g)).collect();
                let _ = write!(out, "  protect [{}]", globs.join(", "));
            }
            if !inv.at.is_empty() {
                let at: Vec<String> = inv.at.iter().map(|s| step_ref(wf, *s)).collect();
                let _ = write!(out, "  at [{}]", at.join(", "));
            }
            out.push('\n');
        }
    }

    /// `for each item`, secret env and gate lines of a step.
    pub fn step_extras(_plan: &Plan, wf: &Workflow, step: &Step, out: &mut String) {
        if step.for_each {
            out.push_str("  for each item\n");
        }
        for e in &step.secret_env {
            let _ = writeln!(out, "  env {} = secret#{}", e.name, e.secret);
        }
        if let Some(g) = &step.gate {
            out.push_str("  gate");
            if !g.fix.is_empty() {
                let fix: Vec<String> = g.fix.iter().map(|s| step_ref(wf, *s)).collect();
                let _ = write!(out, "  fix [{}] retry {}", fix.join(", "), g.fix_retries);
            }
            if let Some(m) = g.on_fail {
                let _ = write!(out, "  on_fail {}", m.keyword());
            }
            if g.skippable {
                out.push_str("  skippable");
            }
            out.push('\n');
        }
    }

    /// The operands of an advanced instruction.
    pub fn operands(plan: &Plan, _wf: &Workflow, instr: &Instr) -> String {
        match instr {
            Instr::ReadStore { store, key, name } => format!("{}.{} as {name}", store_name(plan, *store), quoted(key)),
            Instr::StorePut { store, key, expr } => format!("{}.{} = e{expr}", store_name(plan, *store), quoted(key)),
            Instr::Spawn { workflow, inputs } => match inputs {
                Some(e) => format!("{workflow} e{e}"),
                None => workflow.clone(),
            },
            Instr::SpawnEach { list, workflow, inputs } => match inputs {
                Some(e) => format!("e{list} -> {workflow} e{e}"),
                None => format!("e{list} -> {workflow}"),
            },
            Instr::Items { expr } => format!("e{expr}"),
            Instr::Select(s) => {
                let mut text = s.strategy.keyword().to_string();
                if let Some(m) = &s.metric {
                    let _ = write!(text, " metric {m}");
                }
                if let Some(k) = s.top_k {
                    let _ = write!(text, " top_k {k}");
                }
                if let Some(t) = s.threshold {
                    let _ = write!(text, " threshold {t}");
                }
                if !s.weights.is_empty() {
                    let w: Vec<String> = s.weights.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    let _ = write!(text, " weights {{{}}}", w.join(", "));
                }
                if let Some(t) = s.output_type {
                    let _ = write!(text, " type#{t}");
                }
                text
            }
            Instr::Gate { checks } => {
                let list: Vec<String> = checks
                    .iter()
                    .map(|c| match &c.expect {
                        Some(e) => format!("t{} expect {}", c.template, quoted(e)),
                        None => format!("t{}", c.template),
                    })
                    .collect();
                list.join(", ")
            }
            _ => String::new(),
        }
    }
}
