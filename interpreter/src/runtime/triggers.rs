//! What starts runs: `on event`, `on webhook` and `on schedule` triggers,
//! matched against inbound events and the clock, and the runs they create.
//!
//! A triggered run fills each input from the field of the same name in the
//! event's `data` (a scheduled run has only the defaults). A run whose inputs
//! do not fit is still created, and fails at once with the reason, so the
//! trigger's effect is visible in `flowc runs`. Cron expressions have five
//! fields and are evaluated in UTC.

use std::cmp::Ordering;

use croner::{CivilDateTime, CronDateTime, Resolution, Weekday};
use serde_json::{json, Map, Value};

use super::inbox::{data_fields, glob_match};
use super::scope::{to_cel, Evaluator, Scope};
use super::{Error, RunOptions};
use crate::plan::{LoadedPlan, Plan, Trigger, Workflow};
use crate::state::{NewRun, Op, RunOrigin, RunStatus};
use crate::time;
use crate::state::{payload, Event, EventKind};

pub use crate::plan::schedule::parse_cron;

/// A UTC instant in whole seconds, for croner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct UtcSecs(i64);

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl CronDateTime for UtcSecs {
    fn to_civil(&self) -> CivilDateTime {
        let (days, sod) = (self.0.div_euclid(86_400), self.0.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        CivilDateTime::from_ymd_hms_opt(y as i32, m, d, (sod / 3600) as u32, (sod % 3600 / 60) as u32, (sod % 60) as u32)
            .unwrap_or_else(|| CivilDateTime::from_ymd_hms_opt(1970, 1, 1, 0, 0, 0).expect("the epoch is a date"))
    }

    fn civil_weekday(&self) -> Weekday {
        // 1970-01-01 was a Thursday.
        Weekday::from_days_from_sunday((self.0.div_euclid(86_400) + 4).rem_euclid(7) as u32)
    }

    fn resolve_civil(&self, civil: CivilDateTime) -> Result<Resolution<Self>, croner::errors::CronError> {
        let days = days_from_civil(civil.year() as i64, civil.month(), civil.day());
        let secs = days * 86_400 + civil.hour() as i64 * 3600 + civil.minute() as i64 * 60 + civil.second() as i64;
        Ok(Resolution::Single(UtcSecs(secs)))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(seconds).map(UtcSecs)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// The first fire time strictly after `after_ms` (milliseconds since the epoch).
pub fn next_fire(cron: &croner::Cron, after_ms: i64) -> Option<i64> {
    let start = UtcSecs(after_ms.div_euclid(1000));
    cron.find_next_occurrence(&start, false).ok().map(|t| t.0 * 1000)
}

/// Whether an `on event` trigger fires for the event: type and subject globs,
/// then the `where` filter with `event` bound. A filter that cannot be
/// evaluated does not fire, and says why.
pub fn event_fires(plan: &LoadedPlan, wf: usize, trigger: &Trigger, event: &Value) -> Result<bool, String> {
    let Trigger::Event { event_type, subject, filter } = trigger else { return Ok(false) };
    let ty = event.get("type").and_then(Value::as_str).unwrap_or("");
    if !glob_match(event_type, ty) {
        return Ok(false);
    }
    if let Some(glob) = subject {
        match event.get("subject").and_then(Value::as_str) {
            Some(s) if glob_match(glob, s) => {}
            _ => return Ok(false),
        }
    }
    let Some(f) = filter else { return Ok(true) };
    let w = &plan.plan.workflows[wf];
    let ev = Evaluator { env: &plan.cel, programs: &plan.workflows[wf].programs, exprs: &w.exprs };
    let mut scope = Scope::default();
    if !event.is_object() {
        return Ok(false);
    }
    let mut view = event.clone();
    if view.get("data").is_none() {
        view["data"] = Value::Null;
    }
    if view.get("subject").is_none() {
        view["subject"] = Value::String(String::new());
    }
    // `event.time` is a timestamp: the event's own, else when it arrived.
    let time = view.get("time").and_then(Value::as_str).and_then(super::scope::timestamp);
    let mut event_cel = to_cel(&view);
    if let cel::Value::Map(map) = &mut event_cel {
        let time = time.unwrap_or_else(|| super::scope::timestamp_ms(crate::time::now_ms()));
        std::sync::Arc::make_mut(&mut map.map).insert(cel::objects::Key::String(std::sync::Arc::new("time".into())), time);
    }
    scope.bind("event", event_cel);
    ev.eval_bool(*f, &scope)
}

/// Whether an `on webhook` trigger fires for a webhook (each part a glob).
pub fn webhook_fires(trigger: &Trigger, provider: &str, entity: &str, action: &str) -> bool {
    match trigger {
        Trigger::Webhook { provider: p, entity: e, action: a, .. } => glob_match(p, provider) && glob_match(e, entity) && glob_match(a, action),
        _ => false,
    }
}

/// The inputs of a triggered run: each declared input found by name in `data`.
pub fn inputs_from(wf: &Workflow, data: &Map<String, Value>) -> Map<String, Value> {
    wf.inputs.iter().filter_map(|i| data.get(&i.name).map(|v| (i.name.clone(), v.clone()))).collect()
}

/// A run created by a trigger, ready for `resume` to start it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Created {
    /// The new run's id.
    pub run: String,
    /// Its workflow.
    pub workflow: String,
    /// Set when the inputs did not fit: the run was recorded failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Creates a run of the plan's entry workflow without starting it
/// (`resume` starts it). Inputs that do not fit fail the run at once.
pub fn create_run(plan: &Plan, inputs: Map<String, Value>, origin: &RunOrigin, options: &RunOptions) -> Result<Created, Error> {
    let wf = plan.workflow(&plan.entry).ok_or_else(|| Error::Run(format!("the plan has no workflow `{}`", plan.entry)))?;
    let resolved = crate::inputs::resolve(wf, inputs.clone());
    let mut store = super::open_store(options)?;
    let plan_id = store.put_plan(plan.format_version, &plan.to_json_compact())?;
    let run = store.create_run(&NewRun {
        plan_id,
        workflow: wf.name.clone(),
        parent_run: None,
        parent_step: None,
        depth: 0,
        inputs: resolved.clone().unwrap_or(Value::Object(inputs)),
        project_dir: options.project_dir.display().to_string(),
    })?;
    let mut origin = origin.clone();
    origin.plan_hash = super::versions::plan_hash(plan);
    origin.version = store.version_of(&wf.name, &origin.plan_hash)?;
    store.put_origin(&run, &origin)?;
    let error = resolved.err();
    if let Some(msg) = &error {
        let now = time::now();
        store.apply(&[
            Op::RunStatus {
                run: run.clone(),
                status: RunStatus::Failed,
                error: Some(msg.clone()),
                outputs: None,
                started_at: Some(now.clone()),
                finished_at: Some(now.clone()),
            },
            Op::Event {
                run: run.clone(),
                step: None,
                event: EventKind::Failed,
                payload: Event::Failed(payload::Failed { error: msg.clone(), trigger: Some(origin.trigger.clone()), ..Default::default() }).to_json(),
                at: now,
            },
        ])?;
    }
    Ok(Created { run, workflow: wf.name.clone(), error })
}

/// A workflow a trigger fired (its plan's index) and the run's inputs.
pub type Fired = (usize, Map<String, Value>);

/// The runs an event starts: every workflow of `plans` with an `on event`
/// trigger that fires. Returns the workflows and their inputs, plus the
/// filters that could not be evaluated.
pub fn fired_by_event(plans: &[LoadedPlan], event: &Value) -> (Vec<Fired>, Vec<String>) {
    let mut fired = Vec::new();
    let mut problems = Vec::new();
    let data = data_fields(event);
    for (i, plan) in plans.iter().enumerate() {
        let Some(wf) = plan.workflow_index(&plan.plan.entry) else { continue };
        let w = &plan.plan.workflows[wf];
        for t in &w.triggers {
            match event_fires(plan, wf, t, event) {
                Ok(true) => {
                    fired.push((i, inputs_from(w, &data)));
                    break;
                }
                Ok(false) => {}
                Err(e) => problems.push(format!("workflow {}: the trigger's filter failed: {e}", w.name)),
            }
        }
    }
    (fired, problems)
}

/// The origin of a run an inbound event started: its initiator is whoever
/// sent the event (a token's principal, the operating-system user).
pub fn event_origin(event: &Value, initiator: &str) -> RunOrigin {
    RunOrigin {
        initiator: Some(initiator.to_string()),
        trigger: "event".into(),
        detail: json!({ "id": event["id"], "type": event["type"], "subject": event.get("subject"), "source": event["source"] }),
        version: None,
        plan_hash: String::new(),
    }
}

/// Creates (without starting) the runs a stored event's `on event` triggers
/// fire, in plan order: each is the run, or why it could not be created.
/// Also returns the filters that could not be evaluated.
pub fn create_for_event(plans: &[LoadedPlan], event: &Value, origin: &RunOrigin, options: &RunOptions) -> (Vec<Result<Created, Error>>, Vec<String>) {
    let (fired, problems) = fired_by_event(plans, event);
    let created = fired.into_iter().map(|(i, inputs)| create_run(&plans[i].plan, inputs, origin, options)).collect();
    (created, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_fires_in_utc() {
        let cron = parse_cron("0 9 * * MON-FRI").unwrap();
        // 2026-11-21 is a Saturday; the next weekday 09:00 is Monday the 23rd.
        let sat = time::parse_rfc3339("2026-11-21T10:00:00Z").unwrap();
        assert_eq!(next_fire(&cron, sat).map(time::rfc3339_s).as_deref(), Some("2026-11-23T09:00:00Z"));
        let every = parse_cron("*/15 * * * *").unwrap();
        let t = time::parse_rfc3339("2024-02-29T23:50:00Z").unwrap();
        assert_eq!(next_fire(&every, t).map(time::rfc3339_s).as_deref(), Some("2024-03-01T00:00:00Z"));
        assert!(parse_cron("0 9 * *").is_err());
    }
}
