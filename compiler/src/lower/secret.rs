//! Lowering of secrets in `env` blocks: a `secrets` set's key becomes a
//! redacted plan secret, a plain `from_env`/`from_file` value an unredacted
//! one. Values never enter the plan, only where they come from.


use flowc_grammar::ast::{
    self, Decl, DeclKind, EnvValue, SecretSourceKind,
    SecretValue,
};
use flowc_plan::{self as adv};

use super::WorkflowLowerer;
use crate::db::{Db, Project};
use crate::model::item_index;

use super::store::Tables;

impl Tables {
    pub(super) fn secret(&mut self, secret: adv::Secret) -> u32 {
        let key = (format!("{}\0{}\0{}", secret.name, secret.from.keyword(), secret.arg), secret.redact);
        if let Some(id) = self.secret_ids.get(&key) {
            return *id;
        }
        let id = self.secrets.len() as u32;
        self.secrets.push(secret);
        self.secret_ids.insert(key, id);
        id
    }
}

/// An env entry whose value is only known at run time, as a plan secret.
pub(super) enum RuntimeValue {
    /// `SET.KEY` of a `secrets` set.
    Secret { set: String, key: String },
    /// `from_env("VAR")` / `from_file("path")` written in an env block.
    Source(ast::SecretSource),
}

impl<'a, 'db> WorkflowLowerer<'a, 'db> {
    /// The plan secret for an env value known only at run time.
    pub(super) fn runtime_value(&mut self, step: Option<&str>, value: RuntimeValue) -> Option<u32> {
        let secret = match value {
            RuntimeValue::Source(s) => adv::Secret {
                name: format!("{}({:?})", source_keyword(s.kind), s.arg.value),
                from: source_from(s.kind),
                arg: s.arg.value.clone(),
                redact: false,
            },
            RuntimeValue::Secret { set, key } => {
                let found = item_index(self.db, self.project).other(DeclKind::Secrets, &set).and_then(|d| match &**d.ast(self.db) {
                    Decl::Secrets(s) => s.entries.iter().find(|e| e.key.text == key).map(|e| e.value.clone()),
                    _ => None,
                });
                match found {
                    Some(SecretValue::Source(s)) => adv::Secret {
                        name: format!("{set}.{key}"),
                        from: source_from(s.kind),
                        arg: s.arg.value.clone(),
                        redact: true,
                    },
                    _ => {
                        self.error(step, format!("`{set}.{key}` is not a key of an env or secrets set"));
                        return None;
                    }
                }
            }
        };
        Some(self.agents.adv.secret(secret))
    }
}

/// Whether an env value is only known at run time, and which.
pub(super) fn runtime_value(db: &dyn Db, project: Project, value: &EnvValue) -> Option<RuntimeValue> {
    match value {
        EnvValue::Source(s) => Some(RuntimeValue::Source(s.clone())),
        EnvValue::Ref { set, key } if item_index(db, project).other(DeclKind::Secrets, &set.text).is_some() => {
            Some(RuntimeValue::Secret { set: set.text.clone(), key: key.text.clone() })
        }
        _ => None,
    }
}

fn source_from(kind: SecretSourceKind) -> adv::SecretFrom {
    match kind {
        SecretSourceKind::Env => adv::SecretFrom::Env,
        SecretSourceKind::File => adv::SecretFrom::File,
    }
}

fn source_keyword(kind: SecretSourceKind) -> &'static str {
    source_from(kind).keyword()
}
