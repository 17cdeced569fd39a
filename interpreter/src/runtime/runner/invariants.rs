//! Invariants: pinned when a run starts, checked after steps, enforced.
//!
//! **Pinning.** When a run begins, its workflow's invariants are pinned in
//! `run_pins`: each check command rendered (with the run's `inputs` and
//! `run`), the `at` filter as step names, and the hash of their source
//! definitions (`flowc_plan::invariants_hash`). A spawned child
//! pins its own invariants *and* every invariant its parent pinned, and the
//! stricter of both `safety` limits: nothing a child's workflow says can
//! weaken what its parent promised. A resumed run uses what it pinned, and
//! when the project's source has changed its invariants since, says so
//! (the `invariants_pinned` event, and a line from `flowc resume`).
//!
//! **Protected files** (`protect` globs, matched from the project root with
//! `*` not crossing `/` and `**` crossing it; `.flow/` is never looked at)
//! are fingerprinted at the start, and their contents kept in `file_blobs`.
//!
//! **Checking.** After a step completes — every step, or only those named
//! by `at` (inherited invariants: every step) — each applicable invariant's
//! command runs (it holds when it exits 0 and, with `expect`, prints that
//! text, surrounding whitespace trimmed), and its protected files are
//! compared with the start. A violation is an `invariant_violated` event,
//! then: `warn` goes on; `abort` fails the step and the run; `rollback` puts
//! the protected files back as they were at the last checkpoint, undoes the
//! step's completion, and pauses the run (`flowc resume` runs the step again)
//! or, with `then fail`, fails it.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde_json::Value;

use super::{Abort, Runner};
use crate::plan::{fnv1a_hex, FailMode, ViolationAction};
use crate::plan::StepId;
use super::attempt::{self, AttemptCtx, Outcome};
use crate::runtime::process::Ending;
use super::pin::{FileMap, Pinned, PinnedInvariant, Violation};
use crate::state::{Op, RunPin, RunStatus, StepStatus};
use crate::time;
use crate::state::{payload, Event};

fn matcher(globs: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = GlobBuilder::new(g).literal_separator(true).build().map_err(|e| format!("invalid glob `{g}`: {e}"))?;
        b.add(glob);
    }
    b.build().map_err(|e| e.to_string())
}

/// The directory a glob's matches are under: its components before the
/// first one with a glob character.
fn root_of(glob: &str) -> String {
    let mut parts = Vec::new();
    for c in glob.split('/') {
        if c.contains(['*', '?', '[', '{']) {
            break;
        }
        parts.push(c);
    }
    // A glob without any glob character names one file: walk its directory.
    if parts.len() == glob.split('/').count() {
        parts.pop();
    }
    parts.join("/")
}

fn walk(dir: &Path, rel: &str, set: &GlobSet, out: &mut Vec<String>, seen: &mut HashSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        if path == ".flow" {
            continue;
        }
        // Never follow symbolic links: a protected tree cannot leave the project.
        let Ok(meta) = std::fs::symlink_metadata(entry.path()) else { continue };
        if meta.is_dir() {
            walk(&entry.path(), &path, set, out, seen);
        } else if set.is_match(&path) && seen.insert(path.clone()) {
            out.push(path);
        }
    }
}

/// Files above this size are fingerprinted but their content is not kept
/// (so a rollback cannot put them back, and says so).
const MAX_BLOB: u64 = 16 << 20;

/// Fingerprints the files the globs match under `dir`; returns the map and
/// the contents (files up to 16 MiB) by fingerprint.
pub(crate) fn fingerprint(dir: &Path, globs: &[String]) -> Result<(FileMap, BTreeMap<String, Vec<u8>>), String> {
    let mut map = FileMap::new();
    let mut contents = BTreeMap::new();
    if globs.is_empty() {
        return Ok((map, contents));
    }
    let set = matcher(globs)?;
    let mut roots: Vec<String> = globs.iter().map(|g| root_of(g)).collect();
    roots.sort();
    roots.dedup();
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    for root in roots {
        let base = if root.is_empty() { dir.to_path_buf() } else { dir.join(&root) };
        walk(&base, &root, &set, &mut files, &mut seen);
    }
    for rel in files {
        let path = dir.join(&rel);
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read protected file {rel}: {e}"))?;
        let hash = format!("{}-{}", fnv1a_hex(&bytes), bytes.len());
        if (bytes.len() as u64) <= MAX_BLOB {
            contents.insert(hash.clone(), bytes);
        }
        map.insert(rel, hash);
    }
    Ok((map, contents))
}

/// What changed between two fingerprint maps, restricted to `set`.
fn changes(before: &FileMap, after: &FileMap, set: &GlobSet) -> Vec<String> {
    let mut out = Vec::new();
    for (path, hash) in before.iter().filter(|(p, _)| set.is_match(p.as_str())) {
        match after.get(path) {
            None => out.push(format!("{path} (removed)")),
            Some(h) if h != hash => out.push(format!("{path} (modified)")),
            _ => {}
        }
    }
    for path in after.keys().filter(|p| set.is_match(p.as_str()) && !before.contains_key(*p)) {
        out.push(format!("{path} (added)"));
    }
    out
}

/// Runs the invariants that apply after this step (exec side); violations,
/// fingerprints and new file contents go into the outcome.
pub(crate) async fn check_after_step(ctx: &Rc<AttemptCtx>, env: &[(String, String)], out: &mut Outcome) {
    let Some(pin) = ctx.adv.pin.clone() else { return };
    let sh = &ctx.sh;
    let step = &sh.plan.plan.workflows[ctx.wf].steps[ctx.step as usize].name;
    let applicable: Vec<&PinnedInvariant> = pin.invariants.iter().filter(|i| i.applies_to(step)).collect();
    if applicable.is_empty() {
        return;
    }
    let violation = |inv: &PinnedInvariant, reason: String| Violation {
        invariant: inv.name.clone(),
        action: inv.on_violation,
        then: inv.then,
        reason,
    };
    if applicable.iter().any(|i| !i.protect.is_empty()) {
        match fingerprint(&sh.options.project_dir, &pin.globs()) {
            Ok((map, mut contents)) => {
                for inv in applicable.iter().filter(|i| !i.protect.is_empty()) {
                    let changed = match matcher(&inv.protect) {
                        Ok(set) => changes(&pin.baseline, &map, &set),
                        Err(e) => vec![e],
                    };
                    if !changed.is_empty() {
                        out.adv.violations.push(violation(inv, format!("protected files changed: {}", changed.join(", "))));
                    }
                }
                let known = ctx.adv.files.clone();
                for (path, hash) in &map {
                    let unchanged = known.as_ref().is_some_and(|k| k.get(path) == Some(hash)) || pin.baseline.get(path) == Some(hash);
                    if !unchanged && let Some(bytes) = contents.remove(hash) {
                        out.adv.blobs.push((hash.clone(), bytes));
                    }
                }
                out.adv.files = Some(map);
            }
            Err(e) => {
                for inv in applicable.iter().filter(|i| !i.protect.is_empty()) {
                    out.adv.violations.push(violation(inv, format!("cannot fingerprint the protected files: {e}")));
                }
            }
        }
    }
    let log = crate::runtime::process::log_path(&sh.options.runs_dir(), &ctx.run, step);
    for inv in applicable {
        let Some(command) = &inv.command else { continue };
        let header = format!("attempt {}: invariant {}: {command}", ctx.attempt, inv.name);
        let finished = match attempt::spawn(ctx, command, None, env, &log, &header).await {
            Ok(f) => f,
            Err(e) => {
                out.adv.violations.push(violation(inv, e));
                continue;
            }
        };
        let reason = match finished.ending {
            Ending::Exited(0) => match &inv.expect {
                Some(expect) if finished.stdout.trim() != expect.trim() => Some(format!(
                    "`{command}` printed {:?}, expected {:?}",
                    finished.stdout.trim().chars().take(200).collect::<String>(),
                    expect.trim()
                )),
                _ => None,
            },
            Ending::Exited(code) => {
                let last = finished.stderr.lines().rev().find(|l| !l.trim().is_empty()).map(|l| format!(": {}", l.trim())).unwrap_or_default();
                Some(format!("`{command}` exited with status {code}{last}"))
            }
            Ending::Signalled(sig) => Some(format!("`{command}` was killed by signal {sig}")),
            Ending::TimedOut => Some(format!("`{command}` did not finish before the step's timeout")),
            // The run is stopping; nothing to judge.
            Ending::Aborted => None,
        };
        if let Some(reason) = reason {
            out.adv.violations.push(violation(inv, reason));
        }
    }
}

/// Puts the protected files back as `target` records them: rewrites those
/// whose content differs, deletes those that were not there. Returns what
/// it changed.
pub(crate) fn restore_files(dir: &Path, globs: &[String], target: &FileMap, blob: &dyn Fn(&str) -> Option<Vec<u8>>) -> Result<Vec<String>, String> {
    let (current, _) = fingerprint(dir, globs)?;
    let mut changed = Vec::new();
    for path in current.keys().filter(|p| !target.contains_key(*p)) {
        std::fs::remove_file(dir.join(path)).map_err(|e| format!("cannot remove {path}: {e}"))?;
        changed.push(format!("{path} (removed)"));
    }
    for (path, hash) in target {
        if current.get(path) == Some(hash) {
            continue;
        }
        let bytes = blob(hash).ok_or_else(|| format!("the content of {path} was not kept (over 16 MiB), so it cannot be put back"))?;
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::write(&full, bytes).map_err(|e| format!("cannot write {path}: {e}"))?;
        changed.push(format!("{path} (restored)"));
    }
    Ok(changed)
}

impl Runner {
    /// Pins the run's invariants and limits when it begins. A command that
    /// cannot be rendered fails the run at once.
    pub(super) fn pin_at_begin(&mut self) {
        let sh = self.sh.clone();
        let wf = &sh.plan.plan.workflows[self.wf];
        let parent = match sh.store.borrow().run(&self.run) {
            Ok(Some(r)) => r.parent_run,
            _ => None,
        };
        let parent_pin = parent.as_deref().and_then(|p| sh.store.borrow().pin(p).ok().flatten()).map(Pinned::from_record);
        let own_safety = wf.safety.clone().unwrap_or_default();
        if wf.invariants.is_empty() && own_safety.is_empty() && parent_pin.is_none() {
            return;
        }
        let loaded = &sh.plan.workflows[self.wf];
        let ev = crate::runtime::scope::Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &wf.exprs };
        let scope = self.scope_of(&["inputs", "run"]);
        let mut invariants = Vec::new();
        for inv in &wf.invariants {
            let command = match &inv.check {
                Some(c) => match ev.render(&wf.templates[c.template as usize], &scope) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        self.abort(Abort::Failed(format!("invariant {}: its check command cannot be rendered: {e}", inv.name)));
                        return;
                    }
                },
                None => None,
            };
            invariants.push(PinnedInvariant {
                name: inv.name.clone(),
                description: inv.description.clone(),
                command,
                expect: inv.check.as_ref().and_then(|c| c.expect.clone()),
                on_violation: inv.on_violation,
                then: inv.then,
                protect: inv.protect.clone(),
                at: inv.at.iter().map(|s| wf.steps[*s as usize].name.clone()).collect(),
                from_run: None,
            });
        }
        let mut safety = own_safety;
        if let Some(p) = &parent_pin {
            safety = safety.strictest(&p.safety);
            for inv in &p.invariants {
                let mut inherited = inv.clone();
                inherited.from_run = inherited.from_run.or_else(|| parent.clone());
                if !invariants.contains(&inherited) {
                    invariants.push(inherited);
                }
            }
        }
        let mut pinned = Pinned { hash: crate::plan::invariants_hash(wf), invariants, safety, baseline: FileMap::new() };
        match fingerprint(&sh.options.project_dir, &pinned.globs()) {
            Ok((map, contents)) => {
                for (hash, content) in contents {
                    self.ops.push(Op::Blob { hash, content });
                }
                pinned.baseline = map;
            }
            Err(e) => {
                self.abort(Abort::Failed(format!("cannot fingerprint the protected files: {e}")));
                return;
            }
        }
        self.ops.push(Op::Pin(RunPin {
            run: self.run.clone(),
            hash: pinned.hash.clone(),
            invariants: serde_json::to_value(&pinned.invariants).unwrap_or(Value::Null),
            safety: serde_json::to_value(&pinned.safety).unwrap_or(Value::Null),
            files: serde_json::to_value(&pinned.baseline).unwrap_or(Value::Null),
            pinned_at: time::now(),
        }));
        self.adv.last_files = Some(Rc::new(pinned.baseline.clone()));
        self.adv.pin = Some(Rc::new(pinned));
    }

    /// Reads back what the run pinned (resume), and says so when the
    /// source's invariants differ.
    pub(super) fn load_pin(&mut self) -> Result<(), crate::runtime::Error> {
        let pin = self.sh.store.borrow().pin(&self.run)?;
        let pinned_hash = pin.as_ref().map(|p| p.hash.clone()).unwrap_or_else(empty_hash);
        if let Some(pin) = pin {
            let pinned = Pinned::from_record(pin);
            self.adv.last_files = Some(Rc::new(pinned.baseline.clone()));
            self.adv.pin = Some(Rc::new(pinned));
        }
        if let Some(source) = self.sh.options.source_invariants_hash.clone()
            && source != pinned_hash {
                self.event(
                    None,
                    Event::InvariantsPinned(payload::InvariantsPinned {
                        pinned_hash: pinned_hash.clone(),
                        source_hash: source,
                        message: "the source's invariants differ from those pinned when the run started; the pinned invariants apply".into(),
                    }),
                );
            }
        Ok(())
    }

    /// Applies the violations of a step that completed its work. Returns
    /// `true` when the step must not be recorded completed (abort, rollback).
    pub(super) fn handle_violations(&mut self, s: StepId, attempt: u32, violations: &[Violation]) -> bool {
        if violations.is_empty() {
            return false;
        }
        let name = self.wf_plan().steps[s as usize].name.clone();
        for v in violations {
            self.event(
                Some(s),
                Event::InvariantViolated(payload::InvariantViolated {
                    invariant: v.invariant.clone(),
                    action: v.action.keyword().to_string(),
                    reason: v.reason.clone(),
                    attempt,
                }),
            );
        }
        let first = |action: ViolationAction| violations.iter().find(|v| v.action == action);
        if let Some(v) = first(ViolationAction::Abort) {
            let msg = format!("invariant {} violated after step {name}: {}", v.invariant, v.reason);
            self.steps[s as usize].error = Some(msg.clone());
            self.record_step(
                s,
                StepStatus::Failed,
                Event::Failed(payload::Failed { attempt: Some(attempt), error: msg.clone(), invariant: Some(v.invariant.clone()), ..Default::default() }),
            );
            self.settled += 1;
            self.abort(Abort::Failed(msg));
            return true;
        }
        let Some(v) = first(ViolationAction::Rollback) else { return false };
        let fail = violations.iter().any(|v| v.action == ViolationAction::Rollback && v.then == FailMode::Fail);
        let globs = self.adv.pin.as_ref().map(|p| p.globs()).unwrap_or_default();
        let target = self.adv.last_files.clone().unwrap_or_default();
        let sh = self.sh.clone();
        let restored = restore_files(&sh.options.project_dir, &globs, &target, &|h| sh.store.borrow().blob(h).ok().flatten());
        let (restored, problem) = match restored {
            Ok(list) => (list, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let mut msg = format!("invariant {} violated after step {name}: {}; rolled back to the last checkpoint", v.invariant, v.reason);
        if let Some(p) = &problem {
            msg.push_str(&format!(" (the files could not all be put back: {p})"));
        }
        let rolled_back = Event::RolledBack(payload::RolledBack { attempt, invariant: v.invariant.clone(), error: msg.clone(), restored });
        self.steps[s as usize].error = Some(msg.clone());
        self.steps[s as usize].output = None;
        if fail {
            self.record_step(s, StepStatus::Failed, rolled_back);
            self.settled += 1;
            self.abort(Abort::Failed(msg));
        } else {
            // Like `on_failure pause`: `flowc resume` runs the step again.
            self.record_step(s, StepStatus::Paused, rolled_back);
            if !self.paused {
                self.paused = true;
                self.record_run(RunStatus::Paused, Event::Paused(payload::Paused { reason: msg, step: Some(name) }), None, None);
            }
        }
        true
    }
}

/// The hash of no invariants (a run that pinned nothing).
pub(crate) fn empty_hash() -> String {
    fnv1a_hex(b"[]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_limit_the_walk() {
        assert_eq!(root_of("config/*.json"), "config");
        assert_eq!(root_of(".github/workflows/*"), ".github/workflows");
        assert_eq!(root_of("Cargo.lock"), "");
        assert_eq!(root_of("**/*.lock"), "");
        assert_eq!(root_of("a/b/c.txt"), "a/b");
    }

    #[test]
    fn fingerprints_see_every_change() {
        let dir = std::env::temp_dir().join(format!("flowc-fp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("config/deep")).unwrap();
        std::fs::write(dir.join("config/a.json"), "1").unwrap();
        std::fs::write(dir.join("config/deep/b.json"), "2").unwrap();
        let globs = vec!["config/*.json".to_string()];
        let (before, contents) = fingerprint(&dir, &globs).unwrap();
        assert_eq!(before.keys().collect::<Vec<_>>(), ["config/a.json"], "`*` does not cross `/`");
        std::fs::write(dir.join("config/a.json"), "changed").unwrap();
        std::fs::write(dir.join("config/c.json"), "new").unwrap();
        let (after, _) = fingerprint(&dir, &globs).unwrap();
        let set = matcher(&globs).unwrap();
        assert_eq!(changes(&before, &after, &set), ["config/a.json (modified)", "config/c.json (added)"]);
        let restored = restore_files(&dir, &globs, &before, &|h| contents.get(h).cloned()).unwrap();
        assert_eq!(restored, ["config/c.json (removed)", "config/a.json (restored)"]);
        assert_eq!(std::fs::read_to_string(dir.join("config/a.json")).unwrap(), "1");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
