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
    pub from: SecretFrom,
    /// The environment variable, or the file (relative to the project dir).
    pub arg: String,
    /// Replace the value by `***` in everything the run records.
    #[serde(default)]
    pub redact: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretFrom {
    Env,
    File,
}

impl SecretFrom {
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
    pub name: String,
    pub secret: SecretId,
}
