//! `flowc explain CODE`.

use clap::Args;
use flowc_compiler::Code;

use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A diagnostic code, such as E0101.
    pub code: String,
}

pub fn run(_cli: &Cli, args: &ExplainArgs) -> Result<(), Failure> {
    match Code::parse(&args.code) {
        Some(code) => {
            print!("{}", code.page());
            Ok(())
        }
        None => {
            let known: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            Err(Failure::usage(format!(
                "unknown diagnostic code `{}`; the codes are {}",
                args.code,
                known.join(", ")
            )))
        }
    }
}
