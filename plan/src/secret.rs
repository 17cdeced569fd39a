//! Secrets and run-time values: where a value comes from (`from_env`,
//! `from_file`), never the value itself. The runtime resolves a secret when
//! a step starts; a `redact`ed value is replaced by `***` in everything the
//! run records.

use serde::{Deserialize, Serialize};

/// A secret's index in the plan's `secrets` table.
pub type SecretId = u32;

/// Where a secret (or a plain run-time value) comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// For messages: `SET.KEY`, or `from_env("VAR")` for a plain source.
    pub name: String,
    /// Whether `arg` names an environment variable or a file.
    pub from: SecretFrom,
    /// The environment variable, or the file (relative to the project dir).
    pub arg: String,
    /// Replace the value by `***` in everything the run records.
    #[serde(default)]
    pub redact: bool,
}

/// What kind of source a secret is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretFrom {
    /// An environment variable of the process running the step (`from_env`).
    Env,
    /// A file's contents, the path relative to the project directory (`from_file`).
    File,
}

impl SecretFrom {
    /// The source as `.flow` writes it (`from_env`, `from_file`).
    pub fn keyword(self) -> &'static str {
        match self {
            SecretFrom::Env => "from_env",
            SecretFrom::File => "from_file",
        }
    }
}

/// An environment variable whose value is a secret, resolved when the step starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretEnv {
    /// The environment variable's name in the step's processes.
    pub name: String,
    /// The secret holding its value, an index into the plan's `secrets`.
    pub secret: SecretId,
}
