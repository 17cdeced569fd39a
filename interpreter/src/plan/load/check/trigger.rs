//! The loader's checks of a workflow's triggers and webhook signatures.

use crate::plan::{Plan, PlanError, Trigger, Workflow};
use crate::plan::{Catchup, SignatureScheme, WebhookSignature};

/// Each trigger's filter, schedule, signature and catch-up are well-formed.
pub(in crate::plan) fn check_triggers(plan: &Plan, wf: &Workflow) -> Result<(), PlanError> {
    for (i, t) in wf.triggers.iter().enumerate() {
        let at = |msg: String| PlanError::new(format!("trigger {i}: {msg}"));
        match t {
            Trigger::Event { event_type, filter, .. } => {
                if event_type.is_empty() {
                    return Err(at("the event type is empty".into()));
                }
                if let Some(f) = filter
                    && *f as usize >= wf.exprs.len()
                {
                    return Err(at(format!("filter e{f} is not in the workflow's {} exprs", wf.exprs.len())));
                }
            }
            Trigger::Webhook { provider, entity, action, signature } => {
                if [provider, entity, action].iter().any(|p| p.is_empty()) {
                    return Err(at("a webhook trigger needs a provider, an entity and an action".into()));
                }
                if let Some(sig) = signature {
                    check_signature(plan, sig).map_err(at)?;
                }
            }
            Trigger::Schedule { cron, catchup, window_s } => {
                crate::plan::schedule::parse_cron(cron).map_err(|e| at(format!("`{cron}`: {e}")))?;
                if *window_s == Some(0) {
                    return Err(at("a catch-up window of 0 seconds".into()));
                }
                if *catchup == Catchup::None && window_s.is_some() {
                    return Err(at("a catch-up window with `catchup none`".into()));
                }
            }
        }
    }
    Ok(())
}

/// A webhook signature names a redacted secret (so its value is masked in
/// everything a run records) and carries exactly its scheme's options.
fn check_signature(plan: &Plan, sig: &WebhookSignature) -> Result<(), String> {
    let Some(secret) = plan.secrets.get(sig.secret as usize) else {
        return Err(format!("signature secret#{} is not in the plan's {} secrets", sig.secret, plan.secrets.len()));
    };
    if !secret.redact {
        return Err(format!("signature secret#{} (`{}`) is not redacted", sig.secret, secret.name));
    }
    match (sig.scheme, sig.tolerance_s, &sig.header) {
        (SignatureScheme::Stripe, Some(0), _) => Err("a stripe signature with a tolerance of 0 seconds".into()),
        (SignatureScheme::Stripe, None, _) => Err("a stripe signature needs `tolerance_s`".into()),
        (SignatureScheme::Github | SignatureScheme::Hmac, Some(_), _) => {
            Err(format!("`tolerance_s` on a {} signature (only stripe signs a timestamp)", sig.scheme.keyword()))
        }
        (SignatureScheme::Hmac, _, None) => Err("an hmac signature needs a `header`".into()),
        (SignatureScheme::Github | SignatureScheme::Stripe, _, Some(_)) => {
            Err(format!("`header` on a {} signature (its header is fixed)", sig.scheme.keyword()))
        }
        (SignatureScheme::Hmac, _, Some(h)) if h.is_empty() || h.bytes().any(|b| !is_header_byte(b)) => {
            Err(format!("`{h}` is not a lower-case header name"))
        }
        _ => Ok(()),
    }
}

/// A byte of a lower-case HTTP header name (an RFC 9110 token).
fn is_header_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
}

