//! The disassembly of a plan's optional parts: store and secret tables,
//! `safety` and invariant lines, a step's for-each, secret env and quality
//! gate lines, and the operands of the store, spawn, items, select and gate
//! instructions.

use std::fmt::Write;

use crate::{StoreBackend, ViolationAction};
use super::format_duration;
use crate::{Instr, Plan, Step, Workflow};

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn step_ref(wf: &Workflow, id: u32) -> String {
    format!("{id} {}", wf.steps.get(id as usize).map_or("?", |s| s.name.as_str()))
}

fn store_name(plan: &Plan, id: u32) -> &str {
    plan.stores.get(id as usize).map_or("?", |s| s.name.as_str())
}

/// `store N NAME …` and `secret#N NAME …` lines.
pub fn plan_tables(plan: &Plan, out: &mut String) {
    for (i, store) in plan.stores.iter().enumerate() {
        let _ = write!(out, "store {i} {}", store.name);
        match &store.backend {
            StoreBackend::Local => out.push_str("  local"),
            StoreBackend::Command(c) => {
                let _ = write!(out, "  command {}", quoted(c));
            }
        }
        if let Some(n) = store.max_entries {
            let _ = write!(out, "  max_entries {n}");
        }
        if let Some(t) = store.ttl_ms {
            let _ = write!(out, "  ttl {}", format_duration(t));
        }
        if let Some(schema) = &store.schema {
            let _ = write!(out, "  schema {schema}");
        }
        out.push('\n');
    }
    for (i, secret) in plan.secrets.iter().enumerate() {
        let _ = writeln!(
            out,
            "secret#{i} {}  {}({}){}",
            secret.name,
            secret.from.keyword(),
            quoted(&secret.arg),
            if secret.redact { "  redacted" } else { "" }
        );
    }
}

/// `safety …` and `invariant …` lines of a workflow.
pub fn workflow_extras(wf: &Workflow, out: &mut String) {
    if let Some(s) = &wf.safety {
        out.push_str("  safety");
        if let Some(n) = s.max_spawned_tasks {
            let _ = write!(out, "  max_spawned_tasks {n}");
        }
        if let Some(n) = s.max_spawn_depth {
            let _ = write!(out, "  max_spawn_depth {n}");
        }
        if let Some(d) = s.spawn_cooldown_ms {
            let _ = write!(out, "  spawn_cooldown {}", format_duration(d));
        }
        out.push('\n');
    }
    for inv in &wf.invariants {
        let _ = write!(out, "  invariant {}  on_violation {}", inv.name, inv.on_violation.keyword());
        if inv.on_violation == ViolationAction::Rollback {
            let _ = write!(out, " then {}", inv.then.keyword());
        }
        if let Some(c) = &inv.check {
            let _ = write!(out, "  check t{}", c.template);
            if let Some(e) = &c.expect {
                let _ = write!(out, " expect {}", quoted(e));
            }
        }
        if !inv.protect.is_empty() {
            let globs: Vec<String> = inv.protect.iter().map(|g| quoted(g)).collect();
            let _ = write!(out, "  protect [{}]", globs.join(", "));
        }
        if !inv.at.is_empty() {
            let at: Vec<String> = inv.at.iter().map(|s| step_ref(wf, *s)).collect();
            let _ = write!(out, "  at [{}]", at.join(", "));
        }
        out.push('\n');
    }
}

/// `for each item`, secret env and gate lines of a step.
pub fn step_extras(_plan: &Plan, wf: &Workflow, step: &Step, out: &mut String) {
    if step.for_each {
        match &step.for_each_in {
            Some(items) => out.push_str(&format!("  for each item in {}\n", serde_json::Value::Array(items.clone()))),
            None => out.push_str("  for each item\n"),
        }
        if step.fail_fast {
            out.push_str("  fail_fast\n");
        }
    }
    for e in &step.secret_env {
        let _ = writeln!(out, "  env {} = secret#{}", e.name, e.secret);
    }
    if let Some(g) = &step.gate {
        out.push_str("  gate");
        if !g.fix.is_empty() {
            let fix: Vec<String> = g.fix.iter().map(|s| step_ref(wf, *s)).collect();
            let _ = write!(out, "  fix [{}] retry {}", fix.join(", "), g.fix_retries);
        }
        if let Some(m) = g.on_fail {
            let _ = write!(out, "  on_fail {}", m.keyword());
        }
        if g.skippable {
            out.push_str("  skippable");
        }
        out.push('\n');
    }
}

/// The operands of a store, spawn, items, select or gate instruction.
pub fn operands(plan: &Plan, _wf: &Workflow, instr: &Instr) -> String {
    match instr {
        Instr::ReadStore { store, key, name } => format!("{}.{} as {name}", store_name(plan, *store), quoted(key)),
        Instr::StorePut { store, key, expr } => format!("{}.{} = e{expr}", store_name(plan, *store), quoted(key)),
        Instr::Spawn { workflow, inputs } => match inputs {
            Some(e) => format!("{workflow} e{e}"),
            None => workflow.clone(),
        },
        Instr::SpawnEach { list, workflow, inputs } => match inputs {
            Some(e) => format!("e{list} -> {workflow} e{e}"),
            None => format!("e{list} -> {workflow}"),
        },
        Instr::Items { expr } => format!("e{expr}"),
        Instr::Select(s) => {
            let mut text = s.strategy.keyword().to_string();
            if let Some(m) = &s.metric {
                let _ = write!(text, " metric {m}");
            }
            if let Some(k) = s.top_k {
                let _ = write!(text, " top_k {k}");
            }
            if let Some(t) = s.threshold {
                let _ = write!(text, " threshold {t}");
            }
            if !s.weights.is_empty() {
                let w: Vec<String> = s.weights.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                let _ = write!(text, " weights {{{}}}", w.join(", "));
            }
            if let Some(t) = s.output_type {
                let _ = write!(text, " type#{t}");
            }
            text
        }
        Instr::Gate { checks } => {
            let list: Vec<String> = checks
                .iter()
                .map(|c| match &c.expect {
                    Some(e) => format!("t{} expect {}", c.template, quoted(e)),
                    None => format!("t{}", c.template),
                })
                .collect();
            list.join(", ")
        }
        _ => String::new(),
    }
}
