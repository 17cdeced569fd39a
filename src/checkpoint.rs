//! `flowc restore` (go back to a step's checkpoint) and `flowc skip` (pass
//! a skippable gate that paused its run).


use clap::Args;
use flowc_interpreter::runtime::{self};

use crate::progress::Progress;
use crate::runs::NotifyArg;
use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The run id (see `flowc runs list`).
    pub run: String,
    /// The step whose checkpoint to go back to: every step that completed
    /// after it runs again.
    #[arg(long, value_name = "STEP")]
    pub to: String,
    /// Print the run summary as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
}

#[derive(Args, Debug)]
pub struct SkipArgs {
    /// The run id.
    pub run: String,
    /// The step that paused the run: a `skippable` gate, or a step with `on_failure pause`.
    pub step: String,
    /// Print the run summary as one JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub notify: NotifyArg,
}

pub fn restore(cli: &Cli, args: &RestoreArgs) -> Result<(), Failure> {
    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let options = crate::runs::options(cli, &args.notify, progress.clone())?;
    let steered = runtime::restore(&args.run, &args.to, &options).map_err(crate::steering::failure);
    crate::runs::finish_steered(cli, crate::steering::Command::Restore, steered, args.json, progress.as_deref())
}

pub fn skip(cli: &Cli, args: &SkipArgs) -> Result<(), Failure> {
    let progress = (!cli.quiet).then(|| Progress::new(cli));
    let options = crate::runs::options(cli, &args.notify, progress.clone())?;
    let steered = runtime::skip(&args.run, &args.step, &options).map_err(crate::steering::failure);
    crate::runs::finish_steered(cli, crate::steering::Command::Skip, steered, args.json, progress.as_deref())
}
