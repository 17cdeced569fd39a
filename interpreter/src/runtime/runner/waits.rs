//! Executing the instructions that can block a step within its attempt: `CHECK_POLICY`, `APPROVAL`, `HUMAN`, `WAIT`, `TIMER`; each returns the hold the step waits on, if it must wait.

use serde_json::{json, Value};

use super::attempt::{AttemptCtx, Outcome};
use crate::plan::{Instr, PolicyEffect, Reg, TimerDue};
use crate::runtime::blocking::{evaluate_policy, Hold};
use crate::state::{payload, Event};

/// A blocking step's state within one attempt: what `CHECK_POLICY` decided.
#[derive(Default)]
pub(crate) struct AttemptState {
    /// (policy, reason) when the policy requires approval.
    required: Option<(String, Option<String>)>,
}

/// Executes one of the people instructions. Returns the gate when the step
/// must block; an error fails the attempt.
pub(crate) fn execute(
    ctx: &AttemptCtx,
    instr: &Instr,
    read: &dyn Fn(&Reg) -> Value,
    st: &mut AttemptState,
    output: &mut Value,
    out: &mut Outcome,
) -> Result<Option<Hold>, String> {
    let sh = &ctx.sh;
    let wf = &sh.plan.plan.workflows[ctx.wf];
    let text = |r: &Option<Reg>| r.as_ref().map(|r| crate::plan::table::render_value(&read(r)));
    match instr {
        Instr::CheckPolicy { policy, input } => {
            let input = read(input);
            let name = sh.plan.plan.policies[*policy as usize].name.clone();
            let decision = evaluate_policy(&sh.plan, *policy, &input)?;
            let word = decision.effect.keyword();
            *output = json!({ "policy": name, "decision": word });
            out.events.push(Event::Decided(payload::Decided {
                policy: name.clone(),
                decision: word.to_string(),
                rule: decision.rule.map(|r| r as u64 + 1),
                reason: decision.reason.clone(),
                input,
            }));
            if let Some(r) = &decision.reason {
                output["reason"] = json!(r);
            }
            match decision.effect {
                PolicyEffect::Deny => {
                    out.no_retry = true;
                    Err(format!(
                        "policy {name} denied it: {}",
                        decision.reason.unwrap_or_else(|| format!("rule {} matched", decision.rule.map_or(0, |r| r + 1)))
                    ))
                }
                PolicyEffect::RequireApproval => {
                    st.required = Some((name, decision.reason));
                    Ok(None)
                }
                PolicyEffect::Allow => Ok(None),
            }
        }
        Instr::Approval { message, approvers, distinct_from_initiator, implicit } => {
            let (policy, reason) = match (implicit, &st.required) {
                (true, None) => return Ok(None),
                (true, Some((p, r))) => (Some(p.clone()), r.clone()),
                (false, _) => (None, None),
            };
            let message = text(message).or_else(|| reason.clone());
            Ok(Some(Hold {
                gate: "approval".into(),
                message,
                approvers: approvers.clone(),
                distinct_from_initiator: *distinct_from_initiator,
                implicit: *implicit,
                policy,
                reason,
                ..Hold::default()
            }))
        }
        Instr::Human { message, ty, approvers } => Ok(Some(Hold {
            gate: "human".into(),
            message: text(message),
            approvers: approvers.clone(),
            output_type: ty.map(|t| wf.types[t as usize].to_string()),
            output_example: ty.map(|t| wf.types[t as usize].example()),
            ..Hold::default()
        })),
        Instr::Wait { event, subject } => Ok(Some(Hold {
            gate: "wait".into(),
            event: text(&Some(event.clone())),
            subject: text(subject),
            ..Hold::default()
        })),
        Instr::Timer { due } => {
            let now = crate::time::now_ms();
            let due_ms = due_time(due, read, now)?;
            let due_at = crate::time::rfc3339_ms(due_ms);
            let wait_ms = (due_ms - now).max(0) as u64;
            out.events.push(Event::TimerStarted(payload::TimerStarted { attempt: ctx.attempt, due_at: due_at.clone(), wait_ms }));
            Ok(Some(Hold { gate: "timer".into(), deadline: Some(due_at), ..Hold::default() }))
        }
        _ => Ok(None),
    }
}

/// When a `TIMER` started at `now` (milliseconds since the epoch) is due.
/// A `for` expression gives a duration's text (`90s`, `1.5s`) or a number
/// of seconds; an `until` expression a timestamp's RFC 3339 text. A
/// negative or unreadable wait fails the step (no retry applies to timers).
fn due_time(due: &TimerDue, read: &dyn Fn(&Reg) -> Value, now: i64) -> Result<i64, String> {
    let due = due_time_unbounded(due, read, now)?;
    // The due time is recorded as RFC 3339 text, which has four-digit
    // years: a later one would be read back as no time at all, and a
    // resumed run would fire the timer at once.
    if due > LATEST_DUE_MS {
        let days = due.saturating_sub(now) / 86_400_000;
        return Err(format!("the timer would be due after 9999-12-31T23:59:59Z (in {days} days), the last time it can record"));
    }
    Ok(due)
}

/// 9999-12-31T23:59:59.999Z, the last instant RFC 3339 can write.
const LATEST_DUE_MS: i64 = 253_402_300_799_999;

fn due_time_unbounded(due: &TimerDue, read: &dyn Fn(&Reg) -> Value, now: i64) -> Result<i64, String> {
    let after = |ms: f64| -> Result<i64, String> {
        if !ms.is_finite() || ms < 0.0 {
            return Err(format!("the timer's `for` is {}, not a wait", if ms.is_finite() { format!("negative ({}s)", ms / 1000.0) } else { "not a finite number".into() }));
        }
        Ok(now.saturating_add(ms.min(i64::MAX as f64 / 2.0) as i64))
    };
    match due {
        TimerDue::For(ms) => after(*ms as f64),
        TimerDue::Until(text) => until_ms(text),
        TimerDue::ForReg(r) => match read(r) {
            Value::Number(n) => after(n.as_f64().unwrap_or(f64::NAN) * 1000.0),
            Value::String(s) => match s.strip_suffix('s').and_then(|n| n.parse::<f64>().ok()) {
                Some(secs) => after(secs * 1000.0),
                None => Err(format!("the timer's `for` is the text {s:?}, not a duration: write `duration({s:?})` or a number of seconds")),
            },
            other => Err(format!("the timer's `for` is {other}, not a duration or a number of seconds")),
        },
        TimerDue::UntilReg(r) => match read(r) {
            Value::String(s) => until_ms(&s),
            other => Err(format!("the timer's `until` is {other}, not a timestamp")),
        },
    }
}

fn until_ms(text: &str) -> Result<i64, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("the timer's `until` is {text:?}, not an RFC 3339 timestamp ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_from_durations_seconds_and_timestamps() {
        let now = 1_000_000;
        let reg = Reg("due".into());
        let with = |v: Value| move |_: &Reg| v.clone();
        assert_eq!(due_time(&TimerDue::For(1500), &with(Value::Null), now), Ok(now + 1500));
        assert_eq!(due_time(&TimerDue::ForReg(reg.clone()), &with(json!("90s")), now), Ok(now + 90_000));
        assert_eq!(due_time(&TimerDue::ForReg(reg.clone()), &with(json!("0.25s")), now), Ok(now + 250));
        assert_eq!(due_time(&TimerDue::ForReg(reg.clone()), &with(json!(2)), now), Ok(now + 2000));
        assert!(due_time(&TimerDue::ForReg(reg.clone()), &with(json!(-1)), now).unwrap_err().contains("negative"));
        assert!(due_time(&TimerDue::ForReg(reg.clone()), &with(json!("10m")), now).unwrap_err().contains("duration(\"10m\")"));
        let at = "2026-12-24T10:00:00+01:00";
        assert_eq!(due_time(&TimerDue::Until(at.into()), &with(Value::Null), now), Ok(crate::time::parse_rfc3339("2026-12-24T09:00:00Z").unwrap()));
        assert_eq!(due_time(&TimerDue::UntilReg(reg.clone()), &with(json!("2026-12-24T09:00:00Z")), now), Ok(crate::time::parse_rfc3339("2026-12-24T09:00:00Z").unwrap()));
        assert!(due_time(&TimerDue::UntilReg(reg.clone()), &with(json!("soon")), now).is_err());
        // Past what RFC 3339 can write: refused, never recorded as no time.
        let last = "9999-12-31T23:59:59.999Z";
        assert_eq!(due_time(&TimerDue::Until(last.into()), &with(Value::Null), now), Ok(LATEST_DUE_MS));
        let far = 100_000_000_000 * 3_600_000;
        assert!(due_time(&TimerDue::For(far), &with(Value::Null), now).unwrap_err().contains("after 9999-12-31T23:59:59Z"));
        assert!(due_time(&TimerDue::ForReg(reg), &with(json!(1e300)), now).unwrap_err().contains("after 9999-12-31T23:59:59Z"));
    }
}
