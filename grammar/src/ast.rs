//! The owned syntax tree of a `.flow` file.
//!
//! Every node carries the byte span it was parsed from. Blocks keep their
//! statements in source order (`Vec<…Stmt>`), so nothing the user wrote is lost:
//! the formatter prints them back, the analyses look up what they need with the
//! accessor methods below, and the language server maps positions to nodes.
//!
//! The tree is plain data: no references into the source, no interior
//! mutability. It is `Eq + Hash` so the compiler can memoise on it.

use std::fmt;

/// A half-open byte range `start..end` into the source text.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub const fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }
    pub fn from_range(range: std::ops::Range<usize>) -> Self {
        Span { start: range.start as u32, end: range.end as u32 }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    pub fn len(self) -> u32 {
        self.end - self.start
    }
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
    pub fn contains(self, offset: u32) -> bool {
        self.start <= offset && offset < self.end
    }
    /// `contains`, but also true at the end offset (a cursor right after a token).
    pub fn touches(self, offset: u32) -> bool {
        self.start <= offset && offset <= self.end
    }
    pub fn cover(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
    /// A sub-span, given offsets relative to `self.start`.
    pub fn sub(self, start: usize, end: usize) -> Span {
        Span { start: self.start + start as u32, end: self.start + end as u32 }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// An identifier with its span.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

impl Name {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A parsed `.flow` file: its declarations in source order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SourceFile {
    pub decls: Vec<Decl>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Decl {
    Workflow(Workflow),
    Agent(Agent),
    Env(EnvSet),
    Secrets(SecretSet),
    Store(Store),
    Policy(Policy),
    Resource(Resource),
    Template(Template),
    Instance(Instance),
}

/// The kinds of top-level declaration. Names are unique per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeclKind {
    Workflow,
    Agent,
    Env,
    Secrets,
    Store,
    Policy,
    Resource,
    Template,
    Instance,
}

impl DeclKind {
    pub const ALL: [DeclKind; 9] = [
        DeclKind::Workflow,
        DeclKind::Agent,
        DeclKind::Env,
        DeclKind::Secrets,
        DeclKind::Store,
        DeclKind::Policy,
        DeclKind::Resource,
        DeclKind::Template,
        DeclKind::Instance,
    ];

    /// The word a person uses for this kind ("workflow", "secret set", …).
    pub fn noun(self) -> &'static str {
        match self {
            DeclKind::Workflow => "workflow",
            DeclKind::Agent => "agent",
            DeclKind::Env => "env set",
            DeclKind::Secrets => "secret set",
            DeclKind::Store => "store",
            DeclKind::Policy => "policy",
            DeclKind::Resource => "resource",
            DeclKind::Template => "template",
            DeclKind::Instance => "resource instance",
        }
    }
}

impl Decl {
    pub fn kind(&self) -> DeclKind {
        match self {
            Decl::Workflow(_) => DeclKind::Workflow,
            Decl::Agent(_) => DeclKind::Agent,
            Decl::Env(_) => DeclKind::Env,
            Decl::Secrets(_) => DeclKind::Secrets,
            Decl::Store(_) => DeclKind::Store,
            Decl::Policy(_) => DeclKind::Policy,
            Decl::Resource(_) => DeclKind::Resource,
            Decl::Template(_) => DeclKind::Template,
            Decl::Instance(_) => DeclKind::Instance,
        }
    }
    /// The declared name (for a resource, its kind name).
    pub fn name(&self) -> &Name {
        match self {
            Decl::Workflow(d) => &d.name,
            Decl::Agent(d) => &d.name,
            Decl::Env(d) => &d.name,
            Decl::Secrets(d) => &d.name,
            Decl::Store(d) => &d.name,
            Decl::Policy(d) => &d.name,
            Decl::Resource(d) => &d.kind,
            Decl::Template(d) => &d.name,
            Decl::Instance(d) => &d.name,
        }
    }
    pub fn span(&self) -> Span {
        match self {
            Decl::Workflow(d) => d.span,
            Decl::Agent(d) => d.span,
            Decl::Env(d) => d.span,
            Decl::Secrets(d) => d.span,
            Decl::Store(d) => d.span,
            Decl::Policy(d) => d.span,
            Decl::Resource(d) => d.span,
            Decl::Template(d) => d.span,
            Decl::Instance(d) => d.span,
        }
    }
}

// ---------------------------------------------------------------- values

/// A number literal. Stored as its `f64` value plus whether it was written as an
/// integer; equality is bitwise so the tree can be `Eq`.
#[derive(Clone, Copy, Debug)]
pub struct Number {
    pub value: f64,
    pub is_int: bool,
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.value.to_bits() == other.value.to_bits() && self.is_int == other.is_int
    }
}
impl Eq for Number {}
impl std::hash::Hash for Number {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.to_bits().hash(state);
        self.is_int.hash(state);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NumberLit {
    pub value: Number,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IntLit {
    pub value: i64,
    pub span: Span,
}

/// A duration literal (`500ms`, `5s`, `1h30m`), in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DurationLit {
    pub millis: u64,
    pub span: Span,
}

/// A plain string: escapes resolved, no holes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StrLit {
    pub value: String,
    /// The span of the whole literal, quotes included.
    pub span: Span,
}

/// A CEL expression: the text between the backticks (or inside a `${…}` hole)
/// and its span, which excludes the delimiters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expr {
    pub text: String,
    pub span: Span,
}

/// A template string: literal text and holes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TemplateStr {
    pub parts: Vec<TemplatePart>,
    /// The span of the whole literal, quotes included.
    pub span: Span,
}

impl TemplateStr {
    pub fn holes(&self) -> impl Iterator<Item = &Hole> {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Hole(h) => Some(h),
            TemplatePart::Text { .. } => None,
        })
    }
    /// The text when the template has no holes.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                TemplatePart::Text { text, .. } => out.push_str(text),
                TemplatePart::Hole(_) => return None,
            }
        }
        Some(out)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TemplatePart {
    /// Literal text with escapes and `$$` resolved. Adjacent pieces are merged.
    Text { text: String, span: Span },
    Hole(Hole),
}

/// A `${expr}` hole or its short form `$name.path`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hole {
    pub expr: Expr,
    /// Written as `$name.path` rather than `${…}`.
    pub short: bool,
    /// The span of the whole hole, `$`/`${` and `}` included.
    pub span: Span,
}

/// A data literal (JSON5-like), where a value may be computed by a CEL expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<Field>),
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    pub key: Name,
    /// The key was written as a quoted string.
    pub quoted: bool,
    pub value: Value,
    pub span: Span,
}

impl Value {
    pub fn as_object(&self) -> Option<&[Field]> {
        match &self.kind {
            ValueKind::Object(fields) => Some(fields),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            ValueKind::Array(items) => Some(items),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(s) => Some(s),
            _ => None,
        }
    }
    /// Whether the value, or anything inside it, is computed by an expression.
    pub fn has_expr(&self) -> bool {
        match &self.kind {
            ValueKind::Expr(_) => true,
            ValueKind::Array(items) => items.iter().any(Value::has_expr),
            ValueKind::Object(fields) => fields.iter().any(|f| f.value.has_expr()),
            _ => false,
        }
    }
    /// Every CEL expression inside the value, in source order.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut out = Vec::new();
        self.collect_exprs(&mut out);
        out
    }
    fn collect_exprs<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match &self.kind {
            ValueKind::Expr(e) => out.push(e),
            ValueKind::Array(items) => items.iter().for_each(|v| v.collect_exprs(out)),
            ValueKind::Object(fields) => fields.iter().for_each(|f| f.value.collect_exprs(out)),
            _ => {}
        }
    }
}

/// A type in `input` and `output` declarations.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TypeExpr {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeKind {
    String,
    Number,
    Int,
    Bool,
    Any,
    List(Box<TypeExpr>),
    Object(Vec<TypeField>),
    /// A name that is not a known type; the compiler reports it.
    Unknown(Name),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TypeField {
    pub name: Name,
    pub optional: bool,
    pub ty: TypeExpr,
    pub span: Span,
}

// -------------------------------------------------------------- workflows

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Workflow {
    pub name: Name,
    pub body: Vec<WorkflowStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkflowStmt {
    pub kind: WorkflowStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WorkflowStmtKind {
    Description(StrLit),
    Input(Input),
    On(Trigger),
    Retry(Retry),
    Timeout(DurationLit),
    Concurrency(IntLit),
    Budget(NumberLit),
    Output(WorkflowOutput),
    Safety(Safety),
    Invariant(Invariant),
    Env(EnvBlock),
    Step(Step),
    Group(Group),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Input {
    pub name: Name,
    pub ty: TypeExpr,
    pub default: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    Event { event_type: StrLit, subject: Option<StrLit>, filter: Option<Expr> },
    Webhook { path: Name, signature: Option<Signature> },
    Schedule { cron: StrLit, catchup: Option<CatchupClause> },
}

/// `signed SCHEME with SET.KEY [tolerance D]` after a webhook path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    pub scheme: SignatureScheme,
    /// The scheme's word (`github`, `stripe`, `hmac`).
    pub scheme_span: Span,
    /// `hmac "HEADER"`: the header's name as written.
    pub header: Option<StrLit>,
    /// The secrets set and key holding the shared secret.
    pub set: Name,
    pub key: Name,
    pub tolerance: Option<DurationLit>,
    /// From `signed` to the end of the clause.
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    Github,
    Stripe,
    Hmac,
}

impl SignatureScheme {
    pub fn keyword(self) -> &'static str {
        match self {
            SignatureScheme::Github => "github",
            SignatureScheme::Stripe => "stripe",
            SignatureScheme::Hmac => "hmac",
        }
    }
}

/// `catchup MODE [within D]` after a schedule's cron.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CatchupClause {
    pub mode: CatchupMode,
    pub mode_span: Span,
    pub within: Option<DurationLit>,
    /// From `catchup` to the end of the clause.
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CatchupMode {
    None,
    Latest,
    All,
}

impl CatchupMode {
    pub fn keyword(self) -> &'static str {
        match self {
            CatchupMode::None => "none",
            CatchupMode::Latest => "latest",
            CatchupMode::All => "all",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Retry {
    pub count: IntLit,
    pub backoff: Option<Backoff>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    pub kind: BackoffKind,
    pub kind_span: Span,
    pub delay: DurationLit,
    pub max: Option<DurationLit>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackoffKind {
    Fixed,
    Exponential,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkflowOutput {
    pub name: Name,
    pub expr: Expr,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Safety {
    pub items: Vec<SafetyItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SafetyItem {
    MaxSpawnedTasks(IntLit),
    MaxSpawnDepth(IntLit),
    SpawnCooldown(DurationLit),
}

impl SafetyItem {
    pub fn keyword(&self) -> &'static str {
        match self {
            SafetyItem::MaxSpawnedTasks(_) => "max_spawned_tasks",
            SafetyItem::MaxSpawnDepth(_) => "max_spawn_depth",
            SafetyItem::SpawnCooldown(_) => "spawn_cooldown",
        }
    }
    pub fn span(&self) -> Span {
        match self {
            SafetyItem::MaxSpawnedTasks(i) | SafetyItem::MaxSpawnDepth(i) => i.span,
            SafetyItem::SpawnCooldown(d) => d.span,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Invariant {
    pub name: Name,
    pub body: Vec<InvariantStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InvariantStmt {
    pub kind: InvariantStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InvariantStmtKind {
    Description(StrLit),
    Check(CheckCommand),
    OnViolation { action: ViolationAction, action_span: Span, then: Option<(FailMode, Span)> },
    Protect(Vec<StrLit>),
    At(Vec<Name>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViolationAction {
    Abort,
    Warn,
    Rollback,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailMode {
    Pause,
    Fail,
}

/// `check "cmd" [expect "out"]`, in gates and invariants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckCommand {
    pub command: TemplateStr,
    pub expect: Option<StrLit>,
}

/// An `env { … }` block (in a workflow, step or agent) or the body of an `env` set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnvBlock {
    pub entries: Vec<EnvEntry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnvEntry {
    pub kind: EnvEntryKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EnvEntryKind {
    /// `use SET`: every key of an env set.
    Use(Name),
    Assign { key: Name, value: EnvValue },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EnvValue {
    /// `from_env("VAR")` / `from_file("path")`.
    Source(SecretSource),
    /// `set.KEY`: one key of an env or secret set.
    Ref { set: Name, key: Name },
    Template(TemplateStr),
    /// Any other data literal (numbers, booleans…).
    Value(Value),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretSource {
    pub kind: SecretSourceKind,
    pub arg: StrLit,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretSourceKind {
    Env,
    File,
}

// ------------------------------------------------------------------ steps

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Group {
    pub kind: GroupKind,
    pub name: Name,
    pub deps: Option<Deps>,
    pub members: Vec<GroupMember>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupKind {
    Parallel,
    Phase,
}

impl GroupKind {
    pub fn keyword(self) -> &'static str {
        match self {
            GroupKind::Parallel => "parallel",
            GroupKind::Phase => "phase",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GroupMember {
    Step(Step),
    Group(Group),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    pub name: Name,
    pub kind: StepKind,
    /// The span of the kind after the `:` (absent when the kind defaults to `run`).
    pub kind_span: Option<Span>,
    pub deps: Option<Deps>,
    /// The span of `for each item`, when present.
    pub for_each: Option<Span>,
    pub body: Vec<StepStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    Run,
    Agent(Name),
    Approval,
    Check(Name),
    Wait,
    Branch,
    Notify,
    Human,
    Call(Name),
    Select,
    Gate,
    /// `use TEMPLATE`: the body of a template, merged with the step's own lines.
    Use(Name),
}

impl StepKind {
    pub fn keyword(&self) -> &'static str {
        match self {
            StepKind::Run => "run",
            StepKind::Agent(_) => "agent",
            StepKind::Approval => "approval",
            StepKind::Check(_) => "check",
            StepKind::Wait => "wait",
            StepKind::Branch => "branch",
            StepKind::Notify => "notify",
            StepKind::Human => "human",
            StepKind::Call(_) => "call",
            StepKind::Select => "select",
            StepKind::Gate => "gate",
            StepKind::Use(_) => "use",
        }
    }
    /// The name after the kind keyword (`agent NAME`, `check POLICY`, …).
    pub fn target(&self) -> Option<&Name> {
        match self {
            StepKind::Agent(n) | StepKind::Check(n) | StepKind::Call(n) | StepKind::Use(n) => Some(n),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Deps {
    pub rule: TriggerRule,
    /// The span of `one_success(…)`/`all_done(…)`, when the rule was written.
    pub rule_span: Option<Span>,
    pub names: Vec<Name>,
    /// The span of the whole `after …` clause.
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriggerRule {
    AllSuccess,
    OneSuccess,
    AllDone,
}

impl TriggerRule {
    pub fn keyword(self) -> &'static str {
        match self {
            TriggerRule::AllSuccess => "all_success",
            TriggerRule::OneSuccess => "one_success",
            TriggerRule::AllDone => "all_done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepStmt {
    pub kind: StepStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StepStmtKind {
    Description(StrLit),
    Command(TemplateStr),
    Prompt(TemplateStr),
    Output(TypeExpr),
    With(Value),
    /// A branch arm; `condition` is `None` for `else`.
    Arm { condition: Option<Expr>, target: Name },
    When(Expr),
    Approvers(Value),
    DistinctFromInitiator,
    Message(TemplateStr),
    Timeout(DurationLit),
    Retry(Retry),
    Compensate(Compensate),
    Channel(TemplateStr),
    Event { event_type: TemplateStr, subject: Option<TemplateStr> },
    Put { key: StoreKey, value: Expr },
    Spawn { workflow: Name, inputs: Option<Value> },
    SpawnEach { list: Expr, workflow: Name, inputs: Option<Value> },
    Reads { key: StoreKey, alias: Name },
    Items(Expr),
    Strategy { strategy: Strategy, span: Span },
    Metric(Name),
    TopK(IntLit),
    Threshold(NumberLit),
    Weights(Value),
    Check(CheckCommand),
    OnFail(OnFail),
    Skippable,
    OnFailure { mode: OnFailure, span: Span },
    Env(EnvBlock),
}

impl StepStmtKind {
    /// The keyword that starts the statement, as written.
    pub fn keyword(&self) -> &'static str {
        match self {
            StepStmtKind::Description(_) => "description",
            StepStmtKind::Command(_) => "command",
            StepStmtKind::Prompt(_) => "prompt",
            StepStmtKind::Output(_) => "output",
            StepStmtKind::With(_) => "with",
            StepStmtKind::Arm { condition: Some(_), .. } => "when",
            StepStmtKind::Arm { condition: None, .. } => "else",
            StepStmtKind::When(_) => "when",
            StepStmtKind::Approvers(_) => "approvers",
            StepStmtKind::DistinctFromInitiator => "distinct_from_initiator",
            StepStmtKind::Message(_) => "message",
            StepStmtKind::Timeout(_) => "timeout",
            StepStmtKind::Retry(_) => "retry",
            StepStmtKind::Compensate(_) => "compensate",
            StepStmtKind::Channel(_) => "channel",
            StepStmtKind::Event { .. } => "event",
            StepStmtKind::Put { .. } => "then put",
            StepStmtKind::Spawn { .. } => "then spawn",
            StepStmtKind::SpawnEach { .. } => "then spawn each",
            StepStmtKind::Reads { .. } => "reads",
            StepStmtKind::Items(_) => "items",
            StepStmtKind::Strategy { .. } => "strategy",
            StepStmtKind::Metric(_) => "metric",
            StepStmtKind::TopK(_) => "top_k",
            StepStmtKind::Threshold(_) => "threshold",
            StepStmtKind::Weights(_) => "weights",
            StepStmtKind::Check(_) => "check",
            StepStmtKind::OnFail(_) => "on_fail",
            StepStmtKind::Skippable => "skippable",
            StepStmtKind::OnFailure { .. } => "on_failure",
            StepStmtKind::Env(_) => "env",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Compensate {
    Command(TemplateStr),
    Step(Name),
}

/// `STORE.KEY`, as in `reads context.plan as p` and `then put context.plan = …`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreKey {
    pub store: Name,
    pub key: Name,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OnFail {
    /// `on_fail fix STEP retry N [then pause|fail]`.
    Fix { step: Name, retries: IntLit, then: Option<(FailMode, Span)> },
    Mode { mode: FailMode, span: Span },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnFailure {
    Fail,
    Pause,
    Continue,
}

impl OnFailure {
    pub fn keyword(self) -> &'static str {
        match self {
            OnFailure::Fail => "fail",
            OnFailure::Pause => "pause",
            OnFailure::Continue => "continue",
        }
    }
}

// ----------------------------------------------------------- declarations

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Agent {
    pub name: Name,
    pub body: Vec<AgentStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentStmt {
    pub kind: AgentStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AgentStmtKind {
    Description(StrLit),
    Command(TemplateStr),
    Capabilities(Value),
    Env(EnvBlock),
    CostPerCall(NumberLit),
    Timeout(DurationLit),
    Retry(Retry),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnvSet {
    pub name: Name,
    pub body: EnvBlock,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretSet {
    pub name: Name,
    pub entries: Vec<SecretEntry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretEntry {
    pub key: Name,
    pub value: SecretValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SecretValue {
    Source(SecretSource),
    /// A value written inline; always an error (secrets come from the environment or a file).
    Literal(Span),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Store {
    pub name: Name,
    pub body: Vec<StoreStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreStmt {
    pub kind: StoreStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StoreStmtKind {
    Description(StrLit),
    Backend(Backend),
    Schema(Value),
    Retention(Vec<RetentionItem>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    Local,
    Command(StrLit),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RetentionItem {
    MaxEntries(IntLit),
    Ttl(DurationLit),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    pub name: Name,
    pub body: Vec<PolicyStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyStmt {
    pub kind: PolicyStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PolicyStmtKind {
    Description(StrLit),
    Rule(PolicyRule),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyRule {
    pub effect: PolicyEffect,
    pub effect_span: Span,
    pub condition: Expr,
    pub reason: Option<TemplateStr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyEffect {
    Deny,
    RequireApproval,
    Allow,
}

impl PolicyEffect {
    pub fn keyword(self) -> &'static str {
        match self {
            PolicyEffect::Deny => "deny",
            PolicyEffect::RequireApproval => "require_approval",
            PolicyEffect::Allow => "allow",
        }
    }
}

/// A custom resource definition: `resource Kind { … }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    pub kind: Name,
    pub body: Vec<ResourceStmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceStmt {
    pub kind: ResourceStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResourceStmtKind {
    Description(StrLit),
    Group(StrLit),
    Version(Name),
    Plural(Name),
    Short(Vec<Name>),
    Schema(Value),
    Rule { condition: Expr, message: Option<StrLit> },
}

/// `template NAME[: KIND] { step body }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    pub name: Name,
    pub kind: Option<StepKind>,
    pub kind_span: Option<Span>,
    pub body: Vec<StepStmt>,
    pub span: Span,
}

/// An instance of a custom resource: `Kind name { field: value, … }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    pub kind: Name,
    pub name: Name,
    pub fields: Vec<Field>,
    /// The span of the `{ … }` body.
    pub body_span: Span,
    pub span: Span,
}

// -------------------------------------------------------------- accessors

impl Workflow {
    /// Every step of the workflow, including those inside groups, in source order.
    pub fn steps(&self) -> Vec<&Step> {
        let mut out = Vec::new();
        for stmt in &self.body {
            match &stmt.kind {
                WorkflowStmtKind::Step(s) => out.push(s),
                WorkflowStmtKind::Group(g) => g.collect_steps(&mut out),
                _ => {}
            }
        }
        out
    }
    /// Every group of the workflow, nested ones included, in source order.
    pub fn groups(&self) -> Vec<&Group> {
        let mut out = Vec::new();
        for stmt in &self.body {
            if let WorkflowStmtKind::Group(g) = &stmt.kind {
                g.collect_groups(&mut out);
            }
        }
        out
    }
    pub fn inputs(&self) -> impl Iterator<Item = &Input> {
        self.body.iter().filter_map(|s| match &s.kind {
            WorkflowStmtKind::Input(i) => Some(i),
            _ => None,
        })
    }
    pub fn outputs(&self) -> impl Iterator<Item = &WorkflowOutput> {
        self.body.iter().filter_map(|s| match &s.kind {
            WorkflowStmtKind::Output(o) => Some(o),
            _ => None,
        })
    }
    pub fn invariants(&self) -> impl Iterator<Item = &Invariant> {
        self.body.iter().filter_map(|s| match &s.kind {
            WorkflowStmtKind::Invariant(i) => Some(i),
            _ => None,
        })
    }
    pub fn triggers(&self) -> impl Iterator<Item = (&Trigger, Span)> {
        self.body.iter().filter_map(|s| match &s.kind {
            WorkflowStmtKind::On(t) => Some((t, s.span)),
            _ => None,
        })
    }
}

impl Group {
    fn collect_steps<'a>(&'a self, out: &mut Vec<&'a Step>) {
        for m in &self.members {
            match m {
                GroupMember::Step(s) => out.push(s),
                GroupMember::Group(g) => g.collect_steps(out),
            }
        }
    }
    fn collect_groups<'a>(&'a self, out: &mut Vec<&'a Group>) {
        out.push(self);
        for m in &self.members {
            if let GroupMember::Group(g) = m {
                g.collect_groups(out);
            }
        }
    }
}

impl Step {
    /// The first statement of a kind, e.g. `step.find(|k| matches!(k, StepStmtKind::Command(_)))`.
    pub fn stmts(&self) -> impl Iterator<Item = &StepStmtKind> {
        self.body.iter().map(|s| &s.kind)
    }
    /// The span of the header, `step` up to the opening brace.
    pub fn header_span(&self) -> Span {
        let end = self
            .deps
            .as_ref()
            .map(|d| d.span.end)
            .or(self.for_each.map(|s| s.end))
            .or(self.kind_span.map(|s| s.end))
            .unwrap_or(self.name.span.end)
            .max(self.for_each.map(|s| s.end).unwrap_or(0));
        Span::new(self.span.start, end)
    }
}
