//! `flowc test`: the `test "NAME" { … }` blocks of a project, each run on
//! the real interpreter with a fresh state database, mocks and a virtual
//! clock (docs/testing.md).
//!
//! The project is checked first (a test is checked like the workflows: a
//! project with errors runs no test, exit 2); each test's workflow is
//! lowered to its plan once; the tests then run on every core, one thread
//! each, since a run executes on its thread's current-thread runtime and the
//! virtual clock is the thread's ([`flowc_interpreter::time`]).

mod case;
mod driver;
mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::{Args, ValueEnum};
use flowc_grammar::ast::Decl;

use crate::{Cli, Failure};
use case::TestCase;
pub use driver::TestResult;

#[derive(Args, Debug)]
pub struct TestArgs {
    /// The project directory or a `.flow` file (default: the project root, `-C`).
    pub path: Option<PathBuf>,
    /// Run only the tests whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// How to report: for people, one JSON document, JUnit XML, or GitHub annotations.
    #[arg(long, value_enum, default_value_t = TestFormat::Human)]
    pub format: TestFormat,
    /// Say which steps and branch arms no test reached (in JSON: a `coverage` object).
    #[arg(long)]
    pub coverage: bool,
    /// Start no process: a `run` or `agent` step no test mocks fails.
    #[arg(long)]
    pub mock_all: bool,
    /// How many tests run at once (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Human,
    Json,
    Junit,
    Github,
}

pub fn run(cli: &Cli, args: &TestArgs) -> Result<(), Failure> {
    let path = args.path.clone().unwrap_or_else(|| cli.project_dir());
    // Warnings are printed (on stderr) too: a mock no run reaches (W0111)
    // is a test that tests less than it says.
    let checked = match crate::build::checked_with(cli, &path, true) {
        Err(Failure::Errors) => {
            return Err(Failure::usage("the project has errors (above); `flowc test` runs tests only in a project that checks"));
        }
        other => other?,
    };
    let project_dir = if path.is_dir() { path.clone() } else { path.parent().map(PathBuf::from).unwrap_or_else(|| cli.project_dir()) };
    let project_dir = std::fs::canonicalize(&project_dir).unwrap_or(project_dir);

    let db = checked.db();
    let mut cases = Vec::new();
    let cwd = std::env::current_dir().ok();
    for file in checked.project().files(db) {
        let parsed = flowc_compiler::parse(db, *file);
        let (path, text) = (file.path(db), file.text(db));
        // Reports name files as CI systems read them: relative to where flowc runs.
        let path = cwd
            .as_ref()
            .and_then(|cwd| std::path::Path::new(path).strip_prefix(cwd).ok())
            .map_or_else(|| path.clone(), |p| p.display().to_string());
        let path = path.as_str();
        let lines = flowc_compiler::LineIndex::new(text);
        for decl in &parsed.file.decls {
            if let Decl::Test(t) = decl
                && args.filter.as_deref().is_none_or(|f| t.name.text.contains(f)) {
                    cases.push(TestCase::new(t, path, text, &lines, args.mock_all).map_err(Failure::usage)?);
                }
        }
    }
    let mut plans = BTreeMap::new();
    for c in &cases {
        if !plans.contains_key(&c.workflow) {
            plans.insert(c.workflow.clone(), checked.lower(&c.workflow)?);
        }
    }
    drop(checked);

    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let started = std::time::Instant::now();
    let template = driver::Template::new().map_err(Failure::usage)?;
    let results = run_all(&cases, &plans, &project_dir, jobs, &template);
    let elapsed = started.elapsed();
    let coverage = args.coverage.then(|| report::coverage(&plans, &results));
    report::print(args.format, &cases, &results, coverage.as_ref(), elapsed);
    if results.iter().any(|r| !r.passed()) {
        return Err(Failure::Errors);
    }
    Ok(())
}

/// Runs every case on `jobs` threads; the results are in the cases' order.
fn run_all(
    cases: &[TestCase],
    plans: &BTreeMap<String, flowc_plan::Plan>,
    project_dir: &std::path::Path,
    jobs: usize,
    template: &driver::Template,
) -> Vec<TestResult> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<TestResult>>> = Mutex::new((0..cases.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(cases.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    // Every case's plan was lowered above; a missing one is reported, not a panic.
                    let result = match plans.get(&case.workflow) {
                        Some(plan) => driver::run_case(case, plan.clone(), project_dir, i, template),
                        None => driver::TestResult::stopped(case),
                    };
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(result);
                    }
                }
            });
        }
    });
    // A thread that stopped (it cannot: nothing in a test panics) leaves its
    // test without a result: report it rather than shift the others.
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results
        .into_iter()
        .zip(cases)
        .map(|(r, case)| r.unwrap_or_else(|| driver::TestResult::stopped(case)))
        .collect()
}
