//! The plan: the compiled form of a workflow, which the runtime executes.
//!
//! This crate owns the plan *format* — plain serde data with a
//! [`FORMAT_VERSION`] — and its disassembly. It is its own crate so that the
//! compiler (which lowers workflows to plans) and the interpreter (which
//! loads and runs them) share it without the compiler pulling in the runtime
//! (tokio, SQLite) or the runtime pulling in the compiler. It never runs
//! anything and never parses `.flow` source; the interpreter's
//! `LoadedPlan::load` validates a plan and compiles its CEL once.
//!
//! # Shape
//!
//! ```text
//! Plan { format_version: 3, entry: "main", workflows: [Workflow…], agents: [Agent…], policies: [Policy…] }
//! Workflow {
//!   name, description?,
//!   inputs:  [{ name, type: Type, default?: JSON }],
//!   outputs: [{ name, expr: ExprId }],          // the run's outputs, and a `call` step's output
//!   defaults: { retry?: Retry, step_timeout_ms?, run_timeout_ms?, concurrency?, budget_usd? },
//!   steps:   [Step…],                           // step.id == its index
//!   groups:  [{ name, kind: parallel|phase, parent?: GroupId, steps: [StepId…] }],
//!   exprs:   ["CEL text", …],                   // ExprId = index
//!   templates: [{ parts: [{ text: "…" } | { hole: { expr: ExprId, shell?: ShellContext } }] }],
//!   types:   [Type…],                           // TypeId = index, used by PARSE_OUTPUT
//!   triggers: [{ on: event, type, subject?, filter?: ExprId } | { on: webhook, provider, entity, action }
//!             | { on: schedule, cron }],
//! }
//! Step {
//!   id, name, kind: run|agent|notify|branch|call|approval|check|wait|human, line,
//!   after: [StepId…], after_groups?: [GroupId…], trigger: all_success|all_failed|all_done|all_skipped|one_success|
//!            one_failed|one_done|none_failed|none_failed_min_one_success|none_skipped|always,
//!   condition?: Condition,                     // see `condition`; decides instead of `trigger`
//!   when?: ExprId, retry?: Retry, timeout_ms?, on_failure: fail|pause|continue,
//!   group?: GroupId, compensate?: { template: TemplateId } | { step: StepId },
//!   env: [{ name, template: TemplateId }],
//!   code: [Instr…],                            // see `instr`
//! }
//! Retry { count, backoff: fixed|exponential, delay_ms, max_ms?, factor?, jitter_pct?,
//!         on?: { exit_codes?: [int…], timeout?: bool }, max_duration_ms? }
//! Agent { name, command, cost_per_call?, env: [{ name, value }] }
//! Policy { name, description?, exprs: [CEL…], templates: [Template…],
//!          rules: [{ effect: deny|require_approval|allow, when: ExprId, because?: TemplateId }] }
//! ```
//!
//! Stores, secrets, spawn limits, invariants, items, selection and quality
//! gates add optional fields (all optional in JSON):
//!
//! ```text
//! Plan     { …, stores: [StoreDef…], secrets: [Secret…] }        // StoreId, SecretId = index
//! Workflow { …, safety?: Safety, invariants: [Invariant…], job?: { parent, group } }   // job: see `Job`
//! Step     { …, for_each: bool, secret_env: [SecretEnv…], gate?: QualityGate }
//! Agent    { …, secret_env: [SecretEnv…] }
//! StoreDef { name, backend: "local" | { "command": CMD }, schema?: JSON Schema, max_entries?, ttl_ms? }
//! Secret   { name, from: env|file, arg, redact }
//! Safety   { max_spawned_tasks?, max_spawn_depth?, spawn_cooldown_ms? }
//! Invariant { name, description?, check?: { template, expect? }, on_violation: abort|warn|rollback,
//!             then: pause|fail, protect: [glob…], at: [StepId…] }
//! QualityGate { fix: [StepId…], fix_retries, on_fail?: pause|fail, skippable }
//! ```
//!
//! # Choices the lowering must follow
//!
//! - **Defaults.** A step without `retry` takes `defaults.retry`; without
//!   `timeout_ms` it takes `defaults.step_timeout_ms` (none: no limit).
//!   `run_timeout_ms` bounds the whole run (wall time from its start).
//!   `concurrency` defaults to [`DEFAULT_CONCURRENCY`]; no `budget_usd`, no limit.
//! - **Groups are lowered to dependencies.** `parallel`/`phase` blocks are
//!   kept in `groups` for display (progress lines, events), for arms that
//!   pick a group and for `after_groups`. The lowering gives every member the
//!   group's own `after` deps, and turns `after GROUP` into a dependency on
//!   every step of the group (nested groups included) with the written rule.
//! - **Branches.** A `branch` step's `BRANCH` instruction lists its arms; an
//!   arm picks a step, which must have the branch in its `after`, or a group,
//!   whose members with the branch in their `after` are the arm's steps (the
//!   lowering gives every member the group's deps). To the picked arm's steps
//!   the branch counts as completed, to the other arms' steps as skipped, to
//!   any other dependent as completed (docs/language.md).
//! - **Groups as dependencies.** `after GROUP` lists every step of the group
//!   in `after` (for ordering) and the group in `after_groups`: the trigger
//!   rule counts the group as one dependency, decided once every member is
//!   terminal — failed if a member failed (not `on_failure continue`) or was
//!   upstream_failed, skipped if every member was skipped, else completed.
//! - **Compensation steps.** A step named by another step's
//!   `compensate: { step }` only runs during compensation: it must have no
//!   deps, and no step may depend on it.
//! - **`with` data** is one CEL expression (a map literal), evaluated by `EVAL`.
//! - **Templates** are pre-split; a hole's `shell` context says where in the
//!   shell syntax of its command it sits, and so how its value is escaped
//!   (set it on every hole of a template run by `sh -c`: `command`,
//!   `compensate`, gate and invariant `check`s). The compiler's shell lexer
//!   computes it; contexts it cannot make safe never reach a plan.
//! - **Durations** are integer milliseconds; money is USD as a float.
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
//! - **People and events** (`policy`, `trigger`, and the `APPROVAL`, `HUMAN`
//!   and `WAIT` instructions): a step that waits on a person or the
//!   outside world ends its code with `APPROVAL`, `HUMAN` or `WAIT` just
//!   before `END` (a `check` step: `CHECK_POLICY`, then an `APPROVAL` marked
//!   `implicit` that only blocks when the policy required approval). The
//!   step's `timeout` is how long it may stay blocked. Holes of a `wait`
//!   step's type and subject templates are `glob`-escaped, so a rendered
//!   value matches only itself. Policies have their own `exprs` and
//!   `templates` tables (over `input`); trigger filters live in the
//!   workflow's `exprs` (over `event`).

#![deny(missing_docs)]

pub mod cel_functions;
pub mod directory;
pub mod disasm;
pub mod graph;
pub mod instr;
pub mod invariant;
pub mod policy;
pub mod quality_gate;
pub mod retry;
pub mod secret;
pub mod select;
pub mod spawn;
pub mod store;
pub mod table;
pub mod trigger;
pub mod condition;
pub mod types;

use serde::{Deserialize, Serialize};

pub use instr::{Arm, ArmTarget, Instr, OutputMode, Reg, TimerDue};
pub use instr::{instr_uses, is_post_action};
pub use invariant::{fnv1a_hex, invariants_hash, template_text, FailMode, Invariant, InvariantCheck, ViolationAction};
pub use policy::{Policy, PolicyEffect, PolicyRule};
pub use retry::{jitter_seed, Backoff, Failure, Retry, RetryOn, Stop, Verdict, DEFAULT_FACTOR};
pub use quality_gate::{GateCheck, QualityGate};
pub use secret::{Secret, SecretEnv, SecretFrom, SecretId};
pub use select::{Select, Strategy};
pub use spawn::Safety;
pub use store::{StoreBackend, StoreDef, StoreId};
pub use condition::{Condition, DepRef, Outcome};
pub use trigger::{Catchup, SignatureScheme, Trigger, WebhookSignature, STRIPE_DEFAULT_TOLERANCE_S};
pub use table::{Part, Template};
pub use types::Type;

/// The plan format this build reads and writes. A plan with another number
/// is refused with a message naming both.
/// 2: a hole's `shell` is its quoting context, no longer a flag.
/// 3: every Airflow trigger rule, outcome conditions, literal items and
/// matrices (`for_each_in`), template `params`, retry `on`/`factor`/jitter/
/// `max_duration`, `skip_on_exit`, branch arms with several targets, the
/// `finally` group, `fail_fast` on groups, the `TIMER` instruction: a plan
/// that uses any of them means something else to (or cannot be read by) a
/// flowc of format 2.
/// 4: a workflow may be the job of a `for each item` group (`job`), run as
/// a child run per item with inputs `{inputs, item, index, outer}`.
pub const FORMAT_VERSION: u32 = 4;

/// The oldest plan format this build still reads: formats 3 and 4 only added
/// fields and variants with defaults, so a plan of format 2 (a version
/// published before, kept in the state database) means what it meant.
pub const OLDEST_READABLE_FORMAT: u32 = 2;

/// Whether this build reads plans of format `v`.
pub fn reads_format(v: u64) -> bool {
    (u64::from(OLDEST_READABLE_FORMAT)..=u64::from(FORMAT_VERSION)).contains(&v)
}

/// The refusal of a plan of format `v`, naming what this build reads.
pub fn format_refusal(v: u64) -> String {
    format!(
        "the plan has format_version {v}, but this flowc reads format_version {OLDEST_READABLE_FORMAT} to {FORMAT_VERSION}; \
         rebuild the plan with this flowc"
    )
}

/// Steps running at once when a workflow says nothing (Airflow's default).
pub const DEFAULT_CONCURRENCY: u32 = 16;

/// A step's index in its workflow's `steps` (`step.id` is its index).
pub type StepId = u32;
/// An expression's index in its workflow's (or policy's) `exprs`.
pub type ExprId = u32;
/// A template's index in its workflow's (or policy's) `templates`.
pub type TemplateId = u32;
/// A type's index in its workflow's `types` (`PARSE_OUTPUT`, `HUMAN`).
pub type TypeId = u32;
/// A group's index in its workflow's `groups`.
pub type GroupId = u32;
/// An agent's index in the plan's `agents`.
pub type AgentId = u32;
/// A policy's index in the plan's `policies`.
pub type PolicyId = u32;

/// One or more workflows: the entry workflow and every workflow it `call`s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Must be [`FORMAT_VERSION`]; checked before anything else is read.
    pub format_version: u32,
    /// The workflow `run` starts.
    pub entry: String,
    /// The entry workflow and every workflow it calls or spawns, each once.
    pub workflows: Vec<Workflow>,
    /// The agents the plan's steps run (`AgentId` = index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<Agent>,
    /// Governance policies the plan's `check` steps evaluate (`CHECK_POLICY`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Policy>,
    /// Persistent stores the steps read and write (`StoreId` = index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<StoreDef>,
    /// Where secrets come from (`SecretId` = index); never their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
}

/// An agent: a command that answers prompts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The agent's name, as `agent NAME` steps name it.
    pub name: String,
    /// Run through `sh -c`; the prompt arrives on stdin and in `FLOW_PROMPT`.
    pub command: String,
    /// Charged per call unless the agent's output reports `cost_usd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_call: Option<f64>,
    /// Constant environment variables of the agent's process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<AgentEnv>,
    /// Environment variables holding secrets, resolved when a step runs the agent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<SecretEnv>,
}

/// One constant environment variable of an agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEnv {
    /// The environment variable's name in the agent's process.
    pub name: String,
    /// Its value: the literal text, or a number's or boolean's JSON text.
    pub value: String,
}

/// One workflow: its inputs, outputs, defaults, steps and the tables they index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// The workflow's name, unique within the plan (`entry`, `CALL`, `SPAWN` name it).
    pub name: String,
    /// `description "text"`, shown by tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The run's inputs, in declaration order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputDecl>,
    /// The run's outputs, evaluated when the run completes (also a `call` step's output).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputDecl>,
    /// Defaults for steps and limits for the run.
    #[serde(default)]
    pub defaults: Defaults,
    /// The steps; `steps[i].id == i`.
    pub steps: Vec<Step>,
    /// `parallel` and `phase` groups, for display, arms and `after_groups` (`GroupId` = index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// CEL expression texts (`ExprId` = index), compiled once when the plan loads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exprs: Vec<String>,
    /// Templates (`TemplateId` = index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<Template>,
    /// Output types of `PARSE_OUTPUT` and `HUMAN` (`TypeId` = index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<Type>,
    /// `on event|webhook|schedule`: what starts runs of this workflow (`flowc serve`,
    /// `flowc event send`). Not part of a run's execution.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// Spawn limits, enforced when a step spawns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<Safety>,
    /// Checked after steps; pinned when a run starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<Invariant>,
    /// Set when this workflow is the job of a `for each item` group: the
    /// members of group `group` of workflow `parent`, which its `call` step
    /// runs once per item. See [`Job`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
}

/// What makes a workflow the job of a `for each item` group
/// (docs/language.md, "A job per item").
///
/// The parent's step named after the group is a `call` of this workflow
/// `for each item`, whose inputs are not the job's declared inputs but one
/// object: `inputs` (the parent run's inputs, already validated), `item`
/// and `index` (the item and its position), and `outer` (the view, as
/// expressions see a step, of every parent step the members read). The
/// job's run binds `inputs` and `item` from it, and resolves a name that is
/// none of its steps in `outer`. Its `inputs` list repeats the parent's, for
/// display only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The workflow whose group this is.
    pub parent: String,
    /// The group's name, which is also the name of the parent's step.
    pub group: String,
}

/// The plan name of the job of group `group` of workflow `workflow`: a
/// name no workflow can have (a `.` is no identifier character).
pub fn job_workflow_name(workflow: &str, group: &str) -> String {
    format!("{workflow}.{group}")
}

/// A run input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDecl {
    /// The input's name (`input.NAME` in expressions).
    pub name: String,
    /// The input's type; a run's value is validated against it.
    #[serde(rename = "type")]
    pub ty: Type,
    /// Absent: the input is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// A run output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputDecl {
    /// The output's name, a key of the outputs object.
    pub name: String,
    /// The expression computing it, evaluated when the run completes.
    pub expr: ExprId,
}

/// A workflow's defaults for its steps, and its run's limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// The retry policy of a step without its own `retry`; `None`: no retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// The time limit of a step without its own `timeout`, in ms; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_timeout_ms: Option<u64>,
    /// The whole run's time limit from its start, in ms; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_timeout_ms: Option<u64>,
    /// Steps (and `for each` instances) running at once; `None`: [`DEFAULT_CONCURRENCY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// The run fails once its accumulated cost exceeds this many USD; `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    /// `on_failure compensate`: a run that fails runs its steps'
    /// compensations at once, newest first, and ends `compensated`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compensate_on_failure: bool,
}

/// One step: its dependencies, policies and code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The step's index in its workflow's `steps`.
    pub id: StepId,
    /// The step's name, unique within its workflow.
    pub name: String,
    /// What the step is, for people; behaviour comes from `code`.
    pub kind: StepKind,
    /// The source line of the step header (0: unknown).
    #[serde(default)]
    pub line: u32,
    /// The steps this one waits for, by the trigger rule (group members included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<StepId>,
    /// Groups this step depends on as a whole: each counts as one dependency
    /// of the trigger rule, with the group's outcome ([`Workflow::group_members`]
    /// are all in `after` too, so the order of steps needs no groups).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_groups: Vec<GroupId>,
    /// When the step runs, given its dependencies' outcomes.
    #[serde(default)]
    pub trigger: TriggerRule,
    /// An outcome condition (`after a, failed(b)`), which decides instead
    /// of `trigger` (then `all_success`, unused).
    // Boxed, like `retry` and `gate`: most steps have none, and a plan of
    // 100,000 steps holds 100,000 of these structs (424 bytes each unboxed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Box<Condition>>,
    /// A condition that skips the step when false; evaluated once its dependencies are done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<ExprId>,
    /// A step that uses a template with parameters: the arguments, a CEL map
    /// of every parameter (defaults filled in), evaluated in the step's scope
    /// whenever the step's expressions are and bound as `params`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<ExprId>,
    /// The step's retry policy; `None`: the workflow's `defaults.retry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Box<Retry>>,
    /// The step's time limit in ms; `None`: the workflow's `defaults.step_timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// What a failure does once the retries are spent.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// `fail_fast` (a `for each item` step): the first failed item cancels
    /// the running ones and the rest never start; without it every item runs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_fast: bool,
    /// `compensate_on_failure`: its `compensate` runs during compensation
    /// when the step itself failed, too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compensate_on_failure: bool,
    /// Exit codes that end the step `skipped` instead of failed (never
    /// retried; dependents see it skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_on_exit: Vec<i32>,
    /// The innermost group the step belongs to; `None`: top level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupId>,
    /// What undoes the step during compensation; `None`: nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensate: Option<Compensate>,
    /// Extra environment variables for the step's processes; the templates are
    /// rendered without shell quoting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvBinding>,
    /// The instructions, run top to bottom once per attempt, ending with `END`.
    pub code: Vec<Instr>,
    /// `for each item`: the code before the post actions runs once per item
    /// of the current item list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub for_each: bool,
    /// `for each item in [..]` / `in matrix { … }`: the items, written out
    /// (a matrix expanded when the plan was built); `None`: the run's item
    /// list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each_in: Option<Vec<serde_json::Value>>,
    /// Environment variables holding secrets, resolved when the step starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<SecretEnv>,
    /// A gate's failure policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Box<QualityGate>>,
}

/// What a step is, for people: progress, logs, disassembly. Behaviour comes
/// from the step's instructions alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Runs a shell command (`EXEC`).
    Run,
    /// Runs an agent on a prompt (`AGENT`).
    Agent,
    /// Sends a message (`NOTIFY`).
    Notify,
    /// Picks an arm (`BRANCH`).
    Branch,
    /// Runs another workflow as a child run (`CALL`).
    Call,
    /// Waits for an approval (`APPROVAL`).
    Approval,
    /// Evaluates a policy (`CHECK_POLICY`, then an implicit `APPROVAL`).
    Check,
    /// Waits for an inbound event (`WAIT`).
    Wait,
    /// Waits for a due time (`TIMER`).
    Timer,
    /// Waits for a person to complete a task (`HUMAN`).
    Human,
    /// Keeps the best items of the item list (`SELECT`).
    Select,
    /// Runs quality checks (`GATE`).
    Gate,
}

impl StepKind {
    /// The kind as `.flow` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            StepKind::Run => "run",
            StepKind::Agent => "agent",
            StepKind::Notify => "notify",
            StepKind::Branch => "branch",
            StepKind::Call => "call",
            StepKind::Approval => "approval",
            StepKind::Check => "check",
            StepKind::Wait => "wait",
            StepKind::Timer => "timer",
            StepKind::Human => "human",
            StepKind::Select => "select",
            StepKind::Gate => "gate",
        }
    }
}

/// When a step with dependencies runs (docs/language.md, "Dependencies and
/// trigger rules"): Airflow's rules. A group named as a dependency counts
/// as one dependency, with one outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerRule {
    /// Every dependency succeeded (the default).
    #[default]
    AllSuccess,
    /// Every dependency failed or was upstream_failed.
    AllFailed,
    /// Every dependency is terminal, whatever its status.
    AllDone,
    /// Every dependency was skipped.
    AllSkipped,
    /// At least one dependency succeeded; the step may start as soon as one does.
    OneSuccess,
    /// At least one dependency failed or was upstream_failed; the step may
    /// start as soon as one did.
    OneFailed,
    /// At least one dependency succeeded or failed; the step may start as
    /// soon as one did.
    OneDone,
    /// Every dependency succeeded or was skipped.
    NoneFailed,
    /// Every dependency succeeded or was skipped, and one succeeded.
    NoneFailedMinOneSuccess,
    /// Every dependency is terminal and none was skipped.
    NoneSkipped,
    /// At once: the dependencies hold nothing back.
    Always,
}

impl TriggerRule {
    /// The rule as `.flow` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            TriggerRule::AllSuccess => "all_success",
            TriggerRule::AllFailed => "all_failed",
            TriggerRule::AllDone => "all_done",
            TriggerRule::AllSkipped => "all_skipped",
            TriggerRule::OneSuccess => "one_success",
            TriggerRule::OneFailed => "one_failed",
            TriggerRule::OneDone => "one_done",
            TriggerRule::NoneFailed => "none_failed",
            TriggerRule::NoneFailedMinOneSuccess => "none_failed_min_one_success",
            TriggerRule::NoneSkipped => "none_skipped",
            TriggerRule::Always => "always",
        }
    }
}

/// What a step's failure does once its retries are spent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Fail the step (the default).
    #[default]
    Fail,
    /// Pause the run for a person.
    Pause,
    /// Record the failure and let downstream trigger rules decide.
    Continue,
}

impl OnFailure {
    /// The mode as `.flow` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            OnFailure::Fail => "fail",
            OnFailure::Pause => "pause",
            OnFailure::Continue => "continue",
        }
    }
}

/// What undoes a step during compensation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Compensate {
    /// `compensate "cmd"`: a command template (holes shell-quoted).
    Template(TemplateId),
    /// `compensate STEP`: run that step's instructions.
    Step(StepId),
}

/// An environment variable of a step, rendered from a template when the step starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvBinding {
    /// The environment variable's name in the step's processes.
    pub name: String,
    /// The template rendering its value, without shell quoting.
    pub template: TemplateId,
}

/// A `parallel` or `phase` group of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name, unique within its workflow among steps and groups.
    pub name: String,
    /// `parallel` or `phase`.
    pub kind: GroupKind,
    /// The enclosing group; `None`: top level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<GroupId>,
    /// The steps directly in the group (not those of nested groups).
    pub steps: Vec<StepId>,
    /// `fail_fast`: the first member (nested groups included) that fails
    /// for good, without `on_failure continue`, cancels the running
    /// members and skips those not started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fail_fast: bool,
}

impl Workflow {
    /// The exit handler's group (`finally { … }`), if the workflow has one.
    pub fn finally_group(&self) -> Option<GroupId> {
        self.groups.iter().position(|g| g.kind == GroupKind::Finally).map(|g| g as GroupId)
    }

    /// Per step: it is a step of the exit handler (`finally { … }`).
    pub fn finally_steps(&self) -> Vec<bool> {
        let mut out = vec![false; self.steps.len()];
        if let Some(g) = self.finally_group() {
            for s in self.group_members(g) {
                if let Some(x) = out.get_mut(s as usize) {
                    *x = true;
                }
            }
        }
        out
    }

    /// Every step of group `g`, nested groups included, in id order. Groups
    /// whose parent chain is broken or cyclic count only their own steps.
    pub fn group_members(&self, g: GroupId) -> Vec<StepId> {
        let mut out: Vec<StepId> = self
            .steps
            .iter()
            .filter(|s| {
                let mut at = s.group;
                // Bounded walk: a plan is untrusted until loaded.
                for _ in 0..=self.groups.len() {
                    match at {
                        Some(x) if x == g => return true,
                        Some(x) => at = self.groups.get(x as usize).and_then(|gr| gr.parent),
                        None => return false,
                    }
                }
                false
            })
            .map(|s| s.id)
            .collect();
        out.sort_unstable();
        out
    }

    /// The steps an arm of branch `branch` picks: its step, or the members
    /// of its group that run after the branch (the others follow them).
    pub fn arm_steps(&self, branch: StepId, arm: &Arm) -> Vec<StepId> {
        let mut out = Vec::new();
        for t in arm.picks_all().unwrap_or_default() {
            let steps = match t {
                ArmTarget::Step(s) => vec![s],
                ArmTarget::Group(g) => self
                    .group_members(g)
                    .into_iter()
                    .filter(|m| self.steps.get(*m as usize).is_some_and(|s| s.after.contains(&branch)))
                    .collect(),
            };
            for s in steps {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// The name of what an arm picks first (a step's or a group's): the
    /// branch's `picked` output.
    pub fn arm_name(&self, arm: &Arm) -> &str {
        arm.picks().map_or("?", |t| self.target_name(t))
    }

    /// The names of everything an arm picks, `a, b`.
    pub fn arm_names(&self, arm: &Arm) -> String {
        let names: Vec<&str> = arm.picks_all().unwrap_or_default().into_iter().map(|t| self.target_name(t)).collect();
        if names.is_empty() { "?".to_string() } else { names.join(", ") }
    }

    /// The name of a step or group an arm picks.
    pub fn target_name(&self, t: ArmTarget) -> &str {
        match t {
            ArmTarget::Step(s) => self.steps.get(s as usize).map_or("?", |s| s.name.as_str()),
            ArmTarget::Group(g) => self.groups.get(g as usize).map_or("?", |g| g.name.as_str()),
        }
    }
}

/// The kinds of group: `parallel` and `phase` differ only in how tools show
/// them; `finally` is the exit handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    /// `parallel`: the members start together.
    Parallel,
    /// `phase`: a named stage, shown in progress output and logs.
    Phase,
    /// `finally`: the workflow's exit handler, at most one, at the top level.
    /// Its steps (nested groups' included) are not part of the run's graph:
    /// they start once every other step has ended, however it ended (the
    /// runner records `finally_started` with that status), and depend only
    /// on each other. The loader refuses a second one, a nested one, and a
    /// dependency or arm across its boundary.
    Finally,
}

impl GroupKind {
    /// The kind as `.flow` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            GroupKind::Parallel => "parallel",
            GroupKind::Phase => "phase",
            GroupKind::Finally => "finally",
        }
    }
}

impl Plan {
    /// Parses a serialised plan. The format version is checked before the
    /// rest, so a plan from another flowc gets that message rather than a
    /// field error.
    pub fn from_json(text: &str) -> Result<Plan, PlanError> {
        // Only the version first (serde skips the rest cheaply), so a plan
        // from another flowc gets that message rather than a field error.
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<serde_json::Value>,
        }
        let version: Version =
            serde_json::from_str(text).map_err(|e| PlanError::new(format!("the plan is not valid JSON: {e}")))?;
        match version.format_version.as_ref().and_then(|v| v.as_u64()) {
            Some(v) if reads_format(v) => {}
            Some(v) => return Err(PlanError::new(format_refusal(v))),
            None => return Err(PlanError::new("the plan has no numeric `format_version` field")),
        }
        serde_json::from_str(text).map_err(|e| PlanError::new(format!("the plan is malformed: {e}")))
    }

    /// Compact JSON, as stored with each run.
    ///
    /// Written twice: once to count its bytes, once into a buffer of exactly
    /// that size. A buffer grown by doubling would peak at twice the text
    /// (34 MB for the 15 MB plan of a 100,000-step run) at the moment the
    /// run holds the most memory; counting costs a few milliseconds.
    pub fn to_json_compact(&self) -> String {
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0 += buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut count = Count(0);
        serde_json::to_writer(&mut count, self).expect("a plan always serialises");
        let mut out = Vec::with_capacity(count.0);
        serde_json::to_writer(&mut out, self).expect("a plan always serialises");
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Pretty-printed JSON, for people and golden tests.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a plan always serialises")
    }

    /// The workflow named `name`, if the plan holds one.
    pub fn workflow(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == name)
    }
}

/// A plan that cannot be read or run, with a message saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// Why the plan cannot be read or run, as one sentence for people.
    pub message: String,
}

impl PlanError {
    /// A plan error with that message.
    pub fn new(message: impl Into<String>) -> Self {
        PlanError { message: message.into() }
    }
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PlanError {}
