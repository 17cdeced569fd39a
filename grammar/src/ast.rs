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
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset just past the last byte (equal to `start` for an empty span).
    pub end: u32,
}

impl Span {
    /// The span `start..end`, usable in `const` items.
    pub const fn new(start: u32, end: u32) -> Self {
        Span { start, end }
    }
    /// Converts a `usize` range (as pest and `str` slicing use) to a span.
    pub fn from_range(range: std::ops::Range<usize>) -> Self {
        Span { start: range.start as u32, end: range.end as u32 }
    }
    /// The span as a `usize` range, to slice the source text with.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
    /// The length in bytes.
    pub fn len(self) -> u32 {
        self.end - self.start
    }
    /// Whether the span covers no byte.
    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
    /// Whether `offset` falls inside the span; the end offset is outside.
    pub fn contains(self, offset: u32) -> bool {
        self.start <= offset && offset < self.end
    }
    /// `contains`, but also true at the end offset (a cursor right after a token).
    pub fn touches(self, offset: u32) -> bool {
        self.start <= offset && offset <= self.end
    }
    /// The smallest span covering both `self` and `other`.
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
    /// The identifier as written; empty when the parser recovered from a missing name.
    pub text: String,
    /// Where the identifier is written (for a quoted key or version: the whole string, quotes included).
    pub span: Span,
}

impl Name {
    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A parsed `.flow` file: its declarations in source order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct SourceFile {
    /// Top-level declarations in source order; text that is no declaration is skipped (and reported).
    pub decls: Vec<Decl>,
}

/// One top-level declaration of a file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Decl {
    /// `workflow NAME { … }`.
    Workflow(Workflow),
    /// `agent NAME { … }`: a command that answers prompts.
    Agent(Agent),
    /// `env NAME { … }`: a named, reusable set of environment entries.
    Env(EnvSet),
    /// `secrets NAME { … }`: keys read from the environment or files, redacted in what runs record.
    Secrets(SecretSet),
    /// `store NAME { … }`: a persistent key-value store that steps read and write.
    Store(Store),
    /// `policy NAME { … }`: rules that a `check` step evaluates.
    Policy(Policy),
    /// `resource Kind { … }`: a custom resource definition.
    Resource(Resource),
    /// `template NAME[: KIND] { … }`: a reusable step body.
    Template(Template),
    /// `Kind NAME { … }`: an instance of a custom resource.
    Instance(Instance),
    /// `test "NAME" { … }`: a workflow test.
    Test(Test),
}

/// The kinds of top-level declaration. Names are unique per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeclKind {
    /// `workflow`.
    Workflow,
    /// `agent`.
    Agent,
    /// `env` set.
    Env,
    /// `secrets` set.
    Secrets,
    /// `store`.
    Store,
    /// `policy`.
    Policy,
    /// `resource` definition; its name is the resource's kind.
    Resource,
    /// `template`.
    Template,
    /// An instance of a custom resource.
    Instance,
    /// A workflow test; its name is the test's string.
    Test,
}

impl DeclKind {
    /// Every kind, in the order of [`Decl`]'s variants.
    pub const ALL: [DeclKind; 10] = [
        DeclKind::Workflow,
        DeclKind::Agent,
        DeclKind::Env,
        DeclKind::Secrets,
        DeclKind::Store,
        DeclKind::Policy,
        DeclKind::Resource,
        DeclKind::Template,
        DeclKind::Instance,
        DeclKind::Test,
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
            DeclKind::Test => "test",
        }
    }
}

impl Decl {
    /// Which kind of declaration this is.
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
            Decl::Test(_) => DeclKind::Test,
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
            Decl::Test(d) => &d.name,
        }
    }
    /// The whole declaration, from its keyword (or kind name) to its closing brace.
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
            Decl::Test(d) => d.span,
        }
    }
}

// ---------------------------------------------------------------- values

/// A number literal. Stored as its `f64` value plus whether it was written as an
/// integer; equality is bitwise so the tree can be `Eq`.
#[derive(Clone, Copy, Debug)]
pub struct Number {
    /// The number; integers beyond 2^53 lose precision.
    pub value: f64,
    /// Written without a fraction or exponent (`3`, not `3.0`).
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

/// A number literal with its span (`budget 5.00`, `threshold 0.8`, `cost_per_call 0.02`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NumberLit {
    /// The number, and whether it was written as an integer.
    pub value: Number,
    /// Where the literal is written.
    pub span: Span,
}

/// An integer literal with its span (`retry 3`, `concurrency 4`, `top_k 5`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IntLit {
    /// The value; `i64::MAX` (or `MIN`) when the literal does not fit, which is a syntax error.
    pub value: i64,
    /// Where the literal is written.
    pub span: Span,
}

/// A duration literal (`500ms`, `5s`, `1h30m`), in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DurationLit {
    /// The duration in milliseconds (`1h30m` is 5 400 000).
    pub millis: u64,
    /// Where the literal is written.
    pub span: Span,
}

/// A plain string: escapes resolved, no holes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StrLit {
    /// The string's value, escapes resolved.
    pub value: String,
    /// The span of the whole literal, quotes included.
    pub span: Span,
}

/// A CEL expression: the text between the backticks (or inside a `${…}` hole)
/// and its span, which excludes the delimiters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Expr {
    /// The expression's CEL source, as written.
    pub text: String,
    /// Where the CEL text is written, without the backticks or `${`/`}`.
    pub span: Span,
}

/// A template string: literal text and holes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TemplateStr {
    /// The literal text and holes, in source order.
    pub parts: Vec<TemplatePart>,
    /// The span of the whole literal, quotes included.
    pub span: Span,
}

impl TemplateStr {
    /// The template's holes, in source order.
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

/// One piece of a template string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TemplatePart {
    /// Literal text with escapes and `$$` resolved. Adjacent pieces are merged.
    Text {
        /// The text, with escapes and `$$` resolved.
        text: String,
        /// Where the text is written (escapes as written, so longer than `text` may be).
        span: Span,
    },
    /// A `${expr}` or `$name.path` hole, rendered when the template is.
    Hole(Hole),
}

/// A `${expr}` hole or its short form `$name.path`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Hole {
    /// The hole's expression; for the short form, the `name.path` text.
    pub expr: Expr,
    /// Written as `$name.path` rather than `${…}`.
    pub short: bool,
    /// The span of the whole hole, `$`/`${` and `}` included.
    pub span: Span,
}

/// A data literal (JSON5-like), where a value may be computed by a CEL expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Value {
    /// The literal's kind and contents.
    pub kind: ValueKind,
    /// Where the value is written (for an object: braces included).
    pub span: Span,
}

/// The kinds of data literal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string, escapes resolved (strings in data literals take no holes).
    String(String),
    /// `[a, b, …]`; commas are optional.
    Array(Vec<Value>),
    /// `{ key: value, … }`, fields in source order (duplicates kept); commas are optional.
    Object(Vec<Field>),
    /// A backtick CEL expression, whose value is computed where the literal is used.
    Expr(Expr),
}

/// One `key: value` entry of an object literal or of a resource instance's body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// The key: an identifier, or a quoted string's value.
    pub key: Name,
    /// The key was written as a quoted string.
    pub quoted: bool,
    /// The value after the `:`.
    pub value: Value,
    /// The whole field, from its key to the end of its value.
    pub span: Span,
}

impl Value {
    /// The fields, when the value is an object literal.
    pub fn as_object(&self) -> Option<&[Field]> {
        match &self.kind {
            ValueKind::Object(fields) => Some(fields),
            _ => None,
        }
    }
    /// The elements, when the value is an array literal.
    pub fn as_array(&self) -> Option<&[Value]> {
        match &self.kind {
            ValueKind::Array(items) => Some(items),
            _ => None,
        }
    }
    /// The string, when the value is a string literal.
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
    /// Which type, with its element or field types.
    pub kind: TypeKind,
    /// Where the type is written.
    pub span: Span,
}

/// The types of the language (docs/language.md, "Types").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TypeKind {
    /// `string`.
    String,
    /// `number`: any JSON number (a CEL `double`).
    Number,
    /// `int`: an integral JSON number.
    Int,
    /// `bool`.
    Bool,
    /// `any`: the value is not checked.
    Any,
    /// `[T]`: a list of `T`.
    List(Box<TypeExpr>),
    /// `{ name: T, other?: T }`: an object with these fields (others are allowed).
    Object(Vec<TypeField>),
    /// A name that is not a known type; the compiler reports it.
    Unknown(Name),
}

/// One field of an object type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TypeField {
    /// The key the object must have (or, when optional, may have).
    pub name: Name,
    /// Written `name?:`: the field may be absent.
    pub optional: bool,
    /// The type the field's value must have.
    pub ty: TypeExpr,
    /// From the field's name to the end of its type.
    pub span: Span,
}

// -------------------------------------------------------------- workflows

/// `workflow NAME { … }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Workflow {
    /// The workflow's name, unique among the project's workflows.
    pub name: Name,
    /// The workflow's statements, in source order.
    pub body: Vec<WorkflowStmt>,
    /// From `workflow` to the closing brace.
    pub span: Span,
}

/// One statement of a workflow body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkflowStmt {
    /// The statement's keyword and operands.
    pub kind: WorkflowStmtKind,
    /// The statement, from its first token to its last.
    pub span: Span,
}

/// The statements a workflow body holds (docs/language.md, "Workflows").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WorkflowStmtKind {
    /// `description "text"`.
    Description(StrLit),
    /// `input NAME: TYPE [= VALUE]`.
    Input(Input),
    /// `on event|webhook|schedule …`: what starts runs of the workflow.
    On(Trigger),
    /// `retry …`: the default retry policy of every step.
    Retry(Retry),
    /// `timeout D`: the whole run's time limit.
    Timeout(DurationLit),
    /// `concurrency N`: how many steps (and `for each` instances) run at once.
    Concurrency(IntLit),
    /// `budget USD`: the run fails once its accumulated cost exceeds this.
    Budget(NumberLit),
    /// ``output NAME = `EXPR` ``: a run output.
    Output(WorkflowOutput),
    /// `safety { … }`: spawn limits.
    Safety(Safety),
    /// `invariant NAME { … }`.
    Invariant(Invariant),
    /// `env { … }`: environment for every step of the workflow.
    Env(EnvBlock),
    /// `on_failure fail|compensate`: what a run that failed does.
    OnFailure {
        /// `compensate`: run the compensations of its steps, newest first.
        compensate: bool,
        /// Where `fail` or `compensate` is written.
        span: Span,
    },
    /// A step at the top level of the workflow.
    Step(Step),
    /// A `parallel` or `phase` group.
    Group(Group),
}

/// `input NAME: TYPE [= VALUE]`: a run input.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Input {
    /// The input's name, as expressions see it (`input.NAME`).
    pub name: Name,
    /// The input's declared type.
    pub ty: TypeExpr,
    /// The default value; `None` makes the input required.
    pub default: Option<Value>,
}

/// `on …`: what starts runs of a workflow.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// ``on event "TYPE" [subject "GLOB"] [where `EXPR`]``.
    Event {
        /// The event type glob (`"deploy.*"`).
        event_type: StrLit,
        /// `subject "GLOB"`: the subject the event must match.
        subject: Option<StrLit>,
        /// ``where `EXPR` ``: a filter over `event`.
        filter: Option<Expr>,
    },
    /// `on webhook PROVIDER.ENTITY.ACTION [signed …]`.
    Webhook {
        /// The dotted path, as one name (`github.pull_request.*`).
        path: Name,
        /// How the provider signs its requests; `None`: unsigned.
        signature: Option<Signature>,
    },
    /// `on schedule "CRON" [catchup …]`.
    Schedule {
        /// The five-field cron expression, evaluated in UTC.
        cron: StrLit,
        /// What happens to missed fire times; `None` catches up `latest`.
        catchup: Option<CatchupClause>,
    },
}

/// `signed SCHEME with SET.KEY [tolerance D]` after a webhook path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// How the provider signs (which header, what is signed).
    pub scheme: SignatureScheme,
    /// The scheme's word (`github`, `stripe`, `hmac`).
    pub scheme_span: Span,
    /// `hmac "HEADER"`: the header's name as written.
    pub header: Option<StrLit>,
    /// The secrets set and key holding the shared secret.
    pub set: Name,
    /// The key, within `set`, holding the shared secret.
    pub key: Name,
    /// `tolerance D` (`stripe` only): how old a signature's timestamp may be; `None`: 5m.
    pub tolerance: Option<DurationLit>,
    /// From `signed` to the end of the clause.
    pub span: Span,
}

/// The webhook signature schemes (docs/language.md, "Signed webhooks").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// GitHub's `X-Hub-Signature-256: sha256=HEX`, an HMAC-SHA256 of the body.
    Github,
    /// Stripe's `Stripe-Signature: t=UNIX,v1=HEX`, over `"{t}.{body}"`.
    Stripe,
    /// An HMAC-SHA256 of the body in a header the workflow names.
    Hmac,
}

impl SignatureScheme {
    /// The scheme as written after `signed`.
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
    /// What to do with missed fire times.
    pub mode: CatchupMode,
    /// Where the mode's word is written.
    pub mode_span: Span,
    /// `within D`: fire times older than now − D are not caught up.
    pub within: Option<DurationLit>,
    /// From `catchup` to the end of the clause.
    pub span: Span,
}

/// What a schedule does with fire times missed while no `flowc serve` ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CatchupMode {
    /// Skip them.
    None,
    /// Start one run for the most recent of them.
    Latest,
    /// Start one run per missed time, oldest first.
    All,
}

impl CatchupMode {
    /// The mode as written after `catchup`.
    pub fn keyword(self) -> &'static str {
        match self {
            CatchupMode::None => "none",
            CatchupMode::Latest => "latest",
            CatchupMode::All => "all",
        }
    }
}

/// `retry N [on …] [backoff …] [max_duration D]`, in a workflow, step or agent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Retry {
    /// Retries after the first attempt (`retry 2`: at most 3 attempts).
    pub count: IntLit,
    /// `on exit …`/`on timeout`: the failures retried; `None`: every failure.
    pub on: Option<RetryOn>,
    /// The wait between attempts; `None`: a retry starts at once.
    pub backoff: Option<Backoff>,
    /// `max_duration D`: no attempt starts once D has passed since the first started.
    pub max_duration: Option<DurationLit>,
}

/// `on exit CODE, … [or timeout]` or `on timeout [or exit CODE, …]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RetryOn {
    /// From `on` to the last code or `timeout`.
    pub span: Span,
    /// The exit statuses retried, as written; empty: no `exit` condition.
    pub exits: Vec<IntLit>,
    /// Where `timeout` is written; `None`: a timeout is not retried.
    pub timeout: Option<Span>,
}

impl RetryOn {
    /// `timeout` is written before `exit` (`on timeout or exit 75`).
    pub fn timeout_first(&self) -> bool {
        match (self.timeout, self.exits.first()) {
            (Some(t), Some(e)) => t.start < e.span.start,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// `backoff fixed|exponential D [factor F] [max D] [jitter P%]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    /// Fixed or exponential.
    pub kind: BackoffKind,
    /// Where `fixed` or `exponential` is written.
    pub kind_span: Span,
    /// The wait before the first retry.
    pub delay: DurationLit,
    /// `factor F`: what each exponential wait is multiplied by; `None`: 2.
    pub factor: Option<NumberLit>,
    /// `max D`: the cap on any wait.
    pub max: Option<DurationLit>,
    /// `jitter P%`: each wait is spread at random by up to ±P%; the span
    /// covers the `%`.
    pub jitter: Option<IntLit>,
}

/// How the wait between retries grows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackoffKind {
    /// Every wait is the delay.
    Fixed,
    /// The delay is multiplied by the factor with each retry: `D`, `2D`, `4D`, ….
    Exponential,
}

/// ``output NAME = `EXPR` ``: a run output, also a `call` step's output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WorkflowOutput {
    /// The output's name, a field of the run's outputs object.
    pub name: Name,
    /// The expression computing it, evaluated when the run completes.
    pub expr: Expr,
}

/// `safety { … }`: a workflow's spawn limits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Safety {
    /// The limits, in source order.
    pub items: Vec<SafetyItem>,
}

/// One spawn limit of a `safety` block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SafetyItem {
    /// `max_spawned_tasks N`: child runs per run.
    MaxSpawnedTasks(IntLit),
    /// `max_spawn_depth N`: the depth of parent → child → grandchild runs.
    MaxSpawnDepth(IntLit),
    /// `spawn_cooldown D`: the minimum time between spawn bursts.
    SpawnCooldown(DurationLit),
}

impl SafetyItem {
    /// The limit's keyword as written.
    pub fn keyword(&self) -> &'static str {
        match self {
            SafetyItem::MaxSpawnedTasks(_) => "max_spawned_tasks",
            SafetyItem::MaxSpawnDepth(_) => "max_spawn_depth",
            SafetyItem::SpawnCooldown(_) => "spawn_cooldown",
        }
    }
    /// Where the limit's value is written.
    pub fn span(&self) -> Span {
        match self {
            SafetyItem::MaxSpawnedTasks(i) | SafetyItem::MaxSpawnDepth(i) => i.span,
            SafetyItem::SpawnCooldown(d) => d.span,
        }
    }
}

/// `invariant NAME { … }`: a condition checked after steps (docs/language.md, "Invariants").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Invariant {
    /// The invariant's name, unique within its workflow.
    pub name: Name,
    /// The invariant's statements, in source order.
    pub body: Vec<InvariantStmt>,
    /// From `invariant` to the closing brace.
    pub span: Span,
}

/// One statement of an invariant body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InvariantStmt {
    /// The statement's keyword and operands.
    pub kind: InvariantStmtKind,
    /// The statement, from its keyword to its last token.
    pub span: Span,
}

/// The statements an invariant body holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum InvariantStmtKind {
    /// `description "text"`.
    Description(StrLit),
    /// `check "TEMPLATE" [expect "text"]`: holds when the command succeeds.
    Check(CheckCommand),
    /// `on_violation abort|warn|rollback [then pause|fail]`.
    OnViolation {
        /// What a violation does.
        action: ViolationAction,
        /// Where the action's word is written.
        action_span: Span,
        /// `then pause|fail`, with its span; `None`: pause.
        then: Option<(FailMode, Span)>,
    },
    /// `protect "GLOB", …`: files fingerprinted at start; a change is a violation.
    Protect(Vec<StrLit>),
    /// `at STEP, …`: check only after these steps; empty: after every step.
    At(Vec<Name>),
}

/// What an invariant's violation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViolationAction {
    /// Stop the run.
    Abort,
    /// Log a warning and go on.
    Warn,
    /// Restore the last checkpoint (state and protected files), then pause or fail.
    Rollback,
}

/// What happens once a gate's fixes or an invariant's rollback are done: `pause` or `fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailMode {
    /// Pause the run for a person.
    Pause,
    /// Fail the step or the run.
    Fail,
}

/// `check "cmd" [expect "out"]`, in gates and invariants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckCommand {
    /// The command, run through `sh -c`; its holes are shell-quoted.
    pub command: TemplateStr,
    /// `expect "text"`: the command's trimmed stdout must equal this.
    pub expect: Option<StrLit>,
}

/// An `env { … }` block (in a workflow, step or agent) or the body of an `env` set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnvBlock {
    /// The entries, in source order; later entries win.
    pub entries: Vec<EnvEntry>,
    /// From `env` to the closing brace (an env set's body: from the end of the set's name).
    pub span: Span,
}

/// One entry of an env block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnvEntry {
    /// `use SET` or `KEY = VALUE`.
    pub kind: EnvEntryKind,
    /// The entry, from its first token to its last.
    pub span: Span,
}

/// The entries of an env block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EnvEntryKind {
    /// `use SET`: every key of an env set.
    Use(Name),
    /// `KEY = VALUE`.
    Assign {
        /// The environment variable's name.
        key: Name,
        /// Where its value comes from.
        value: EnvValue,
    },
}

/// The right-hand side of an env entry `KEY = …`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum EnvValue {
    /// `from_env("VAR")` / `from_file("path")`.
    Source(SecretSource),
    /// `set.KEY`: one key of an env or secret set.
    Ref {
        /// The env or secrets set.
        set: Name,
        /// The key within the set.
        key: Name,
    },
    /// A string template; holes render when the step starts, in its scope.
    Template(TemplateStr),
    /// Any other data literal (numbers, booleans…).
    Value(Value),
}

/// `from_env("VAR")` or `from_file("path")`: a value read when a step runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretSource {
    /// Whether it reads an environment variable or a file.
    pub kind: SecretSourceKind,
    /// The variable's name or the file's path.
    pub arg: StrLit,
    /// From `from_env`/`from_file` to the closing parenthesis.
    pub span: Span,
}

/// Where a secret's or env entry's value is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretSourceKind {
    /// `from_env("VAR")`: an environment variable of the process running the step.
    Env,
    /// `from_file("path")`: a file's contents, the path relative to the project directory.
    File,
}

// ------------------------------------------------------------------ steps

/// `parallel NAME [after DEPS] { … }` or `phase NAME [after DEPS] { … }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Group {
    /// `parallel` or `phase`.
    pub kind: GroupKind,
    /// The group's name; it shares one namespace with the workflow's step names.
    pub name: Name,
    /// `after …`: every member waits for these too; `None`: the group starts
    /// with the run (or with its enclosing group).
    pub deps: Option<Deps>,
    /// The span of `for each item` (with its `in …`), when present: each
    /// item runs the group's members as a job of its own (docs/language.md,
    /// "A job per item").
    pub for_each: Option<Span>,
    /// `for each item in [..]` / `in matrix { … }`: the group's own items;
    /// without it, a `for each item` group runs for the run's item list.
    pub for_each_in: Option<ItemSource>,
    /// `fail_fast` in the header: the first failed member (of a `for each
    /// item` group, the first failed item) cancels the running ones and
    /// skips the rest; where the word is written.
    pub fail_fast: Option<Span>,
    /// The steps and groups inside, in source order.
    pub members: Vec<GroupMember>,
    /// From the kind keyword to the closing brace.
    pub span: Span,
}

/// The two kinds of group; they behave the same and differ only in how tools show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// `parallel`: the members start together.
    Parallel,
    /// `phase`: a named stage, shown in progress output and logs.
    Phase,
    /// `finally { … }`: the workflow's exit handler. It has no name of its
    /// own: the parser names it `finally` (the keyword's span), so it takes
    /// the place of a group everywhere (outline pieces, signatures, the
    /// graph, lowering) and `after finally` resolves to it, to be refused.
    Finally,
}

impl GroupKind {
    /// The group's keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            GroupKind::Parallel => "parallel",
            GroupKind::Phase => "phase",
            GroupKind::Finally => "finally",
        }
    }
}

/// What a group holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GroupMember {
    /// A step directly in the group.
    Step(Step),
    /// A nested group.
    Group(Group),
}

/// The literal items a `for each item in …` step runs for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ItemSource {
    /// `in [..]`: these items, in order.
    List(Value),
    /// `in matrix { axis: [..], …, exclude: [..], include: [..] }`: every
    /// combination of the axes' values, less the excluded, with the
    /// included (docs/language.md, "Matrices").
    Matrix(Value),
}

impl ItemSource {
    /// The list or the matrix object as written.
    pub fn value(&self) -> &Value {
        match self {
            ItemSource::List(v) | ItemSource::Matrix(v) => v,
        }
    }
}

/// `step NAME[: KIND] [after DEPS] [for each item [in ITEMS]] { … }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Step {
    /// The step's name, unique within its workflow (groups included).
    pub name: Name,
    /// The step's kind; `Run` when no kind is written.
    pub kind: StepKind,
    /// The span of the kind after the `:` (absent when the kind defaults to `run`).
    pub kind_span: Option<Span>,
    /// `after …`; `None`: the step starts with the run (or its enclosing group).
    pub deps: Option<std::sync::Arc<Deps>>,
    /// The span of `for each item` (with its `in …`), when present.
    pub for_each: Option<Span>,
    /// `for each item in [..]` / `in matrix { … }`: the step's own items;
    /// without it, a `for each item` step runs for the run's item list.
    pub for_each_in: Option<ItemSource>,
    /// `use TEMPLATE with { … }`: the template's arguments, an object
    /// literal (its values data or backtick expressions); `None` when no
    /// `with` is written after the template's name.
    pub use_args: Option<Value>,
    /// The step's statements, in source order.
    pub body: Vec<StepStmt>,
    /// From `step` to the closing brace.
    pub span: Span,
}

/// The kinds of step (docs/language.md, "Step kinds").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// Runs `command` through `sh -c`; the default kind.
    Run,
    /// `agent AGENT`: renders `prompt` and runs the agent's command with it.
    Agent(Name),
    /// Blocks the run until someone approves or rejects.
    Approval,
    /// `check POLICY`: evaluates the policy with the step's `with` data.
    Check(Name),
    /// Blocks until a matching event arrives.
    Wait,
    /// Waits for a duration (`for`) or until a time (`until`), durably.
    Timer,
    /// Picks the first arm whose condition holds, or `else`.
    Branch,
    /// Sends `message` to `channel`; never blocks or fails the run.
    Notify,
    /// A pending task that a person completes with an output.
    Human,
    /// `call WORKFLOW`: runs the workflow as a child run.
    Call(Name),
    /// Keeps the best items of the current item list.
    Select,
    /// Runs every `check`; all must pass.
    Gate,
    /// `use TEMPLATE`: the body of a template, merged with the step's own lines.
    Use(Name),
}

impl StepKind {
    /// The kind's keyword as written after `:`.
    pub fn keyword(&self) -> &'static str {
        match self {
            StepKind::Run => "run",
            StepKind::Agent(_) => "agent",
            StepKind::Approval => "approval",
            StepKind::Check(_) => "check",
            StepKind::Wait => "wait",
            StepKind::Timer => "timer",
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

/// `after a, b` or `after RULE(a, b)`: a step's or group's dependencies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Deps {
    /// The trigger rule; `AllSuccess` when none is written.
    pub rule: TriggerRule,
    /// The span of `RULE(…)` (`one_success(…)`, `all_done(…)`, …), when the rule was written.
    pub rule_span: Option<Span>,
    /// The steps and groups depended on, in source order (those of a
    /// condition too, once per mention).
    pub names: Vec<Name>,
    /// An outcome condition (`after a, failed(b)`): its comma-separated
    /// terms, which all must hold. Empty for `after a, b` and `after RULE(…)`.
    pub condition: Vec<Cond>,
    /// The span of the whole `after …` clause.
    pub span: Span,
}

impl Deps {
    /// `after a, b`: all_success over names, no condition.
    pub fn is_plain(&self) -> bool {
        self.rule == TriggerRule::AllSuccess && self.condition.is_empty()
    }

    /// The outcome condition as written, normalised (`a, failed(b)`).
    pub fn condition_text(&self) -> String {
        self.condition.iter().map(Cond::text).collect::<Vec<_>>().join(", ")
    }
}

/// A term of an outcome condition (docs/language.md, "Routing on outcomes").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// `failed(a)`, or a bare `a` (`written: false`), which is `succeeded(a)`.
    Outcome {
        /// The outcome tested.
        outcome: Outcome,
        /// The step or group.
        name: Name,
        /// Whether the predicate was written (`succeeded(a)` rather than `a`).
        written: bool,
        /// The span of the term.
        span: Span,
    },
    /// `x && y && …`.
    And(Vec<Cond>, Span),
    /// `x || y || …`.
    Or(Vec<Cond>, Span),
    /// `( x )`, kept so that `flowc fmt` writes it back.
    Paren(Box<Cond>, Span),
    /// A trigger rule call among other terms: an error (E0311), kept so the
    /// checker can say so and its names still resolve.
    Rule {
        /// The rule.
        rule: TriggerRule,
        /// Its dependencies.
        names: Vec<Name>,
        /// The span of `RULE(…)`.
        span: Span,
    },
}

impl Cond {
    /// The term's span.
    pub fn span(&self) -> Span {
        match self {
            Cond::Outcome { span, .. } | Cond::And(_, span) | Cond::Or(_, span) | Cond::Paren(_, span) | Cond::Rule { span, .. } => *span,
        }
    }

    /// The term as written, normalised.
    pub fn text(&self) -> String {
        let join = |xs: &[Cond], op: &str| xs.iter().map(Cond::text).collect::<Vec<_>>().join(op);
        match self {
            Cond::Outcome { outcome, name, written: true, .. } => format!("{}({})", outcome.keyword(), name.text),
            Cond::Outcome { name, .. } => name.text.clone(),
            Cond::And(xs, _) => join(xs, " && "),
            Cond::Or(xs, _) => join(xs, " || "),
            Cond::Paren(x, _) => format!("({})", x.text()),
            Cond::Rule { rule, names, .. } => {
                format!("{}({})", rule.keyword(), names.iter().map(|n| n.text.as_str()).collect::<Vec<_>>().join(", "))
            }
        }
    }

    /// Every outcome test of the term, in source order.
    pub fn outcomes(&self) -> Vec<(&Name, Outcome, Span)> {
        let mut out = Vec::new();
        self.visit(&mut |c| {
            if let Cond::Outcome { outcome, name, span, .. } = c {
                out.push((name, *outcome, *span));
            }
        });
        out
    }

    /// Calls `f` on this term and every term inside it.
    pub fn visit<'a>(&'a self, f: &mut dyn FnMut(&'a Cond)) {
        f(self);
        match self {
            Cond::And(xs, _) | Cond::Or(xs, _) => xs.iter().for_each(|x| x.visit(f)),
            Cond::Paren(x, _) => x.visit(f),
            Cond::Outcome { .. } | Cond::Rule { .. } => {}
        }
    }
}

/// What a condition asks of one dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// It completed.
    Succeeded,
    /// It ran and failed (a group: a member failed or was upstream_failed).
    Failed,
    /// It did not run because what it waits for failed.
    UpstreamFailed,
    /// It was skipped.
    Skipped,
    /// It finished, whatever its outcome.
    Done,
}

impl Outcome {
    /// Every outcome, in the order the docs and completion list them.
    pub const ALL: [Outcome; 5] = [Outcome::Succeeded, Outcome::Failed, Outcome::UpstreamFailed, Outcome::Skipped, Outcome::Done];

    /// The predicate as written: `failed` in `failed(a)`.
    pub fn keyword(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::UpstreamFailed => "upstream_failed",
            Outcome::Skipped => "skipped",
            Outcome::Done => "done",
        }
    }

    /// The outcome spelt `word`, if one is.
    pub fn from_keyword(word: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.keyword() == word)
    }
}

/// When a step with dependencies runs (docs/language.md, "Dependencies and
/// trigger rules"): Airflow's rules, with its semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriggerRule {
    /// Every dependency succeeded (the default).
    AllSuccess,
    /// Every dependency failed or was upstream_failed.
    AllFailed,
    /// Every dependency is terminal, whatever its status.
    AllDone,
    /// Every dependency was skipped.
    AllSkipped,
    /// At least one dependency succeeded.
    OneSuccess,
    /// At least one dependency failed or was upstream_failed.
    OneFailed,
    /// At least one dependency succeeded or failed.
    OneDone,
    /// Every dependency is terminal, and none failed or was upstream_failed.
    NoneFailed,
    /// As `NoneFailed`, and at least one dependency succeeded.
    NoneFailedMinOneSuccess,
    /// Every dependency is terminal, and none was skipped.
    NoneSkipped,
    /// At once, without waiting for the dependencies.
    Always,
}

impl TriggerRule {
    /// Every rule, in the order the docs and completion list them.
    pub const ALL: [TriggerRule; 11] = [
        TriggerRule::AllSuccess,
        TriggerRule::AllFailed,
        TriggerRule::AllDone,
        TriggerRule::AllSkipped,
        TriggerRule::OneSuccess,
        TriggerRule::OneFailed,
        TriggerRule::OneDone,
        TriggerRule::NoneFailed,
        TriggerRule::NoneFailedMinOneSuccess,
        TriggerRule::NoneSkipped,
        TriggerRule::Always,
    ];

    /// The rule as written in `after RULE(…)`.
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

    /// The rule spelt `word`, if one is.
    pub fn from_keyword(word: &str) -> Option<TriggerRule> {
        TriggerRule::ALL.into_iter().find(|r| r.keyword() == word)
    }
}

/// One statement of a step (or template) body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepStmt {
    /// The statement's keyword and operands.
    pub kind: StepStmtKind,
    /// The statement, from its keyword to its last token.
    pub span: Span,
}

/// The statements a step body may hold; the checker says which go with which kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StepStmtKind {
    /// `description "text"`.
    Description(StrLit),
    /// `command "TEMPLATE"`: a `run` step's shell command.
    Command(TemplateStr),
    /// `prompt "TEMPLATE"`: an `agent` step's prompt.
    Prompt(TemplateStr),
    /// `output TYPE`: the step's declared output type.
    Output(TypeExpr),
    /// `with { … }`: a `check` step's policy input, or a `call` step's inputs.
    With(Value),
    /// A branch arm; `condition` is `None` for `else`.
    Arm {
        /// The arm's condition; `None` for `else`.
        condition: Option<Expr>,
        /// The steps and groups the arm picks (`-> a, b`), at least one.
        targets: Vec<Name>,
    },
    /// ``when `EXPR` ``: a false condition skips the step.
    When(Expr),
    /// `approvers [...]`: who may approve or complete the step.
    Approvers(Value),
    /// `distinct_from_initiator`: whoever started the run may not approve it.
    DistinctFromInitiator,
    /// `message "TEMPLATE"`: an approval's question, a notification, a human task.
    Message(TemplateStr),
    /// `timeout D`: the step's time limit (for a blocking step, how long it may stay blocked).
    Timeout(DurationLit),
    /// `retry …`: overrides the workflow's and agent's default.
    Retry(Retry),
    /// `compensate "TEMPLATE"` or `compensate STEP`: what undoes this step.
    Compensate(Compensate),
    /// `channel "TEMPLATE"`: where a `notify` step's message goes.
    Channel(TemplateStr),
    /// `event "TEMPLATE" [subject "TEMPLATE"]`: what a `wait` step waits for.
    Event {
        /// The event type glob, rendered when the step starts.
        event_type: TemplateStr,
        /// The subject glob; `None`: any subject.
        subject: Option<TemplateStr>,
    },
    /// ``then put STORE.KEY = `EXPR` ``: writes to a store after the step succeeds.
    Put {
        /// Where the value goes.
        key: StoreKey,
        /// The value, evaluated with `output` bound to the step's output.
        value: Expr,
    },
    /// `then spawn WORKFLOW [{ … }]`: starts a child run that outlives the step.
    Spawn {
        /// The workflow to start.
        workflow: Name,
        /// The child's inputs object; `None`: no inputs given.
        inputs: Option<Value>,
    },
    /// ``then spawn each `EXPR` -> WORKFLOW [{ … }]``: one child run per element of a list.
    SpawnEach {
        /// The list; one child per element.
        list: Expr,
        /// The workflow to start.
        workflow: Name,
        /// The children's inputs object, where `item` is the element; `None`: no inputs given.
        inputs: Option<Value>,
    },
    /// `reads STORE.KEY as NAME`: reads a store value before the step runs.
    Reads {
        /// The value read (`null` when absent or expired).
        key: StoreKey,
        /// The name the step's expressions see it by.
        alias: Name,
    },
    /// ``items `EXPR` ``: the list becomes the run's current item list.
    Items(Expr),
    /// `strategy min|max|threshold|weighted`: how a `select` step ranks items.
    Strategy {
        /// `min`, `max`, `threshold` or `weighted`.
        strategy: Strategy,
        /// Where the strategy's word is written.
        span: Span,
    },
    /// `metric NAME`: the item field a `select` step compares.
    Metric(Name),
    /// `top_k N`: a `select` step keeps at most N items.
    TopK(IntLit),
    /// `threshold NUMBER`: the minimum score a `select` step keeps.
    Threshold(NumberLit),
    /// `weights { field: NUMBER, … }`: the field weights of a weighted `select`.
    Weights(Value),
    /// `check "TEMPLATE" [expect "text"]`: one check of a `gate` step.
    Check(CheckCommand),
    /// `on_fail …`: what a `gate` does when a check fails.
    OnFail(OnFail),
    /// `skippable`: `flowc skip` may pass the gate.
    Skippable,
    /// `fail_fast`: in a `for each item` step, the first failed item cancels
    /// the running ones and the rest never start.
    FailFast,
    /// `compensate_on_failure`: the step's `compensate` runs during
    /// compensation when the step itself failed, too.
    CompensateOnFailure,
    /// `skip_on_exit N, …`: an attempt that exits with one of these codes
    /// ends the step `skipped` (not failed, not retried).
    SkipOnExit(Vec<IntLit>),
    /// `on_failure fail|pause|continue`: what a failure does after the last retry.
    OnFailure {
        /// `fail`, `pause` or `continue`.
        mode: OnFailure,
        /// Where the mode's word is written.
        span: Span,
    },
    /// `env { … }`: the step's own environment entries.
    Env(EnvBlock),
    /// `for D` or ``for `EXPR` ``: how long a `timer` step waits (the
    /// expression is a duration, or a number of seconds).
    TimerFor(TimerArg<DurationLit>),
    /// `until "RFC 3339"` or ``until `EXPR` ``: when a `timer` step's wait
    /// ends (the expression is a timestamp, or its RFC 3339 text).
    TimerUntil(TimerArg<StrLit>),
}

/// A `timer` step's `for` or `until` value: a literal, or an expression
/// evaluated when the timer starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TimerArg<L> {
    /// `10m`, `"2026-12-24T09:00:00Z"`.
    Literal(L),
    /// A backtick expression.
    Expr(Expr),
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
            StepStmtKind::SkipOnExit(_) => "skip_on_exit",
            StepStmtKind::CompensateOnFailure => "compensate_on_failure",
            StepStmtKind::FailFast => "fail_fast",
            StepStmtKind::OnFailure { .. } => "on_failure",
            StepStmtKind::Env(_) => "env",
            StepStmtKind::TimerFor(_) => "for",
            StepStmtKind::TimerUntil(_) => "until",
        }
    }
}

/// `compensate …`: what undoes a step during compensation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Compensate {
    /// A command template, run through `sh -c`.
    Command(TemplateStr),
    /// A compensation step: it has no deps, nothing depends on it, and it runs only during compensation.
    Step(Name),
}

/// `STORE.KEY`, as in `reads context.plan as p` and `then put context.plan = …`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreKey {
    /// The store, as its `store NAME` declaration names it.
    pub store: Name,
    /// The key: an identifier, or a quoted string's value (`context."plan-v2"`).
    pub key: Name,
    /// From the store's name to the end of the key.
    pub span: Span,
}

/// How a `select` step ranks items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Lowest metric first.
    Min,
    /// Highest metric first.
    Max,
    /// Items whose metric is at least the threshold.
    Threshold,
    /// The weighted sum of fields, highest first.
    Weighted,
}

impl Strategy {
    /// The strategy as written after `strategy`.
    pub fn keyword(self) -> &'static str {
        match self {
            Strategy::Min => "min",
            Strategy::Max => "max",
            Strategy::Threshold => "threshold",
            Strategy::Weighted => "weighted",
        }
    }
}

/// `on_fail …` in a `gate` step.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OnFail {
    /// `on_fail fix STEP retry N [then pause|fail]`.
    Fix {
        /// The step or group re-run (with everything between it and the gate).
        step: Name,
        /// At most this many fix rounds.
        retries: IntLit,
        /// What happens after the last round, with its span; `None`: fail.
        then: Option<(FailMode, Span)>,
    },
    /// `on_fail pause|fail`: pause the run or fail the gate at once.
    Mode {
        /// `pause` or `fail`.
        mode: FailMode,
        /// Where the mode's word is written.
        span: Span,
    },
}

/// What a step's failure does once its retries are spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnFailure {
    /// Fail the step (the default).
    Fail,
    /// Pause the run for a person (`flowc resume`, `flowc skip`, `flowc cancel`).
    Pause,
    /// Record the failure and let the downstream trigger rules decide.
    Continue,
}

impl OnFailure {
    /// The mode as written after `on_failure`.
    pub fn keyword(self) -> &'static str {
        match self {
            OnFailure::Fail => "fail",
            OnFailure::Pause => "pause",
            OnFailure::Continue => "continue",
        }
    }
}

// ----------------------------------------------------------- declarations

/// `agent NAME { … }`: a command that answers prompts (docs/language.md, "Agents").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Agent {
    /// The agent's name, unique among the project's agents.
    pub name: Name,
    /// The agent's statements, in source order.
    pub body: Vec<AgentStmt>,
    /// From `agent` to the closing brace.
    pub span: Span,
}

/// One statement of an agent body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentStmt {
    /// The statement's keyword and operands.
    pub kind: AgentStmtKind,
    /// The statement, from its keyword to its last token.
    pub span: Span,
}

/// The statements an agent body holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AgentStmtKind {
    /// `description "text"`.
    Description(StrLit),
    /// `command "TEMPLATE"`: the agent's command, run through `sh -c`.
    Command(TemplateStr),
    /// `capabilities ["…", …]`: what the agent can do (constant strings).
    Capabilities(Value),
    /// `env { … }`: the agent's environment.
    Env(EnvBlock),
    /// `cost_per_call NUMBER`: USD added per call, unless the output reports `cost_usd`.
    CostPerCall(NumberLit),
    /// `timeout D`: the default time limit of the steps using the agent.
    Timeout(DurationLit),
    /// `retry …`: the default retry policy of the steps using the agent.
    Retry(Retry),
}

/// `env NAME { … }`: a named set of environment entries, used with `use NAME` or `NAME.KEY`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnvSet {
    /// The set's name, unique among the project's env sets.
    pub name: Name,
    /// The set's entries.
    pub body: EnvBlock,
    /// From `env` to the closing brace.
    pub span: Span,
}

/// `secrets NAME { KEY = from_env(…) … }`: keys whose values are redacted.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretSet {
    /// The set's name, unique among the project's secret sets.
    pub name: Name,
    /// The set's keys, in source order.
    pub entries: Vec<SecretEntry>,
    /// From `secrets` to the closing brace.
    pub span: Span,
}

/// One `KEY = …` entry of a secrets set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretEntry {
    /// The key, as `SET.KEY` names it.
    pub key: Name,
    /// Where the value comes from.
    pub value: SecretValue,
    /// From the key to the end of its value.
    pub span: Span,
}

/// The value of a secrets entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SecretValue {
    /// `from_env("VAR")` or `from_file("path")`.
    Source(SecretSource),
    /// A value written inline; always an error (secrets come from the environment or a file).
    Literal(Span),
}

/// `store NAME { … }`: a persistent key-value store (docs/language.md, "Stores").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Store {
    /// The store's name, unique among the project's stores.
    pub name: Name,
    /// The store's statements, in source order.
    pub body: Vec<StoreStmt>,
    /// From `store` to the closing brace.
    pub span: Span,
}

/// One statement of a store body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoreStmt {
    /// The statement's keyword and operands.
    pub kind: StoreStmtKind,
    /// The statement, from its keyword to its last token.
    pub span: Span,
}

/// The statements a store body holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StoreStmtKind {
    /// `description "text"`.
    Description(StrLit),
    /// `backend local|command "cmd"`.
    Backend(Backend),
    /// `schema { … }`: a JSON Schema every stored value must satisfy.
    Schema(Value),
    /// `retention { … }`: eviction limits.
    Retention(Vec<RetentionItem>),
}

/// Where a store keeps its values.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The project's SQLite state database (the default).
    Local,
    /// `backend command "cmd"`: an external key-value command.
    Command(StrLit),
}

/// One limit of a store's `retention` block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RetentionItem {
    /// `max_entries N`: evict the oldest entries past N.
    MaxEntries(IntLit),
    /// `ttl D`: evict entries older than D.
    Ttl(DurationLit),
}

/// `policy NAME { … }`: rules a `check` step evaluates (docs/language.md, "Policies").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The policy's name, unique among the project's policies.
    pub name: Name,
    /// The policy's statements, in source order.
    pub body: Vec<PolicyStmt>,
    /// From `policy` to the closing brace.
    pub span: Span,
}

/// One statement of a policy body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyStmt {
    /// The statement's keyword and operands.
    pub kind: PolicyStmtKind,
    /// The statement, from its first token to its last.
    pub span: Span,
}

/// The statements a policy body holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PolicyStmtKind {
    /// `description "text"`.
    Description(StrLit),
    /// ``EFFECT when `EXPR` [because "TEMPLATE"]``.
    Rule(PolicyRule),
}

/// ``EFFECT when `EXPR` [because "TEMPLATE"]``: one rule of a policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicyRule {
    /// What the rule decides when its condition holds.
    pub effect: PolicyEffect,
    /// Where the effect's word is written.
    pub effect_span: Span,
    /// The condition, over `input` (the `check` step's `with` data).
    pub condition: Expr,
    /// `because "TEMPLATE"`: the reason given with the decision.
    pub reason: Option<TemplateStr>,
}

/// What a matching policy rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyEffect {
    /// The `check` step fails with the rule's reason; wins over every other rule.
    Deny,
    /// The `check` step becomes an approval gate, unless a deny rule matched.
    RequireApproval,
    /// Documents intent; the step succeeds when no deny or require_approval rule matched.
    Allow,
}

impl PolicyEffect {
    /// The effect as written.
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
    /// The kind's name (an upper-case identifier), as instances write it.
    pub kind: Name,
    /// The definition's statements, in source order.
    pub body: Vec<ResourceStmt>,
    /// From `resource` to the closing brace.
    pub span: Span,
}

/// One statement of a resource definition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceStmt {
    /// The statement's keyword and operands.
    pub kind: ResourceStmtKind,
    /// The statement, from its keyword to its last token.
    pub span: Span,
}

/// The statements a resource definition holds (docs/language.md, "Resources and instances").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResourceStmtKind {
    /// `description "text"`.
    Description(StrLit),
    /// `group "…"`: the API group.
    Group(StrLit),
    /// `version NAME` or `version "…"`: the version (`v1`).
    Version(Name),
    /// `plural NAME`: the plural `flowc get` accepts.
    Plural(Name),
    /// `short NAME, …`: short names `flowc get` accepts.
    Short(Vec<Name>),
    /// `schema { … }`: the JSON Schema of an instance's body.
    Schema(Value),
    /// ``rule `EXPR` [message "text"]``: a CEL rule over `self`, the instance.
    Rule {
        /// The condition an instance must satisfy.
        condition: Expr,
        /// The message shown when it does not; `None`: "rule `EXPR` does not hold".
        message: Option<StrLit>,
    },
}

/// `template NAME[: KIND] { step body }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    /// The template's name, as `step s: use NAME` refers to it.
    pub name: Name,
    /// `(NAME: TYPE [= DEFAULT], …)`: the template's parameters, in source
    /// order, declared as workflow inputs are; its statements read them as
    /// `params.NAME`.
    pub params: Vec<Input>,
    /// From `(` to `)` of the parameter list, when one is written.
    pub params_span: Option<Span>,
    /// The kind after `:`; `None`: `run`.
    pub kind: Option<StepKind>,
    /// Where the kind is written, when it is.
    pub kind_span: Option<Span>,
    /// The template's statements, merged under the using step's own.
    pub body: Vec<StepStmt>,
    /// From `template` to the closing brace.
    pub span: Span,
}

/// An instance of a custom resource: `Kind name { field: value, … }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Instance {
    /// The kind name written first, which a `resource Kind` declaration must define.
    pub kind: Name,
    /// The instance's name, unique among instances of its kind.
    pub name: Name,
    /// The body's fields, in source order, validated against the kind's schema and rules.
    pub fields: Vec<Field>,
    /// The span of the `{ … }` body.
    pub body_span: Span,
    /// From the kind name to the closing brace.
    pub span: Span,
}

// ------------------------------------------------------------------ tests

/// `test "NAME" { … }`: a workflow test (docs/testing.md).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Test {
    /// The test's name: the string's value, spanning the whole string.
    pub name: Name,
    /// The test's statements, in source order.
    pub body: Vec<TestStmt>,
    /// From `test` to the closing brace.
    pub span: Span,
}

/// One statement of a test.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TestStmt {
    /// The statement's keyword and operands.
    pub kind: TestStmtKind,
    /// The statement, from its first token to its last.
    pub span: Span,
}

/// The statements a test holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TestStmtKind {
    /// `run WORKFLOW [with { … }] [as "PRINCIPAL"]`: the run the test starts.
    Run {
        /// The workflow to start.
        workflow: Name,
        /// Its inputs.
        inputs: Option<Value>,
        /// Who starts it (the run's initiator).
        initiator: Option<StrLit>,
    },
    /// `mock TARGET RESULT, …`: what a step's or an agent's attempts give
    /// instead of running a process, one result per attempt (the last repeats).
    Mock {
        /// What is mocked.
        target: MockTarget,
        /// One per attempt, in order.
        results: Vec<MockResult>,
    },
    /// `approve|reject STEP as "PRINCIPAL" [comment "TEXT"]`.
    Decide {
        /// `approve` (true) or `reject`.
        approve: bool,
        /// The gate.
        step: StepPath,
        /// Who decides.
        actor: StrLit,
        /// Why.
        comment: Option<StrLit>,
    },
    /// `complete STEP as "PRINCIPAL" with VALUE`: a human task's result.
    Complete {
        /// The human step.
        step: StepPath,
        /// Who completes it.
        actor: StrLit,
        /// The task's result.
        output: Value,
    },
    /// `send event "TYPE" [subject "S"] [with DATA]`: an inbound event.
    Send {
        /// The event's type.
        event_type: StrLit,
        /// Its subject.
        subject: Option<StrLit>,
        /// Its data.
        data: Option<Value>,
    },
    /// `advance DURATION`: moves the test's clock.
    Advance(DurationLit),
    /// `expect …`.
    Expect(Expectation),
}

/// A step of the test's workflow (`STEP`) or of a workflow it calls
/// (`WORKFLOW.STEP`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepPath {
    /// The workflow, when written.
    pub workflow: Option<Name>,
    /// The step.
    pub step: Name,
    /// The whole path.
    pub span: Span,
}

/// What a `mock` replaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MockTarget {
    /// A `run` or `agent` step.
    Step(StepPath),
    /// `agent NAME`: every call of the agent.
    Agent(Name),
}

/// One attempt's result in a mock.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MockResult {
    /// `returns VALUE`: the attempt succeeds with this output.
    Returns {
        /// The output.
        value: Value,
        /// From `returns` to the value's end.
        span: Span,
    },
    /// `fails [exit N] [stderr "TEXT"]`: the attempt fails (exit 1 unless given).
    Fails {
        /// The exit status.
        exit: Option<IntLit>,
        /// What it printed on stderr.
        stderr: Option<StrLit>,
        /// From `fails` to its last operand.
        span: Span,
    },
}

impl MockResult {
    /// Where the result is written.
    pub fn span(&self) -> Span {
        match self {
            MockResult::Returns { span, .. } | MockResult::Fails { span, .. } => *span,
        }
    }
}

/// What an `expect` asserts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expectation {
    /// `` expect `CEL` ``: a condition over the run.
    Expr(Expr),
    /// `expect STEP STATUS`, `expect run STATUS`.
    Status {
        /// The step (or `run`).
        target: StepPath,
        /// The status word.
        status: Name,
    },
    /// `expect refused approve|reject|complete …`: the decision is refused
    /// (its step is waiting, and the gate does not take it from this person).
    Refused(Box<TestStmt>),
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
    /// The workflow's `input` declarations, in source order.
    pub fn inputs(&self) -> impl Iterator<Item = &Input> {
        self.body.iter().filter_map(|s| match &s.kind {
            WorkflowStmtKind::Input(i) => Some(i),
            _ => None,
        })
    }
    /// The workflow's `output` declarations, in source order.
    pub fn outputs(&self) -> impl Iterator<Item = &WorkflowOutput> {
        self.body.iter().filter_map(|s| match &s.kind {
            WorkflowStmtKind::Output(o) => Some(o),
            _ => None,
        })
    }
    /// The workflow's invariants, in source order.
    pub fn invariants(&self) -> impl Iterator<Item = &Invariant> {
        self.body.iter().filter_map(|s| match &s.kind {
            WorkflowStmtKind::Invariant(i) => Some(i),
            _ => None,
        })
    }
    /// The workflow's `on` triggers, each with its statement's span.
    pub fn triggers(&self) -> impl Iterator<Item = (&Trigger, Span)> {
        self.body.iter().filter_map(|s| match &s.kind {
            WorkflowStmtKind::On(t) => Some((t, s.span)),
            _ => None,
        })
    }
}

impl Group {
    /// From the kind keyword to the end of the header (`after …`, `for each item …`).
    pub fn header_span(&self) -> Span {
        let end = self.deps.as_ref().map(|d| d.span.end).unwrap_or(self.name.span.end).max(self.for_each.map(|s| s.end).unwrap_or(0));
        Span::new(self.span.start, end)
    }
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
    /// The kinds of the step's statements, in source order; find one with
    /// `step.stmts().find(|k| matches!(k, StepStmtKind::Command(_)))`.
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
            .or(self.use_args.as_ref().map(|a| a.span.end))
            .or(self.kind_span.map(|s| s.end))
            .unwrap_or(self.name.span.end)
            .max(self.for_each.map(|s| s.end).unwrap_or(0));
        Span::new(self.span.start, end)
    }
}
