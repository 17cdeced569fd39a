//! `on schedule` triggers: the loop that fires them, and catching up the
//! fire times missed while no `flowc serve` was running.
//!
//! The state database keeps, per workflow and cron expression, the time up
//! to which fire times were handled. At start, the fire times after it (and
//! within the trigger's `within` window) were missed: `catchup none` skips
//! them, `catchup latest` (the default) starts one run for the most recent,
//! `catchup all` one per fire time, oldest first (at most [`MAX_CATCHUP`]).
//! Each caught-up run records the time it was due (`scheduled_for`) and
//! `caught_up: true` in its origin.

use std::sync::Arc;
use std::time::Duration;

use flowc_interpreter::plan::{Catchup, Plan, Trigger};
use flowc_interpreter::runtime::triggers;
use flowc_interpreter::state::{RunOrigin, SqliteStore};
use flowc_interpreter::time;
use serde_json::json;

use super::{log, Server};

/// `catchup all` starts at most this many runs per schedule at a start.
pub(super) const MAX_CATCHUP: usize = 1000;

pub(super) struct Schedule {
    plan: usize,
    workflow: String,
    cron_text: String,
    cron: croner::Cron,
    catchup: Catchup,
    window_ms: Option<i64>,
}

pub(super) fn schedules(plans: &[Plan]) -> Vec<Schedule> {
    let mut out = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        for t in plan.workflow(&plan.entry).map(|w| w.triggers.as_slice()).unwrap_or_default() {
            if let Trigger::Schedule { cron, catchup, window_s } = t
                && let Ok(parsed) = triggers::parse_cron(cron)
            {
                out.push(Schedule {
                    plan: i,
                    workflow: plan.entry.clone(),
                    cron_text: cron.clone(),
                    cron: parsed,
                    catchup: *catchup,
                    window_ms: window_s.map(|s| (s as i64).saturating_mul(1000)),
                });
            }
        }
    }
    out
}

pub(super) fn describe(s: &Schedule) -> String {
    format!("schedule {} for workflow {}", s.cron_text, s.workflow)
}

/// The fire times of `cron` in `(after, until]`, at most `limit` (the latest ones).
fn fire_times(cron: &croner::Cron, after: i64, until: i64, limit: usize) -> (Vec<i64>, usize) {
    let mut times = std::collections::VecDeque::new();
    let mut total = 0;
    let mut at = after;
    while let Some(t) = triggers::next_fire(cron, at) {
        if t > until {
            break;
        }
        total += 1;
        times.push_back(t);
        if times.len() > limit {
            times.pop_front();
        }
        at = t;
    }
    (times.into(), total)
}

/// At start: fires what each schedule missed, per its policy, and marks
/// everything up to now handled.
pub(super) fn catch_up(server: &Server, store: &mut SqliteStore, schedules: &[Schedule], now: i64) {
    for s in schedules {
        let mark = match store.schedule_mark(&s.workflow, &s.cron_text) {
            Ok(m) => m,
            Err(e) => {
                log(&format!("{}: cannot read when it last fired: {e}", describe(s)));
                continue;
            }
        };
        if let Some(handled) = mark {
            let from = match s.window_ms {
                Some(w) => handled.max(now - w),
                None => handled,
            };
            let limit = match s.catchup {
                Catchup::None => 0,
                Catchup::Latest => 1,
                Catchup::All => MAX_CATCHUP,
            };
            let (due, missed) = fire_times(&s.cron, from, now, limit.max(1));
            let skipped_by_window = fire_times(&s.cron, handled, from, 0).1;
            if missed + skipped_by_window > 0 {
                log(&format!(
                    "{}: {} fire time(s) missed while serve was down{}; catchup {}",
                    describe(s),
                    missed + skipped_by_window,
                    if skipped_by_window > 0 { format!(" ({skipped_by_window} outside the window)") } else { String::new() },
                    s.catchup.keyword()
                ));
            }
            if limit > 0 {
                if missed > due.len() {
                    log(&format!("{}: catching up the latest {} of {missed}", describe(s), due.len()));
                }
                for at in &due {
                    fire(server, s, *at, Some(missed));
                }
            }
        }
        if let Err(e) = store.set_schedule_mark(&s.workflow, &s.cron_text, now) {
            log(&format!("{}: cannot record it: {e}", describe(s)));
        }
    }
}

/// Starts a run of a schedule due at `at`; `missed` is set for a caught-up run.
fn fire(server: &Server, s: &Schedule, at: i64, missed: Option<usize>) {
    let plan = &server.plans[s.plan];
    let mut detail = json!({ "cron": s.cron_text, "scheduled_for": time::rfc3339_s(at) });
    if let Some(n) = missed {
        detail["caught_up"] = json!(true);
        detail["missed"] = json!(n);
    }
    let origin = RunOrigin { initiator: Some("schedule".into()), trigger: "schedule".into(), detail, version: None, plan_hash: String::new() };
    let what = if missed.is_some() { "caught-up scheduled run" } else { "scheduled run" };
    match triggers::create_run(plan, serde_json::Map::new(), &origin, &server.config.options()) {
        Ok(c) if c.error.is_none() => {
            server.workers.start(c.run, &server.config, &format!("{what} of {} ({}, due {})", c.workflow, s.cron_text, time::rfc3339_s(at)))
        }
        Ok(c) => log(&format!("{what} {} of {} failed: {}", c.run, c.workflow, c.error.unwrap_or_default())),
        Err(e) => log(&format!("{}: {e}", describe(s))),
    }
}

/// Fires the schedules as their times come, until `stop` changes:
/// fire times after `since` (up to which [`catch_up`] handled them).
pub(super) async fn run(server: Arc<Server>, schedules: Vec<Schedule>, since: i64, mut stop: tokio::sync::watch::Receiver<bool>) {
    if schedules.is_empty() {
        return;
    }
    let schedules = Arc::new(schedules);
    let mut last = since;
    loop {
        let next = schedules.iter().filter_map(|s| triggers::next_fire(&s.cron, last)).min();
        let Some(at) = next else { return };
        let wait = Duration::from_millis((at - time::now_ms()).max(0) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        let due = schedules.clone();
        let fired = server
            .blocking(move |s, store| {
                for sch in due.iter().filter(|sch| triggers::next_fire(&sch.cron, last) == Some(at)) {
                    fire(s, sch, at, None);
                    if let Err(e) = store.set_schedule_mark(&sch.workflow, &sch.cron_text, at) {
                        log(&format!("{}: cannot record it: {e}", describe(sch)));
                    }
                }
            })
            .await;
        if let Err(e) = fired {
            log(&format!("schedules due at {}: {}", time::rfc3339_s(at), e.message()));
        }
        last = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fire_times_keep_the_latest() {
        let cron = triggers::parse_cron("0 * * * *").unwrap();
        let t0 = time::parse_rfc3339("2026-12-01T00:30:00Z").unwrap();
        let t1 = time::parse_rfc3339("2026-12-01T05:10:00Z").unwrap();
        let (all, n) = fire_times(&cron, t0, t1, 100);
        assert_eq!(n, 5);
        assert_eq!(all.first().copied().map(time::rfc3339_s).as_deref(), Some("2026-12-01T01:00:00Z"));
        let (latest, n) = fire_times(&cron, t0, t1, 1);
        assert_eq!((latest.iter().copied().map(time::rfc3339_s).collect::<Vec<_>>(), n), (vec!["2026-12-01T05:00:00Z".to_string()], 5));
        assert_eq!(fire_times(&cron, t1, t1, 1).1, 0);
    }
}
