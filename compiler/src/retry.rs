//! Retry statements as retry policies: one conversion from the `retry …`
//! a step, an agent or a workflow writes to the plan's `Retry`, read by the
//! lowering and by the value checks alike.

use flowc_grammar::ast::{self, BackoffKind};
use flowc_plan as plan;

/// `retry N` alone retries every failure at once; `on` chooses the failures,
/// `backoff` sets the delays, `max_duration` bounds the whole.
pub fn plan_retry(r: &ast::Retry) -> plan::Retry {
    let mut out = plan::Retry {
        count: r.count.value.clamp(0, u32::MAX as i64) as u32,
        backoff: plan::Backoff::Fixed,
        delay_ms: 0,
        max_ms: None,
        factor: None,
        jitter_pct: None,
        on: r.on.as_ref().map(|on| plan::RetryOn {
            exit_codes: on.exits.iter().filter_map(|c| i32::try_from(c.value).ok()).collect(),
            timeout: on.timeout.is_some(),
        }),
        max_duration_ms: r.max_duration.as_ref().map(|d| d.millis),
    };
    if let Some(b) = &r.backoff {
        out.backoff = match b.kind {
            BackoffKind::Fixed => plan::Backoff::Fixed,
            BackoffKind::Exponential => plan::Backoff::Exponential,
        };
        out.delay_ms = b.delay.millis;
        out.max_ms = b.max.as_ref().map(|m| m.millis);
        if b.kind == BackoffKind::Exponential {
            out.factor = b.factor.as_ref().map(|f| f.value.value.max(1.0));
        }
        out.jitter_pct = b.jitter.as_ref().map(|j| j.value.clamp(0, 100) as u32);
    }
    out
}
