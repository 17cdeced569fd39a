//! Mocks of `flowc test`: what an attempt of a `run` or `agent` step gives
//! instead of starting its process (docs/testing.md).
//!
//! A mock names a step (of a workflow and the jobs of its groups) or an
//! agent (every step that calls it) and lists one result per attempt; the
//! last result repeats for later attempts. The result goes through the
//! step's own instructions: a returned value is the process's stdout (a
//! string as it is, anything else as JSON), so it is parsed and checked
//! against the declared `output` type like real output; a failure has an
//! exit status and stderr, so `retry … on exit N` and `skip_on_exit` see it.

use serde_json::Value;

/// One attempt's result.
#[derive(Clone, Debug, PartialEq)]
pub enum MockResult {
    /// The attempt succeeds and prints this.
    Returns(Value),
    /// The attempt exits with this status and prints this on stderr.
    Fails {
        /// The exit status (1 to 255).
        exit: i32,
        /// What it printed on stderr.
        stderr: String,
    },
}

impl MockResult {
    /// What the mocked process printed on stdout.
    pub fn stdout(&self) -> String {
        match self {
            MockResult::Returns(Value::String(s)) => s.clone(),
            MockResult::Returns(v) => v.to_string(),
            MockResult::Fails { .. } => String::new(),
        }
    }
}

/// What one mock replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MockTarget {
    /// A step of a workflow (and of that workflow's jobs, `WF.GROUP`).
    Step {
        /// The workflow.
        workflow: String,
        /// The step.
        step: String,
    },
    /// Every call of an agent.
    Agent(String),
}

/// One `mock` of a test.
#[derive(Clone, Debug, PartialEq)]
pub struct Mock {
    /// What it replaces.
    pub target: MockTarget,
    /// One per attempt; the last repeats.
    pub results: Vec<MockResult>,
}

/// The mocks of one test.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mocks {
    /// In the order the test gives them; a step's own mock wins over its agent's.
    pub mocks: Vec<Mock>,
    /// No step starts a process: an attempt of a `run` or `agent` step
    /// nobody mocked fails (`flowc test --mock-all`).
    pub mock_all: bool,
}

/// What an attempt does in a test.
pub(crate) enum Mocked<'a> {
    /// Runs its process for real.
    Real,
    /// Gives this result instead.
    Result(&'a MockResult),
    /// Fails: `--mock-all` and no mock of it.
    Unmocked,
}

/// Whether a run of `run_workflow` runs `workflow`'s steps: it is
/// `workflow`, or the job of one of its `for each item` groups (`WF.GROUP`).
pub fn runs_steps_of(run_workflow: &str, workflow: &str) -> bool {
    run_workflow.strip_prefix(workflow).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

impl Mocks {
    /// What attempt `attempt` (from 1) of `step` of `workflow` does, if it calls `agent`.
    pub(crate) fn lookup(&self, workflow: &str, step: &str, agent: Option<&str>, attempt: u32) -> Mocked<'_> {
        let of_step = |m: &&Mock| match &m.target {
            MockTarget::Step { workflow: w, step: s } => {
                s == step && runs_steps_of(workflow, w)
            }
            MockTarget::Agent(_) => false,
        };
        let of_agent = |m: &&Mock| matches!(&m.target, MockTarget::Agent(a) if Some(a.as_str()) == agent);
        let found = self.mocks.iter().find(of_step).or_else(|| self.mocks.iter().find(of_agent));
        match found.and_then(|m| m.results.get((attempt.max(1) as usize - 1).min(m.results.len().saturating_sub(1)))) {
            Some(r) => Mocked::Result(r),
            None if self.mock_all => Mocked::Unmocked,
            None => Mocked::Real,
        }
    }
}
