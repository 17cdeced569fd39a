//! The instruction set: what a step does, in order.
//!
//! A step's `code` is a short list executed top to bottom once per attempt.
//! Instructions communicate through named registers (`%cmd`, `%prompt`):
//! `RENDER` and `EVAL` write one, the others read. Registers live for one
//! attempt. The step's *output* is a separate slot, set by `PARSE_OUTPUT`,
//! `NOTIFY`, `BRANCH` or `CALL`; a step that sets none has output `null`.
//!
//! | op | operands | does |
//! |---|---|---|
//! | `RENDER` | `template`, `dst` | renders a template (holes evaluated, shell-quoted where flagged) into a string register |
//! | `EVAL` | `expr`, `dst` | evaluates a CEL expression into a value register (e.g. `with` data) |
//! | `EXEC` | `cmd` | runs the string in `cmd` through `sh -c` in the project dir, in its own process group; captures stdout/stderr; a non-zero exit fails the attempt |
//! | `AGENT` | `agent`, `prompt` | runs the agent's command with the prompt on stdin and in `FLOW_PROMPT`; charges its cost |
//! | `PARSE_OUTPUT` | `mode`, `type?` | turns the last captured stdout into the output: `text`, `json` (must parse; validated against `type` when given) or `auto` (JSON when it parses, else the text) |
//! | `NOTIFY` | `channel?`, `message` | sends the message to the notify sink; never fails the step |
//! | `BRANCH` | `arms` | picks the first arm whose `when` is true (an arm without `when` is `else`); output `{"picked": NAME\|null}` |
//! | `CALL` | `workflow`, `inputs?` | runs another workflow of the plan as a child run; its outputs object is the output; a failed child fails the step |
//! | `END` | | the last instruction of every step |
//! | `CHECK_POLICY` | `policy`, `input` | evaluates a policy with `input` (a value register) bound to `input`: deny fails the step (no retry) with the rule's reason; require_approval arms the `implicit` `APPROVAL` that follows; allow passes. Output `{"policy", "decision", "reason"?}` |
//! | `APPROVAL` | `message?`, `approvers`, `distinct_from_initiator`, `implicit` | blocks the step until `flowc approve` (output `{"approved": true, "by", "comment", "at"}`, merged into a check's output as `approval`) or `flowc reject` (the step fails); `implicit` approvals block only when the preceding `CHECK_POLICY` required approval |
//! | `HUMAN` | `message?`, `type?`, `approvers` | blocks until `flowc complete RUN STEP --output JSON`; that JSON, validated against `type`, is the output |
//! | `WAIT` | `event`, `subject?` | blocks until an inbound event whose type matches the glob in `event` (and whose subject matches `subject`) arrives after the run started; the event (CloudEvents JSON) is the output |
//! | `READ_STORE` | `store`, `key`, `name` | reads a store value before the step's work and binds it as `name` for the expressions after it (`null` when the key is absent or expired) |
//! | `STORE_PUT` | `store`, `key`, `expr` | post action: evaluates `expr` (`output` bound), validates it against the store's schema and writes it |
//! | `SPAWN` | `workflow`, `inputs?` | post action: starts a child run that outlives the step; safety limits apply |
//! | `SPAWN_EACH` | `list`, `workflow`, `inputs?` | post action: one child run per element of `list` (`item` bound in `inputs`), all or none |
//! | `ITEMS` | `expr` | post action: the list becomes the item list of the steps downstream |
//! | `SELECT` | `strategy`, `metric?`, `top_k?`, `threshold?`, `weights` | keeps the best items of the current item list; the kept items are the output and the new item list |
//! | `GATE` | `checks` | runs every check (a command, and the stdout it must print); fails unless all pass |
//!
//! The blocking instructions (`APPROVAL`, `HUMAN`, `WAIT`) end a step's work:
//! what resolves them decides the step's outcome, so a blocked step never
//! executes work instructions after it is resolved (the compiler refuses post
//! actions on such steps). A blocked step's `timeout` bounds how long it may
//! stay blocked.

use serde::{Deserialize, Serialize};

use crate::quality_gate::GateCheck;
use crate::select::Select;
use crate::store::StoreId;
use super::{AgentId, ExprId, PolicyId, StepId, TemplateId, TypeId};

/// A register name, written without the `%` in JSON and with it in the disassembly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reg(pub String);

impl std::fmt::Display for Reg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// One instruction of a step's code; the module doc's table says what each does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum Instr {
    /// `RENDER`: renders a template into a string register.
    Render {
        /// The workflow template rendered.
        template: TemplateId,
        /// The register receiving the text.
        dst: Reg,
    },
    /// `EVAL`: evaluates a CEL expression into a value register.
    Eval {
        /// The workflow expression evaluated.
        expr: ExprId,
        /// The register receiving the value.
        dst: Reg,
    },
    /// `EXEC`: runs a command through `sh -c`; a non-zero exit fails the attempt.
    Exec {
        /// The register holding the command text.
        cmd: Reg,
    },
    /// `AGENT`: runs an agent's command with a prompt on stdin and in `FLOW_PROMPT`.
    Agent {
        /// The agent, an index into the plan's `agents`.
        agent: AgentId,
        /// The register holding the rendered prompt.
        prompt: Reg,
    },
    /// `PARSE_OUTPUT`: turns the last captured stdout into the step's output.
    ParseOutput {
        /// Text, JSON, or JSON when it parses.
        mode: OutputMode,
        /// The type the output is validated against, an index into the workflow's `types`.
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        ty: Option<TypeId>,
    },
    /// `NOTIFY`: sends a message to the notify sink; never fails the step.
    Notify {
        /// The register holding the rendered channel; `None`: no channel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<Reg>,
        /// The register holding the rendered message.
        message: Reg,
    },
    /// `BRANCH`: picks the first arm whose condition holds.
    Branch {
        /// The arms, in source order; an `else` arm has no condition.
        arms: Vec<Arm>,
    },
    /// `CALL`: runs another workflow of the plan as a child run; its outputs are the step's output.
    Call {
        /// The called workflow's name in the plan.
        workflow: String,
        /// The value register holding the child's inputs object; `None`: no inputs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inputs: Option<Reg>,
    },
    /// `END`: the last instruction of every step.
    End,
    /// `CHECK_POLICY`: evaluates a policy; deny fails the step, require_approval arms the next `APPROVAL`.
    CheckPolicy {
        /// The policy, an index into the plan's `policies`.
        policy: PolicyId,
        /// The value register bound to the policy's `input`.
        input: Reg,
    },
    /// `APPROVAL`: blocks the step until it is approved or rejected.
    Approval {
        /// The register holding the rendered question; `None`: no message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<Reg>,
        /// Who may approve; anyone when empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        approvers: Vec<String>,
        /// Whoever started the run may not approve it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        distinct_from_initiator: bool,
        /// Inserted by a policy's `require_approval`: blocks only when the
        /// preceding `CHECK_POLICY` asked for it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        implicit: bool,
    },
    /// `HUMAN`: blocks until a person completes the task with an output.
    Human {
        /// The register holding the rendered task; `None`: no message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<Reg>,
        /// The type the completing output is validated against (the workflow's `types`).
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        ty: Option<TypeId>,
        /// Who may complete the task; anyone when empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        approvers: Vec<String>,
    },
    /// `WAIT`: blocks until a matching inbound event arrives; the event is the output.
    Wait {
        /// The register holding the event type glob.
        event: Reg,
        /// The register holding the subject glob; `None`: any subject.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<Reg>,
    },
    /// `TIMER`: blocks until a due time, computed when the instruction runs
    /// and recorded (`timer_started`); the step completes then.
    Timer {
        /// How the due time is found.
        due: TimerDue,
    },
    /// `READ_STORE`: reads a store value and binds it for the expressions after it.
    ReadStore {
        /// The store, an index into the plan's `stores`.
        store: StoreId,
        /// The key within the store.
        key: String,
        /// The name the later expressions see the value by (`null` when absent or expired).
        name: String,
    },
    /// `STORE_PUT` (post action): evaluates a value and writes it to a store.
    StorePut {
        /// The store, an index into the plan's `stores`.
        store: StoreId,
        /// The key within the store.
        key: String,
        /// The value, evaluated with `output` bound; validated against the store's schema.
        expr: ExprId,
    },
    /// `SPAWN` (post action): starts a child run that outlives the step.
    Spawn {
        /// The spawned workflow's name in the plan.
        workflow: String,
        /// The child's inputs, evaluated with `output` bound; `None`: no inputs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inputs: Option<ExprId>,
    },
    /// `SPAWN_EACH` (post action): one child run per element of a list, all or none.
    SpawnEach {
        /// The list, evaluated with `output` bound.
        list: ExprId,
        /// The spawned workflow's name in the plan.
        workflow: String,
        /// The children's inputs, with `item` bound to each element; `None`: no inputs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inputs: Option<ExprId>,
    },
    /// `ITEMS` (post action): the list becomes the item list of the steps downstream.
    Items {
        /// The list, evaluated with `output` bound.
        expr: ExprId,
    },
    /// `SELECT`: keeps the best items of the current item list.
    Select(Select),
    /// `GATE`: runs every check; fails unless all pass.
    Gate {
        /// The checks, run in order.
        checks: Vec<GateCheck>,
    },
}

impl Instr {
    /// The instruction's name as the JSON `op` and the disassembly write it (`RENDER`).
    pub fn opcode(&self) -> &'static str {
        match self {
            Instr::Render { .. } => "RENDER",
            Instr::Eval { .. } => "EVAL",
            Instr::Exec { .. } => "EXEC",
            Instr::Agent { .. } => "AGENT",
            Instr::ParseOutput { .. } => "PARSE_OUTPUT",
            Instr::Notify { .. } => "NOTIFY",
            Instr::Branch { .. } => "BRANCH",
            Instr::Call { .. } => "CALL",
            Instr::End => "END",
            Instr::CheckPolicy { .. } => "CHECK_POLICY",
            Instr::Approval { .. } => "APPROVAL",
            Instr::Human { .. } => "HUMAN",
            Instr::Wait { .. } => "WAIT",
            Instr::Timer { .. } => "TIMER",
            Instr::ReadStore { .. } => "READ_STORE",
            Instr::StorePut { .. } => "STORE_PUT",
            Instr::Spawn { .. } => "SPAWN",
            Instr::SpawnEach { .. } => "SPAWN_EACH",
            Instr::Items { .. } => "ITEMS",
            Instr::Select(_) => "SELECT",
            Instr::Gate { .. } => "GATE",
        }
    }

    /// The register this instruction writes, if any.
    pub fn writes(&self) -> Option<&Reg> {
        match self {
            Instr::Render { dst, .. } | Instr::Eval { dst, .. } => Some(dst),
            _ => None,
        }
    }

    /// The registers this instruction reads.
    pub fn reads(&self) -> Vec<&Reg> {
        match self {
            Instr::Exec { cmd } => vec![cmd],
            Instr::Agent { prompt, .. } => vec![prompt],
            Instr::Notify { channel, message } => channel.iter().chain(std::iter::once(message)).collect(),
            Instr::Call { inputs, .. } => inputs.iter().collect(),
            Instr::CheckPolicy { input, .. } => vec![input],
            Instr::Approval { message, .. } | Instr::Human { message, .. } => message.iter().collect(),
            Instr::Wait { event, subject } => std::iter::once(event).chain(subject.iter()).collect(),
            Instr::Timer { due: TimerDue::ForReg(r) | TimerDue::UntilReg(r) } => vec![r],
            _ => Vec::new(),
        }
    }

    /// Whether the instruction waits on something outside the interpreter (a
    /// process or a child run). Steps holding one take a `concurrency` slot.
    pub fn is_external(&self) -> bool {
        matches!(self, Instr::Exec { .. } | Instr::Agent { .. } | Instr::Call { .. } | Instr::Gate { .. })
    }

    /// Whether the instruction may leave the step `blocked` on a person or an
    /// event. It must be the step's last instruction before `END`.
    pub fn is_blocking(&self) -> bool {
        matches!(self, Instr::Approval { .. } | Instr::Human { .. } | Instr::Wait { .. } | Instr::Timer { .. })
    }
}

/// When a `TIMER` is due: after a duration, or at a time; written out, or in
/// a register an `EVAL` filled (a duration's text or a number of seconds;
/// a timestamp's RFC 3339 text).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerDue {
    /// `for 10m`: milliseconds from the start.
    For(u64),
    /// `until "2026-12-24T09:00:00Z"`: the RFC 3339 text, checked at compile time.
    Until(String),
    /// ``for `EXPR` ``.
    ForReg(Reg),
    /// ``until `EXPR` ``.
    UntilReg(Reg),
}

/// How `PARSE_OUTPUT` turns captured stdout into the step's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputMode {
    /// The text as a string.
    Text,
    /// JSON, which must parse.
    Json,
    /// JSON when it parses, else the text.
    Auto,
}

impl OutputMode {
    /// The mode as the disassembly writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            OutputMode::Text => "text",
            OutputMode::Json => "json",
            OutputMode::Auto => "auto",
        }
    }
}

/// One arm of a `branch`: `when` absent means `else`. An arm picks a step
/// (`target`) or a group (`group`): exactly one of the two; and then
/// whatever `also` lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// The arm's condition; `None`: the `else` arm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<ExprId>,
    /// The step the arm picks, when it picks a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<StepId>,
    /// The group the arm picks, when it picks a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<crate::GroupId>,
    /// What else the arm picks with the first (`-> a, b`), in source order;
    /// each names exactly one of a step and a group, as the first does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<ArmPick>,
}

/// One more step or group an arm picks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmPick {
    /// The step, when it picks a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<StepId>,
    /// The group, when it picks a group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<crate::GroupId>,
}

impl ArmPick {
    fn of(t: ArmTarget) -> ArmPick {
        match t {
            ArmTarget::Step(s) => ArmPick { target: Some(s), group: None },
            ArmTarget::Group(g) => ArmPick { target: None, group: Some(g) },
        }
    }

    fn picks(&self) -> Option<ArmTarget> {
        match (self.target, self.group) {
            (Some(s), None) => Some(ArmTarget::Step(s)),
            (None, Some(g)) => Some(ArmTarget::Group(g)),
            _ => None,
        }
    }
}

/// What an arm picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArmTarget {
    /// That step alone.
    Step(StepId),
    /// Every member of the group that runs after the branch.
    Group(crate::GroupId),
}

impl Arm {
    /// An arm that picks a step.
    pub fn step(when: Option<ExprId>, target: StepId) -> Self {
        Arm { when, target: Some(target), group: None, also: Vec::new() }
    }

    /// An arm that picks a group.
    pub fn group(when: Option<ExprId>, group: crate::GroupId) -> Self {
        Arm { when, target: None, group: Some(group), also: Vec::new() }
    }

    /// An arm that picks `targets`, in order; `None` when there are none.
    pub fn picking(when: Option<ExprId>, targets: &[ArmTarget]) -> Option<Self> {
        let (first, rest) = targets.split_first()?;
        let ArmPick { target, group } = ArmPick::of(*first);
        Some(Arm { when, target, group, also: rest.iter().map(|t| ArmPick::of(*t)).collect() })
    }

    /// The arm's first target; `None` for a malformed arm (both or neither
    /// set), which the plan loader rejects.
    pub fn picks(&self) -> Option<ArmTarget> {
        match (self.target, self.group) {
            (Some(s), None) => Some(ArmTarget::Step(s)),
            (None, Some(g)) => Some(ArmTarget::Group(g)),
            _ => None,
        }
    }

    /// Every target, the first included, in source order; `None` when one
    /// is malformed.
    pub fn picks_all(&self) -> Option<Vec<ArmTarget>> {
        std::iter::once(self.picks()).chain(self.also.iter().map(ArmPick::picks)).collect()
    }
}

/// The expressions and templates a store, spawn, items or gate instruction uses (for the
/// loader's reference analysis and the disassembly).
pub fn instr_uses(instr: &crate::Instr) -> (Vec<ExprId>, Vec<TemplateId>) {
    use crate::Instr;
    match instr {
        Instr::StorePut { expr, .. } | Instr::Items { expr } => (vec![*expr], vec![]),
        Instr::Spawn { inputs, .. } => (inputs.iter().copied().collect(), vec![]),
        Instr::SpawnEach { list, inputs, .. } => (std::iter::once(*list).chain(inputs.iter().copied()).collect(), vec![]),
        Instr::Gate { checks } => (vec![], checks.iter().map(|c| c.template).collect()),
        _ => (vec![], vec![]),
    }
}

/// Whether the instruction is a post action (runs after the step's work).
pub fn is_post_action(instr: &crate::Instr) -> bool {
    use crate::Instr;
    matches!(instr, Instr::StorePut { .. } | Instr::Spawn { .. } | Instr::SpawnEach { .. } | Instr::Items { .. })
}
