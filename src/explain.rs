//! `flowc explain CODE`.

use clap::Args;
use flowc_compiler::Code;

use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A diagnostic code, such as E0101.
    #[arg(required_unless_present = "list")]
    pub code: Option<String>,
    /// List every code with its summary.
    #[arg(long, conflicts_with = "code")]
    pub list: bool,
}

pub fn run(_cli: &Cli, args: &ExplainArgs) -> Result<(), Failure> {
    if args.list {
        for c in Code::ALL {
            println!("{}  {:<8} {}", c.as_str(), c.severity().as_str(), c.summary());
        }
        return Ok(());
    }
    let text = args.code.as_deref().unwrap_or_default();
    match Code::parse(text) {
        Some(code) => {
            print!("{}", code.page());
            Ok(())
        }
        None => {
            let known: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            let hint = flowc_grammar::errors::did_you_mean(&text.to_ascii_uppercase(), &known)
                .map(|c| format!("did you mean {c}? "))
                .unwrap_or_default();
            Err(Failure::usage(format!(
                "unknown diagnostic code `{text}`; {hint}codes are E01xx (syntax), E02xx (names), E03xx (graph), E04xx (expressions), E05xx (values and schemas), E06xx (statements) and W01xx (warnings): `flowc explain --list` lists them"
            )))
        }
    }
}
