//! Syntax errors, and the words that describe what the grammar expected.

use std::sync::LazyLock;

use crate::ast::Span;
pub use crate::keywords::{STEP_KEYWORDS, STEP_KINDS, WORKFLOW_KEYWORDS};
use crate::keywords::{Category, words};
use crate::rules::Rule;

/// The kinds of syntax error. Each has a stable code (see `code`), documented
/// in `docs/diagnostics/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyntaxErrorKind {
    /// The grammar expected something else here.
    Unexpected,
    /// A `"` string with no closing quote (reported at the opening quote).
    UnterminatedString,
    /// A backtick expression with no closing backtick.
    UnterminatedExpression,
    /// A `/*` comment with no closing `*/`.
    UnterminatedComment,
    /// A backslash escape the language does not define (`\q`).
    InvalidEscape,
    /// A `{` never closed (reported at that brace, not at the end of the file).
    UnclosedBrace,
    /// A whole number that does not fit in 64 bits.
    NumberOutOfRange,
    /// A duration whose milliseconds do not fit in 64 bits.
    DurationOutOfRange,
    /// A `${` hole with no closing `}` before the end of its template.
    UnclosedHole,
    /// Brackets nested deeper than [`crate::lexer::MAX_NESTING`].
    NestingTooDeep,
}

impl SyntaxErrorKind {
    /// The error's stable code (`E0101`…), the name of its page in `docs/diagnostics/`.
    pub fn code(self) -> &'static str {
        match self {
            SyntaxErrorKind::Unexpected => "E0101",
            SyntaxErrorKind::UnterminatedString => "E0102",
            SyntaxErrorKind::UnterminatedExpression => "E0103",
            SyntaxErrorKind::UnterminatedComment => "E0104",
            SyntaxErrorKind::InvalidEscape => "E0105",
            SyntaxErrorKind::UnclosedBrace => "E0106",
            SyntaxErrorKind::NumberOutOfRange => "E0107",
            SyntaxErrorKind::DurationOutOfRange => "E0108",
            SyntaxErrorKind::UnclosedHole => "E0109",
            SyntaxErrorKind::NestingTooDeep => "E0110",
        }
    }

    /// Every kind, in code order.
    pub const ALL: [SyntaxErrorKind; 10] = [
        SyntaxErrorKind::Unexpected,
        SyntaxErrorKind::UnterminatedString,
        SyntaxErrorKind::UnterminatedExpression,
        SyntaxErrorKind::UnterminatedComment,
        SyntaxErrorKind::InvalidEscape,
        SyntaxErrorKind::UnclosedBrace,
        SyntaxErrorKind::NumberOutOfRange,
        SyntaxErrorKind::DurationOutOfRange,
        SyntaxErrorKind::UnclosedHole,
        SyntaxErrorKind::NestingTooDeep,
    ];
}

/// One syntax error, ready to render: what, where, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyntaxError {
    /// What went wrong.
    pub kind: SyntaxErrorKind,
    /// The primary span, where the error is shown.
    pub span: Span,
    /// The headline ("this string is never closed").
    pub message: String,
    /// The label under the primary span.
    pub label: String,
    /// A hint on how to fix it, shown under the label.
    pub help: Option<String>,
    /// An edit that fixes it, for an editor to offer.
    pub fix: Option<SyntaxFix>,
}

/// A replacement of the text at `span` by `new_text`, titled for a menu.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SyntaxFix {
    /// The menu entry's text ("rename to `my_step`").
    pub title: String,
    /// The text to replace; empty to insert at its start.
    pub span: Span,
    /// The replacement text.
    pub new_text: String,
}

/// How a rule reads in "expected …". Exhaustive on purpose: a new rule must
/// say how it reads before the grammar compiles.
pub fn describe(rule: Rule) -> &'static str {
    use Rule::*;
    match rule {
        EOI => "end of file",
        // Silent rules: pest never reports them.
        WHITESPACE | COMMENT | ident_char | hole_atom | hole_plain | tpl_plain | rec_atom | rec_inner | rec_block | rec_paren
        | rec_bracket | rec_string | rec_cel | rec_comment => "",
        ident => "a name",
        kind_name => "a resource kind (a PascalCase name)",
        int => "a whole number",
        number => "a number",
        duration => "a duration such as `30s`, `5m` or `2h`",
        escape => "an escape sequence",
        string | string_inner => "a string",
        template | tpl_dollar | tpl_hole | tpl_short | tpl_text | short_path => "a string",
        hole_expr => "an expression",
        hole_close => "`}` to close the `${` hole",
        cel | cel_body => "an expression in backticks",
        cel_close => "a closing backtick",
        kw_workflow => "`workflow`",
        kw_agent => "`agent`",
        kw_env => "`env`",
        kw_secrets => "`secrets`",
        kw_store => "`store`",
        kw_policy => "`policy`",
        kw_resource => "`resource`",
        kw_template => "`template`",
        kw_step => "`step`",
        kw_after => "`after`",
        kw_for => "`for each item`",
        kw_in => "`in`",
        kw_matrix => "`matrix`",
        kw_each => "`each`",
        kw_item => "`item`",
        kw_description => "`description`",
        kw_input => "`input`",
        kw_on => "`on`",
        kw_event => "`event`",
        kw_subject => "`subject`",
        kw_where => "`where`",
        kw_webhook => "`webhook`",
        kw_schedule => "`schedule`",
        kw_signed => "`signed`",
        // Read as the scheme it starts, so "expected" names the three once.
        kw_hmac => "a signature scheme (`github`, `stripe` or `hmac \"HEADER\"`)",
        kw_tolerance => "`tolerance`",
        kw_catchup => "`catchup`",
        kw_within => "`within`",
        kw_retry => "`retry`",
        kw_backoff => "`backoff`",
        kw_max => "`max`",
        kw_exit => "`exit`",
        kw_or => "`or`",
        kw_factor => "`factor`",
        kw_jitter => "`jitter`",
        kw_max_duration => "`max_duration`",
        kw_timeout => "`timeout`",
        kw_concurrency => "`concurrency`",
        kw_budget => "`budget`",
        kw_output => "`output`",
        kw_safety => "`safety`",
        kw_max_spawned_tasks => "`max_spawned_tasks`",
        kw_max_spawn_depth => "`max_spawn_depth`",
        kw_spawn_cooldown => "`spawn_cooldown`",
        kw_invariant => "`invariant`",
        kw_check => "`check`",
        kw_expect => "`expect`",
        kw_on_violation => "`on_violation`",
        kw_protect => "`protect`",
        kw_at => "`at`",
        kw_command => "`command`",
        kw_prompt => "`prompt`",
        kw_with => "`with`",
        kw_when => "`when`",
        kw_else => "`else`",
        kw_approvers => "`approvers`",
        kw_distinct_from_initiator => "`distinct_from_initiator`",
        kw_message => "`message`",
        kw_compensate => "`compensate`",
        kw_channel => "`channel`",
        kw_then => "`then`",
        kw_put => "`put`",
        kw_spawn => "`spawn`",
        kw_reads => "`reads`",
        kw_as => "`as`",
        kw_items => "`items`",
        kw_strategy => "`strategy`",
        kw_metric => "`metric`",
        kw_top_k => "`top_k`",
        kw_threshold => "`threshold`",
        kw_weights => "`weights`",
        kw_on_fail => "`on_fail`",
        kw_fix => "`fix`",
        kw_skippable => "`skippable`",
        kw_skip_on_exit => "`skip_on_exit`",
        kw_on_failure => "`on_failure`",
        kw_compensate_on_failure => "`compensate_on_failure`",
        kw_fail_fast => "`fail_fast`",
        kw_finally => "`finally`",
        kw_until => "`until`",
        kw_use => "`use`",
        kw_from_env => "`from_env`",
        kw_from_file => "`from_file`",
        kw_capabilities => "`capabilities`",
        kw_cost_per_call => "`cost_per_call`",
        kw_backend => "`backend`",
        kw_local => "`local`",
        kw_schema => "`schema`",
        kw_retention => "`retention`",
        kw_max_entries => "`max_entries`",
        kw_ttl => "`ttl`",
        kw_because => "`because`",
        kw_group => "`group`",
        kw_version => "`version`",
        kw_plural => "`plural`",
        kw_short => "`short`",
        kw_rule => "`rule`",
        kw_test => "`test`",
        kw_run => "`run`",
        kw_mock => "`mock`",
        kw_returns => "`returns`",
        kw_fails => "`fails`",
        kw_stderr => "`stderr`",
        kw_complete => "`complete`",
        kw_comment => "`comment`",
        kw_send => "`send`",
        kw_advance => "`advance`",
        kw_refused => "`refused`",
        value => "a value",
        object | instance_body => "an object `{ … }`",
        field => "a field `name: value`",
        array => "a list `[ … ]`",
        bool_lit => "`true` or `false`",
        null_lit => "`null`",
        open_brace => "`{`",
        open_paren => "`(`",
        colon => "`:`",
        close_brace => "`}`",
        close_bracket => "`]`",
        close_paren => "`)`",
        arrow => "`->`",
        equals => "`=`",
        type_expr | named_type => "a type (`string`, `number`, `int`, `bool`, `any`, `[T]` or `{ … }`)",
        list_type => "a list type `[T]`",
        object_type => "an object type `{ name: T }`",
        type_field => "a field `name: type`",
        optional_mark => "`?`",
        ident_list => "a list of names",
        string_list => "a list of strings",
        file | file_strict | piece_declaration => "a declaration",
        piece_workflow_item => "a workflow statement",
        declaration => "a declaration (`workflow`, `agent`, `env`, `secrets`, `store`, `policy`, `resource`, `template`, `test` or a resource instance)",
        recover_top | recover => "a statement",
        workflow => "`workflow`",
        workflow_body => "`{`",
        workflow_items_strict | workflow_item => "a workflow statement",
        description_stmt => "`description`",
        input_stmt => "`input`",
        on_stmt => "`on`",
        on_event => "`event`",
        on_webhook => "`webhook`",
        webhook_path => "a webhook path `provider.entity.action`",
        on_schedule => "`schedule`",
        signed_clause => "`signed`",
        signature_scheme | hmac_scheme => "a signature scheme (`github`, `stripe` or `hmac \"HEADER\"`)",
        tolerance_clause => "`tolerance`",
        catchup_clause => "`catchup`",
        catchup_mode => "`none`, `latest` or `all`",
        within_clause => "`within`",
        retry_stmt => "`retry`",
        backoff_clause => "`backoff`",
        backoff_kind => "`fixed` or `exponential`",
        retry_on => "`on exit CODE` or `on timeout`",
        retry_exit => "`exit CODE`",
        retry_timeout => "`timeout`",
        factor_clause => "`factor`",
        jitter_clause => "`jitter`",
        percent => "a percentage such as `20%`",
        max_duration_clause => "`max_duration`",
        timeout_stmt => "`timeout`",
        concurrency_stmt => "`concurrency`",
        budget_stmt => "`budget`",
        wf_output_stmt => "`output`",
        safety_block => "`safety`",
        safety_items_strict | safety_item => "a safety limit (`max_spawned_tasks`, `max_spawn_depth` or `spawn_cooldown`)",
        max_spawned_tasks_stmt => "`max_spawned_tasks`",
        max_spawn_depth_stmt => "`max_spawn_depth`",
        spawn_cooldown_stmt => "`spawn_cooldown`",
        invariant => "`invariant`",
        invariant_items_strict | invariant_item => "an invariant statement (`description`, `check`, `on_violation`, `protect` or `at`)",
        check_cmd_stmt => "`check`",
        on_violation_stmt => "`on_violation`",
        violation_action => "`abort`, `warn` or `rollback`",
        fail_mode => "`pause` or `fail`",
        protect_stmt => "`protect`",
        at_stmt => "`at`",
        env_block => "`env`",
        env_entries_strict | env_entry => "an environment entry (`use SET` or `NAME = value`)",
        env_use => "`use`",
        env_assign => "`NAME = value`",
        key_ref => "a key reference `set.KEY`",
        secret_source => "`from_env(\"VAR\")` or `from_file(\"path\")`",
        from_env => "`from_env`",
        from_file => "`from_file`",
        group => "`parallel` or `phase`",
        group_kind => "`parallel` or `phase`",
        group_body => "`{`",
        group_items_strict | group_item => "a step or group (`step`, `parallel` or `phase`)",
        step => "`step`",
        kind_clause => "`:` and a step kind",
        step_kind | kind_simple => "a step kind (`run`, `agent`, `approval`, `check`, `wait`, `timer`, `branch`, `notify`, `human`, `call`, `select`, `gate` or `use`)",
        kind_agent => "`agent`",
        kind_check => "`check`",
        kind_call | kind_call_kw => "`call`",
        kind_use => "`use`",
        after_clause => "`after`",
        trigger_call => "a trigger rule and its dependencies (`one_success(…)`, `all_done(…)`, `none_failed(…)`, …)",
        trigger_name => "a trigger rule (`all_success`, `one_success`, `all_done`, `none_failed`, …)",
        dep_item | dep_and | dep_atom => "a dependency (a name, `failed(name)`, `RULE(names)`, …)",
        dep_paren => "`(`",
        dep_or_op => "`||`",
        dep_and_op => "`&&`",
        outcome_call => "an outcome and its dependency (`succeeded(a)`, `failed(a)`, `skipped(a)`, …)",
        outcome_name => "an outcome (`succeeded`, `failed`, `upstream_failed`, `skipped` or `done`)",
        for_each_clause => "`for each item`",
        matrix_items => "`matrix { … }`",
        step_body => "`{`",
        step_items_strict | step_item => "a step statement",
        command_stmt => "`command`",
        prompt_stmt => "`prompt`",
        output_type_stmt => "`output`",
        with_stmt => "`with`",
        branch_arm => "`when`",
        else_arm => "`else`",
        when_stmt => "`when`",
        approvers_stmt => "`approvers`",
        distinct_stmt => "`distinct_from_initiator`",
        message_stmt => "`message`",
        compensate_stmt => "`compensate`",
        channel_stmt => "`channel`",
        event_stmt => "`event`",
        then_stmt => "`then`",
        then_put => "`put`",
        then_spawn_each | then_spawn => "`spawn`",
        store_key => "a store key `STORE.KEY`",
        reads_stmt => "`reads`",
        items_stmt => "`items`",
        strategy_stmt => "`strategy`",
        strategy_kind => "a strategy (`min`, `max`, `threshold` or `weighted`)",
        metric_stmt => "`metric`",
        top_k_stmt => "`top_k`",
        threshold_stmt => "`threshold`",
        weights_stmt => "`weights`",
        on_fail_stmt => "`on_fail`",
        on_fail_fix => "`fix STEP retry N`",
        skippable_stmt => "`skippable`",
        skip_on_exit_stmt => "`skip_on_exit`",
        on_failure_stmt => "`on_failure`",
        failure_mode => "`fail`, `pause` or `continue`",
        compensate_on_failure_stmt => "`compensate_on_failure`",
        fail_fast_stmt | group_fail_fast => "`fail_fast`",
        finally_block => "a `finally { … }` block",
        timer_for_stmt => "`for`",
        timer_until_stmt => "`until`",
        run_on_failure_stmt => "`on_failure`",
        run_failure_mode => "`fail` or `compensate`",
        agent => "`agent`",
        agent_items_strict | agent_item => "an agent statement (`description`, `command`, `capabilities`, `env`, `cost_per_call`, `timeout` or `retry`)",
        capabilities_stmt => "`capabilities`",
        cost_stmt => "`cost_per_call`",
        env_set => "`env`",
        secret_set => "`secrets`",
        secret_entries_strict | secret_entry => "a secret `NAME = from_env(\"VAR\")`",
        store => "`store`",
        store_items_strict | store_item => "a store statement (`description`, `backend`, `schema` or `retention`)",
        backend_stmt => "`backend`",
        backend_command => "`command`",
        schema_stmt => "`schema`",
        retention_block => "`retention`",
        retention_items_strict | retention_item => "a retention limit (`max_entries` or `ttl`)",
        max_entries_stmt => "`max_entries`",
        ttl_stmt => "`ttl`",
        policy => "`policy`",
        policy_items_strict | policy_item => "a policy rule (`deny`, `require_approval` or `allow`)",
        policy_rule => "a policy rule",
        policy_effect => "`deny`, `require_approval` or `allow`",
        resource => "`resource`",
        resource_items_strict | resource_item => "a resource statement (`description`, `group`, `version`, `plural`, `short`, `schema` or `rule`)",
        group_stmt => "`group`",
        version_stmt => "`version`",
        plural_stmt => "`plural`",
        short_stmt => "`short`",
        rule_stmt => "`rule`",
        template_decl => "`template`",
        template_params => "a parameter list `(name: type, …)`",
        template_param => "a parameter `name: type [= default]`",
        instance => "a resource instance",
        test_decl => "`test`",
        test_items_strict | test_item => "a test statement (`run`, `mock`, `approve`, `reject`, `complete`, `send event`, `advance` or `expect`)",
        test_run => "`run`",
        test_mock => "`mock`",
        mock_agent => "`agent NAME`",
        step_path => "a step (`STEP` or `WORKFLOW.STEP`)",
        mock_result => "`returns VALUE` or `fails [exit N] [stderr \"TEXT\"]`",
        mock_returns => "`returns`",
        mock_fails => "`fails`",
        test_decide | decide_word => "`approve` or `reject`",
        test_complete => "`complete`",
        test_send => "`send event`",
        test_advance => "`advance`",
        test_expect => "`expect`",
        expect_status => "`STEP STATUS`",
        expect_refused => "`refused approve|reject|complete …`",
    }
}

/// The statement keywords each kind of block accepts, for "did you mean" and
/// completion. `None` for rules that are not statement lists.
pub fn keywords_of(rule: Rule) -> Option<&'static [&'static str]> {
    use Rule::*;
    Some(match rule {
        declaration | file | file_strict => &DECLARATIONS,
        workflow_item | workflow_items_strict => WORKFLOW_KEYWORDS,
        step_item | step_items_strict => STEP_KEYWORDS,
        group_item | group_items_strict => &["step", "parallel", "phase"],
        agent_item | agent_items_strict => {
            &["description", "command", "capabilities", "env", "cost_per_call", "timeout", "retry"]
        }
        store_item | store_items_strict => &["description", "backend", "schema", "retention"],
        retention_item | retention_items_strict => &["max_entries", "ttl"],
        policy_item | policy_items_strict => &["description", "deny", "require_approval", "allow"],
        resource_item | resource_items_strict => {
            &["description", "group", "version", "plural", "short", "schema", "rule"]
        }
        invariant_item | invariant_items_strict => {
            &["description", "check", "on_violation", "protect", "at"]
        }
        safety_item | safety_items_strict => {
            &["max_spawned_tasks", "max_spawn_depth", "spawn_cooldown"]
        }
        test_item | test_items_strict => {
            &["run", "mock", "approve", "reject", "complete", "send", "advance", "expect"]
        }
        step_kind | kind_simple | kind_clause => STEP_KINDS,
        backoff_kind => &["fixed", "exponential"],
        signature_scheme | hmac_scheme => &["github", "stripe", "hmac"],
        catchup_mode => &["none", "latest", "all"],
        strategy_kind => &["min", "max", "threshold", "weighted"],
        failure_mode => &["fail", "pause", "continue"],
        run_failure_mode => &["fail", "compensate"],
        fail_mode => &["pause", "fail"],
        violation_action => &["abort", "warn", "rollback"],
        policy_effect => &["deny", "require_approval", "allow"],
        trigger_name | trigger_call => &TRIGGER_RULES,
        outcome_name | outcome_call => &OUTCOMES,
        group_kind => &["parallel", "phase"],
        named_type | type_expr => &TYPES,
        _ => return None,
    })
}

/// The declaration keywords, from the keyword table.
static DECLARATIONS: LazyLock<Vec<&'static str>> = LazyLock::new(|| words(Category::Declaration).collect());
/// The outcome predicates of a dependency condition, from the keyword table.
static OUTCOMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| words(Category::Outcome).collect());
/// The trigger rules, from the keyword table.
static TRIGGER_RULES: LazyLock<Vec<&'static str>> = LazyLock::new(|| words(Category::TriggerRule).collect());
/// The type names, from the keyword table.
static TYPES: LazyLock<Vec<&'static str>> = LazyLock::new(|| words(Category::Type).collect());


/// The keyword a `kw_*` rule matches, for "did you mean".
fn keyword_text(rule: Rule) -> Option<&'static str> {
    if !format!("{rule:?}").starts_with("kw_") {
        return None;
    }
    describe(rule).strip_prefix('`').and_then(|s| s.strip_suffix('`'))
}

/// Joins phrases as "a, b or c", dropping duplicates.
pub fn join_alternatives(items: &[&str]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for i in items {
        if !seen.contains(i) {
            seen.push(i);
        }
    }
    match seen.len() {
        0 => String::new(),
        1 => seen[0].to_string(),
        n => format!("{} or {}", seen[..n - 1].join(", "), seen[n - 1]),
    }
}

/// Builds the error for a failed strict re-parse: `expected` are the rules pest
/// tried at `at`, the furthest point it reached.
pub fn unexpected(src: &str, at: usize, expected: &[Rule]) -> SyntaxError {
    let mut rules: Vec<Rule> = expected.to_vec();
    // "end of file" is only worth saying when it is all that would fit.
    if rules.len() > 1 {
        rules.retain(|r| *r != Rule::EOI);
    }
    let mut phrases: Vec<&str> = rules.iter().map(|r| describe(*r)).filter(|p| !p.is_empty()).collect();
    // Say the block delimiters last: "expected `:`, `after` or `{`".
    phrases.sort_by_key(|p| matches!(*p, "`{`" | "`}`"));
    let (found, found_span) = found_token(src, at);
    let message = if phrases.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_alternatives(&phrases))
    };
    let mut candidates: Vec<&str> = Vec::new();
    for r in &rules {
        if let Some(kws) = keywords_of(*r) {
            candidates.extend_from_slice(kws);
        }
        if let Some(kw) = keyword_text(*r) {
            candidates.push(kw);
        }
    }
    let word = &src[found_span.range()];
    let help = if word.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') {
        did_you_mean(word, &candidates).map(|s| format!("did you mean `{s}`?"))
    } else {
        None
    };
    let help = help.or_else(|| misplaced_help(word, &rules)).or_else(|| context_help(&rules));
    let help = if word == "\u{FEFF}" {
        Some("a byte-order mark may only start the file; delete this one (most editors show it as nothing)".to_string())
    } else {
        help
    };
    if let Some(err) = misplaced_in_group(word, found_span, &rules) {
        return err;
    }
    if word == "-"
        && let Some(err) = dashed_name(src, at)
    {
        return err;
    }
    let expected = join_alternatives(&phrases);
    SyntaxError {
        fix: None,
        kind: SyntaxErrorKind::Unexpected,
        span: found_span,
        label: if expected.is_empty() || expected.len() > 60 {
            "unexpected here".to_string()
        } else {
            format!("expected {expected}")
        },
        message,
        help,
    }
}

/// A statement written at the top level: say where it belongs.
fn misplaced_help(word: &str, rules: &[Rule]) -> Option<String> {
    use Rule::*;
    if !rules.iter().any(|r| matches!(r, declaration | file | file_strict)) {
        return None;
    }
    if WORKFLOW_KEYWORDS.contains(&word) {
        Some(format!("`{word}` belongs inside a workflow: `workflow NAME {{ {word} … }}`"))
    } else if STEP_KEYWORDS.contains(&word) {
        Some(format!("`{word}` belongs inside a step: `step NAME {{ {word} … }}`"))
    } else {
        None
    }
}

/// `step foo-bar {`: the grammar stops at the `-`; say that names take no
/// `-` and offer the name with `_` instead.
fn dashed_name(src: &str, at: usize) -> Option<SyntaxError> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = src[..at].char_indices().rev().find(|(_, c)| !is_ident(*c)).map_or(0, |(i, c)| i + c.len_utf8());
    if !src[start..at].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let rest = &src[at..];
    let len = rest.find(|c: char| !(is_ident(c) || c == '-')).unwrap_or(rest.len());
    let name = src[start..at + len].trim_end_matches('-');
    if name.len() <= at - start + 1 {
        return None; // nothing after the `-`: not a dashed name
    }
    let fixed = name.replace('-', "_");
    let span = Span::from_range(start..start + name.len());
    Some(SyntaxError {
        kind: SyntaxErrorKind::Unexpected,
        span,
        message: format!("`-` is not allowed in names: `{name}`"),
        label: "not a name".into(),
        help: Some(format!("names take letters, digits and `_`: write `{fixed}`")),
        fix: Some(SyntaxFix { title: format!("rename to `{fixed}`"), span, new_text: fixed }),
    })
}

/// A statement of a workflow or a step written inside a `parallel`/`phase`
/// group, which holds only steps and groups: say where it belongs.
fn misplaced_in_group(word: &str, span: Span, rules: &[Rule]) -> Option<SyntaxError> {
    use Rule::*;
    if !rules.iter().any(|r| matches!(r, group_item | group_items_strict)) || matches!(word, "step" | "parallel" | "phase") {
        return None;
    }
    let (owner, help) = match (WORKFLOW_KEYWORDS.contains(&word), STEP_KEYWORDS.contains(&word)) {
        (true, true) => (
            "a workflow or a step",
            format!("move `{word}` out of the group to the workflow's body for the whole workflow, or into the steps it is meant for"),
        ),
        (true, false) => ("a workflow", format!("move `{word}` out of the group, to the workflow's body")),
        (false, true) => ("a step", format!("move `{word}` into the steps of the group it is meant for")),
        (false, false) => return None,
    };
    Some(SyntaxError {
        fix: None,
        kind: SyntaxErrorKind::Unexpected,
        span,
        message: format!("`{word}` belongs to {owner}, not to a group"),
        label: "not allowed in a group".into(),
        help: Some(format!("a group holds only steps and groups; {help}")),
    })
}

/// A hint naming what a block accepts, when no close keyword was found.
fn context_help(rules: &[Rule]) -> Option<String> {
    use Rule::*;
    for r in rules {
        let list = match r {
            step_item | step_items_strict => STEP_KEYWORDS,
            workflow_item | workflow_items_strict => WORKFLOW_KEYWORDS,
            _ => continue,
        };
        let kind = if matches!(r, step_item | step_items_strict) { "a step" } else { "a workflow" };
        let shown: Vec<String> = list.iter().map(|k| format!("`{k}`")).collect();
        return Some(format!("{kind} body takes one statement per line: {}", shown.join(", ")));
    }
    None
}

/// Describes the token at `at`: the word, a string, a number, or the character.
pub fn found_token(src: &str, at: usize) -> (String, Span) {
    let rest = &src[at.min(src.len())..];
    let Some(c) = rest.chars().next() else {
        return ("end of file".to_string(), Span::from_range(src.len()..src.len()));
    };
    let len = if c.is_alphanumeric() || c == '_' {
        rest.find(|ch: char| !(ch.is_alphanumeric() || ch == '_')).unwrap_or(rest.len())
    } else if c == '-' && rest.starts_with("->") {
        2
    } else {
        c.len_utf8()
    };
    let span = Span::from_range(at..at + len);
    let text = &rest[..len];
    let found = match c {
        '"' => "a string".to_string(),
        '`' => "an expression".to_string(),
        '\n' | '\r' => "end of line".to_string(),
        '\u{FEFF}' => "a byte-order mark (U+FEFF)".to_string(),
        _ => format!("`{text}`"),
    };
    (found, span)
}

/// The closest candidate within a small edit distance, if any; failing that,
/// the one candidate the word abbreviates (`cost` for `cost_per_call`).
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let max = (word.chars().count() / 3).clamp(1, 3);
    let close = candidates
        .iter()
        .filter(|c| **c != word)
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    close.or_else(|| {
        if word.chars().count() < 3 {
            return None;
        }
        let mut longer = candidates.iter().filter(|c| c.len() > word.len() && c.starts_with(word));
        match (longer.next(), longer.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    })
}

/// Levenshtein distance with adjacent transpositions (optimal string alignment).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("comand", "command"), 1);
        assert_eq!(edit_distance("aftre", "after"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(did_you_mean("comand", STEP_KEYWORDS), Some("command"));
        assert_eq!(did_you_mean("zzzzzz", STEP_KEYWORDS), None);
        assert_eq!(did_you_mean("cost", &["command", "cost_per_call"]), Some("cost_per_call"));
        // An abbreviation of two keywords names neither.
        assert_eq!(did_you_mean("max_spawn", &["max_spawn_depth", "max_spawned_tasks"]), None);
    }

    #[test]
    fn alternatives_read_naturally() {
        assert_eq!(join_alternatives(&["`a`"]), "`a`");
        assert_eq!(join_alternatives(&["`a`", "`b`", "`a`", "`c`"]), "`a`, `b` or `c`");
    }
}
