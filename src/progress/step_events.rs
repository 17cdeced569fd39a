//! Progress lines for the step events of items, quality gates, invariants,
//! spawns, selection and checkpoints.

use flowc_interpreter::state::Event;

use crate::progress::Progress;

/// The line for a step event, `None` to print nothing.
pub fn line(p: &Progress, label: &str, event: &Event) -> Option<String> {
    Some(match event {
        Event::ItemStarted(_) if p.is_live() => return None,
        Event::ItemStarted(i) => format!("step {label} item {} started", i.item),
        Event::TimerStarted(t) => format!(
            "step {label} timer: waits {}, until {}",
            flowc_plan::disasm::format_duration(t.wait_ms),
            flowc_interpreter::time::rfc3339_s(flowc_interpreter::time::parse_rfc3339(&t.due_at).unwrap_or(0))
        ),
        Event::ItemCompleted(i) => format!("{} {label} item {} completed", p.paint_pub("✓", "32"), i.item),
        Event::ItemBlocked(i) => format!("step {label} item {} waits for its child run", i.item),
        Event::ItemCancelled(i) => format!("{} {label} item {} cancelled: another item failed (fail_fast)", p.paint_pub("■", "33"), i.item),
        Event::ItemFailed(i) => format!("{} {label} item {} failed: {}", p.paint_pub("✗", "31"), i.item, i.error),
        Event::GatePassed(_) => format!("{} gate {label} passed", p.paint_pub("✓", "32")),
        Event::GateFailed(report) => {
            let failing: Vec<String> = report
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("`{}` {}", c.command, c.reason.as_deref().unwrap_or("")))
                .collect();
            format!("{} gate {label} failed: {}", p.paint_pub("✗", "31"), failing.join("; "))
        }
        Event::GateFix(fix) => format!(
            "{} gate {label}: fix round {} of {}, running again: {}",
            p.paint_pub("↻", "33"),
            fix.round,
            fix.of,
            fix.rerun.join(", ")
        ),
        Event::Reset(_) => return None,
        Event::InvariantViolated(v) => {
            format!("{} {label}: invariant {} violated ({}): {}", p.paint_pub("!", "31"), v.invariant, v.action, v.reason)
        }
        Event::RolledBack(r) => format!("{} {label} rolled back: {}", p.paint_pub("↺", "33"), r.error),
        Event::Spawned(s) => {
            let children: Vec<String> = s.children.iter().map(|c| format!("{} ({})", c.run, c.workflow)).collect();
            format!("step {label} spawned {}", children.join(", "))
        }
        Event::Selected(s) => format!("step {label} kept items {}", serde_json::json!(s.kept)),
        other => format!("step {label} {}", other.kind()),
    })
}
