//! The diagnostics catalogue: every code, its severity, a one-line summary,
//! and its documentation page (`docs/diagnostics/CODE.md`, compiled in so
//! `flowc explain` works anywhere, and so a code without a page does not build).
//!
//! Codes are stable: never renumber or reuse one. Ranges: E01xx syntax,
//! E02xx names, E03xx graph, E04xx expressions and types, E05xx schemas and
//! values, E06xx statements, E07xx shell, E08xx tests, W0xxx warnings.

use serde::Serialize;

/// How bad a diagnostic is: an error fails `flowc check`; a warning fails it
/// only with `--deny-warnings`. Each code has one (see [`Code::severity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! catalogue {
    ($( $variant:ident = $code:literal, $severity:ident, $summary:literal; )*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code),* }
            }
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity),* }
            }
            /// One line saying what the code is about.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary),* }
            }
            /// The catalogue page, in Markdown.
            pub fn page(self) -> &'static str {
                match self {
                    $(Code::$variant => include_str!(concat!("../../docs/diagnostics/", $code, ".md"))),*
                }
            }
            /// Looks a code up by its text, case-insensitively (`e0101` works).
            pub fn parse(text: &str) -> Option<Code> {
                let upper = text.trim().to_ascii_uppercase();
                Code::ALL.iter().copied().find(|c| c.as_str() == upper)
            }
        }
    };
}

catalogue! {
    UnexpectedSyntax = "E0101", Error, "the parser expected something else here";
    UnterminatedString = "E0102", Error, "a string is never closed";
    UnterminatedExpression = "E0103", Error, "a backtick expression is never closed";
    UnterminatedComment = "E0104", Error, "a block comment is never closed";
    InvalidEscape = "E0105", Error, "an unknown escape sequence in a string";
    UnclosedBrace = "E0106", Error, "a `{` is never closed";
    NumberOutOfRange = "E0107", Error, "a number does not fit";
    DurationOutOfRange = "E0108", Error, "a duration does not fit";
    UnclosedHole = "E0109", Error, "a `${` hole in a string is never closed";
    NestingTooDeep = "E0110", Error, "the file nests too deeply to parse";

    DuplicateDeclaration = "E0201", Error, "two declarations of one kind share a name";
    DuplicateStep = "E0202", Error, "two steps or groups of a workflow share a name";
    UnknownStep = "E0203", Error, "a step that does not exist is named";
    UnknownAgent = "E0204", Error, "an agent that does not exist is named";
    UnknownPolicy = "E0205", Error, "a policy that does not exist is named";
    UnknownStore = "E0206", Error, "a store that does not exist is named";
    UnknownTemplate = "E0207", Error, "a template that does not exist is named";
    UnknownWorkflow = "E0208", Error, "a workflow that does not exist is named";
    UnknownEnv = "E0209", Error, "an env or secret set, or one of its keys, does not exist";
    UnknownResourceKind = "E0210", Error, "an instance of a resource kind that is not declared";
    DuplicateInput = "E0211", Error, "a workflow declares an input or output twice";
    UnknownInput = "E0212", Error, "a call or spawn passes an input the workflow does not have, or a `use` an argument the template does not take";
    MissingInput = "E0213", Error, "a call or spawn leaves out a required input, or a `use` a parameter without a default";
    ReservedStepName = "E0214", Error, "a step is named like a name expressions use";
    UnknownApprover = "E0215", Error, "an approver is neither a principal nor a group of flowc.toml";
    UnsatisfiableGate = "E0216", Error, "no approver of a gate holds the role `decide`";

    Cycle = "E0301", Error, "the step graph has a cycle";
    ArmTargetNotDependent = "E0302", Error, "a branch arm targets a step that does not run after the branch";
    NeverRuns = "E0303", Error, "a step can never run";
    UnboundedRecursion = "E0304", Error, "workflows call or spawn each other with no depth bound";
    CompensationStepInGraph = "E0305", Error, "a compensation step has dependencies";
    RuleCannotBeMet = "E0306", Error, "a trigger rule waits for an outcome its dependencies can never have";
    RulesDoNotCombine = "E0307", Error, "a step's trigger rule and the `after` of a group around it cannot both apply";
    JobMemberDependsOutside = "E0308", Error, "a member of a `for each item` group depends on a step outside the group";
    JobMemberOutside = "E0309", Error, "a member of a `for each item` group is named outside the group";
    AcrossFinally = "E0310", Error, "a dependency or branch arm crosses the boundary of the `finally` block";
    RuleInCondition = "E0311", Error, "a trigger rule written among the terms of an outcome condition";
    OutcomeNeverHappens = "E0312", Error, "an outcome condition tests an outcome its dependency can never have";
    ConditionNeverHolds = "E0313", Error, "no outcomes of its dependencies make an outcome condition true";
    NestedForEach = "E0314", Error, "a `for each item` step or group inside a `for each item` group";

    UnknownName = "E0401", Error, "an expression uses a name that is not in scope";
    NotUpstream = "E0402", Error, "an expression uses a step that does not run before it";
    ItemOutOfContext = "E0403", Error, "`item` or `items` where there is no item";
    EventOutOfContext = "E0404", Error, "`event` where there is no event";
    SelfOutOfContext = "E0405", Error, "`self` outside a resource rule";
    InvalidExpression = "E0406", Error, "an expression is not valid CEL";
    NoSuchField = "E0407", Error, "an expression selects a field its value does not have";
    TypeMismatch = "E0408", Error, "an operation on values of types it does not accept";
    ConditionNotBool = "E0409", Error, "a condition that is not a bool";
    InputOutOfContext = "E0410", Error, "`input` outside a policy";
    UnknownFunction = "E0411", Error, "a call to a function that does not exist";
    TimerValueType = "E0412", Error, "a timer's `for` or `until` expression has the wrong type";
    RunEndOutsideFinally = "E0413", Error, "`run.status`, `run.error` or `run.failures` outside the `finally` block";

    InvalidSchema = "E0501", Error, "a schema is not valid JSON Schema";
    InstanceSchemaMismatch = "E0502", Error, "a resource instance does not match its schema";
    ResourceRuleFailed = "E0503", Error, "a resource instance breaks a rule of its kind";
    StorePutMismatch = "E0504", Error, "a value put into a store does not match its schema";
    MalformedType = "E0505", Error, "a type names an unknown type or repeats a field";
    InvalidCron = "E0506", Error, "a schedule is not a valid cron expression";
    InvalidGlob = "E0507", Error, "a protected-files pattern is not a valid glob";
    ValueOutOfRange = "E0508", Error, "a number or duration is out of range";
    SelectOptionMismatch = "E0509", Error, "a select option does not fit its strategy";
    CheckWithoutExpect = "E0510", Error, "an invariant check has no expected output";
    LiteralSecret = "E0511", Error, "a secret is written inline";
    DefaultTypeMismatch = "E0512", Error, "an input's default does not fit its type";
    SpawnLimitExceeded = "E0513", Error, "a step spawns more tasks than the safety limit allows";
    InvalidTriggerPattern = "E0514", Error, "a trigger's event type or webhook path is malformed";
    TriggerOptionMismatch = "E0515", Error, "a trigger option does not fit the scheme or catch-up mode it is given with";
    InvalidHeaderName = "E0516", Error, "a webhook signature's header is not a valid HTTP header name";
    RetryNeverApplies = "E0517", Error, "a retry option that can never take effect";
    InvalidItems = "E0520", Error, "a `for each item in` list or matrix is malformed";
    InvalidTimestamp = "E0521", Error, "a timestamp is not RFC 3339 date-time text";

    StatementNotAllowed = "E0601", Error, "a statement does not belong in this kind of step or block";
    MissingStatement = "E0602", Error, "a step or declaration lacks a statement it needs";
    RepeatedStatement = "E0603", Error, "a statement that takes one value is given twice";
    ArmAfterElse = "E0604", Error, "a branch arm comes after `else`";
    TimerForAndUntil = "E0605", Error, "a timer gives both `for` and `until`";

    UnsafeShellHole = "E0701", Error, "a command hole sits where the shell would run its value as code";

    TestRunMissing = "E0801", Error, "a test runs no workflow, or more than one";
    TestActionMismatch = "E0802", Error, "a test mocks, decides or completes a step of a kind that does not take it";
    TestValueMismatch = "E0803", Error, "a test's input, mocked output or task result does not fit its declared type";
    UnknownStatus = "E0804", Error, "`expect STEP STATUS` names a status that does not exist";

    Unused = "W0101", Warning, "a declaration is never used";
    NoEffect = "W0102", Warning, "a step has no effect";
    NotifyWithoutChannel = "W0103", Warning, "a notify step has no channel";
    SingleDepTriggerRule = "W0104", Warning, "a trigger rule over a single dependency that is a plain `after`";
    HoleInPlainString = "W0105", Warning, "`${…}` in a data string is not substituted";
    SoleApproverDistinct = "W0106", Warning, "one approver, and the gate refuses whoever started the run";
    OutputMayBeEmpty = "W0107", Warning, "reads the output of a step that may not have completed";
    RetryOnTimeoutWithoutTimeout = "W0108", Warning, "`retry … on timeout` where nothing can time out";
    RetriesPastMaxDuration = "W0109", Warning, "more retries than can start within `max_duration`";
    RepeatedOutcome = "W0110", Warning, "an outcome condition tests the same outcome of a dependency twice";
    MockNeverReached = "W0111", Warning, "a test mocks a step of a workflow its run never reaches";
}

impl Code {
    pub fn from_syntax(kind: flowc_grammar::SyntaxErrorKind) -> Code {
        use flowc_grammar::SyntaxErrorKind as K;
        match kind {
            K::Unexpected => Code::UnexpectedSyntax,
            K::UnterminatedString => Code::UnterminatedString,
            K::UnterminatedExpression => Code::UnterminatedExpression,
            K::UnterminatedComment => Code::UnterminatedComment,
            K::InvalidEscape => Code::InvalidEscape,
            K::UnclosedBrace => Code::UnclosedBrace,
            K::NumberOutOfRange => Code::NumberOutOfRange,
            K::DurationOutOfRange => Code::DurationOutOfRange,
            K::UnclosedHole => Code::UnclosedHole,
            K::NestingTooDeep => Code::NestingTooDeep,
        }
    }

    /// The page's first heading, without the code: its title.
    pub fn title(self) -> &'static str {
        let first = self.page().lines().next().unwrap_or_default();
        first.split_once(": ").map_or(first, |(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_syntax_codes_agree_with_grammar() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            assert!(c.page().starts_with(&format!("# {}: ", c.as_str())), "page of {} must start with its code", c.as_str());
        }
        for k in flowc_grammar::SyntaxErrorKind::ALL {
            assert_eq!(Code::from_syntax(k).as_str(), k.code());
        }
    }

    #[test]
    fn parse_is_case_insensitive() {
        assert_eq!(Code::parse("e0101"), Some(Code::UnexpectedSyntax));
        assert_eq!(Code::parse("X9999"), None);
    }
}
