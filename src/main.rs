//! The `flowc` command line. This crate only parses arguments, reads files,
//! and renders what the library crates return; it holds no language logic.

// Analysis allocates many small trees and query results: mimalloc checks a
// large project a quarter faster than the system allocator (ARCHITECTURE.md,
// "Why mimalloc").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Gives the memory mimalloc holds freed back to the system. mimalloc keeps
/// freed pages for reuse; after a plan of 100,000 steps is parsed (its text,
/// and the buffers its vectors outgrew) that is 50 MB the run would carry to
/// its end. Declared here rather than through `libmimalloc-sys`'s `extended`
/// feature, which would add a crate for one function; the symbol is linked in
/// with the allocator.
pub(crate) fn release_freed_memory() {
    unsafe extern "C" {
        fn mi_collect(force: bool);
    }
    // SAFETY: `mi_collect` takes a flag, returns nothing, and is safe to call
    // at any time from any thread (mimalloc's API documentation).
    unsafe { mi_collect(true) }
}

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod build;
mod check;
mod events;
mod explain;
mod fmt;
mod progress;
mod project;
mod render;
mod runs;
mod serve;
mod approval;
mod auth;
mod blocked;
mod checkpoint;
mod invariant;
mod item_jobs;
mod resources;
mod steering;
mod store;
mod testing;
mod versions;
mod yaml;

/// Compiler, checker and local interpreter for the .flow workflow language.
#[derive(Parser, Debug)]
#[command(name = "flowc", version, about, propagate_version = true)]
pub struct Cli {
    /// When to use colors in human output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more about what is happening.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// The SQLite state database (default: `.flow/state.db` under the project root).
    #[arg(long, global = true, env = "FLOW_STATE", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Run as if flowc was started in DIR (the project root).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Publish lifecycle changes as CloudEvents: `none` (default),
    /// `file:PATH` (JSON lines) or `command:CMD` (each event on stdin).
    #[arg(long = "events-sink", global = true, env = "FLOW_EVENTS_SINK", value_name = "SINK")]
    pub events_sink: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and analyse a project directory (default `.`) or files.
    ///
    /// Each PATH is checked on its own: a directory is a project (every
    /// `*.flow` below it shares one namespace), a file is checked alone.
    ///
    /// Example: flowc check examples/outbound_sdr --format github
    Check(check::CheckArgs),
    /// Print the catalogue page for a diagnostic code.
    ///
    /// Example: flowc explain E0101
    Explain(explain::ExplainArgs),
    /// Rewrite files in the canonical layout, keeping every comment.
    ///
    /// A directory means every `*.flow` below it (skipping `.flow/`, `.git/`,
    /// `target/` and `node_modules/`). Files with syntax errors are left
    /// unchanged and their errors printed. Rewritten files are listed on
    /// stdout.
    ///
    /// Example: flowc fmt --check     (in CI: exit 1 and list what would change)
    Fmt(fmt::FmtArgs),
    /// Run the project's `test "NAME" { … }` blocks: each starts a workflow
    /// with mocks, decisions, events and a virtual clock, and checks what it did.
    ///
    /// Every test runs on the real interpreter with a state database of its
    /// own; tests run in parallel, one per core. Exit code 0 when every test
    /// passed, 1 when one failed, 2 when the project has errors.
    ///
    /// Example: flowc test examples/outbound_sdr --coverage
    Test(testing::TestArgs),
    /// Compile workflows to plans: a readable disassembly, or JSON for `flowc run`.
    ///
    /// Example: flowc build examples/outbound_sdr --workflow outbound_sdr --emit json -o plan.json
    Build(build::BuildArgs),
    /// Draw a workflow's step graph, with trigger rules and branch arms on the edges.
    ///
    /// Example: flowc -C examples/approvals graph change_review --format mermaid
    Graph(build::GraphArgs),
    /// Start a run of a workflow and follow it to its end.
    ///
    /// Steps' commands run in the project root. Exit code 0 when the run
    /// completed, 1 when it failed or was cancelled, 3 when it paused.
    ///
    /// Example: flowc run plan.json -i company=Acme -i deal_value=75000 --json
    Run(runs::RunArgs),
    /// Continue a paused or interrupted (killed) run; completed steps are not run again.
    ///
    /// Example: flowc resume 20261121-100000-3f2a
    Resume(runs::ResumeArgs),
    /// Pause a run: no new steps start, running ones finish.
    ///
    /// Example: flowc pause 20261121-100000-3f2a
    Pause(runs::RunIdArgs),
    /// Cancel a run: running steps are stopped, nothing more runs, no compensation.
    ///
    /// Example: flowc cancel 20261121-100000-3f2a
    Cancel(runs::RunIdArgs),
    /// Run the `compensate` of every completed step, newest first.
    ///
    /// Example: flowc compensate 20261121-100000-3f2a
    Compensate(runs::RunIdArgs),
    /// Inspect runs: list, show, events, logs, stats, waiting.
    ///
    /// Example: flowc runs events 20261121-100000-3f2a --json
    Runs(runs::RunsArgs),
    /// Approve a blocked approval step (or the approval a policy required);
    /// who and why go in the event log, and the run continues.
    ///
    /// Who decides is you, the operating-system user; `--as NAME` records "on behalf of".
    ///
    /// Example: flowc approve 20261121-100000-3f2a sign_off --comment "ship it"
    Approve(approval::DecideArgs),
    /// Reject a blocked approval step: the step fails (its `on_failure` applies).
    ///
    /// Example: flowc reject 20261121-100000-3f2a sign_off --comment "needs a threat model"
    Reject(approval::DecideArgs),
    /// Finish a human task with its result, checked against the step's `output` type.
    ///
    /// Example: flowc complete 20261121-100000-3f2a review --output '{"ok": true}'
    Complete(approval::CompleteArgs),
    /// Deliver events: to waiting `wait` steps and to `on event` triggers.
    ///
    /// Example: flowc event send email.reply --subject leads/L-1 --data '{"text": "Interested"}'
    Event(events::EventArgs),
    /// Run schedules, accept CloudEvents and webhooks over HTTP, resume runs as things arrive.
    ///
    /// Example: flowc -C examples/approvals serve --listen 127.0.0.1:8750
    Serve(serve::ServeArgs),
    /// API tokens for `flowc serve`, and the principals of flowc.toml they belong to.
    ///
    /// Example: flowc auth token create ci-bot --role trigger --expires 90d
    Auth(auth::AuthArgs),
    /// Store each workflow of the project as a new version when its compiled plan changed.
    ///
    /// Example: flowc publish examples/outbound_sdr --as dana
    Publish(versions::PublishArgs),
    /// List the published versions of a workflow.
    ///
    /// Example: flowc versions outbound_sdr --json
    Versions(versions::VersionsArgs),
    /// Go back to a step's checkpoint: the steps completed after it run again.
    ///
    /// Example: flowc restore 20261121-100000-3f2a --to scope
    Restore(checkpoint::RestoreArgs),
    /// Pass a step that paused the run (a `skippable` gate, or `on_failure pause`), then resume.
    ///
    /// Example: flowc skip 20261121-100000-3f2a pre_deploy
    Skip(checkpoint::SkipArgs),
    /// Read and write the persistent stores: put, get, list, delete.
    ///
    /// Example: flowc store put context plan_result '{"summary": "…", "goals": []}'
    Store(store::StoreArgs),
    /// List the instances of a kind (a resource's plural or short name, or workflows, agents, stores, crds, …).
    ///
    /// Example: flowc -C examples/build_feature get pl
    Get(resources::GetArgs),
    /// Show one instance or declaration as a manifest.
    ///
    /// Example: flowc -C examples/build_feature describe promptlibrary qa_prompts
    Describe(resources::DescribeArgs),
    /// The project's declarations as manifests (custom resource definitions included).
    ///
    /// Example: flowc -C examples/build_feature export --format yaml
    Export(resources::ExportArgs),
    /// Run the language server on stdin/stdout (for editors).
    ///
    /// The project is every `*.flow` file below each workspace folder the
    /// editor opens, as `flowc check DIR` reads them; open files are read
    /// from the editor. `FLOWC_LSP_TRACE=1` logs, after each publish of
    /// diagnostics, its latency and the analyses that re-ran.
    ///
    /// Example (Neovim): vim.lsp.start({ name = "flowc", cmd = { "flowc", "lsp" } })
    Lsp,
}

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The input has errors (diagnostics) or the run failed: exit 1.
    Errors,
    /// A usage or IO error: exit 2, with the message on stderr.
    Usage(String),
    /// The run is waiting on a person or an event (paused, blocked): exit 3.
    Blocked,
}

impl Failure {
    pub fn usage(msg: impl Into<String>) -> Self {
        Failure::Usage(msg.into())
    }
}

fn main() -> ExitCode {
    quiet_on_closed_output();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Check(args) => check::run(&cli, args),
        Command::Explain(args) => explain::run(&cli, args),
        Command::Fmt(args) => fmt::run(&cli, args),
        Command::Test(args) => testing::run(&cli, args),
        Command::Build(args) => build::build(&cli, args),
        Command::Graph(args) => build::graph(&cli, args),
        Command::Run(args) => runs::run(&cli, args),
        Command::Resume(args) => runs::resume(&cli, args),
        Command::Pause(args) => runs::pause(&cli, args),
        Command::Cancel(args) => runs::cancel(&cli, args),
        Command::Compensate(args) => runs::compensate(&cli, args),
        Command::Runs(args) => runs::runs(&cli, args),
        Command::Approve(args) => approval::approve(&cli, args),
        Command::Reject(args) => approval::reject(&cli, args),
        Command::Complete(args) => approval::complete(&cli, args),
        Command::Event(args) => events::event(&cli, args),
        Command::Serve(args) => serve::serve(&cli, args),
        Command::Auth(args) => auth::auth(&cli, args),
        Command::Publish(args) => versions::publish(&cli, args),
        Command::Versions(args) => versions::versions(&cli, args),
        Command::Restore(args) => checkpoint::restore(&cli, args),
        Command::Skip(args) => checkpoint::skip(&cli, args),
        Command::Store(args) => store::store(&cli, args),
        Command::Get(args) => resources::get(&cli, args),
        Command::Describe(args) => resources::describe(&cli, args),
        Command::Export(args) => resources::export(&cli, args),
        Command::Lsp => lsp(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Errors) => ExitCode::from(1),
        Err(Failure::Blocked) => ExitCode::from(3),
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

/// `flowc check … | head`: when the reader of stdout (or stderr) goes away,
/// the process ends as a Unix filter does, killed by SIGPIPE (exit status
/// 141 in a shell), with no panic message.
///
/// One mechanism for every command: Rust ignores SIGPIPE, so a write to a
/// closed pipe fails with EPIPE and `print!` panics with "failed printing
/// to stdout". The panic hook recognises exactly that panic and re-raises
/// SIGPIPE with its default action. SIGPIPE is not simply restored at
/// startup because `run`, `serve` and the events sink also write to step
/// processes' and sinks' pipes and to sockets, where a reader that went
/// away is an error to handle, not a reason for flowc to die.
fn quiet_on_closed_output() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>().map(String::as_str).or_else(|| info.payload().downcast_ref::<&str>().copied());
        let broken_pipe = std::io::Error::from_raw_os_error(libc::EPIPE).to_string();
        if let Some(message) = message
            && (message.starts_with("failed printing to stdout") || message.starts_with("failed printing to stderr"))
            && message.ends_with(&broken_pipe)
        {
            // SAFETY: signal(2) and raise(3) are async-signal-safe and take
            // no pointers; SIG_DFL for SIGPIPE terminates the process.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
        }
        default(info);
    }));
}

/// `flowc lsp`: exit 0 after `shutdown` then `exit`, 1 after an `exit`
/// without `shutdown` (as the protocol asks).
fn lsp() -> Result<(), Failure> {
    match flowc_lsp::run_stdio(flowc_lsp::Config::from_env()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::Errors),
        Err(e) => Err(Failure::usage(format!("cannot start the language server: {e}"))),
    }
}

impl Cli {
    /// The project root: `-C DIR`, else the current directory.
    pub fn project_dir(&self) -> PathBuf {
        let dir = self.directory.clone().unwrap_or_else(|| PathBuf::from("."));
        std::fs::canonicalize(&dir).unwrap_or(dir)
    }

    /// The paths a command was given, as `-C DIR` means them (relative ones
    /// under DIR, as `git -C` does), or DIR itself (else `.`) when none.
    pub fn paths_or_root(&self, given: &[PathBuf]) -> Vec<PathBuf> {
        let base = self.directory.clone();
        if given.is_empty() {
            return vec![base.unwrap_or_else(|| PathBuf::from("."))];
        }
        given
            .iter()
            .map(|p| match &base {
                Some(b) if p.is_relative() && p.as_os_str() != "-" => b.join(p),
                _ => p.clone(),
            })
            .collect()
    }

    /// `--state`/`FLOW_STATE`, else `.flow/state.db` under the project root.
    pub fn state_path(&self) -> PathBuf {
        match &self.state {
            Some(p) if p.is_relative() && self.directory.is_some() => self.project_dir().join(p),
            Some(p) => p.clone(),
            None => self.project_dir().join(".flow").join("state.db"),
        }
    }

    /// The events sink of `--events-sink`/`FLOW_EVENTS_SINK` (relative
    /// file paths from the current directory).
    pub fn events_sink(&self) -> Result<Option<flowc_interpreter::cloudevents::EventSink>, Failure> {
        match &self.events_sink {
            None => Ok(None),
            Some(text) => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                flowc_interpreter::cloudevents::EventSink::parse(text, &cwd).map_err(Failure::usage)
            }
        }
    }

    /// Whether human output on stderr should be colored.
    pub fn stderr_color(&self) -> bool {
        use std::io::IsTerminal;
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
        }
    }
}

/// A usage failure (exit 2) from any error's text.
pub(crate) fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::usage(e.to_string())
}

/// Prints a value as pretty JSON on standard output.
pub(crate) fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
