//! `flowc auth`: the API tokens `flowc serve` accepts, and the principals of
//! the project's flowc.toml they belong to. The model is in docs/security.md.

use clap::{Args, Subcommand};
use flowc_interpreter::state::SqliteStore;
use flowc_interpreter::time;
use flowc_plan::directory::{Directory, Role};
use serde_json::{json, Value};

use crate::{Cli, Failure};

#[derive(Args, Debug)]
pub struct AuthArgs {
    #[command(subcommand)]
    pub command: AuthCommand,
}

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// API tokens: create, list, expire, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The principals and groups of the project's flowc.toml.
    Principals(JsonArg),
}

#[derive(Args, Debug)]
pub struct JsonArg {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for a principal of flowc.toml; it is printed once, on stdout.
    ///
    /// Example: flowc auth token create ci-bot --role trigger --expires 90d --note "CI"
    Create(CreateArgs),
    /// The tokens (ids, principals, roles, dates; never the tokens).
    List(JsonArg),
    /// Revoke a token for good.
    Revoke(IdArg),
    /// Make a token expire (now, or at --at).
    Expire(ExpireArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The principal (declared under [principals] in flowc.toml).
    pub principal: String,
    /// Narrow the token to some of the principal's roles (repeat; default: all of them).
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// When it expires: a duration from now (90d, 12h) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    /// What it is for (shown in `flowc auth token list`).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Print `{"token", "id", …}` as JSON on stdout instead of the token alone.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct IdArg {
    /// The token's id (the part after `flowc_`, as `flowc auth token list` shows it).
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ExpireArgs {
    pub id: String,
    /// When: a duration from now or an RFC 3339 time (default: now).
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
}

fn when(text: &str) -> Result<i64, Failure> {
    if let Some(ms) = flowc_grammar::parser::parse_duration(text.trim()) {
        return Ok(time::now_ms().saturating_add(ms as i64));
    }
    time::parse_rfc3339(text.trim())
        .ok_or_else(|| Failure::usage(format!("`{text}` is neither a duration (90d, 12h, 30m) nor an RFC 3339 time")))
}

fn directory(cli: &Cli) -> Result<Directory, Failure> {
    Directory::load(&cli.project_dir()).map_err(|e| Failure::usage(format!("flowc.toml: {e}")))
}

fn store(cli: &Cli) -> Result<SqliteStore, Failure> {
    let options = flowc_interpreter::RunOptions::new(cli.state_path(), cli.project_dir());
    flowc_interpreter::runtime::open_sqlite(&options).map_err(|e| Failure::usage(e.to_string()))
}

/// A token's id, as given: `ID`, or a whole token (only its id part is used).
fn token_id(given: &str) -> &str {
    given.strip_prefix("flowc_").and_then(|r| r.split('_').next()).unwrap_or(given)
}

pub fn auth(cli: &Cli, args: &AuthArgs) -> Result<(), Failure> {
    match &args.command {
        AuthCommand::Token(TokenCommand::Create(a)) => create(cli, a),
        AuthCommand::Token(TokenCommand::List(a)) => list(cli, a.json),
        AuthCommand::Token(TokenCommand::Revoke(a)) => {
            let id = token_id(&a.id);
            if !store(cli)?.revoke_token(id).map_err(|e| Failure::usage(e.to_string()))? {
                return Err(Failure::usage(format!("there is no token `{id}` (see `flowc auth token list`)")));
            }
            eprintln!("token {id} revoked");
            Ok(())
        }
        AuthCommand::Token(TokenCommand::Expire(a)) => {
            let id = token_id(&a.id);
            let at = match &a.at {
                Some(t) => when(t)?,
                None => time::now_ms(),
            };
            if !store(cli)?.expire_token(id, at).map_err(|e| Failure::usage(e.to_string()))? {
                return Err(Failure::usage(format!("there is no token `{id}` (see `flowc auth token list`)")));
            }
            eprintln!("token {id} expires at {}", time::rfc3339_s(at));
            Ok(())
        }
        AuthCommand::Principals(a) => principals(cli, a.json),
    }
}

fn create(cli: &Cli, a: &CreateArgs) -> Result<(), Failure> {
    let dir = directory(cli)?;
    let Some(principal) = dir.principal(&a.principal) else {
        let known: Vec<&str> = dir.principals().map(|p| p.name.as_str()).collect();
        return Err(Failure::usage(if known.is_empty() {
            format!("`{}` is not a principal: declare it in flowc.toml first (`[principals.{}]` with `roles = [...]`)", a.principal, a.principal)
        } else {
            format!("`{}` is not a principal of flowc.toml (principals: {})", a.principal, known.join(", "))
        }));
    };
    let mut roles = Vec::new();
    for r in &a.roles {
        let role = Role::parse(r).ok_or_else(|| Failure::usage(format!("`{r}` is not a role (read, trigger, decide, operate, admin)")))?;
        if !principal.roles.iter().any(|held| held.grants(role)) {
            return Err(Failure::usage(format!("`{}` does not hold the role {role}: a token has at most its principal's roles", principal.name)));
        }
        roles.push(role);
    }
    let expires = a.expires.as_deref().map(when).transpose()?;
    if expires.is_some_and(|t| t <= time::now_ms()) {
        return Err(Failure::usage("the expiry is in the past"));
    }
    let (info, token) = store(cli)?
        .create_token(&principal.name, &roles, expires, a.note.as_deref())
        .map_err(|e| Failure::usage(e.to_string()))?;
    if a.json {
        let mut doc = serde_json::to_value(&info).unwrap_or(Value::Null);
        doc["token"] = json!(token);
        println!("{doc}");
    } else {
        println!("{token}");
    }
    eprintln!(
        "token {} for {}{}: shown once, now; flowc keeps only its hash",
        info.id,
        info.principal,
        info.expires_at.as_deref().map(|t| format!(", expires {t}")).unwrap_or_default()
    );
    Ok(())
}

fn list(cli: &Cli, as_json: bool) -> Result<(), Failure> {
    let tokens = store(cli)?.tokens().map_err(|e| Failure::usage(e.to_string()))?;
    let now = time::now_ms();
    let state = |t: &flowc_interpreter::state::auth::TokenInfo| {
        if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at.as_deref().and_then(time::parse_rfc3339).is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    };
    if as_json {
        let docs: Vec<Value> = tokens
            .iter()
            .map(|t| {
                let mut d = serde_json::to_value(t).unwrap_or(Value::Null);
                d["state"] = json!(state(t));
                d
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&docs).unwrap_or_default());
        return Ok(());
    }
    if tokens.is_empty() {
        println!("no tokens (make one with `flowc auth token create PRINCIPAL`)");
        return Ok(());
    }
    println!("{:<14}{:<16}{:<9}{:<22}{:<22}{:<22}note", "id", "principal", "state", "roles", "expires", "last used");
    for t in &tokens {
        let roles = if t.roles.is_empty() { "(all)".to_string() } else { t.roles.iter().map(|r| r.keyword()).collect::<Vec<_>>().join(",") };
        println!(
            "{:<14}{:<16}{:<9}{:<22}{:<22}{:<22}{}",
            t.id,
            t.principal,
            state(t),
            roles,
            t.expires_at.as_deref().unwrap_or("-"),
            t.last_used_at.as_deref().unwrap_or("-"),
            t.note.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

fn principals(cli: &Cli, as_json: bool) -> Result<(), Failure> {
    let dir = directory(cli)?;
    let groups: Vec<(String, Vec<String>)> = dir.groups().map(|(g, m)| (g.to_string(), m.iter().map(|s| s.to_string()).collect())).collect();
    let of = |name: &str| -> Vec<String> { groups.iter().filter(|(g, _)| dir.may_act_as(name, g)).map(|(g, _)| g.clone()).collect() };
    if as_json {
        let principals: Vec<Value> =
            dir.principals().map(|p| json!({ "name": p.name, "roles": p.roles, "groups": of(&p.name) })).collect();
        let groups: Vec<Value> = groups.iter().map(|(g, m)| json!({ "name": g, "members": m })).collect();
        println!("{}", serde_json::to_string_pretty(&json!({ "principals": principals, "groups": groups })).unwrap_or_default());
        return Ok(());
    }
    if dir.is_empty() {
        println!("flowc.toml declares no principals (see docs/security.md)");
        return Ok(());
    }
    for p in dir.principals() {
        let roles: Vec<&str> = p.roles.iter().map(|r| r.keyword()).collect();
        let groups = of(&p.name);
        let groups = if groups.is_empty() { String::new() } else { format!("  groups: {}", groups.join(", ")) };
        println!("{:<20} roles: {}{groups}", p.name, if roles.is_empty() { "-".to_string() } else { roles.join(", ") });
    }
    Ok(())
}
