//! Secrets: resolved when a step starts, redacted from everything recorded.
//!
//! A plan names where a secret comes from (`from_env("VAR")`, or
//! `from_file("path")` relative to the project dir), never its value. The
//! value is read when a step that uses it starts; a missing variable or an
//! unreadable file fails the step before it runs anything, naming the secret.
//!
//! Every value of a `redact`ed secret resolved in this process joins the
//! [`Redactor`] shared by all runs of the process. Whatever the runtime
//! records goes through it: step log lines (as they are written), a step's
//! output, stdout, stderr and error (when its attempt finishes, so later
//! steps never see the value through them either), and every op of every
//! batch written to the state database. A secret can therefore only reach
//! a step's process through its environment. Values are replaced by `***`;
//! a multi-line value's lines are redacted one by one too, since logs are
//! written by the line.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;

use crate::plan::{Secret, SecretEnv, SecretFrom};
use crate::state::Op;

pub const MASK: &str = "***";

/// The shortest piece of a secret masked where a text was cut through it.
pub const MIN_FRAGMENT: usize = 3;

/// The secret values to hide, shared by every run of the process.
#[derive(Clone, Default)]
pub struct Redactor(Rc<RefCell<Vec<String>>>);

impl Redactor {
    /// No secret values to mask.
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// Adds a value (and, for multi-line values, each non-blank line).
    pub fn add(&self, value: &str) {
        let mut list = self.0.borrow_mut();
        let mut add = |v: &str| {
            if !v.is_empty() && !list.iter().any(|x| x == v) {
                list.push(v.to_string());
            }
        };
        add(value);
        if value.contains('\n') {
            for line in value.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()) {
                add(line);
            }
        }
        // Longest first, so a value that contains another is replaced whole.
        list.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` with every secret value replaced by `***`.
    pub fn redact_str(&self, text: &str) -> String {
        let list = self.0.borrow();
        let mut out = text.to_string();
        for secret in list.iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    /// [`Self::redact_str`] for a piece of a longer text that was cut: at a
    /// cut before the piece, a start that may be the end of a secret whose
    /// beginning is on the other side is masked too, and at a cut after it,
    /// an end that may be a secret's beginning. Fragments shorter than
    /// [`MIN_FRAGMENT`] bytes are left: they cannot be told from ordinary text.
    pub fn redact_cut(&self, text: &str, cut_before: bool, cut_after: bool) -> String {
        let mut out = self.redact_str(text);
        if !cut_before && !cut_after {
            return out;
        }
        let list = self.0.borrow();
        if cut_before {
            let longest = list
                .iter()
                .flat_map(|s| (1..s.len()).filter(|k| s.is_char_boundary(*k)).map(move |k| &s[k..]))
                .filter(|frag| frag.len() >= MIN_FRAGMENT && out.starts_with(*frag))
                .map(str::len)
                .max();
            if let Some(n) = longest {
                out.replace_range(..n, MASK);
            }
        }
        if cut_after {
            let longest = list
                .iter()
                .flat_map(|s| (1..s.len()).filter(|k| s.is_char_boundary(*k)).map(move |k| &s[..k]))
                .filter(|frag| frag.len() >= MIN_FRAGMENT && out.ends_with(*frag))
                .map(str::len)
                .max();
            if let Some(n) = longest {
                let at = out.len() - n;
                out.replace_range(at.., MASK);
            }
        }
        out
    }

    /// Masks the secret values in `text`, in place.
    pub fn redact_string(&self, text: &mut String) {
        if !self.is_empty() {
            *text = self.redact_str(text);
        }
    }

    /// Redacts every string of an event's payload.
    pub fn redact_event(&self, event: &mut crate::state::Event) {
        if self.is_empty() {
            return;
        }
        let mut json = event.to_json();
        self.redact_value(&mut json);
        // The payload's keys are field names, so the masked JSON reads back;
        // if it did not, the store still masks it when the batch commits.
        if let Ok(masked) = crate::state::Event::decode(event.kind(), &json) {
            *event = masked;
        }
    }

    /// Redacts every string (keys included) inside a JSON value.
    pub fn redact_value(&self, value: &mut Value) {
        if self.is_empty() {
            return;
        }
        match value {
            Value::String(s) => *s = self.redact_str(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_value(v)),
            Value::Object(map) => {
                let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
                for (k, mut v) in entries {
                    self.redact_value(&mut v);
                    map.insert(self.redact_str(&k), v);
                }
            }
            _ => {}
        }
    }

    fn opt(&self, s: &mut Option<String>) {
        if let Some(s) = s {
            self.redact_string(s);
        }
    }

    /// Redacts what an op writes to the state database.
    pub fn redact_op(&self, op: &mut Op) {
        match op {
            Op::Event { payload, .. } => self.redact_value(payload),
            Op::RunStatus { error, outputs, .. } => {
                self.opt(error);
                if let Some(o) = outputs {
                    self.redact_value(o);
                }
            }
            Op::StepState(s) => {
                if let Some(o) = &mut s.output {
                    self.redact_value(o);
                }
                self.opt(&mut s.stdout);
                self.opt(&mut s.stderr);
                self.opt(&mut s.error);
            }
            Op::AttemptFinished { error, .. } => self.opt(error),
            Op::StepItems { items, .. } => self.redact_value(items),
            _ => {}
        }
    }

    /// Masks the secret values in everything a batch writes.
    pub fn redact_ops(&self, ops: &mut [Op]) {
        if !self.is_empty() {
            ops.iter_mut().for_each(|op| self.redact_op(op));
        }
    }
}

/// Reads one secret's value now. A file's value loses one trailing newline.
pub fn resolve(secret: &Secret, project_dir: &std::path::Path) -> Result<String, String> {
    match secret.from {
        SecretFrom::Env => match std::env::var(&secret.arg) {
            Ok(v) => Ok(v),
            Err(std::env::VarError::NotPresent) => {
                Err(format!("secret `{}`: the environment variable {} is not set", secret.name, secret.arg))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("secret `{}`: the environment variable {} is not valid UTF-8", secret.name, secret.arg))
            }
        },
        SecretFrom::File => {
            let path = project_dir.join(&secret.arg);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                let reason = e.to_string();
                let reason = reason.split(" (os error").next().unwrap_or(&reason).to_string();
                format!("secret `{}`: cannot read {}: {reason}", secret.name, path.display())
            })?;
            let text = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
            Ok(text.to_string())
        }
    }
}

/// A redactor that knows every secret of the plan this process can resolve.
/// Built by every process that starts or continues a run, before it records
/// anything: a step may print a secret that another step (run by another
/// process, before an approval or a crash) wrote somewhere, and masking must
/// not depend on which process resolved the secret first. A secret that
/// cannot be resolved here is skipped: the step that needs it fails before
/// it runs, naming it.
pub fn redactor_for(secrets: &[Secret], project_dir: &std::path::Path) -> Redactor {
    let redactor = Redactor::default();
    for secret in secrets.iter().filter(|s| s.redact) {
        if let Ok(value) = resolve(secret, project_dir) {
            redactor.add(&value);
        }
    }
    redactor
}

/// Resolves environment bindings of secrets into `(NAME, value)` pairs,
/// registering redacted values. The first failure names the secret.
pub fn resolve_env(
    bindings: &[SecretEnv],
    secrets: &[Secret],
    project_dir: &std::path::Path,
    redactor: &Redactor,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::with_capacity(bindings.len());
    for b in bindings {
        // The loader checked the id.
        let Some(secret) = secrets.get(b.secret as usize) else { continue };
        let value = resolve(secret, project_dir)?;
        if secret.redact {
            redactor.add(&value);
        }
        out.push((b.name.clone(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_and_lines_are_masked() {
        let r = Redactor::default();
        r.add("s3cr3t-token");
        r.add("line-one\nline-two\n");
        assert_eq!(r.redact_str("auth s3cr3t-token ok"), "auth *** ok");
        assert_eq!(r.redact_str("got line-two"), "got ***");
        let mut v = json!({"s3cr3t-token": ["x s3cr3t-token", 1]});
        r.redact_value(&mut v);
        assert_eq!(v, json!({"***": ["x ***", 1]}));
    }

    #[test]
    fn missing_secrets_are_named() {
        let s = Secret { name: "keys.API".into(), from: SecretFrom::Env, arg: "FLOWC_TEST_SURELY_UNSET_VAR".into(), redact: true };
        assert_eq!(resolve(&s, std::path::Path::new(".")).unwrap_err(), "secret `keys.API`: the environment variable FLOWC_TEST_SURELY_UNSET_VAR is not set");
    }
}
