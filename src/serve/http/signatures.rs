//! Webhook signatures: GitHub's `X-Hub-Signature-256`, Stripe's
//! `Stripe-Signature` (timestamped, several `v1` during a rotation), and a
//! generic hex HMAC-SHA256 header. Every comparison is constant-time
//! (`Mac::verify_slice`, which uses `subtle`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused (said to the sender: nothing secret in it).
#[derive(Debug, PartialEq, Eq)]
pub(in crate::serve) enum Refused {
    Missing(String),
    Malformed(String),
    Mismatch,
    /// Stripe: the signed timestamp is too far from now (seconds off).
    Stale(i64),
}

impl Refused {
    pub fn message(&self) -> String {
        match self {
            Refused::Missing(h) => format!("the webhook has no `{h}` signature header"),
            Refused::Malformed(why) => format!("the webhook's signature header is malformed: {why}"),
            Refused::Mismatch => "the webhook's signature does not match its body".into(),
            Refused::Stale(off) => format!("the webhook's signed timestamp is {off} s away from now, outside the tolerance (a replay?)"),
        }
    }
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

fn verify_hex(secret: &[u8], parts: &[&[u8]], hex_sig: &str) -> bool {
    let Ok(sig) = hex::decode(hex_sig.trim()) else { return false };
    let mut m = mac(secret);
    for p in parts {
        m.update(p);
    }
    m.verify_slice(&sig).is_ok()
}

/// GitHub: `X-Hub-Signature-256: sha256=HEX(HMAC-SHA256(secret, body))`.
pub(in crate::serve) fn github(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), Refused> {
    let header = header.ok_or_else(|| Refused::Missing("X-Hub-Signature-256".into()))?;
    let hex_sig = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or_else(|| Refused::Malformed("expected `sha256=HEX`".into()))?;
    if verify_hex(secret, &[body], hex_sig) { Ok(()) } else { Err(Refused::Mismatch) }
}

/// Generic: the header's value is the hex HMAC-SHA256 of the body,
/// optionally prefixed `sha256=`.
pub(in crate::serve) fn hmac_header(secret: &[u8], body: &[u8], name: &str, header: Option<&str>) -> Result<(), Refused> {
    let header = header.ok_or_else(|| Refused::Missing(name.to_string()))?;
    let value = header.trim();
    let hex_sig = value.strip_prefix("sha256=").unwrap_or(value);
    if hex_sig.is_empty() || !hex_sig.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Refused::Malformed("expected the hex HMAC-SHA256 of the body".into()));
    }
    if verify_hex(secret, &[body], hex_sig) { Ok(()) } else { Err(Refused::Mismatch) }
}

/// Stripe: `Stripe-Signature: t=UNIX,v1=HEX[,v1=HEX…]`, each `v1` the hex
/// HMAC-SHA256 of `"{t}.{body}"`; any one matching will do (secret
/// rotation). Returns the signed timestamp (unix seconds).
pub(in crate::serve) fn stripe(secret: &[u8], body: &[u8], header: Option<&str>, now_s: i64, tolerance_s: u64) -> Result<i64, Refused> {
    let header = header.ok_or_else(|| Refused::Missing("Stripe-Signature".into()))?;
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| Refused::Malformed("`t` is not a unix time".into()))?),
            Some(("v1", v)) => v1.push(v),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| Refused::Malformed("no `t=` timestamp".into()))?;
    if v1.is_empty() {
        return Err(Refused::Malformed("no `v1=` signature".into()));
    }
    let ts = t.to_string();
    if !v1.iter().any(|sig| verify_hex(secret, &[ts.as_bytes(), b".", body], sig)) {
        return Err(Refused::Mismatch);
    }
    let off = now_s.saturating_sub(t);
    if off.unsigned_abs() > tolerance_s {
        return Err(Refused::Stale(off));
    }
    Ok(t)
}

/// A fingerprint of a delivery for replay detection: the same signed bytes
/// twice are one delivery, whatever id headers (unsigned) say.
pub(in crate::serve) fn fingerprint(scheme: &str, signed: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    h.update(scheme.as_bytes());
    for p in signed {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], parts: &[&[u8]]) -> String {
        let mut m = mac(secret);
        for p in parts {
            m.update(p);
        }
        hex::encode(m.finalize().into_bytes())
    }

    #[test]
    fn github_documented_example() {
        // The example in GitHub's "Validating webhook deliveries".
        let secret = b"It's a Secret to Everybody";
        let body = b"Hello, World!";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(github(secret, body, Some(header)), Ok(()));
        assert_eq!(github(secret, b"Hello, World?", Some(header)), Err(Refused::Mismatch));
        assert_eq!(github(b"other", body, Some(header)), Err(Refused::Mismatch));
        assert!(matches!(github(secret, body, None), Err(Refused::Missing(_))));
        assert!(matches!(github(secret, body, Some("757107ea")), Err(Refused::Malformed(_))));
        assert_eq!(github(secret, body, Some("sha256=zz")), Err(Refused::Mismatch));
    }

    #[test]
    fn stripe_timestamps_and_rotation() {
        let secret = b"whsec_test";
        let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
        let t = 1_700_000_000i64;
        let good = sign(secret, &[t.to_string().as_bytes(), b".", body]);
        let old = sign(b"whsec_old", &[t.to_string().as_bytes(), b".", body]);
        let header = format!("t={t},v1={old},v1={good},v0=ignored");
        assert_eq!(stripe(secret, body, Some(&header), t + 10, 300), Ok(t));
        assert_eq!(stripe(secret, body, Some(&header), t + 301, 300), Err(Refused::Stale(301)));
        assert_eq!(stripe(secret, body, Some(&header), t - 400, 300), Err(Refused::Stale(-400)));
        // The timestamp is signed: changing it breaks the signature.
        let moved = format!("t={},v1={good}", t + 5);
        assert_eq!(stripe(secret, body, Some(&moved), t, 300), Err(Refused::Mismatch));
        assert!(matches!(stripe(secret, body, Some("v1=abcd"), t, 300), Err(Refused::Malformed(_))));
        assert!(matches!(stripe(secret, body, Some(&format!("t={t}")), t, 300), Err(Refused::Malformed(_))));
    }

    #[test]
    fn generic_hmac() {
        let sig = sign(b"k", &[b"{}"]);
        assert_eq!(hmac_header(b"k", b"{}", "x-sig", Some(&sig)), Ok(()));
        assert_eq!(hmac_header(b"k", b"{}", "x-sig", Some(&format!("sha256={sig}"))), Ok(()));
        assert_eq!(hmac_header(b"k", b"{ }", "x-sig", Some(&sig)), Err(Refused::Mismatch));
        assert!(matches!(hmac_header(b"k", b"{}", "x-sig", Some("not hex")), Err(Refused::Malformed(_))));
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(fingerprint("s", &[b"ab", b"c"]), fingerprint("s", &[b"a", b"bc"]));
        assert_eq!(fingerprint("s", &[b"ab"]), fingerprint("s", &[b"ab"]));
    }
}
