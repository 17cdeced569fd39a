//! Lowering of workflow triggers (`on event|webhook|schedule`) and of a
//! webhook's signature check.


use flowc_grammar::ast::{self};
use flowc_plan as plan;

use super::WorkflowLowerer;

/// `on …` as a plan trigger.
pub(super) fn trigger(lw: &mut WorkflowLowerer<'_, '_>, t: &ast::Trigger) -> plan::Trigger {
    match t {
        ast::Trigger::Event { event_type, subject, filter } => plan::Trigger::Event {
            event_type: event_type.value.clone(),
            subject: subject.as_ref().map(|s| s.value.clone()),
            filter: filter.as_ref().map(|f| lw.expr(&f.text)),
        },
        ast::Trigger::Webhook { path, signature } => {
            // The checker guarantees `provider.entity.action`.
            let mut parts = path.text.splitn(3, '.');
            let mut next = || parts.next().unwrap_or("*").to_string();
            let (provider, entity, action) = (next(), next(), next());
            let signature = signature.as_ref().and_then(|sig| webhook_signature(lw, sig));
            plan::Trigger::Webhook { provider, entity, action, signature }
        }
        ast::Trigger::Schedule { cron, catchup } => plan::Trigger::Schedule {
            cron: cron.value.clone(),
            catchup: match catchup.as_ref().map(|c| c.mode) {
                Some(ast::CatchupMode::None) => plan::Catchup::None,
                Some(ast::CatchupMode::All) => plan::Catchup::All,
                Some(ast::CatchupMode::Latest) | None => plan::Catchup::Latest,
            },
            // Whole seconds, rounded up so a window is never shorter than written.
            window_s: catchup.as_ref().and_then(|c| c.within.as_ref()).map(|d| d.millis.div_ceil(1000)),
        },
    }
}

/// `signed SCHEME with SET.KEY [tolerance D]`: the secret joins the plan's
/// secrets redacted (so every run's redactor masks its value), `stripe` gets
/// its tolerance filled (300 s by default) and `hmac` its header lower-cased,
/// so `flowc serve` reads the plan and never guesses.
fn webhook_signature(lw: &mut WorkflowLowerer<'_, '_>, sig: &ast::Signature) -> Option<plan::WebhookSignature> {
    let secret = lw.runtime_value(None, super::secret::RuntimeValue::Secret { set: sig.set.text.clone(), key: sig.key.text.clone() })?;
    let (scheme, tolerance_s, header) = match sig.scheme {
        ast::SignatureScheme::Github => (plan::SignatureScheme::Github, None, None),
        ast::SignatureScheme::Stripe => (
            plan::SignatureScheme::Stripe,
            Some(sig.tolerance.as_ref().map_or(plan::STRIPE_DEFAULT_TOLERANCE_S, |d| d.millis.div_ceil(1000))),
            None,
        ),
        ast::SignatureScheme::Hmac => (plan::SignatureScheme::Hmac, None, sig.header.as_ref().map(|h| h.value.to_ascii_lowercase())),
    };
    Some(plan::WebhookSignature { scheme, secret, tolerance_s, header })
}
