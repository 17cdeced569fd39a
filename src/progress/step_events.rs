//! Progress lines for the step events of items, quality gates, invariants,
//! spawns, selection and checkpoints.

use flowc_interpreter::state::EventKind as K;
use serde_json::Value;

use crate::progress::Progress;

fn text<'a>(payload: &'a Value, key: &str) -> &'a str {
    payload.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The line for a step event, `None` to print nothing.
pub fn line(p: &Progress, label: &str, event: K, payload: &Value) -> Option<String> {
    let item = payload.get("item").and_then(Value::as_u64).unwrap_or(0);
    Some(match event {
        K::ItemStarted if p.is_live() => return None,
        K::ItemStarted => format!("step {label} item {item} started"),
        K::ItemCompleted => format!("{} {label} item {item} completed", p.paint_pub("✓", "32")),
        K::ItemBlocked => format!("step {label} item {item} waits for its child run"),
        K::ItemFailed => format!("{} {label} item {item} failed: {}", p.paint_pub("✗", "31"), text(payload, "error")),
        K::GatePassed => format!("{} gate {label} passed", p.paint_pub("✓", "32")),
        K::GateFailed => {
            let failing: Vec<String> = payload
                .get("checks")
                .and_then(Value::as_array)
                .map(|c| {
                    c.iter()
                        .filter(|x| x.get("passed") == Some(&Value::Bool(false)))
                        .map(|x| format!("`{}` {}", text(x, "command"), text(x, "reason")))
                        .collect()
                })
                .unwrap_or_default();
            format!("{} gate {label} failed: {}", p.paint_pub("✗", "31"), failing.join("; "))
        }
        K::GateFix => {
            let rerun: Vec<&str> = payload.get("rerun").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            format!(
                "{} gate {label}: fix round {} of {}, running again: {}",
                p.paint_pub("↻", "33"),
                payload.get("round").and_then(Value::as_u64).unwrap_or(0),
                payload.get("of").and_then(Value::as_u64).unwrap_or(0),
                rerun.join(", ")
            )
        }
        K::Reset => return None,
        K::InvariantViolated => format!(
            "{} {label}: invariant {} violated ({}): {}",
            p.paint_pub("!", "31"),
            text(payload, "invariant"),
            text(payload, "action"),
            text(payload, "reason")
        ),
        K::RolledBack => format!("{} {label} rolled back: {}", p.paint_pub("↺", "33"), text(payload, "error")),
        K::Spawned => {
            let children: Vec<String> = payload
                .get("children")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|c| format!("{} ({})", text(c, "run"), text(c, "workflow"))).collect())
                .unwrap_or_default();
            format!("step {label} spawned {}", children.join(", "))
        }
        K::Selected => format!("step {label} kept items {}", payload.get("kept").cloned().unwrap_or(Value::Null)),
        other => format!("step {label} {other}"),
    })
}
