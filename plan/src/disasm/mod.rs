//! `Plan::disassemble`: the plan as text for people and golden tests.
//!
//! The text is stable: golden files pin it, so change it deliberately.

mod extras;

use std::fmt::Write;

use super::{Compensate, Instr, Part, Plan, Policy, Retry, Step, StepId, Template, Workflow};
use super::table::Hole;

/// `2000` → `2s`, `90000` → `1m30s`, `500` → `500ms`.
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let units = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];
    let mut out = String::new();
    let mut rest = ms;
    for (size, name) in units {
        if rest >= size {
            let _ = write!(out, "{}{name}", rest / size);
            rest %= size;
        }
    }
    out
}

fn retry_text(r: &Retry) -> String {
    let mut s = format!("retry {}", r.count);
    if let Some(on) = &r.on {
        let mut conds = Vec::new();
        if !on.exit_codes.is_empty() {
            let codes: Vec<String> = on.exit_codes.iter().map(i32::to_string).collect();
            conds.push(format!("exit {}", codes.join(",")));
        }
        if on.timeout {
            conds.push("timeout".to_string());
        }
        let _ = write!(s, " on {}", conds.join("|"));
    }
    if r.delay_ms > 0 || r.backoff == super::Backoff::Exponential {
        let kind = match r.backoff {
            super::Backoff::Fixed => "fixed",
            super::Backoff::Exponential => "exp",
        };
        let _ = write!(s, " {kind} {}", format_duration(r.delay_ms));
    }
    if let Some(f) = r.factor {
        let _ = write!(s, " factor {f}");
    }
    if let Some(max) = r.max_ms {
        let _ = write!(s, " max {}", format_duration(max));
    }
    if let Some(j) = r.jitter_pct {
        let _ = write!(s, " jitter {j}%");
    }
    if let Some(d) = r.max_duration_ms {
        let _ = write!(s, " max_duration {}", format_duration(d));
    }
    s
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn quoted_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| quoted(i)).collect::<Vec<_>>().join(", "))
}

fn template_text(t: &Template) -> String {
    let parts: Vec<String> = t
        .parts
        .iter()
        .map(|p| match p {
            Part::Text(text) => quoted(text),
            Part::Hole(Hole { expr, shell: Some(ctx), .. }) => format!("${{e{expr}:{}}}", ctx.label()),
            Part::Hole(h) if h.glob => format!("${{e{}:glob}}", h.expr),
            Part::Hole(h) => format!("${{e{}}}", h.expr),
        })
        .collect();
    parts.join(" ")
}

fn disassemble_policy(i: usize, policy: &Policy, out: &mut String) {
    let _ = writeln!(out, "policy {i} {}", policy.name);
    if let Some(desc) = &policy.description {
        let _ = writeln!(out, "  description {}", quoted(desc));
    }
    for (e, text) in policy.exprs.iter().enumerate() {
        let _ = writeln!(out, "  e{e}  {text}");
    }
    for (t, template) in policy.templates.iter().enumerate() {
        let _ = writeln!(out, "  t{t}  {}", template_text(template));
    }
    for rule in &policy.rules {
        let _ = write!(out, "  {:<16} when e{}", rule.effect.keyword(), rule.when);
        if let Some(t) = rule.because {
            let _ = write!(out, " because t{t}");
        }
        out.push('\n');
    }
}

impl Plan {
    /// A readable listing of the whole plan.
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "plan format {}  entry {}", self.format_version, self.entry);
        for (i, agent) in self.agents.iter().enumerate() {
            let _ = write!(out, "agent {i} {}  command {}", agent.name, quoted(&agent.command));
            if let Some(cost) = agent.cost_per_call {
                let _ = write!(out, "  cost_per_call {cost}");
            }
            for e in &agent.env {
                let _ = write!(out, "  env {}={}", e.name, quoted(&e.value));
            }
            for e in &agent.secret_env {
                let _ = write!(out, "  env {}=secret#{}", e.name, e.secret);
            }
            out.push('\n');
        }
        for (i, policy) in self.policies.iter().enumerate() {
            out.push('\n');
            disassemble_policy(i, policy, &mut out);
        }
        extras::plan_tables(self, &mut out);
        for wf in &self.workflows {
            out.push('\n');
            self.disassemble_workflow(wf, &mut out);
        }
        out
    }

    fn disassemble_workflow(&self, wf: &Workflow, out: &mut String) {
        let _ = write!(out, "workflow {}", wf.name);
        if let Some(job) = &wf.job {
            let _ = write!(out, "  job of {} group {}", job.parent, job.group);
        }
        let d = &wf.defaults;
        if let Some(c) = d.concurrency {
            let _ = write!(out, "  concurrency {c}");
        }
        if let Some(t) = d.run_timeout_ms {
            let _ = write!(out, "  timeout {}", format_duration(t));
        }
        if let Some(b) = d.budget_usd {
            let _ = write!(out, "  budget {b:.2}");
        }
        if d.compensate_on_failure {
            out.push_str("  on_failure compensate");
        }
        out.push('\n');
        if let Some(desc) = &wf.description {
            let _ = writeln!(out, "  description {}", quoted(desc));
        }
        if let Some(r) = &d.retry {
            let _ = writeln!(out, "  default {}", retry_text(r));
        }
        if let Some(t) = d.step_timeout_ms {
            let _ = writeln!(out, "  default timeout {}", format_duration(t));
        }
        for input in &wf.inputs {
            let _ = write!(out, "  input {}: {}", input.name, input.ty);
            if let Some(default) = &input.default {
                let _ = write!(out, " = {default}");
            }
            out.push('\n');
        }
        for output in &wf.outputs {
            let _ = writeln!(out, "  output {} = e{}", output.name, output.expr);
        }
        for (i, g) in wf.groups.iter().enumerate() {
            let members: Vec<String> = g.steps.iter().map(|s| format!("{s} {}", wf.steps[*s as usize].name)).collect();
            match g.kind {
                // The exit handler has no name of its own.
                crate::GroupKind::Finally => {
                    let _ = write!(out, "  group {i} finally");
                }
                kind => {
                    let _ = write!(out, "  group {i} {} {}", kind.keyword(), g.name);
                }
            }
            if let Some(p) = g.parent {
                let _ = write!(out, " in {p}");
            }
            if g.fail_fast {
                let _ = write!(out, " fail_fast");
            }
            let _ = writeln!(out, "  [{}]", members.join(", "));
        }
        for (i, e) in wf.exprs.iter().enumerate() {
            let _ = writeln!(out, "  e{i}  {e}");
        }
        for trigger in &wf.triggers {
            let _ = writeln!(out, "  {}", trigger.describe());
        }
        for (i, t) in wf.templates.iter().enumerate() {
            let _ = writeln!(out, "  t{i}  {}", template_text(t));
        }
        for (i, t) in wf.types.iter().enumerate() {
            let _ = writeln!(out, "  type#{i}  {t}");
        }
        extras::workflow_extras(wf, out);
        for step in &wf.steps {
            out.push('\n');
            self.disassemble_step(wf, step, out);
        }
    }

    fn disassemble_step(&self, wf: &Workflow, step: &Step, out: &mut String) {
        let mut header = format!("step {} {}  {}", step.id, step.name, step.kind.keyword());
        if !step.after.is_empty() {
            // A group dependency is shown as the group; its members are implied.
            let in_groups: Vec<StepId> = step.after_groups.iter().flat_map(|g| wf.group_members(*g)).collect();
            let mut deps: Vec<String> = step
                .after
                .iter()
                .filter(|d| !in_groups.contains(d))
                .map(|d| format!("{d} {}", wf.steps[*d as usize].name))
                .collect();
            deps.extend(step.after_groups.iter().map(|g| format!("group {g} {}", wf.groups[*g as usize].name)));
            match &step.condition {
                Some(c) => {
                    let _ = write!(header, "  after [{}] if {}", deps.join(", "), c.describe(wf));
                }
                None => {
                    let _ = write!(header, "  after [{}] {}", deps.join(", "), step.trigger.keyword());
                }
            }
        }
        if let Some(r) = &step.retry {
            let _ = write!(header, "  {}", retry_text(r));
        }
        if let Some(t) = step.timeout_ms {
            let _ = write!(header, "  timeout {}", format_duration(t));
        }
        if step.line > 0 {
            let _ = write!(header, "   ; line {}", step.line);
        }
        let _ = writeln!(out, "{header}");
        if let Some(p) = step.params {
            let _ = writeln!(out, "  params e{p}");
        }
        if let Some(w) = step.when {
            let _ = writeln!(out, "  when e{w}");
        }
        if step.on_failure != super::OnFailure::Fail {
            let _ = writeln!(out, "  on_failure {}", step.on_failure.keyword());
        }
        if !step.skip_on_exit.is_empty() {
            let codes: Vec<String> = step.skip_on_exit.iter().map(i32::to_string).collect();
            let _ = writeln!(out, "  skip_on_exit {}", codes.join(", "));
        }
        if let Some(g) = step.group {
            let _ = writeln!(out, "  group {g} {}", wf.groups[g as usize].name);
        }
        if step.compensate_on_failure {
            out.push_str("  compensate_on_failure\n");
        }
        match &step.compensate {
            Some(Compensate::Template(t)) => {
                let _ = writeln!(out, "  compensate t{t}");
            }
            Some(Compensate::Step(s)) => {
                let _ = writeln!(out, "  compensate step {s} {}", wf.steps[*s as usize].name);
            }
            None => {}
        }
        for b in &step.env {
            let _ = writeln!(out, "  env {} = t{}", b.name, b.template);
        }
        extras::step_extras(self, wf, step, out);
        for (pc, instr) in step.code.iter().enumerate() {
            let operands = match instr {
                Instr::Render { template, dst } => {
                    let t = &wf.templates[*template as usize];
                    let note = if t.has_shell_holes() { "        ; shell-quoted holes" } else { "" };
                    format!("t{template} -> {dst}{note}")
                }
                Instr::Eval { expr, dst } => format!("e{expr} -> {dst}"),
                Instr::Exec { cmd } => cmd.to_string(),
                Instr::Agent { agent, prompt } => format!("{} {prompt}", self.agents[*agent as usize].name),
                Instr::ParseOutput { mode, ty } => match ty {
                    Some(t) => format!("{} type#{t}", mode.keyword()),
                    None => mode.keyword().to_string(),
                },
                Instr::Notify { channel, message } => match channel {
                    Some(c) => format!("{c} {message}"),
                    None => message.to_string(),
                },
                Instr::Branch { arms } => {
                    let arms: Vec<String> = arms
                        .iter()
                        .map(|a| {
                            let name = |t: crate::ArmTarget| match t {
                                crate::ArmTarget::Step(s) => format!("{s} {}", wf.target_name(t)),
                                crate::ArmTarget::Group(g) => format!("group {g} {}", wf.target_name(t)),
                            };
                            // Several targets in brackets: the arms are comma-separated.
                            let target = match a.picks_all() {
                                Some(ts) if ts.len() == 1 => name(ts[0]),
                                Some(ts) => format!("[{}]", ts.into_iter().map(name).collect::<Vec<_>>().join(", ")),
                                None => "?".to_string(),
                            };
                            match a.when {
                                Some(e) => format!("e{e} -> {target}"),
                                None => format!("else -> {target}"),
                            }
                        })
                        .collect();
                    arms.join(", ")
                }
                Instr::Call { workflow, inputs } => match inputs {
                    Some(r) => format!("{workflow} {r}"),
                    None => workflow.clone(),
                },
                Instr::End => String::new(),
                Instr::CheckPolicy { policy, input } => {
                    let name = self.policies.get(*policy as usize).map_or("?", |p| p.name.as_str());
                    format!("{name} {input}")
                }
                Instr::Approval { message, approvers, distinct_from_initiator, implicit } => {
                    let mut parts = Vec::new();
                    if *implicit {
                        parts.push("implicit".to_string());
                    }
                    if let Some(m) = message {
                        parts.push(m.to_string());
                    }
                    if !approvers.is_empty() {
                        parts.push(format!("approvers {}", quoted_list(approvers)));
                    }
                    if *distinct_from_initiator {
                        parts.push("distinct_from_initiator".to_string());
                    }
                    parts.join(" ")
                }
                Instr::Human { message, ty, approvers } => {
                    let mut parts = Vec::new();
                    if let Some(m) = message {
                        parts.push(m.to_string());
                    }
                    if let Some(t) = ty {
                        parts.push(format!("type#{t}"));
                    }
                    if !approvers.is_empty() {
                        parts.push(format!("approvers {}", quoted_list(approvers)));
                    }
                    parts.join(" ")
                }
                Instr::Wait { event, subject } => match subject {
                    Some(s) => format!("{event} {s}"),
                    None => event.to_string(),
                },
                Instr::Timer { due } => match due {
                    crate::instr::TimerDue::For(ms) => format!("for {}", format_duration(*ms)),
                    crate::instr::TimerDue::Until(at) => format!("until {at:?}"),
                    crate::instr::TimerDue::ForReg(r) => format!("for {r}"),
                    crate::instr::TimerDue::UntilReg(r) => format!("until {r}"),
                },
                other => extras::operands(self, wf, other),
            };
            let line = format!("  {pc} {:<12} {operands}", instr.opcode());
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format_duration;

    #[test]
    fn durations_use_the_largest_units() {
        assert_eq!(format_duration(2000), "2s");
        assert_eq!(format_duration(600_000), "10m");
        assert_eq!(format_duration(90_000), "1m30s");
        assert_eq!(format_duration(500), "500ms");
        assert_eq!(format_duration(7_200_000), "2h");
    }
}
