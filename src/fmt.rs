//! `flowc fmt`: rewrites files in the canonical layout.
//!
//! The layout itself is the grammar crate's (`flowc_grammar::format`); this
//! module finds the files, reads them, and decides what to write where.
//! Like `check`, every file is read before anything is written, so an
//! unreadable file (exit 2) leaves the whole tree untouched.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use flowc_compiler::{Code, Diagnostic};
use flowc_grammar::SyntaxError;

use crate::render::Sources;
use crate::project::{self, io_reason};
use crate::render;
use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct FmtArgs {
    /// Files or project directories to format (default: the current
    /// directory); `-` formats standard input to standard output.
    pub paths: Vec<PathBuf>,
    /// Write nothing: list the files that would change, and exit 1 if any would.
    #[arg(long)]
    pub check: bool,
}

/// The name standard input goes by in listings and diagnostics.
const STDIN: &str = "<stdin>";

pub fn run(cli: &Cli, args: &FmtArgs) -> Result<(), Failure> {
    if args.paths.iter().any(|p| p.as_os_str() == "-") {
        if args.paths.len() > 1 {
            return Err(Failure::usage("`-` (standard input) cannot be combined with other paths"));
        }
        return stdin(cli, args.check);
    }
    let roots = cli.paths_or_root(&args.paths);
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for root in &roots {
        for path in project::find(root)? {
            // A file named twice (a directory and a file in it) is formatted once.
            let key = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if seen.insert(key) {
                let loaded = project::read(&path)?;
                files.push((path, loaded));
            }
        }
    }

    let color = cli.stderr_color();
    let (mut changed, mut broken) = (0, 0);
    for (path, file) in &files {
        match flowc_grammar::format(&file.text) {
            Err(errors) => {
                broken += 1;
                eprint!("{}", render_errors(&file.path, &file.text, &errors, color));
            }
            Ok(formatted) if formatted == file.text => {}
            Ok(formatted) => {
                changed += 1;
                if !args.check {
                    write_in_place(path, &formatted)?;
                }
                if args.check || !cli.quiet {
                    println!("{}", file.path);
                }
            }
        }
    }

    if !cli.quiet {
        eprintln!("{}", summary(files.len(), changed, broken, args.check));
    }
    if broken > 0 || (args.check && changed > 0) { Err(Failure::Errors) } else { Ok(()) }
}

fn stdin(cli: &Cli, check: bool) -> Result<(), Failure> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(format!("cannot read standard input: {}", io_reason(&e))))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::usage(format!(
            "standard input is not valid UTF-8 (invalid byte at offset {}); .flow files must be UTF-8 text",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let formatted = match flowc_grammar::format(&text) {
        Ok(f) => f,
        Err(errors) => {
            eprint!("{}", render_errors(STDIN, &text, &errors, cli.stderr_color()));
            return Err(Failure::Errors);
        }
    };
    if check {
        if formatted == text {
            return Ok(());
        }
        println!("{STDIN}");
        return Err(Failure::Errors);
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(formatted.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::usage(format!("cannot write standard output: {}", io_reason(&e))))
}

/// Replaces a file's text without ever leaving it half-written: the new text
/// goes to a temporary file beside it, which then takes its place. A symbolic
/// link stays a link: the file it points to is the one replaced.
fn write_in_place(path: &Path, text: &str) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::usage(format!("cannot write {}: {}", path.display(), io_reason(&e)));
    let target = std::fs::canonicalize(path).map_err(fail)?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = target.with_file_name(format!(".{name}.flowc-fmt.tmp"));
    let result = (|| {
        let permissions = std::fs::metadata(&target)?.permissions();
        std::fs::write(&tmp, text)?;
        std::fs::set_permissions(&tmp, permissions)?;
        std::fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

/// Syntax errors rendered like `flowc check` renders them.
fn render_errors(path: &str, text: &str, errors: &[SyntaxError], color: bool) -> String {
    let mut sources = Sources::new();
    sources.insert(path.to_string(), text.to_string());
    let mut out = String::new();
    for e in errors {
        let mut d =
            Diagnostic::new(Code::from_syntax(e.kind), path, e.span, e.message.clone()).with_label(e.label.clone());
        d.help = e.help.clone();
        out.push_str(&render::human::render(&d, &sources, color));
    }
    out.push_str(&format!("{path} has syntax errors: left unchanged\n"));
    out
}

fn summary(total: usize, changed: usize, broken: usize, check: bool) -> String {
    let files = |n: usize| if n == 1 { "1 file".to_string() } else { format!("{n} files") };
    let unchanged = total - changed - broken;
    let mut parts = vec![if check {
        format!("{} would be reformatted", files(changed))
    } else {
        format!("{} reformatted", files(changed))
    }];
    parts.push(format!("{unchanged} already formatted"));
    if broken > 0 {
        parts.push(format!("{} with syntax errors left unchanged", broken));
    }
    parts.join(", ")
}
