//! The HTTP API: one table of routes, matched exactly (method, and path
//! segment by segment — never by prefix or suffix), each with the access it
//! needs. A request passes, in order: the one public route (`GET /health`);
//! the `Host` and `Origin` checks; credentials (an API token, or for a
//! webhook a valid signature) before anything else — an unknown path without
//! credentials is 401, not 404; the token's role and rate limit; a JSON
//! content type; then the handler, on the blocking pool.

// A refusal is a whole reply (status, JSON body, headers): handlers return it
// as their error, once per request; boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use flowc_interpreter::plan::{SignatureScheme, Trigger};
use flowc_interpreter::runtime::blocking::Actor;
use flowc_interpreter::runtime::{self, delivery, inbox, triggers};
use flowc_interpreter::state::{GateAction, RunOrigin, RunStatus, SqliteStore, Store};
use flowc_interpreter::time;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use super::guard::{Guard, Refusal, Role};
use super::signatures;
use crate::serve::{log, Server};

/// Request bodies above this are refused (413).
const MAX_BODY: usize = 1 << 20;
/// The whole body must arrive within this.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::serve) enum Access {
    /// Anyone (only `GET /health`).
    Public,
    /// An API token whose principal holds the role.
    Token(Role),
    /// A valid signature for one of the project's signed webhook triggers,
    /// or an API token holding the role.
    SignedOrToken(Role),
}

impl Access {
    pub fn describe(&self) -> String {
        match self {
            Access::Public => "public".into(),
            Access::Token(r) => format!("token with role {}", r.keyword()),
            Access::SignedOrToken(r) => format!("webhook signature, or token with role {}", r.keyword()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Health,
    ShowRun,
    Events,
    Webhook,
    Decide(GateAction),
    Cancel,
    Pause,
    Resume,
}

pub(in crate::serve) struct Route {
    pub method: &'static str,
    /// Literal segments and `{param}`s.
    pub pattern: &'static str,
    pub access: Access,
    action: Action,
}

const fn route(method: &'static str, pattern: &'static str, access: Access, action: Action) -> Route {
    Route { method, pattern, access, action }
}

/// Every route the server answers. Anything else is 401 without credentials
/// and 404 (or 405) with them.
pub(in crate::serve) const ROUTES: &[Route] = &[
    route("GET", "/health", Access::Public, Action::Health),
    route("GET", "/runs/{run}", Access::Token(Role::Read), Action::ShowRun),
    route("POST", "/events", Access::Token(Role::Trigger), Action::Events),
    route("POST", "/webhooks/{provider}", Access::SignedOrToken(Role::Trigger), Action::Webhook),
    route("POST", "/webhooks/{provider}/{entity}/{action}", Access::SignedOrToken(Role::Trigger), Action::Webhook),
    route("POST", "/runs/{run}/steps/{step}/approve", Access::Token(Role::Decide), Action::Decide(GateAction::Approve)),
    route("POST", "/runs/{run}/steps/{step}/reject", Access::Token(Role::Decide), Action::Decide(GateAction::Reject)),
    route("POST", "/runs/{run}/steps/{step}/complete", Access::Token(Role::Decide), Action::Decide(GateAction::Complete)),
    route("POST", "/runs/{run}/cancel", Access::Token(Role::Operate), Action::Cancel),
    route("POST", "/runs/{run}/pause", Access::Token(Role::Operate), Action::Pause),
    route("POST", "/runs/{run}/resume", Access::Token(Role::Operate), Action::Resume),
];

/// A path parameter: a run id, step name, provider… Nothing that needs
/// decoding, no dot segments.
fn param_ok(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn matches<'p>(pattern: &str, path: &'p str) -> Option<Vec<&'p str>> {
    let pattern = pattern.strip_prefix('/')?.split('/');
    let path = path.strip_prefix('/')?;
    let segments: Vec<&str> = path.split('/').collect();
    let pattern: Vec<&str> = pattern.collect();
    if pattern.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, s) in pattern.iter().zip(&segments) {
        if p.starts_with('{') {
            if !param_ok(s) {
                return None;
            }
            params.push(*s);
        } else if p != s {
            return None;
        }
    }
    Some(params)
}

enum Found<'p> {
    Route(&'static Route, Vec<&'p str>),
    /// The path exists with other methods.
    OtherMethod(Vec<&'static str>),
    Nothing,
}

fn find<'p>(method: &Method, path: &'p str) -> Found<'p> {
    let mut others = Vec::new();
    for r in ROUTES {
        if let Some(params) = matches(r.pattern, path) {
            if r.method == method.as_str() {
                return Found::Route(r, params);
            }
            others.push(r.method);
        }
    }
    if others.is_empty() { Found::Nothing } else { Found::OtherMethod(others) }
}

// ----------------------------------------------------------------- replies

pub(in crate::serve) type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r.headers_mut().insert("x-content-type-options", hyper::header::HeaderValue::from_static("nosniff"));
    r.headers_mut().insert(hyper::header::CACHE_CONTROL, hyper::header::HeaderValue::from_static("no-store"));
    r
}

fn bad(msg: impl Into<String>) -> Reply {
    reply(StatusCode::BAD_REQUEST, json!({ "error": msg.into() }))
}

fn refused(r: Refusal) -> Reply {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::FORBIDDEN);
    let mut reply = reply(status, json!({ "error": r.message }));
    if status == StatusCode::UNAUTHORIZED {
        reply.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, hyper::header::HeaderValue::from_static("Bearer realm=\"flowc\""));
    }
    if let Some(s) = r.retry_after
        && let Ok(v) = hyper::header::HeaderValue::from_str(&s.to_string())
    {
        reply.headers_mut().insert(hyper::header::RETRY_AFTER, v);
    }
    reply
}

fn unauthorized(msg: impl Into<String>) -> Reply {
    refused(Refusal { status: 401, message: msg.into(), retry_after: None })
}

fn with_cors(mut r: Reply, origin: Option<&str>) -> Reply {
    if let Some(origin) = origin {
        for (k, v) in Guard::cors_headers(origin) {
            if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                r.headers_mut().insert(k, v);
            }
        }
    }
    r
}

// ----------------------------------------------------------------- the request path

/// Who a request is from, once its token checked out.
struct Principal {
    name: String,
    token: String,
    roles: Vec<Role>,
}

impl Principal {
    fn may(&self, needed: Role) -> bool {
        self.roles.iter().any(|r| r.grants(needed))
    }
}

fn bearer(headers: &hyper::HeaderMap) -> Result<Option<String>, Reply> {
    let Some(value) = headers.get(hyper::header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| unauthorized("the Authorization header is not text"))?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(|| unauthorized("expected `Authorization: Bearer TOKEN`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthorized("expected `Authorization: Bearer TOKEN`"));
    }
    Ok(Some(token.trim().to_string()))
}

fn is_json(headers: &hyper::HeaderMap) -> bool {
    let ct = headers.get(hyper::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

pub(in crate::serve) async fn handle(server: &Arc<Server>, req: Request<Incoming>, peer: SocketAddr) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if method == Method::GET && path == "/health" {
        return reply(StatusCode::OK, json!({ "status": "ok" }));
    }
    if let Err(r) = server.guard.check_host(req.headers()) {
        return refused(r);
    }
    let cors = match server.guard.check_origin(req.headers()) {
        Ok(c) => c,
        Err(r) => return refused(r),
    };
    let found = find(&method, &path);
    if method == Method::OPTIONS {
        // A CORS preflight carries no credentials; answer it only for configured origins and real routes.
        return match (&cors, &found) {
            (Some(origin), Found::OtherMethod(_)) => {
                let mut r = with_cors(reply(StatusCode::NO_CONTENT, Value::Null), Some(origin));
                *r.body_mut() = Full::new(Bytes::new());
                r.headers_mut().insert("access-control-max-age", hyper::header::HeaderValue::from_static("600"));
                r
            }
            _ => unauthorized("cross-origin requests are not allowed here (see --cors-origin)"),
        };
    }
    let token = match bearer(req.headers()) {
        Ok(t) => t,
        Err(r) => return with_cors(r, cors.as_deref()),
    };
    let signed_route = matches!(&found, Found::Route(r, _) if matches!(r.access, Access::SignedOrToken(_)));
    if token.is_none() && !signed_route {
        return with_cors(unauthorized("this endpoint needs an API token: `Authorization: Bearer TOKEN` (see `flowc auth token create`)"), cors.as_deref());
    }
    let ip = peer.ip().to_canonical();
    if token.is_some()
        && let Err(r) = server.guard.failures_allow(ip)
    {
        return with_cors(refused(r), cors.as_deref());
    }
    let (route, params) = match found {
        Found::Route(r, p) => (Some(r), p.into_iter().map(str::to_string).collect::<Vec<_>>()),
        _ => (None, Vec::new()),
    };
    let other_methods = match find(&method, &path) {
        Found::OtherMethod(m) => m,
        _ => Vec::new(),
    };
    if method == Method::POST && route.is_some() && !is_json(req.headers()) {
        let r = reply(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            json!({ "error": "the body must be JSON, sent with `Content-Type: application/json`" }),
        );
        return with_cors(r, cors.as_deref());
    }
    let headers = req.headers().clone();
    let body = if method == Method::POST && route.is_some() {
        match body_of(req).await {
            Ok(b) => b,
            Err(r) => return with_cors(r, cors.as_deref()),
        }
    } else {
        Bytes::new()
    };
    let path_for_errors = path.clone();
    let answer = server
        .blocking(move |s, store| {
            let principal = match &token {
                Some(t) => match authenticate(s, store, t, ip) {
                    Ok(p) => Some(p),
                    Err(r) => return r,
                },
                None => None,
            };
            let Some(route) = route else {
                return if other_methods.is_empty() {
                    reply(StatusCode::NOT_FOUND, json!({ "error": format!("no such endpoint: {method} {path_for_errors}"), "routes": route_list() }))
                } else {
                    reply(
                        StatusCode::METHOD_NOT_ALLOWED,
                        json!({ "error": format!("{method} is not allowed on {path_for_errors}; use {}", other_methods.join(" or ")) }),
                    )
                };
            };
            if let Some(p) = &principal {
                let needed = match route.access {
                    Access::Token(r) | Access::SignedOrToken(r) => r,
                    Access::Public => Role::Read,
                };
                if !p.may(needed) {
                    return refused(Refusal {
                        status: 403,
                        message: format!("`{}` may not do this: it needs the role {}", p.name, needed.keyword()),
                        retry_after: None,
                    });
                }
                if let Err(r) = s.guard.rate(&p.token) {
                    return refused(r);
                }
            }
            dispatch(s, store, route.action, &params, principal.as_ref(), ip, &headers, body)
        })
        .await;
    let answer = answer.unwrap_or_else(|e| reply(StatusCode::SERVICE_UNAVAILABLE, json!({ "error": e.message() })));
    with_cors(answer, cors.as_deref())
}

fn route_list() -> Vec<String> {
    ROUTES.iter().map(|r| format!("{} {}", r.method, r.pattern)).collect()
}

fn authenticate(server: &Server, store: &mut SqliteStore, token: &str, ip: std::net::IpAddr) -> Result<Principal, Reply> {
    use flowc_interpreter::state::auth::TokenCheck;
    let now = time::now_ms();
    let check = store.verify_token(token, now).map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e.to_string() })))?;
    let info = match check {
        TokenCheck::Valid(info) => info,
        TokenCheck::Unknown => {
            server.guard.failed(ip);
            return Err(unauthorized("the API token is not valid"));
        }
        TokenCheck::Revoked(info) => {
            server.guard.failed(ip);
            return Err(unauthorized(format!("the API token {} was revoked", info.id)));
        }
        TokenCheck::Expired(info) => {
            server.guard.failed(ip);
            return Err(unauthorized(format!("the API token {} has expired", info.id)));
        }
    };
    let dir = server.guard.directory().map_err(|e| reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e })))?;
    let roles = info.effective_roles(&dir);
    if roles.is_empty() {
        return Err(refused(Refusal {
            status: 403,
            message: format!("`{}` holds no role: it is not (or no longer) declared in the project's flowc.toml", info.principal),
            retry_after: None,
        }));
    }
    // "Last used" to the minute: a write per request would make every read wait for the database lock.
    if info.last_used_at.as_deref().and_then(time::parse_rfc3339).is_none_or(|t| now - t > 60_000) {
        let _ = store.touch_token(&info.id, now);
    }
    Ok(Principal { name: info.principal, token: info.id, roles })
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    server: &Server,
    store: &mut SqliteStore,
    action: Action,
    params: &[String],
    principal: Option<&Principal>,
    ip: std::net::IpAddr,
    headers: &hyper::HeaderMap,
    body: Bytes,
) -> Reply {
    let param = |i: usize| params.get(i).map(String::as_str).unwrap_or("");
    match action {
        Action::Health => reply(StatusCode::OK, json!({ "status": "ok" })),
        Action::ShowRun => show_run(store, param(0)),
        Action::Events => match principal {
            Some(p) => post_events(server, store, p, headers, &body),
            None => unauthorized("posting events needs an API token"),
        },
        Action::Webhook => {
            let rest: Vec<String> = params[1..].to_vec();
            post_webhook(server, store, principal, param(0), &rest, headers, &body)
        }
        Action::Decide(action) => match principal {
            Some(p) => post_decision(server, store, p, ip, param(0), param(1), action, &body),
            None => unauthorized("a decision needs an API token"),
        },
        Action::Cancel | Action::Pause | Action::Resume => match principal {
            Some(p) => control(server, store, p, param(0), action),
            None => unauthorized("this needs an API token"),
        },
    }
}

async fn body_of(req: Request<Incoming>) -> Result<Bytes, Reply> {
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(req.into_body(), MAX_BODY).collect()).await {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": format!("the body is larger than {} bytes", MAX_BODY) }),
        )),
        Ok(Err(e)) => Err(bad(format!("cannot read the body: {e}"))),
        Err(_) => Err(reply(
            StatusCode::REQUEST_TIMEOUT,
            json!({ "error": format!("the body did not arrive within {} s", BODY_TIMEOUT.as_secs()) }),
        )),
    }
}

fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

// ----------------------------------------------------------------- handlers

fn show_run(store: &dyn Store, run: &str) -> Reply {
    match runtime::RunReport::load(store, run) {
        Ok(report) => {
            let mut doc = report.to_json();
            if report.status == RunStatus::Blocked {
                doc["blocked"] = crate::blocked::blocked_json(store, run);
            }
            reply(StatusCode::OK, doc)
        }
        Err(e) => reply(StatusCode::NOT_FOUND, json!({ "error": e.to_string() })),
    }
}

/// CloudEvents over HTTP: structured (`application/cloudevents+json` or
/// plain JSON), batched (`application/cloudevents-batch+json`, a list), or
/// binary (`ce-*` headers, the body as `data`).
fn events_from(headers: &hyper::HeaderMap, body: &[u8]) -> Result<Vec<Value>, String> {
    let content_type = header(headers, "content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if headers.contains_key("ce-specversion") {
        let mut event = serde_json::Map::new();
        for (name, value) in headers {
            if let Some(attr) = name.as_str().strip_prefix("ce-") {
                let value = value.to_str().map_err(|_| format!("header {name} is not text"))?;
                event.insert(attr.to_string(), json!(value));
            }
        }
        if !body.is_empty() {
            let data: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
            event.insert("datacontenttype".into(), json!(content_type));
            event.insert("data".into(), data);
        }
        return Ok(vec![Value::Object(event)]);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    match (content_type.as_str(), value) {
        ("application/cloudevents-batch+json", Value::Array(list)) => {
            if list.is_empty() {
                return Err("the batch is empty".into());
            }
            Ok(list)
        }
        ("application/cloudevents-batch+json", _) => Err("a batch must be a JSON list of events".into()),
        (_, v @ Value::Object(_)) => Ok(vec![v]),
        (_, _) => Err("the body must be a CloudEvent (a JSON object); send lists as application/cloudevents-batch+json".into()),
    }
}

fn post_events(server: &Server, store: &mut dyn Store, by: &Principal, headers: &hyper::HeaderMap, body: &[u8]) -> Reply {
    let events = match events_from(headers, body) {
        Ok(e) => e,
        Err(msg) => return bad(msg),
    };
    for (i, e) in events.iter().enumerate() {
        if let Err(msg) = inbox::validate_event(e) {
            return bad(if events.len() > 1 { format!("event {i}: {msg}") } else { msg });
        }
    }
    accept(server, store, events, None, &by.name, Some(&by.token))
}

/// A run origin's detail with the id of the token that caused it.
fn with_token(mut detail: Value, token: &str) -> Value {
    if let Value::Object(m) = &mut detail {
        m.insert("token".into(), json!(token));
    }
    detail
}

/// A webhook request, after its credentials checked out: which triggers it may fire.
struct Hook<'a> {
    provider: &'a str,
    entity: String,
    action: String,
    /// (plan, trigger) pairs whose signature verified; None when a token authorised it (all may fire).
    signed: Option<Vec<(usize, usize)>>,
    delivery: Option<String>,
}

/// Stores events (all or none), starts the runs their triggers fire, and
/// wakes the scanner for the runs waiting on them. The runs' initiator is
/// the token's principal (or `webhook:PROVIDER` for a signed webhook).
fn accept(server: &Server, store: &mut dyn Store, events: Vec<Value>, hook: Option<&Hook>, initiator: &str, token: Option<&str>) -> Reply {
    // Events fire `on event` triggers; a webhook fires only webhook triggers (below).
    let origin = |event: &Value| {
        let origin = triggers::event_origin(event, initiator);
        match token {
            Some(t) => RunOrigin { detail: with_token(origin.detail, t), ..origin },
            None => origin,
        }
    };
    let plans: &[flowc_interpreter::plan::LoadedPlan] = if hook.is_some() { &[] } else { &server.loaded };
    let delivered = match delivery::deliver(store, events, plans, &origin, &server.config.options()) {
        Ok(d) => d,
        Err(runtime::Error::Input(msg)) => return bad(msg),
        Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e.to_string() })),
    };
    if let Some(h) = hook
        && h.signed.is_some()
        && delivered.iter().any(|d| d.stored.duplicate)
    {
        return reply(
            StatusCode::CONFLICT,
            json!({ "error": "this signed delivery was already received; a replay is not accepted again" }),
        );
    }
    let mut accepted = Vec::new();
    for d in delivered {
        let s = &d.stored;
        let mut doc = json!({ "id": s.event["id"], "type": s.event["type"], "seq": s.seq, "duplicate": s.duplicate });
        if s.duplicate {
            accepted.push(doc);
            continue;
        }
        let mut started = Vec::new();
        let mut problems = d.problems;
        for c in d.created {
            match c {
                Ok(c) => {
                    if c.error.is_none() {
                        server.workers.start(c.run.clone(), &server.config, &format!("started by event {} for {} ({initiator})", s.event["type"], c.workflow));
                    }
                    started.push(json!(c));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        let fired: Vec<(usize, serde_json::Map<String, Value>)> = match hook {
            Some(h) => server
                .plans
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let wf = p.workflow(&p.entry)?;
                    wf.triggers
                        .iter()
                        .enumerate()
                        .any(|(ti, t)| {
                            triggers::webhook_fires(t, h.provider, &h.entity, &h.action)
                                && h.signed.as_ref().is_none_or(|ok| ok.contains(&(i, ti)))
                        })
                        .then(|| (i, triggers::inputs_from(wf, &inbox::data_fields(&s.event))))
                })
                .collect(),
            None => Vec::new(),
        };
        // Webhooks (the event path created its runs above).
        let detail = hook.map(|h| {
            json!({ "id": s.event["id"], "provider": h.provider, "entity": h.entity, "action": h.action, "signed": h.signed.is_some(), "delivery": h.delivery })
        });
        let detail = match token {
            Some(t) => with_token(detail.unwrap_or(Value::Null), t),
            None => detail.unwrap_or(Value::Null),
        };
        let trigger = "webhook";
        for (i, inputs) in fired {
            let origin = RunOrigin { initiator: Some(initiator.to_string()), trigger: trigger.into(), detail: detail.clone(), version: None, plan_hash: String::new() };
            match triggers::create_run(&server.plans[i], inputs, &origin, &server.config.options()) {
                Ok(c) => {
                    if c.error.is_none() {
                        server.workers.start(c.run.clone(), &server.config, &format!("started by {trigger} {} for {} ({initiator})", s.event["type"], c.workflow));
                    }
                    started.push(json!(c));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        doc["started"] = json!(started);
        doc["waiting"] = json!(d.waiting);
        if !problems.is_empty() {
            doc["problems"] = json!(problems);
        }
        accepted.push(doc);
    }
    server.scan_now.notify_one();
    reply(StatusCode::ACCEPTED, json!({ "accepted": accepted }))
}

/// `POST /runs/RUN/steps/STEP/approve|reject|complete` with
/// `{"comment"?: TEXT, "output"?: JSON, "on_behalf_of"?: NAME}`: the decision
/// is the token's principal's, checked and filed as `flowc approve|reject|
/// complete` would, and the run continues on a worker. An `as` field is
/// refused: over HTTP, who decides is who holds the token. 202 when filed,
/// 409 when the gate refuses it.
#[allow(clippy::too_many_arguments)]
fn post_decision(
    server: &Server,
    store: &mut SqliteStore,
    by: &Principal,
    ip: std::net::IpAddr,
    run: &str,
    step: &str,
    action: GateAction,
    body: &[u8],
) -> Reply {
    let doc: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad("the body must be a JSON object: {\"comment\": TEXT, \"output\": JSON, \"on_behalf_of\": NAME}"),
        Err(e) => return bad(format!("the body is not JSON: {e}")),
    };
    if doc.get("as").is_some() {
        return bad("`as` is not accepted: over HTTP the decision is made by the token's principal; say `on_behalf_of` to record someone else");
    }
    if let Some(k) = doc.as_object().and_then(|o| o.keys().find(|k| !matches!(k.as_str(), "comment" | "output" | "on_behalf_of"))) {
        return bad(format!("unknown field `{k}`; a decision takes `comment`, `output` and `on_behalf_of`"));
    }
    let text = |k: &str| match doc.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(c)) => Ok(Some(c.clone())),
        Some(_) => Err(bad(format!("`{k}` must be a string"))),
    };
    let comment = match text("comment") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let on_behalf_of = match text("on_behalf_of") {
        Ok(c) => c.filter(|s| !s.trim().is_empty()),
        Err(r) => return r,
    };
    let output = doc.get("output");
    if action == GateAction::Complete && output.is_none() {
        return bad("a completion needs the task's `output`");
    }
    let actor = Actor {
        principal: by.name.clone(),
        on_behalf_of,
        token: Some(by.token.clone()),
        address: Some(ip.to_string()),
        via: "http".into(),
    };
    let dir = match server.guard.directory() {
        Ok(d) => d,
        Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e })),
    };
    match runtime::decide::file(store, run, step, action, &actor, comment.as_deref(), output, &dir) {
        Ok(f) => {
            server.scan_now.notify_one();
            reply(
                StatusCode::ACCEPTED,
                json!({ "request": f.id, "run": run, "root": f.root, "step": step, "action": action, "by": by.name, "on_behalf_of": actor.on_behalf_of }),
            )
        }
        Err(e @ runtime::Error::NoRun(_)) => reply(StatusCode::NOT_FOUND, json!({ "error": e.to_string() })),
        Err(runtime::Error::Refused(r)) => reply(StatusCode::CONFLICT, json!({ "error": crate::steering::refusal_http(&r) })),
        Err(runtime::Error::Run(msg)) => reply(StatusCode::CONFLICT, json!({ "error": msg })),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e.to_string() })),
    }
}

/// `POST /runs/RUN/cancel|pause|resume`.
fn control(server: &Server, store: &mut dyn Store, by: &Principal, run: &str, action: Action) -> Reply {
    let record = match store.run(run) {
        Ok(Some(r)) => r,
        Ok(None) => return reply(StatusCode::NOT_FOUND, json!({ "error": format!("there is no run `{run}`") })),
        Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e.to_string() })),
    };
    let options = server.config.options();
    let outcome = match action {
        Action::Cancel => runtime::cancel(run, &options).map(|s| crate::steering::say(crate::steering::Command::Cancel, &s).unwrap_or_default()),
        Action::Pause => runtime::pause(run, &options).map(|s| crate::steering::say(crate::steering::Command::Pause, &s).unwrap_or_default()),
        _ => {
            if record.status.is_terminal() {
                return reply(StatusCode::CONFLICT, json!({ "error": format!("run `{run}` is {}; it cannot be resumed", record.status) }));
            }
            server.workers.start(run.to_string(), &server.config, &format!("resumed by {}", by.name));
            Ok(format!("run {run} resumes"))
        }
    };
    match outcome {
        Ok(message) => {
            log(&format!("run {run}: {message} (by {}, token {})", by.name, by.token));
            let status = store.run(run).ok().flatten().map(|r| r.status.as_str()).unwrap_or("unknown");
            reply(StatusCode::ACCEPTED, json!({ "run": run, "status": status, "message": message, "by": by.name }))
        }
        Err(e @ runtime::Error::NoRun(_)) => reply(StatusCode::NOT_FOUND, json!({ "error": e.to_string() })),
        Err(runtime::Error::Refused(r)) => reply(StatusCode::CONFLICT, json!({ "error": crate::steering::refusal_http(&r) })),
        Err(runtime::Error::Run(msg)) => reply(StatusCode::CONFLICT, json!({ "error": msg })),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e.to_string() })),
    }
}

/// `POST /webhooks/PROVIDER[/ENTITY/ACTION]`: the entity and action come from
/// the path, else the `X-Flow-Entity`/`X-Flow-Action` headers, else (GitHub)
/// `X-GitHub-Event` and the body's `action`, else the body's `entity` (or
/// `entity_type`) and `action` fields. The webhook is stored as the event
/// `webhook.PROVIDER.ENTITY.ACTION` with the body as `data`.
///
/// Without a token, the raw body must carry a valid signature for one of the
/// project's signed triggers on this provider; only the triggers whose
/// secret verified it fire, and the same signed bytes are accepted once.
fn post_webhook(
    server: &Server,
    store: &mut SqliteStore,
    principal: Option<&Principal>,
    provider: &str,
    rest: &[String],
    headers: &hyper::HeaderMap,
    body: &[u8],
) -> Reply {
    let (signed, fingerprint) = match principal {
        Some(_) => (None, None),
        None => match verify_signatures(server, provider, headers, body) {
            Ok((ok, fp)) => (Some(ok), Some(fp)),
            Err(r) => return r,
        },
    };
    let data: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad("a webhook body must be a JSON object"),
        Err(e) => return bad(format!("the body is not JSON: {e}")),
    };
    let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
    let entity = rest
        .first()
        .cloned()
        .or_else(|| header(headers, "x-flow-entity").map(str::to_string))
        .or_else(|| header(headers, "x-github-event").map(str::to_string))
        .or_else(|| field("entity"))
        .or_else(|| field("entity_type"))
        .or_else(|| field("type").and_then(|t| t.split_once('.').map(|(e, _)| e.to_string())));
    let action = rest
        .get(1)
        .cloned()
        .or_else(|| header(headers, "x-flow-action").map(str::to_string))
        .or_else(|| field("action"))
        .or_else(|| field("type").and_then(|t| t.split_once('.').map(|(_, a)| a.to_string())));
    let (Some(entity), Some(action)) = (entity, action) else {
        return bad(
            "cannot tell the webhook's entity and action: post to /webhooks/PROVIDER/ENTITY/ACTION, \
             or send X-Flow-Entity and X-Flow-Action headers, or `entity` and `action` fields",
        );
    };
    let ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ![provider, entity.as_str(), action.as_str()].iter().all(|s| ok(s)) {
        return bad("provider, entity and action must be words (letters, digits, `_`, `-`)");
    }
    let delivery = header(headers, "x-flow-delivery").or_else(|| header(headers, "x-github-delivery")).map(str::to_string);
    // A signed delivery's id is its fingerprint, so the same signed bytes are one event;
    // the (unsigned) delivery header is kept as information only.
    let id = match &fingerprint {
        Some(fp) => Some(format!("signed-{fp}")),
        None => delivery.clone(),
    };
    let event = inbox::new_event(&format!("webhook.{provider}.{entity}.{action}"), None, Some(data), &format!("/webhooks/{provider}"), id.as_deref());
    let hook = Hook { provider, entity, action, signed, delivery };
    let (initiator, token) = match principal {
        Some(p) => (p.name.clone(), Some(p.token.as_str())),
        None => (format!("webhook:{provider}"), None),
    };
    accept(server, store, vec![event], Some(&hook), &initiator, token)
}

/// Checks the signatures of an unauthenticated webhook against every signed
/// trigger on this provider. Returns the (plan, trigger) pairs that verified
/// and the delivery's fingerprint; 401 when none did.
fn verify_signatures(server: &Server, provider: &str, headers: &hyper::HeaderMap, body: &[u8]) -> Result<(Vec<(usize, usize)>, String), Reply> {
    let now_s = time::now_ms() / 1000;
    let mut verified = Vec::new();
    let mut fingerprint = None;
    let mut refusals = Vec::new();
    let mut any = false;
    for (pi, plan) in server.plans.iter().enumerate() {
        let Some(wf) = plan.workflow(&plan.entry) else { continue };
        for (ti, t) in wf.triggers.iter().enumerate() {
            let Trigger::Webhook { provider: p, signature: Some(sig), .. } = t else { continue };
            if !inbox::glob_match(p, provider) {
                continue;
            }
            any = true;
            let Some(secret) = plan.secrets.get(sig.secret as usize) else { continue };
            let secret = match runtime::resolve_secret(secret, &server.config.project_dir) {
                Ok(s) => s,
                Err(e) => {
                    log(&format!("webhook {provider}: the secret of a trigger of {} cannot be read: {e}", wf.name));
                    refusals.push("the server cannot read this webhook's secret".to_string());
                    continue;
                }
            };
            let key = secret.as_bytes();
            let outcome = match sig.scheme {
                SignatureScheme::Github => {
                    let h = header(headers, "x-hub-signature-256");
                    signatures::github(key, body, h).map(|()| signatures::fingerprint("github", &[body]))
                }
                SignatureScheme::Stripe => {
                    let h = header(headers, "stripe-signature");
                    signatures::stripe(key, body, h, now_s, sig.tolerance_s.unwrap_or(300))
                        .map(|t| signatures::fingerprint("stripe", &[t.to_string().as_bytes(), body]))
                }
                SignatureScheme::Hmac => {
                    let name = sig.header.as_deref().unwrap_or("x-signature");
                    signatures::hmac_header(key, body, name, header(headers, name)).map(|()| signatures::fingerprint("hmac", &[body]))
                }
            };
            match outcome {
                Ok(fp) => {
                    verified.push((pi, ti));
                    fingerprint.get_or_insert(fp);
                }
                Err(r) => refusals.push(r.message()),
            }
        }
    }
    if !any {
        return Err(unauthorized(format!(
            "no trigger of this project takes signed webhooks from `{provider}`; send an API token, or declare the trigger `signed …`"
        )));
    }
    match fingerprint {
        Some(fp) => Ok((verified, fp)),
        None => {
            refusals.dedup();
            Err(unauthorized(refusals.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_exactly() {
        assert!(matches("/health", "/health").is_some());
        assert!(matches("/health", "/health/").is_none());
        assert!(matches("/health", "//health").is_none());
        assert!(matches("/health", "/x/health").is_none());
        assert!(matches("/health", "/healthz").is_none());
        assert_eq!(matches("/runs/{run}", "/runs/r-1"), Some(vec!["r-1"]));
        assert!(matches("/runs/{run}", "/runs/..").is_none());
        assert!(matches("/runs/{run}", "/runs/a%2Fb").is_none());
        assert!(matches("/runs/{run}", "/runs/").is_none());
        assert!(matches("/runs/{run}/cancel", "/runs/r/cancel/").is_none());
    }

    #[test]
    fn only_health_is_public() {
        let public: Vec<_> = ROUTES.iter().filter(|r| r.access == Access::Public).map(|r| (r.method, r.pattern)).collect();
        assert_eq!(public, vec![("GET", "/health")]);
    }

    #[test]
    fn json_media_types() {
        let mut h = hyper::HeaderMap::new();
        for (ct, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("application/cloudevents+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            h.insert(hyper::header::CONTENT_TYPE, ct.parse().unwrap());
            assert_eq!(is_json(&h), ok, "{ct}");
        }
        h.clear();
        assert!(!is_json(&h));
    }
}
