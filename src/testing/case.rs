//! A test as the driver runs it: its workflow, inputs and mocks, and its
//! actions and expectations in order, each with the place it is written.

use flowc_compiler::LineIndex;
use flowc_grammar::ast::{self, Expectation, MockTarget, TestStmtKind};
use flowc_interpreter::runtime::mock::{self, Mock, Mocks};
use serde_json::Value;

/// Where a statement is written: `file:line:column`, 1-based.
#[derive(Clone, Debug)]
pub struct Place {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The statement's source line, for the report.
    pub source: String,
}

/// A step of the test's workflow, or of a workflow it names.
#[derive(Clone, Debug)]
pub struct Target {
    pub workflow: Option<String>,
    pub step: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.workflow {
            Some(w) => write!(f, "{w}.{}", self.step),
            None => f.write_str(&self.step),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Action {
    Decide { approve: bool, target: Target, actor: String, comment: Option<String> },
    Complete { target: Target, actor: String, output: Value },
    Send { event_type: String, subject: Option<String>, data: Option<Value> },
    Advance { ms: u64 },
    ExpectStatus { target: Target, status: String },
    ExpectExpr { text: String },
    /// `expect refused ACTION`: a `Decide` or `Complete` the gate must refuse.
    ExpectRefused(Box<Action>),
}

#[derive(Clone, Debug)]
pub struct TestCase {
    pub name: String,
    pub place: Place,
    pub workflow: String,
    pub inputs: serde_json::Map<String, Value>,
    pub initiator: Option<String>,
    pub mocks: Mocks,
    pub actions: Vec<(Action, Place)>,
}

impl TestCase {
    /// The case of a checked test (`Err` only for a value the checker let
    /// through that is not data, which cannot happen in a checked project).
    pub fn new(t: &ast::Test, file: &str, text: &str, lines: &LineIndex, mock_all: bool) -> Result<TestCase, String> {
        let place = |span: ast::Span| {
            let (line, column) = lines.line_col(text, span.start);
            let source = text.lines().nth(line - 1).unwrap_or("").trim().to_string();
            Place { file: file.to_string(), line, column, source }
        };
        let json = |v: &ast::Value| flowc_compiler::literal::to_json(v).map_err(|_| format!("{file}: a value of test \"{}\" is not data", t.name.text));
        let target = |p: &ast::StepPath| Target { workflow: p.workflow.as_ref().map(|w| w.text.clone()), step: p.step.text.clone() };
        // `approve|reject …` and `complete …`, alone or after `expect refused`.
        let decision = |kind: &TestStmtKind| -> Result<Option<Action>, String> {
            Ok(Some(match kind {
                TestStmtKind::Decide { approve, step, actor, comment } => Action::Decide {
                    approve: *approve,
                    target: target(step),
                    actor: actor.value.clone(),
                    comment: comment.as_ref().map(|c| c.value.clone()),
                },
                TestStmtKind::Complete { step, actor, output } => {
                    Action::Complete { target: target(step), actor: actor.value.clone(), output: json(output)? }
                }
                _ => return Ok(None),
            }))
        };
        let mut case = TestCase {
            name: t.name.text.clone(),
            place: place(t.span),
            workflow: String::new(),
            inputs: serde_json::Map::new(),
            initiator: None,
            mocks: Mocks { mocks: Vec::new(), mock_all },
            actions: Vec::new(),
        };
        for s in &t.body {
            let action = match &s.kind {
                TestStmtKind::Run { workflow, inputs, initiator } => {
                    case.workflow = workflow.text.clone();
                    if let Some(Value::Object(map)) = inputs.as_ref().map(json).transpose()? {
                        case.inputs = map;
                    }
                    case.initiator = initiator.as_ref().map(|i| i.value.clone());
                    continue;
                }
                TestStmtKind::Mock { target: t, results } => {
                    let target = match t {
                        MockTarget::Agent(a) => mock::MockTarget::Agent(a.text.clone()),
                        MockTarget::Step(p) => mock::MockTarget::Step {
                            // The test's workflow, filled in below once known.
                            workflow: p.workflow.as_ref().map(|w| w.text.clone()).unwrap_or_default(),
                            step: p.step.text.clone(),
                        },
                    };
                    let results = results
                        .iter()
                        .map(|r| match r {
                            ast::MockResult::Returns { value, .. } => json(value).map(mock::MockResult::Returns),
                            ast::MockResult::Fails { exit, stderr, .. } => Ok(mock::MockResult::Fails {
                                exit: exit.as_ref().map_or(1, |e| e.value.clamp(1, 255) as i32),
                                stderr: stderr.as_ref().map(|s| s.value.clone()).unwrap_or_default(),
                            }),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    case.mocks.mocks.push(Mock { target, results });
                    continue;
                }
                TestStmtKind::Decide { .. } | TestStmtKind::Complete { .. } => match decision(&s.kind)? {
                    Some(d) => d,
                    None => continue,
                },
                TestStmtKind::Send { event_type, subject, data } => Action::Send {
                    event_type: event_type.value.clone(),
                    subject: subject.as_ref().map(|s| s.value.clone()),
                    data: data.as_ref().map(json).transpose()?,
                },
                TestStmtKind::Advance(d) => Action::Advance { ms: d.millis },
                TestStmtKind::Expect(Expectation::Status { target: t, status }) => {
                    Action::ExpectStatus { target: target(t), status: status.text.clone() }
                }
                TestStmtKind::Expect(Expectation::Expr(e)) => Action::ExpectExpr { text: e.text.clone() },
                // The grammar takes only a decision after `refused`.
                TestStmtKind::Expect(Expectation::Refused(inner)) => match decision(&inner.kind)? {
                    Some(d) => Action::ExpectRefused(Box::new(d)),
                    None => continue,
                },
            };
            case.actions.push((action, place(s.span)));
        }
        for m in &mut case.mocks.mocks {
            if let mock::MockTarget::Step { workflow, .. } = &mut m.target
                && workflow.is_empty() {
                    *workflow = case.workflow.clone();
                }
        }
        Ok(case)
    }
}
