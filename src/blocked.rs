//! The lines and JSON that tell a person how to continue a blocked run:
//! `flowc runs waiting`, and what `flowc run` and `flowc runs show` print
//! for a run that waits on people or events.


use flowc_interpreter::runtime::{self, Hold, RunReport};
use flowc_interpreter::state::Store;
use serde_json::{json, Value};



/// The blocked gates of a run (and its child runs), as JSON.
pub fn blocked_json(store: &dyn Store, run: &str) -> Value {
    let gates = runtime::blocking::blocked_in_tree(store, run).unwrap_or_default();
    Value::Array(
        gates
            .into_iter()
            .map(|(r, step, gate)| {
                let mut v = serde_json::to_value(&gate).unwrap_or(Value::Null);
                v["run"] = json!(r);
                v["step"] = json!(step);
                v["command"] = json!(how_to(&r, &step, &gate));
                v
            })
            .collect(),
    )
}

/// `flowc runs waiting`: every blocked step of every run that is not over.
pub fn print_waiting(store: &dyn Store, json: bool) -> Result<(), runtime::Error> {
    use flowc_interpreter::state::RunStatus;
    let runs = store.runs_with_status(&[RunStatus::Blocked, RunStatus::Running, RunStatus::Paused, RunStatus::Pending])?;
    let mut all = Vec::new();
    for run in runs.iter().filter(|r| r.parent_run.is_none()) {
        if let Value::Array(list) = blocked_json(store, &run.id) {
            for mut item in list {
                item["workflow_run"] = json!(run.id);
                item["workflow"] = json!(run.workflow);
                all.push(item);
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&Value::Array(all)).unwrap_or_default());
        return Ok(());
    }
    if all.is_empty() {
        eprintln!("no step is waiting on a person or an event");
        return Ok(());
    }
    for item in &all {
        let text = |k: &str| item[k].as_str().unwrap_or("").to_string();
        let what = match text("gate").as_str() {
            "approval" => "approval".to_string(),
            "human" => "task".to_string(),
            "timer" => format!("timer due {}", text("deadline")),
            _ => format!("event {}", text("event")),
        };
        println!("{}  {}/{}  {what}  {}", text("run"), text("workflow"), text("step"), text("message"));
        println!("    {}", text("command"));
    }
    Ok(())
}

/// A command that continues the gate, ready to paste by one of its
/// approvers (whoever runs it decides): placeholders are values that work
/// (a skeleton of the declared output, an event type the glob matches).
pub fn how_to(run: &str, step: &str, gate: &Hold) -> String {
    use flowc_plan::table::shell_quote;
    match gate.gate.as_str() {
        "approval" => format!(
            "flowc approve {run} {step} --comment 'looks good'   (or: flowc reject {run} {step} --comment 'why not')"
        ),
        "human" => {
            let example = gate.output_example.clone().unwrap_or(serde_json::Value::Object(Default::default()));
            format!("flowc complete {run} {step} --output {}", shell_quote(&example.to_string()))
        }
        "wait" => {
            let mut cmd = format!("flowc event send {}", shell_quote(&flowc_interpreter::runtime::inbox::glob_example(gate.event.as_deref().unwrap_or("example"))));
            if let Some(s) = &gate.subject {
                cmd.push_str(&format!(" --subject {}", shell_quote(&flowc_interpreter::runtime::inbox::glob_example(s))));
            }
            cmd.push_str(" --data '{}'");
            cmd
        }
        // Nobody fires a timer: resuming after its due time (or `flowc serve`) does.
        _ => format!("flowc resume {run}"),
    }
}

/// "How to continue" lines for a blocked run, on stderr.
pub fn print_blocked(store: &dyn Store, report: &RunReport) {
    let gates = runtime::blocking::blocked_in_tree(store, &report.run).unwrap_or_default();
    for (run, step, gate) in &gates {
        eprintln!();
        let mut what = match gate.gate.as_str() {
            "approval" => {
                let mut w = "waits for an approval".to_string();
                if gate.implicit {
                    w.push_str(&format!(" required by policy {}", gate.policy.as_deref().unwrap_or("?")));
                }
                if !gate.approvers.is_empty() {
                    w.push_str(&format!(" from {}", gate.approvers.join(" or ")));
                }
                if gate.distinct_from_initiator {
                    w.push_str(" (not the run's initiator)");
                }
                w
            }
            "human" => match &gate.output_type {
                Some(t) => format!("waits for a person to complete the task (output {t})"),
                None => "waits for a person to complete the task".to_string(),
            },
            "wait" => format!(
                "waits for an event of type {}{}",
                gate.event.as_deref().unwrap_or("?"),
                gate.subject.as_deref().map(|s| format!(" with subject {s}")).unwrap_or_default()
            ),
            "timer" => format!("is a timer due at {}", gate.deadline.as_deref().unwrap_or("?")),
            _ => "waits for its child run".to_string(),
        };
        if let Some(d) = gate.deadline.as_ref().filter(|_| gate.gate != "timer") {
            what.push_str(&format!(", until {d}"));
        }
        eprintln!("step {step} of run {run} {what}");
        if let Some(m) = &gate.message {
            eprintln!("  {m}");
        }
        eprintln!("  continue with: {}", how_to(run, step, gate));
    }
}
