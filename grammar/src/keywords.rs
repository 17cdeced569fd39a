//! Every keyword of the language, once: its word, its category and its
//! one-line doc (`docs/language.md` is the long form). Hover and completion
//! read the docs, `errors::keywords_of` reads the declarations, trigger
//! rules and types; tests keep the pest grammar, the other contextual lists
//! of `crate::errors`, the AST's spellings, the compiler's shape tables
//! (`compiler/src/checks/shape.rs`) and the VS Code TextMate grammar in step
//! with it.

/// What kind of word a keyword is; the VS Code grammar colours each
/// category with one of its patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Starts a top-level declaration (`workflow`, `agent`, …).
    Declaration,
    /// Starts a statement of a workflow's body.
    WorkflowStatement,
    /// A word of a step or group header after its name (`after`, `for each item`).
    HeaderWord,
    /// What a step does, after `step NAME:`.
    StepKind,
    /// Starts (or continues) a statement of a step's body.
    StepStatement,
    /// A word of an `on` trigger line.
    TriggerWord,
    /// A statement of an agent, store, policy, resource, invariant, safety or env block.
    BlockStatement,
    /// How a step's dependencies decide that it runs.
    TriggerRule,
    /// An outcome predicate of a dependency condition (`failed(a)`).
    Outcome,
    /// A fixed value of a statement (`pause`, `exponential`, `deny`, …).
    Value,
    /// A type name (`string`, `int`, …); the grammar reads it as an identifier.
    Type,
    /// A literal value: `true`, `false`, `null`.
    Literal,
}

/// One keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keyword {
    /// The word as written.
    pub word: &'static str,
    /// What kind of word it is (a word used in several places has the
    /// category of the place it is best known from).
    pub category: Category,
    /// One line about it, shown on hover and in completion details.
    pub doc: Option<&'static str>,
}

const fn kw(word: &'static str, category: Category, doc: Option<&'static str>) -> Keyword {
    Keyword { word, category, doc }
}

use Category::*;

/// The keywords, by category.
pub const KEYWORDS: &[Keyword] = &[
    kw("workflow", Declaration, Some("`workflow NAME { … }`: inputs, triggers, defaults and the steps of one workflow")),
    kw("agent", Declaration, Some("`agent NAME { … }`: a command that reads a prompt on stdin and prints its answer; as a step kind, `step x: agent NAME` runs it with the step's `prompt`")),
    kw("env", Declaration, Some("`env { KEY = \"value\"  use SET  KEY = set.KEY }`: environment of steps; as a declaration, `env NAME { … }` is a reusable set")),
    kw("secrets", Declaration, Some("`secrets NAME { KEY = from_env(\"VAR\") }`: secret values, imported one key at a time (`NAME = set.KEY`)")),
    kw("store", Declaration, Some("`store NAME { schema … }`: durable key-value data shared by runs (`reads`, `then put`)")),
    kw("policy", Declaration, Some("`policy NAME { deny|require_approval|allow when `…` }`: governance rules a `check` step evaluates")),
    kw("resource", Declaration, Some("`resource Kind { schema … rule … }`: a custom resource kind; instances are `Kind name { … }`")),
    kw("template", Declaration, Some("`template NAME[: KIND] { … }`: step lines shared by the steps that `use` it")),
    kw("test", Declaration, Some("`test \"NAME\" { run WORKFLOW … mock … approve … expect … }`: a workflow test, run by `flowc test` (docs/testing.md)")),
    kw("description", WorkflowStatement, Some("`description \"text\"`: shown by tools")),
    kw("input", WorkflowStatement, Some("`input NAME: TYPE [= DEFAULT]`: an input of the workflow, read as `inputs.NAME`")),
    kw("on", WorkflowStatement, Some("`on event \"type\" …`, `on webhook NAME`, `on schedule \"cron\"`: what starts a run")),
    kw("retry", WorkflowStatement, Some("`retry N [on exit CODE, … | on timeout] [backoff fixed|exponential D [factor F] [max D] [jitter P%]] [max_duration D]`: attempts after the first")),
    kw("timeout", WorkflowStatement, Some("`timeout D`: the time limit (`30s`, `5m`, `2h`)")),
    kw("concurrency", WorkflowStatement, Some("`concurrency N`: at most N steps of a run at once")),
    kw("budget", WorkflowStatement, Some("`budget USD`: the run fails once agents' costs pass it")),
    kw("output", WorkflowStatement, Some("`output TYPE`: the declared output type, checked where `STEP.output` is read; in a workflow, `output NAME = `expr`` is a result of the run")),
    kw("safety", WorkflowStatement, Some("`safety { max_spawned_tasks N max_spawn_depth N spawn_cooldown D }`: limits on spawning")),
    kw("invariant", WorkflowStatement, Some("`invariant NAME { check … on_violation … }`: a condition checked after steps, which the run cannot weaken")),
    kw("step", WorkflowStatement, Some("`step NAME[: KIND] [after DEPS] [for each item] { … }`: one unit of work")),
    kw("parallel", WorkflowStatement, Some("`parallel NAME [after DEPS] { steps }`: a group whose members start together")),
    kw("finally", WorkflowStatement, Some("`finally { steps }`: the exit handler, steps that run once the rest of the run has ended, whatever its status; `run.status` and `run.failures` say how it ended")),
    kw("phase", WorkflowStatement, Some("`phase NAME [after DEPS] { steps }`: a named stage; `after NAME` waits for all of it")),
    kw("after", HeaderWord, Some("`after a, b`: run when every dependency succeeded (all_success); `RULE(a, b)` changes the rule: `one_success`, `all_done`, `none_failed`, `one_failed`, …; or a condition on outcomes: `after a, failed(b)`, `after succeeded(a) || skipped(b)`")),
    kw("for", HeaderWord, Some("`for each item`: run the step (or, on a `parallel`/`phase` group, the group's steps as one job) once per item of the current item list; `item` is the element. In a `timer` step, `for D` (or ``for `EXPR` ``, a duration or seconds): how long it waits")),
    kw("each", HeaderWord, Some("`for each item`: run the step once per item of the current item list; `item` is the element")),
    kw("item", HeaderWord, Some("`for each item`: run the step once per item of the current item list; `item` is the element")),
    kw("in", HeaderWord, Some("`for each item in [..]`: run the step once per item of this literal list (or `in matrix { … }`)")),
    kw("matrix", HeaderWord, Some("`for each item in matrix { axis: [..], …, exclude: [..], include: [..] }`: one run of the step per combination; `item.axis` is its value")),
    kw("run", StepKind, Some("step kind (the default): runs `command` through `sh -c`; stdout is the output")),
    kw("approval", StepKind, Some("step kind: the run blocks until someone approves or rejects (`flowc approve`)")),
    kw("check", StepKind, Some("`check \"TEMPLATE\" [expect \"text\"]`: a gate or invariant check; as a step kind, `check POLICY` evaluates a policy")),
    kw("wait", StepKind, Some("step kind: blocks until a matching event arrives; the event is the output")),
    kw("timer", StepKind, Some("step kind: waits `for D` or `until \"TIMESTAMP\"`, durably (a killed run resumes with the time left); the output is `{due_at, waited_ms}`")),
    kw("branch", StepKind, Some("step kind: picks the first arm ``when `cond` -> STEP[, STEP…]`` that holds, or `else -> STEP[, STEP…]`; an arm picks every step or group it names")),
    kw("notify", StepKind, Some("step kind: sends `message` to `channel`; never blocks, never fails the run")),
    kw("human", StepKind, Some("step kind: a pending task for a person; `flowc complete` gives its output")),
    kw("call", StepKind, Some("step kind: `call WORKFLOW` runs another workflow as a child run; its outputs are this step's output")),
    kw("select", StepKind, Some("step kind: keeps the best items of the item list (`strategy`, `metric`, `top_k`, …)")),
    kw("gate", StepKind, Some("step kind: every `check` must pass; `on_fail fix STEP` loops back to a fix")),
    kw("use", StepKind, Some("`use TEMPLATE` as a step kind: the template's lines; in `env`, `use SET` imports every key of an env set")),
    kw("command", StepStatement, Some("`command \"TEMPLATE\"`: the shell command; `${…}` and `$a.b` holes are shell-quoted")),
    kw("prompt", StepStatement, Some("`prompt \"TEMPLATE\"`: the prompt an agent step sends")),
    kw("with", StepStatement, Some("`with { … }`: the data of a `check` step or the inputs of a `call` step")),
    kw("when", StepStatement, Some("``when `EXPR` ``: a false condition skips the step; in a branch, ``when `EXPR` -> STEP`` is an arm")),
    kw("else", StepStatement, Some("`else -> STEP[, STEP…]`: the branch arm taken when no other holds")),
    kw("approvers", StepStatement, Some("`approvers [\"name\", …]`: who may approve")),
    kw("distinct_from_initiator", StepStatement, Some("whoever started the run may not approve it")),
    kw("message", StepStatement, Some("`message \"TEMPLATE\"`: an approval's question, a notification, a human task")),
    kw("compensate", StepStatement, Some("`compensate \"TEMPLATE\"` or `compensate STEP`: how to undo the step during compensation")),
    kw("channel", StepStatement, Some("`channel \"TEMPLATE\"`: where a notification goes (`slack:#sales`, `log:NAME`)")),
    kw("then", StepStatement, Some("`then put STORE.KEY = `…``, `then spawn WORKFLOW`, `then spawn each `list` -> WORKFLOW`: after the step succeeds")),
    kw("put", StepStatement, Some("`then put STORE.KEY = `EXPR``: write to a store after the step succeeds")),
    kw("spawn", StepStatement, Some("`then spawn WORKFLOW [{ inputs }]`: start a child run that outlives the step")),
    kw("reads", StepStatement, Some("`reads STORE.KEY as NAME`: read a store value before the step runs")),
    kw("as", StepStatement, None),
    kw("items", StepStatement, Some("``items `EXPR` ``: the list becomes the run's item list (for `for each item` steps and `select`)")),
    kw("strategy", StepStatement, Some("`strategy min|max|threshold|weighted`: how a select step scores items")),
    kw("metric", StepStatement, Some("`metric NAME`: the item field a select step compares")),
    kw("top_k", StepStatement, Some("`top_k N`: a select step keeps at most N items")),
    kw("threshold", StepStatement, Some("`threshold NUMBER`: the minimum score a select step keeps")),
    kw("weights", StepStatement, Some("`weights { field: NUMBER }`: the weight of each field (weighted select)")),
    kw("on_fail", StepStatement, Some("`on_fail fix STEP retry N [then pause|fail]` or `on_fail pause|fail`: what a gate does when a check fails")),
    kw("fix", StepStatement, None),
    kw("skippable", StepStatement, Some("`skippable`: `flowc skip` may pass this gate")),
    kw("skip_on_exit", StepStatement, Some("`skip_on_exit N, …`: an attempt exiting with one of these codes ends the step `skipped` (not failed, not retried); its dependents see it skipped")),
    kw("on_failure", StepStatement, Some("`on_failure fail|pause|continue`: what happens after a step's last retry; in a workflow, `on_failure fail|compensate`: what a failed run does (`compensate` runs its steps' compensations, newest first)")),
    kw("until", StepStatement, Some("`until \"2026-12-24T09:00:00Z\"` (or ``until `EXPR` ``, a timestamp): when a `timer` step's wait ends; a time already past ends it at once")),
    kw("fail_fast", StepStatement, Some("`fail_fast`: in a `for each item` step (or a `for each item` group's header), the first failed item cancels the running ones and the rest never start; without it every item runs. In a group's header (`parallel NAME fail_fast { … }`), the first failed member cancels the running members and skips the rest")),
    kw("compensate_on_failure", StepStatement, Some("`compensate_on_failure`: the step's `compensate` runs during compensation when the step itself failed, too (a payment that may have been charged)")),
    kw("backoff", StepStatement, Some("`backoff fixed D` waits D before every retry; `backoff exponential D` multiplies it by `factor` (2) each time")),
    kw("max", StepStatement, None),
    kw("exit", StepStatement, Some("`retry N on exit CODE, …`: retry only a command that exits with one of these statuses; any other failure is final")),
    kw("or", StepStatement, Some("`retry N on exit CODE, … or timeout`: retry on either condition")),
    kw("factor", StepStatement, Some("`backoff exponential D factor F`: each wait is F times the one before (2 by default)")),
    kw("jitter", StepStatement, Some("`jitter P%` (after `backoff …`): each wait is spread at random by up to ±P%, within `max`")),
    kw("max_duration", StepStatement, Some("`retry N … max_duration D`: no attempt starts once D has passed since the first one started")),
    kw("event", TriggerWord, Some("`event \"TYPE\" [subject \"S\"]`: what a wait step waits for; in expressions, the event")),
    kw("subject", TriggerWord, None),
    kw("where", TriggerWord, None),
    kw("webhook", TriggerWord, Some("`on webhook PROVIDER.ENTITY.ACTION [signed SCHEME with SET.KEY]`: start a run for each matching webhook")),
    kw("schedule", TriggerWord, Some("`on schedule \"CRON\" [catchup none|latest|all [within D]]`: start runs on a five-field UTC cron")),
    kw("signed", TriggerWord, Some("`signed github|stripe|hmac \"HEADER\" with SET.KEY`: `flowc serve` accepts the webhook only with a valid HMAC-SHA256 signature under that secret")),
    kw("hmac", TriggerWord, Some("`signed hmac \"HEADER\" with SET.KEY`: the header holds the hex HMAC-SHA256 of the raw body (optionally `sha256=`)")),
    kw("tolerance", TriggerWord, Some("`tolerance D` (after `signed stripe`): how old the signed timestamp may be; 5m by default")),
    kw("catchup", TriggerWord, Some("`catchup none|latest|all`: which fire times missed while nothing served start a run; `latest` (the default) runs once, for the most recent")),
    kw("within", TriggerWord, Some("`within D` (after `catchup latest|all`): missed fire times older than D are not caught up")),
    kw("capabilities", BlockStatement, Some("`capabilities [\"…\"]`: what an agent can do")),
    kw("cost_per_call", BlockStatement, Some("`cost_per_call USD`: an agent's cost, added to the run's budget")),
    kw("backend", BlockStatement, Some("`backend local` or `backend command \"…\"`: where a store keeps its data")),
    kw("local", BlockStatement, None),
    kw("schema", BlockStatement, Some("`schema { … }`: a JSON Schema the values must match")),
    kw("retention", BlockStatement, Some("`retention { max_entries N ttl D }`: how long a store keeps entries")),
    kw("max_entries", BlockStatement, None),
    kw("ttl", BlockStatement, None),
    kw("because", BlockStatement, Some("`because \"TEMPLATE\"`: the reason a policy rule gives")),
    kw("group", BlockStatement, None),
    kw("version", BlockStatement, None),
    kw("plural", BlockStatement, None),
    kw("short", BlockStatement, None),
    kw("rule", BlockStatement, Some("``rule `EXPR` [message \"text\"]``: a condition every instance of the resource must meet (`self` is the instance)")),
    kw("expect", BlockStatement, Some("`expect \"text\"`: the stdout a check must print; in a test, ``expect `CEL` `` or `expect STEP STATUS` asserts what the run did so far")),
    kw("mock", BlockStatement, Some("`mock STEP returns VALUE, fails exit N stderr \"…\"`: in a test, what a `run` or `agent` step's attempts give instead of running (`mock agent NAME …` for every call of an agent; the last result repeats)")),
    kw("returns", Value, Some("`returns VALUE`: a mocked attempt succeeds with this output")),
    kw("fails", Value, Some("`fails [exit N] [stderr \"text\"]`: a mocked attempt fails (exit 1 unless given)")),
    kw("stderr", Value, Some("`stderr \"text\"`: what a mocked failure printed on stderr")),
    kw("approve", BlockStatement, Some("`approve STEP as \"PRINCIPAL\" [comment \"text\"]`: in a test, a person approves a blocked gate")),
    kw("reject", BlockStatement, Some("`reject STEP as \"PRINCIPAL\" [comment \"text\"]`: in a test, a person rejects a blocked gate")),
    kw("comment", Value, Some("`comment \"text\"`: why a decision was made, recorded with it")),
    kw("complete", BlockStatement, Some("`complete STEP as \"PRINCIPAL\" with VALUE`: in a test, a person completes a human task")),
    kw("send", BlockStatement, Some("`send event \"TYPE\" [subject \"S\"] [with DATA]`: in a test, an event arrives (for `wait` steps and `on event` triggers)")),
    kw("refused", Value, Some("`expect refused approve|reject|complete STEP as \"PRINCIPAL\" …`: in a test, the gate must refuse this decision (separation of duties, approvers)")),
    kw("advance", BlockStatement, Some("`advance DURATION`: in a test, the clock moves on (deadlines, timers and timeouts that fall due take effect)")),
    kw("on_violation", BlockStatement, Some("`on_violation abort|warn|rollback [then pause|fail]`: what an invariant does when broken")),
    kw("protect", BlockStatement, Some("`protect \"glob\", …`: files the run must not change")),
    kw("at", BlockStatement, Some("`at STEP, …`: the steps after which an invariant is checked")),
    kw("max_spawned_tasks", BlockStatement, None),
    kw("max_spawn_depth", BlockStatement, None),
    kw("spawn_cooldown", BlockStatement, None),
    kw("from_env", BlockStatement, Some("`from_env(\"VAR\")`: the value of an environment variable of `flowc`")),
    kw("from_file", BlockStatement, Some("`from_file(\"path\")`: the contents of a file")),
    kw("all_success", TriggerRule, Some("trigger rule: run when every dependency succeeded (the default); upstream_failed if one failed, else skipped if one was skipped")),
    kw("all_failed", TriggerRule, Some("trigger rule: run when every dependency failed or was upstream_failed; skipped as soon as one succeeds or is skipped")),
    kw("all_done", TriggerRule, Some("trigger rule: run when every dependency finished, whatever its status")),
    kw("all_skipped", TriggerRule, Some("trigger rule: run when every dependency was skipped; skipped as soon as one does not")),
    kw("one_success", TriggerRule, Some("trigger rule: run when at least one dependency succeeded, without waiting for the rest; skipped if all were skipped, else upstream_failed")),
    kw("one_failed", TriggerRule, Some("trigger rule: run when at least one dependency failed or was upstream_failed, without waiting for the rest; skipped if none did")),
    kw("one_done", TriggerRule, Some("trigger rule: run when at least one dependency succeeded or failed, without waiting for the rest; skipped if none did")),
    kw("none_failed", TriggerRule, Some("trigger rule: run when every dependency succeeded or was skipped; upstream_failed as soon as one fails")),
    kw("none_failed_min_one_success", TriggerRule, Some("trigger rule: run when every dependency succeeded or was skipped and one succeeded; upstream_failed if one failed, skipped if all were skipped")),
    kw("none_skipped", TriggerRule, Some("trigger rule: run when every dependency finished and none was skipped; skipped as soon as one is")),
    kw("always", TriggerRule, Some("trigger rule: run at once, without waiting for the dependencies; never skipped or upstream_failed by them")),
    kw("succeeded", Outcome, Some("`succeeded(a)` in an `after` condition: `a` completed (a bare name means the same)")),
    kw("failed", Outcome, Some("`failed(a)` in an `after` condition: `a` ran and failed (a group: a member failed or was upstream_failed); not an upstream_failed `a`")),
    kw("upstream_failed", Outcome, Some("`upstream_failed(a)` in an `after` condition: `a` did not run because what it waits for failed")),
    kw("skipped", Outcome, Some("`skipped(a)` in an `after` condition: `a` was skipped (its `when`, `skip_on_exit`, a branch, a skip passed on)")),
    kw("done", Outcome, Some("`done(a)` in an `after` condition: `a` finished, whatever its outcome")),
    kw("fixed", Value, None),
    kw("exponential", Value, None),
    kw("min", Value, None),
    kw("weighted", Value, None),
    kw("fail", Value, None),
    kw("pause", Value, None),
    kw("continue", Value, None),
    kw("abort", Value, None),
    kw("warn", Value, None),
    kw("rollback", Value, None),
    kw("deny", Value, Some("policy rule: the check step fails with the reason")),
    kw("require_approval", Value, Some("policy rule: the check step becomes an approval gate")),
    kw("allow", Value, Some("policy rule: the check step passes")),
    kw("latest", Value, None),
    kw("none", Value, None),
    kw("all", Value, None),
    kw("github", Value, None),
    kw("stripe", Value, None),
    kw("string", Type, None),
    kw("number", Type, None),
    kw("int", Type, None),
    kw("bool", Type, None),
    kw("any", Type, None),
    kw("true", Literal, None),
    kw("false", Literal, None),
    kw("null", Literal, None),
];

/// The keyword spelt `word`.
pub fn keyword(word: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.word == word)
}

/// One line about a keyword, for hover and completion details.
pub fn doc(word: &str) -> Option<&'static str> {
    keyword(word)?.doc
}

/// The words of one category, in table order.
pub fn words(category: Category) -> impl Iterator<Item = &'static str> {
    KEYWORDS.iter().filter(move |k| k.category == category).map(|k| k.word)
}


// The ordered lists: completion and "did you mean" offer them in this order,
// and a word may be in several; the tests below hold them to the table.

/// The keywords that start a workflow statement or member, for "did you mean"
/// and for saying where a misplaced statement belongs.
pub const WORKFLOW_KEYWORDS: &[&str] = &[
    "description", "input", "on", "retry", "timeout", "concurrency", "budget", "output", "safety",
    "invariant", "env", "step", "parallel", "phase", "on_failure", "finally",
];

/// The keywords that start a step statement (`then` covers `then put`/`then spawn`).
pub const STEP_KEYWORDS: &[&str] = &[
    "description", "command", "prompt", "output", "with", "when", "else", "approvers",
    "distinct_from_initiator", "message", "timeout", "retry", "compensate", "channel", "event",
    "then", "reads", "items", "strategy", "metric", "top_k", "threshold", "weights", "check",
    "on_fail", "skippable", "on_failure", "env", "skip_on_exit", "compensate_on_failure", "fail_fast",
    "for", "until",
];

/// The step kinds that may follow `step NAME:`.
pub const STEP_KINDS: &[&str] = &[
    "run", "agent", "approval", "check", "wait", "timer", "branch", "notify", "human", "call", "select",
    "gate", "use",
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::errors::keywords_of;
    use crate::parser::Rule;

    /// String literals of the pest grammar that are no keywords.
    const NOT_KEYWORDS: &[&str] = &[
        "", "_", // the empty string, the identifier character
        "d", "h", "m", "ms", "s", // duration units (`30s`, `5m`)
        "e", // a number's exponent
        "n", "r", "t", // escapes in strings (`\n`)
    ];

    /// The word-like string literals of flow.pest (`"step"`; punctuation
    /// such as `"{"` or `"->"` is no keyword).
    fn pest_literals() -> BTreeSet<String> {
        let pest = include_str!("flow.pest");
        let mut out = BTreeSet::new();
        let mut at = 0;
        while let Some(open) = pest[at..].find('"').map(|i| at + i) {
            let inner = &pest[open + 1..];
            let word_len = inner.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(inner.len());
            if word_len > 0 && inner[word_len..].starts_with('"') {
                out.insert(inner[..word_len].to_string());
                at = open + 1 + word_len + 1;
            } else {
                at = open + 1;
            }
        }
        out
    }

    #[test]
    fn every_keyword_is_a_literal_of_the_pest_grammar_and_back() {
        let literals = pest_literals();
        for k in KEYWORDS {
            // Type names are identifiers to the parser; the checker knows them.
            if k.category == Type {
                assert!(!literals.contains(k.word), "`{}` is a literal of flow.pest: no longer just a type name", k.word);
                continue;
            }
            assert!(literals.contains(k.word), "`{}` is in KEYWORDS but no literal of flow.pest", k.word);
        }
        for lit in &literals {
            if NOT_KEYWORDS.contains(&lit.as_str()) {
                continue;
            }
            assert!(keyword(lit).is_some(), "flow.pest has the literal `{lit}`, which KEYWORDS lacks");
        }
    }

    #[test]
    fn each_word_is_in_the_table_once() {
        let mut seen = BTreeSet::new();
        for k in KEYWORDS {
            assert!(seen.insert(k.word), "`{}` is in KEYWORDS twice", k.word);
        }
    }

    /// Every word of the contextual lists (completion, "did you mean") is a
    /// keyword, and each category's words are where that category says.
    #[test]
    fn the_contextual_lists_name_only_keywords() {
        let rules = [
            Rule::declaration, Rule::workflow_item, Rule::step_item, Rule::group_item, Rule::agent_item, Rule::store_item,
            Rule::retention_item, Rule::policy_item, Rule::resource_item, Rule::invariant_item, Rule::safety_item,
            Rule::step_kind, Rule::backoff_kind, Rule::signature_scheme, Rule::catchup_mode, Rule::strategy_kind,
            Rule::failure_mode, Rule::fail_mode, Rule::violation_action, Rule::policy_effect, Rule::trigger_name,
            Rule::group_kind, Rule::named_type,
        ];
        for rule in rules {
            for word in keywords_of(rule).expect("a statement list") {
                assert!(keyword(word).is_some(), "keywords_of({rule:?}) names `{word}`, which KEYWORDS lacks");
            }
        }
        // (The declarations, trigger rules and types of `keywords_of` are
        // read from this table.)
        // A step kind may be best known as something else (`agent` declares one).
        let kinds: BTreeSet<&str> = STEP_KINDS.iter().copied().collect();
        assert!(words(StepKind).all(|w| kinds.contains(w)), "every StepKind keyword is in STEP_KINDS");
        assert!(STEP_KINDS.iter().all(|w| keyword(w).is_some()));
        for w in words(WorkflowStatement) {
            assert!(WORKFLOW_KEYWORDS.contains(&w), "`{w}` is a WorkflowStatement but not in WORKFLOW_KEYWORDS");
        }
        for w in words(StepStatement).filter(|w| !["put", "spawn", "as", "fix", "backoff", "max", "exit", "or", "factor", "jitter", "max_duration"].contains(w)) {
            // `then put`, `then spawn`, `reads X as Y`, `on_fail fix`,
            // `retry N on exit C or timeout backoff … factor F max D jitter P% max_duration D`
            // continue a statement rather than start one.
            assert!(STEP_KEYWORDS.contains(&w), "`{w}` is a StepStatement but not in STEP_KEYWORDS");
        }
    }

    /// The AST spells its keywords (`keyword()` of its enums) as the table does.
    #[test]
    fn the_ast_spells_keywords_of_the_table() {
        use crate::ast::{CatchupMode, GroupKind, OnFailure, PolicyEffect, SignatureScheme, Strategy, TriggerRule};
        let spelt = [
            GroupKind::Parallel.keyword(), GroupKind::Phase.keyword(), GroupKind::Finally.keyword(),
            CatchupMode::None.keyword(), CatchupMode::Latest.keyword(), CatchupMode::All.keyword(),
            SignatureScheme::Github.keyword(), SignatureScheme::Stripe.keyword(), SignatureScheme::Hmac.keyword(),
            Strategy::Min.keyword(), Strategy::Max.keyword(), Strategy::Threshold.keyword(), Strategy::Weighted.keyword(),
            OnFailure::Fail.keyword(), OnFailure::Pause.keyword(), OnFailure::Continue.keyword(),
            PolicyEffect::Deny.keyword(), PolicyEffect::RequireApproval.keyword(), PolicyEffect::Allow.keyword(),
        ];
        let rules = TriggerRule::ALL.map(TriggerRule::keyword);
        assert_eq!(words(Category::TriggerRule).collect::<Vec<_>>(), rules, "the table lists every trigger rule, in the AST's order");
        for word in spelt.into_iter().chain(rules) {
            assert!(keyword(word).is_some(), "the AST spells `{word}`, which KEYWORDS lacks");
        }
    }

    /// The words of the alternations `(a|b|c)` of a TextMate regex.
    fn alternatives(regex: &str) -> Vec<BTreeSet<String>> {
        let mut out = Vec::new();
        for (start, _) in regex.match_indices('(') {
            let inner = &regex[start + 1..];
            let Some(end) = inner.find(')') else { continue };
            let group = &inner[..end];
            if group.contains('|') && group.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '|') {
                out.push(group.split('|').map(str::to_string).collect());
            }
        }
        out
    }

    /// The VS Code grammar colours every keyword with the pattern of its
    /// category, and colours no word as a keyword that the table lacks.
    #[test]
    fn the_textmate_grammar_matches_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../editors/vscode/syntaxes/flow.tmLanguage.json");
        let text = std::fs::read_to_string(path).expect("the VS Code grammar");
        let grammar: serde_json::Value = serde_json::from_str(&text).expect("the VS Code grammar is JSON");
        let repo = &grammar["repository"];
        let patterns = |section: &str| repo[section]["patterns"].as_array().cloned().unwrap_or_default();
        let named = |section: &str, name: &str| -> BTreeSet<String> {
            let p = patterns(section).into_iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no {name} pattern in {section}"));
            alternatives(p["match"].as_str().unwrap_or("")).into_iter().next().unwrap_or_default()
        };
        let first_alternation = |section: &str| -> BTreeSet<String> {
            let p = &patterns(section)[0];
            alternatives(p["match"].as_str().unwrap_or("")).into_iter().next().unwrap_or_default()
        };
        let statements = named("keywords", "keyword.other.flow");
        let constants = named("keywords", "support.constant.flow");
        let outcomes = named("keywords", "support.function.flow");
        let types = named("keywords", "support.type.flow");
        let literals = named("literals", "constant.language.flow");
        // `^\s*(workflow|agent|…)\s+NAME` and `step NAME: (run|agent|…)`.
        let declarations = first_alternation("declarations");
        let kinds = first_alternation("headers");
        for k in KEYWORDS {
            let (pattern, what) = match k.category {
                Declaration => (&declarations, "the declarations pattern"),
                StepKind => (&kinds, "the step kinds of the headers pattern"),
                TriggerRule | Value => (&constants, "support.constant.flow"),
                Outcome => (&outcomes, "support.function.flow"),
                Type => (&types, "support.type.flow"),
                Literal => (&literals, "constant.language.flow"),
                WorkflowStatement | HeaderWord | StepStatement | TriggerWord | BlockStatement => (&statements, "keyword.other.flow"),
            };
            assert!(pattern.contains(k.word), "`{}` ({:?}) is not in {what} of the VS Code grammar", k.word, k.category);
        }
        for section in ["declarations", "headers", "keywords", "literals"] {
            // Duration units (`constant.numeric.duration`) are no keywords.
            for p in patterns(section).into_iter().filter(|p| !p["name"].as_str().is_some_and(|n| n.starts_with("constant.numeric"))) {
                for group in alternatives(p["match"].as_str().unwrap_or("")) {
                    for word in group {
                        assert!(keyword(&word).is_some(), "the VS Code grammar ({section}) colours `{word}`, which KEYWORDS lacks");
                    }
                }
            }
        }
        assert!(STEP_KINDS.iter().all(|k| kinds.contains(*k)), "every step kind is coloured as one");
    }
}
