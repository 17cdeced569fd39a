//! API tokens for `flowc serve`: secrets, so they live in the state
//! database (never in the project), and only as a hash.
//!
//! A token reads `flowc_ID_SECRET`: ID is 12 random hex characters, public
//! (it names the token in lists, logs and the event log); SECRET is 256 bits
//! from the operating system's random source, hex. The database keeps
//! SHA-256(SECRET); a presented token is looked up by ID and its hash
//! compared in constant time (`subtle`).

use flowc_plan::directory::{Directory, Role};
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{describe, SqliteStore};
use crate::state::StateError;
use crate::time;

/// The migration that adds the table (appended to `schema::MIGRATIONS`).
pub(super) const MIGRATION: &str = r#"
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    principal    TEXT NOT NULL,
    -- JSON list of role keywords: the token's own scope (empty: all of the principal's).
    roles        TEXT NOT NULL,
    hash         BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    note         TEXT,
    last_used_at TEXT
) WITHOUT ROWID;
-- Who decided, in full (principal, on behalf of, token id, address, via).
ALTER TABLE gate_requests ADD COLUMN actor_detail TEXT;
"#;

/// An API token of `flowc serve`, as stored (never its secret: only a hash of it is kept).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// The token's public id, the part before the dot.
    pub id: String,
    /// The principal the token acts as.
    pub principal: String,
    /// The token's own scope; empty: all of the principal's roles.
    pub roles: Vec<Role>,
    /// When it was issued (RFC 3339).
    pub created_at: String,
    /// When it stops working, if it expires.
    pub expires_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// What it is for, as given when it was issued.
    pub note: Option<String>,
    /// When a request last used it.
    pub last_used_at: Option<String>,
}

impl TokenInfo {
    /// What the token may do: its principal's roles (as the directory says
    /// now), narrowed to the token's scope. A principal no longer declared
    /// has none.
    pub fn effective_roles(&self, dir: &Directory) -> Vec<Role> {
        let held = dir.roles_of(&self.principal);
        if self.roles.is_empty() {
            return held;
        }
        held.into_iter().filter(|r| self.roles.iter().any(|s| r.grants(*s) && s.grants(*r) || s == r)).collect()
    }
}

/// What checking a presented token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// A live token.
    Valid(TokenInfo),
    /// No token has this id, or the secret does not match.
    Unknown,
    /// The token was revoked.
    Revoked(TokenInfo),
    /// The token is past its expiry.
    Expired(TokenInfo),
}

/// A token's parts: (id, secret), if it has the form.
fn split(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("flowc_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex_of = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_of(id, 12) && hex_of(secret, 64)).then_some((id, secret))
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn random_hex(bytes: usize) -> Result<String, StateError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| StateError(format!("the operating system gave no random bytes: {e}")))?;
    Ok(hex::encode(buf))
}

const COLUMNS: &str = "id, principal, roles, created_at, expires_at, revoked_at, note, last_used_at";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
    let roles: String = r.get(2)?;
    Ok(TokenInfo {
        id: r.get(0)?,
        principal: r.get(1)?,
        roles: serde_json::from_str::<Vec<String>>(&roles).unwrap_or_default().iter().filter_map(|k| Role::parse(k)).collect(),
        created_at: r.get(3)?,
        expires_at: r.get(4)?,
        revoked_at: r.get(5)?,
        note: r.get(6)?,
        last_used_at: r.get(7)?,
    })
}

impl SqliteStore {
    /// Makes a token; returns it (the only time it exists in clear) and its record.
    pub fn create_token(
        &mut self,
        principal: &str,
        roles: &[Role],
        expires_at_ms: Option<i64>,
        note: Option<&str>,
    ) -> Result<(TokenInfo, String), StateError> {
        let id = random_hex(6)?;
        let secret = random_hex(32)?;
        let keywords: Vec<&str> = roles.iter().map(|r| r.keyword()).collect();
        let info = TokenInfo {
            id: id.clone(),
            principal: principal.to_string(),
            roles: roles.to_vec(),
            created_at: time::now(),
            expires_at: expires_at_ms.map(time::rfc3339_ms),
            revoked_at: None,
            note: note.map(str::to_string),
            last_used_at: None,
        };
        let path = self.path().to_path_buf();
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO api_tokens (id, principal, roles, hash, created_at, expires_at, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, principal, serde_json::to_string(&keywords).unwrap_or_default(), hash(&secret), info.created_at, info.expires_at, note],
        )
        .map_err(|e| describe(&path, e))?;
        tx.commit().map_err(|e| describe(&path, e))?;
        Ok((info, format!("flowc_{id}_{secret}")))
    }

    /// Every token, newest first.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StateError> {
        let mut stmt = self.conn_ref().prepare(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at, id")).map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], from_row).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The token with public id `id`.
    pub fn token(&self, id: &str) -> Result<Option<TokenInfo>, StateError> {
        self.conn_ref()
            .query_row(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = ?1"), [id], from_row)
            .optional()
            .map_err(|e| self.err(e))
    }

    fn update_token(&mut self, sql: &str, id: &str, at: String) -> Result<bool, StateError> {
        let path = self.path().to_path_buf();
        let tx = self.write_tx()?;
        let n = tx.execute(sql, params![id, at]).map_err(|e| describe(&path, e))?;
        tx.commit().map_err(|e| describe(&path, e))?;
        Ok(n > 0)
    }

    /// Revokes a token for good; false when there is no such token.
    pub fn revoke_token(&mut self, id: &str) -> Result<bool, StateError> {
        self.update_token("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1", id, time::now())
    }

    /// Makes a token expire at `at_ms` (now, or later); false when there is no such token.
    pub fn expire_token(&mut self, id: &str, at_ms: i64) -> Result<bool, StateError> {
        self.update_token("UPDATE api_tokens SET expires_at = ?2 WHERE id = ?1", id, time::rfc3339_ms(at_ms))
    }

    /// Checks a presented token. Reads only.
    pub fn verify_token(&self, presented: &str, now_ms: i64) -> Result<TokenCheck, StateError> {
        let Some((id, secret)) = split(presented.trim()) else { return Ok(TokenCheck::Unknown) };
        let row: Option<(TokenInfo, Vec<u8>)> = self
            .conn_ref()
            .query_row(&format!("SELECT {COLUMNS}, hash FROM api_tokens WHERE id = ?1"), [id], |r| Ok((from_row(r)?, r.get(8)?)))
            .optional()
            .map_err(|e| self.err(e))?;
        // The hash is computed whether or not the id exists.
        let presented_hash = hash(secret);
        let Some((info, stored)) = row else { return Ok(TokenCheck::Unknown) };
        if !bool::from(presented_hash.ct_eq(&stored)) {
            return Ok(TokenCheck::Unknown);
        }
        if info.revoked_at.is_some() {
            return Ok(TokenCheck::Revoked(info));
        }
        if info.expires_at.as_deref().and_then(time::parse_rfc3339).is_some_and(|t| t <= now_ms) {
            return Ok(TokenCheck::Expired(info));
        }
        Ok(TokenCheck::Valid(info))
    }

    /// Notes when a token was last used (best effort: a busy database skips it).
    pub fn touch_token(&mut self, id: &str, now_ms: i64) -> Result<(), StateError> {
        self.conn_ref()
            .execute("UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1", params![id, time::rfc3339_s(now_ms)])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("flowc-tokens-{}-{}", std::process::id(), random_hex(4).unwrap()));
        std::fs::create_dir_all(&dir).unwrap();
        (SqliteStore::open(&dir.join("state.db")).unwrap(), dir)
    }

    #[test]
    fn tokens_verify_expire_and_revoke() {
        let (mut s, dir) = store();
        let (info, token) = s.create_token("ann", &[], None, Some("laptop")).unwrap();
        assert!(token.starts_with(&format!("flowc_{}_", info.id)));
        assert_eq!(token.len(), "flowc_".len() + 12 + 1 + 64);
        let now = time::now_ms();
        assert!(matches!(s.verify_token(&token, now).unwrap(), TokenCheck::Valid(i) if i.principal == "ann"));
        // A wrong secret for a real id, a malformed token, an unknown id.
        let wrong = format!("flowc_{}_{}", info.id, "0".repeat(64));
        assert_eq!(s.verify_token(&wrong, now).unwrap(), TokenCheck::Unknown);
        assert_eq!(s.verify_token("flowc_x_y", now).unwrap(), TokenCheck::Unknown);
        assert_eq!(s.verify_token(&format!("flowc_{}_{}", "a".repeat(12), &token[19..]), now).unwrap(), TokenCheck::Unknown);
        // The database holds the hash, not the token.
        let bytes = std::fs::read(dir.join("state.db")).unwrap_or_default();
        let wal = std::fs::read(dir.join("state.db-wal")).unwrap_or_default();
        let secret = &token[19..];
        assert!(![bytes, wal].iter().any(|b| b.windows(secret.len()).any(|w| w == secret.as_bytes())));
        // Expiry and revocation.
        assert!(s.expire_token(&info.id, now - 1).unwrap());
        assert!(matches!(s.verify_token(&token, now).unwrap(), TokenCheck::Expired(_)));
        assert!(s.revoke_token(&info.id).unwrap());
        assert!(matches!(s.verify_token(&token, now).unwrap(), TokenCheck::Revoked(_)));
        assert!(!s.revoke_token("000000000000").unwrap());
        s.touch_token(&info.id, now).unwrap();
        let listed = s.tokens().unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].last_used_at.is_some() && listed[0].note.as_deref() == Some("laptop"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_token_has_at_most_its_principals_roles() {
        let dir = Directory::parse("[principals.ann]\nroles = [\"decide\", \"read\"]\n").unwrap();
        let t = |roles: Vec<Role>, principal: &str| TokenInfo {
            id: "x".into(),
            principal: principal.into(),
            roles,
            created_at: String::new(),
            expires_at: None,
            revoked_at: None,
            note: None,
            last_used_at: None,
        };
        assert_eq!(t(vec![], "ann").effective_roles(&dir), vec![Role::Decide, Role::Read]);
        assert_eq!(t(vec![Role::Read], "ann").effective_roles(&dir), vec![Role::Read]);
        assert!(t(vec![Role::Admin], "ann").effective_roles(&dir).is_empty());
        assert!(t(vec![], "gone").effective_roles(&dir).is_empty());
    }
}
