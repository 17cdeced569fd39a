//! The `flowc` command line. This crate only parses arguments, reads files,
//! and renders what the library crates return; it holds no language logic.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod check;
mod explain;
mod fmt;
mod project;
mod render;

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
}

impl Failure {
    pub fn usage(msg: impl Into<String>) -> Self {
        Failure::Usage(msg.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Check(args) => check::run(&cli, args),
        Command::Explain(args) => explain::run(&cli, args),
        Command::Fmt(args) => fmt::run(&cli, args),
        Command::Lsp => lsp(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Errors) => ExitCode::from(1),
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
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
