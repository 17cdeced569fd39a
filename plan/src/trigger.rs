//! Triggers: what starts a workflow's runs (schedules, webhooks, events).
//! A trigger belongs to a workflow; its `filter` indexes the workflow's
//! `exprs` and sees one name, `event`.

use serde::{Deserialize, Serialize};

use crate::disasm::format_duration;
use crate::secret::SecretId;
use crate::ExprId;

/// What starts a run of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// `on event "TYPE" [subject "GLOB"] [where `EXPR`]`: type and subject are globs.
    Event {
        /// The event type glob (`deploy.*`).
        #[serde(rename = "type")]
        event_type: String,
        /// The subject glob; `None`: any subject.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        /// ``where `EXPR` ``: a filter over `event`, an index into the workflow's `exprs`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<ExprId>,
    },
    /// `on webhook PROVIDER.ENTITY.ACTION [signed SCHEME with SET.KEY [tolerance D]]`;
    /// each part may be a glob (`*`). Without a signature, `flowc serve`
    /// accepts the webhook only with an API token.
    Webhook {
        /// The provider segment (`github`), or a glob.
        provider: String,
        /// The entity segment (`pull_request`), or a glob.
        entity: String,
        /// The action segment (`opened`), or a glob.
        action: String,
        /// How the provider signs requests; `None`: unsigned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<WebhookSignature>,
    },
    /// `on schedule "CRON" [catchup none|latest|all [within D]]`: five fields, UTC.
    Schedule {
        /// The five-field cron expression (names allowed: `MON-FRI`), evaluated in UTC.
        cron: String,
        /// What to do about fire times missed while nothing was serving.
        #[serde(default, skip_serializing_if = "Catchup::is_default")]
        catchup: Catchup,
        /// Missed fire times older than now minus this many seconds are not caught up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window_s: Option<u64>,
    },
}

/// How a webhook proves it comes from its provider: an HMAC-SHA256 of the raw
/// body under a shared secret, in a header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSignature {
    /// Which header and what text carry the signature.
    pub scheme: SignatureScheme,
    /// The shared secret: a `redact`ed entry of the plan's `secrets`.
    pub secret: SecretId,
    /// How old a signed timestamp may be, in seconds: `Some` for `stripe` only
    /// (the lowering fills the 300 s default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_s: Option<u64>,
    /// The header carrying the signature, lower-case: `Some` for `hmac` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// The signature schemes of `signed SCHEME`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureScheme {
    /// `X-Hub-Signature-256: sha256=HEX(HMAC-SHA256(secret, body))`.
    Github,
    /// `Stripe-Signature: t=UNIX,v1=HEX[,v1=HEX…]` over `"{t}.{body}"`.
    Stripe,
    /// `HEADER: HEX` (optionally `sha256=HEX`) of HMAC-SHA256(secret, body).
    Hmac,
}

impl SignatureScheme {
    /// The scheme as `signed` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            SignatureScheme::Github => "github",
            SignatureScheme::Stripe => "stripe",
            SignatureScheme::Hmac => "hmac",
        }
    }
}

/// The default tolerance of a `stripe` signature's timestamp, in seconds.
pub const STRIPE_DEFAULT_TOLERANCE_S: u64 = 300;

/// `catchup none|latest|all`: which missed fire times of a schedule start a
/// run when serving resumes. A caught-up run records the time it was due.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Catchup {
    /// Missed fire times are skipped.
    None,
    /// One run, for the most recent missed fire time.
    #[default]
    Latest,
    /// One run per missed fire time, oldest first.
    All,
}

impl Catchup {
    /// Whether this is `latest`, the mode of a schedule without `catchup`.
    pub fn is_default(&self) -> bool {
        *self == Catchup::default()
    }

    /// The mode as `catchup` writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            Catchup::None => "none",
            Catchup::Latest => "latest",
            Catchup::All => "all",
        }
    }
}

impl Trigger {
    /// The `.flow` spelling, for people (filters by expr id).
    pub fn describe(&self) -> String {
        match self {
            Trigger::Event { event_type, subject, filter } => {
                let mut s = format!("on event {}", quoted(event_type));
                if let Some(sub) = subject {
                    s.push_str(&format!(" subject {}", quoted(sub)));
                }
                if let Some(f) = filter {
                    s.push_str(&format!(" where e{f}"));
                }
                s
            }
            Trigger::Webhook { provider, entity, action, signature } => {
                let mut s = format!("on webhook {provider}.{entity}.{action}");
                if let Some(sig) = signature {
                    s.push_str(&format!(" signed {}", sig.scheme.keyword()));
                    if let Some(h) = &sig.header {
                        s.push_str(&format!(" {}", quoted(h)));
                    }
                    s.push_str(&format!(" with secret#{}", sig.secret));
                    if let Some(t) = sig.tolerance_s {
                        s.push_str(&format!(" tolerance {}", format_duration(t.saturating_mul(1000))));
                    }
                }
                s
            }
            Trigger::Schedule { cron, catchup, window_s } => {
                let mut s = format!("on schedule {} catchup {}", quoted(cron), catchup.keyword());
                if let Some(w) = window_s {
                    s.push_str(&format!(" within {}", format_duration(w.saturating_mul(1000))));
                }
                s
            }
        }
    }
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn triggers_written_before_signatures_and_catchup_still_load() {
        let old: Vec<Trigger> = serde_json::from_value(json!([
            { "on": "webhook", "provider": "github", "entity": "pull_request", "action": "*" },
            { "on": "schedule", "cron": "0 9 * * *" }
        ]))
        .expect("old triggers load");
        assert_eq!(
            old,
            vec![
                Trigger::Webhook { provider: "github".into(), entity: "pull_request".into(), action: "*".into(), signature: None },
                Trigger::Schedule { cron: "0 9 * * *".into(), catchup: Catchup::Latest, window_s: None },
            ]
        );
        // And the defaults are not written back, so such plans keep their text.
        assert_eq!(
            serde_json::to_value(&old).expect("serialises"),
            json!([
                { "on": "webhook", "provider": "github", "entity": "pull_request", "action": "*" },
                { "on": "schedule", "cron": "0 9 * * *" }
            ])
        );
    }

    #[test]
    fn signatures_and_catchup_round_trip_in_snake_case() {
        let triggers = vec![
            Trigger::Webhook {
                provider: "stripe".into(),
                entity: "invoice".into(),
                action: "paid".into(),
                signature: Some(WebhookSignature { scheme: SignatureScheme::Stripe, secret: 1, tolerance_s: Some(300), header: None }),
            },
            Trigger::Webhook {
                provider: "acme".into(),
                entity: "order".into(),
                action: "created".into(),
                signature: Some(WebhookSignature { scheme: SignatureScheme::Hmac, secret: 0, tolerance_s: None, header: Some("x-acme-signature".into()) }),
            },
            Trigger::Schedule { cron: "0 9 * * *".into(), catchup: Catchup::All, window_s: Some(86_400) },
            Trigger::Schedule { cron: "0 9 * * *".into(), catchup: Catchup::None, window_s: None },
        ];
        let v = serde_json::to_value(&triggers).expect("serialises");
        assert_eq!(
            v,
            json!([
                { "on": "webhook", "provider": "stripe", "entity": "invoice", "action": "paid",
                  "signature": { "scheme": "stripe", "secret": 1, "tolerance_s": 300 } },
                { "on": "webhook", "provider": "acme", "entity": "order", "action": "created",
                  "signature": { "scheme": "hmac", "secret": 0, "header": "x-acme-signature" } },
                { "on": "schedule", "cron": "0 9 * * *", "catchup": "all", "window_s": 86400 },
                { "on": "schedule", "cron": "0 9 * * *", "catchup": "none" }
            ])
        );
        let back: Vec<Trigger> = serde_json::from_value(v).expect("loads");
        assert_eq!(back, triggers);
        assert!(serde_json::from_value::<WebhookSignature>(json!({ "scheme": "github", "secret": 0, "salt": 1 })).is_err());
    }

    #[test]
    fn describe_spells_the_signature_and_the_catchup() {
        let t = Trigger::Webhook {
            provider: "stripe".into(),
            entity: "invoice".into(),
            action: "paid".into(),
            signature: Some(WebhookSignature { scheme: SignatureScheme::Stripe, secret: 2, tolerance_s: Some(300), header: None }),
        };
        assert_eq!(t.describe(), "on webhook stripe.invoice.paid signed stripe with secret#2 tolerance 5m");
        let t = Trigger::Webhook {
            provider: "acme".into(),
            entity: "order".into(),
            action: "created".into(),
            signature: Some(WebhookSignature { scheme: SignatureScheme::Hmac, secret: 0, tolerance_s: None, header: Some("x-acme-signature".into()) }),
        };
        assert_eq!(t.describe(), "on webhook acme.order.created signed hmac \"x-acme-signature\" with secret#0");
        let t = Trigger::Schedule { cron: "0 9 * * *".into(), catchup: Catchup::All, window_s: Some(86_400) };
        assert_eq!(t.describe(), "on schedule \"0 9 * * *\" catchup all within 1d");
        let t = Trigger::Schedule { cron: "0 9 * * *".into(), catchup: Catchup::default(), window_s: None };
        assert_eq!(t.describe(), "on schedule \"0 9 * * *\" catchup latest");
    }
}
