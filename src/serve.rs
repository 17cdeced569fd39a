//! `flowc serve`: schedules, CloudEvents and webhooks over HTTP, and the
//! runs they start or continue.
//!
//! One tokio current-thread runtime holds the HTTP server (hyper, HTTP/1.1),
//! the schedule loop and a scanner; runs execute on worker threads, one per
//! run, each with its own runtime (as `flowc run` does), returning when the
//! run ends or blocks. The scanner continues blocked runs that have something
//! to act on: a decision filed by `flowc approve|reject|complete`, a stored
//! event that a `wait` matches, or a gate past its deadline.
//!
//! A request is answered only after what it carries is committed; a bad
//! payload is refused with 400 and a JSON error before anything is stored.
//! SIGTERM (or SIGINT) stops accepting, lets requests in flight finish, gives
//! running runs `--grace` seconds to end or block, then pauses the rest
//! (reason `shutdown`, running steps finish first); the next `flowc serve`
//! resumes them.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use flowc_interpreter::cloudevents::EventSink;
use flowc_interpreter::plan::{LoadedPlan, Plan, Trigger};
use flowc_interpreter::runtime::{self, inbox, triggers, NotifySink, RunOptions};
use flowc_interpreter::state::{Control, PeopleStore, RunOrigin, RunStatus, SqliteStore, Store};
use flowc_interpreter::time;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::{Cli, Failure};

/// Request bodies above this are refused (413).
const MAX_BODY: usize = 1 << 20;
/// How often blocked runs are looked at (an HTTP event or decision wakes the scan at once).
const SCAN_EVERY: Duration = Duration::from_secs(1);

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen. Loopback by default: the server has no authentication.
    #[arg(long, default_value = "127.0.0.1:8750", value_name = "ADDR")]
    pub listen: String,
    /// Print the triggers and the next fire times of the schedules, then exit.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// On SIGTERM, how long running runs may take to end or block before they are paused.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub grace: u64,
    #[command(flatten)]
    pub notify: crate::runs::NotifyArg,
}

/// What worker threads need to build their own run options.
#[derive(Clone)]
struct RunConfig {
    state_path: std::path::PathBuf,
    project_dir: std::path::PathBuf,
    notify: NotifySink,
    events: Option<EventSink>,
}

impl RunConfig {
    fn options(&self) -> RunOptions {
        let mut options = RunOptions::new(self.state_path.clone(), self.project_dir.clone());
        options.notify = self.notify.clone();
        options.events = self.events.clone();
        options
    }
}

fn log(line: &str) {
    eprintln!("[{}] {line}", time::rfc3339_s(time::now_ms()));
}

/// Runs executing on worker threads.
#[derive(Clone, Default)]
struct Workers {
    active: Arc<Mutex<HashSet<String>>>,
    handles: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl Workers {
    fn is_active(&self, run: &str) -> bool {
        self.active.lock().map(|a| a.contains(run)).unwrap_or(false)
    }

    fn active(&self) -> Vec<String> {
        self.active.lock().map(|a| a.iter().cloned().collect()).unwrap_or_default()
    }

    /// Starts or continues a run on a thread of its own.
    fn start(&self, run: String, config: &RunConfig, why: &str) {
        if let Ok(mut active) = self.active.lock()
            && !active.insert(run.clone())
        {
            return;
        }
        log(&format!("run {run}: {why}"));
        let config = config.clone();
        let active = self.active.clone();
        let handle = std::thread::spawn(move || {
            let options = config.options();
            match runtime::resume(&run, &options) {
                Ok(runtime::Resumed::Here(report)) => {
                    let extra = report.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
                    log(&format!("run {run} ({}) {}{extra}", report.workflow, report.status));
                }
                Ok(runtime::Resumed::Elsewhere(m)) => log(&format!("run {run}: {m}")),
                Err(e) => log(&format!("run {run}: {e}")),
            }
            if let Ok(mut a) = active.lock() {
                a.remove(&run);
            }
        });
        if let Ok(mut h) = self.handles.lock() {
            h.retain(|h| !h.is_finished());
            h.push(handle);
        }
    }

    fn join_all(&self) {
        let handles: Vec<_> = self.handles.lock().map(|mut h| h.drain(..).collect()).unwrap_or_default();
        for h in handles {
            let _ = h.join();
        }
    }
}

struct Server {
    plans: Vec<Plan>,
    loaded: Vec<LoadedPlan>,
    config: RunConfig,
    workers: Workers,
    store: RefCell<SqliteStore>,
    /// Wakes the scanner (an event arrived).
    scan_now: tokio::sync::Notify,
    /// Per blocked run: inbound events up to this sequence number were checked.
    scanned: RefCell<HashMap<String, i64>>,
}

struct Schedule {
    plan: usize,
    cron_text: String,
    cron: croner::Cron,
}

fn schedules(plans: &[Plan]) -> Vec<Schedule> {
    let mut out = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        for t in plan.workflow(&plan.entry).map(|w| w.triggers.as_slice()).unwrap_or_default() {
            if let Trigger::Schedule { cron, .. } = t
                && let Ok(parsed) = triggers::parse_cron(cron)
            {
                out.push(Schedule { plan: i, cron_text: cron.clone(), cron: parsed });
            }
        }
    }
    out
}

pub fn serve(cli: &Cli, args: &ServeArgs) -> Result<(), Failure> {
    let plans = crate::events::trigger_plans(cli)?;
    let addr: SocketAddr = args
        .listen
        .parse()
        .map_err(|_| Failure::usage(format!("`{}` is not an address to listen on (use HOST:PORT, e.g. 127.0.0.1:8750)", args.listen)))?;
    if args.dry_run {
        return dry_run(args, &plans, addr);
    }
    let loaded: Vec<LoadedPlan> =
        plans.iter().map(|p| LoadedPlan::load(p.clone())).collect::<Result<_, _>>().map_err(|e| Failure::usage(e.to_string()))?;
    let config = RunConfig {
        state_path: cli.state_path(),
        project_dir: cli.project_dir(),
        notify: NotifySink::parse(&args.notify.sink).map_err(Failure::usage)?,
        events: cli.events_sink()?,
    };
    let store = runtime::open_store(&config.options()).map_err(|e| Failure::usage(e.to_string()))?;
    if !addr.ip().is_loopback() {
        eprintln!("warning: listening on {addr}, which is not a loopback address; flowc serve has no authentication");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    let server = Rc::new(Server {
        plans,
        loaded,
        config,
        workers: Workers::default(),
        store: RefCell::new(store),
        scan_now: tokio::sync::Notify::new(),
        scanned: RefCell::new(HashMap::new()),
    });
    let grace = Duration::from_secs(args.grace);
    let result = local.block_on(&rt, run_server(server.clone(), addr, grace));
    // Deliver queued CloudEvents before exiting.
    drop(server);
    result
}

fn dry_run(args: &ServeArgs, plans: &[Plan], addr: SocketAddr) -> Result<(), Failure> {
    let now = time::now_ms();
    let mut docs = Vec::new();
    for plan in plans {
        let Some(wf) = plan.workflow(&plan.entry) else { continue };
        let mut list = Vec::new();
        for t in &wf.triggers {
            let mut doc = serde_json::to_value(t).unwrap_or(Value::Null);
            if let Trigger::Event { filter: Some(f), .. } = t {
                doc["filter"] = json!(wf.exprs.get(*f as usize));
            }
            if let Trigger::Schedule { cron, .. } = t {
                let parsed = triggers::parse_cron(cron).map_err(|e| Failure::usage(format!("{}: `{cron}`: {e}", wf.name)))?;
                let mut next = Vec::new();
                let mut at = now;
                for _ in 0..3 {
                    match triggers::next_fire(&parsed, at) {
                        Some(t) => {
                            next.push(time::rfc3339_s(t));
                            at = t;
                        }
                        None => break,
                    }
                }
                doc["next"] = json!(next);
            }
            list.push(doc);
        }
        docs.push(json!({ "workflow": wf.name, "triggers": list }));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "listen": addr.to_string(), "workflows": docs })).unwrap_or_default());
        return Ok(());
    }
    println!("flowc serve would listen on http://{addr}");
    if docs.is_empty() {
        println!("no workflow of the project has a trigger");
    }
    for (plan, doc) in plans.iter().zip(&docs) {
        println!("workflow {}", doc["workflow"].as_str().unwrap_or(""));
        let wf = plan.workflow(&plan.entry);
        for (t, d) in wf.map(|w| w.triggers.as_slice()).unwrap_or_default().iter().zip(doc["triggers"].as_array().into_iter().flatten()) {
            let mut line = format!("  {}", t.describe());
            if let (Trigger::Event { filter: Some(id), .. }, Some(f)) = (t, d["filter"].as_str()) {
                line = line.replace(&format!(" where e{id}"), &format!(" where `{f}`"));
            }
            println!("{line}");
            for next in d["next"].as_array().into_iter().flatten() {
                println!("    next {}", next.as_str().unwrap_or(""));
            }
        }
    }
    Ok(())
}

async fn run_server(server: Rc<Server>, addr: SocketAddr, grace: Duration) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Failure::usage(e.to_string()))?;
    eprintln!("flowc serve listening on http://{bound}");
    let schedules = schedules(&server.plans);
    for s in &schedules {
        log(&format!("schedule {} for workflow {}", s.cron_text, server.plans[s.plan].entry));
    }
    resume_after_shutdown(&server);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let open_connections = Rc::new(std::cell::Cell::new(0usize));
    let all_closed = Rc::new(tokio::sync::Notify::new());

    let scanner = {
        let server = server.clone();
        let mut stop = stop_rx.clone();
        tokio::task::spawn_local(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SCAN_EVERY) => {}
                    _ = server.scan_now.notified() => {}
                    _ = stop.changed() => break,
                }
                scan(&server);
            }
        })
    };
    let scheduler = {
        let server = server.clone();
        let mut stop = stop_rx.clone();
        tokio::task::spawn_local(async move {
            if schedules.is_empty() {
                return;
            }
            let mut last = time::now_ms();
            loop {
                let next = schedules.iter().filter_map(|s| triggers::next_fire(&s.cron, last).map(|t| (t, s))).min_by_key(|(t, _)| *t);
                let Some((at, _)) = next else { return };
                let wait = Duration::from_millis((at - time::now_ms()).max(0) as u64);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
                for s in schedules.iter().filter(|s| triggers::next_fire(&s.cron, last) == Some(at)) {
                    fire_schedule(&server, s, at);
                }
                last = at;
            }
        })
    };

    let mut signals = Signals::new()?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let server = server.clone();
                let mut stop = stop_rx.clone();
                let open = open_connections.clone();
                let closed = all_closed.clone();
                open.set(open.get() + 1);
                tokio::task::spawn_local(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let service = hyper::service::service_fn(move |req| {
                        let server = server.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&server, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(Duration::from_secs(10), conn.as_mut()).await;
                        }
                    }
                    open.set(open.get() - 1);
                    if open.get() == 0 {
                        closed.notify_waiters();
                    }
                });
            }
            _ = signals.next() => break,
        }
    }
    log("stopping: no new requests; finishing those in flight");
    drop(listener);
    let _ = stop_tx.send(true);
    while open_connections.get() > 0 {
        let _ = tokio::time::timeout(Duration::from_millis(100), all_closed.notified()).await;
    }
    let _ = scanner.await;
    let _ = scheduler.await;
    // Runs in flight: let them end or block within the grace period, then pause the rest.
    let deadline = tokio::time::Instant::now() + grace;
    while !server.workers.active().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let remaining = server.workers.active();
    if !remaining.is_empty() {
        log(&format!("pausing {} run(s) still executing; the next flowc serve resumes them", remaining.len()));
        for run in &remaining {
            let _ = server.store.borrow_mut().request_control(run, Control::Shutdown);
        }
    }
    let workers = server.workers.clone();
    let _ = tokio::task::spawn_blocking(move || workers.join_all()).await;
    log("stopped");
    Ok(())
}

/// SIGTERM and SIGINT.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals, Failure> {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).map_err(|e| Failure::usage(format!("cannot handle SIGTERM: {e}")))?;
        let int = signal(SignalKind::interrupt()).map_err(|e| Failure::usage(format!("cannot handle SIGINT: {e}")))?;
        Ok(Signals { term, int })
    }

    async fn next(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Runs paused by a previous `flowc serve`'s shutdown continue, and runs a
/// trigger created but nobody started (a server that died) start.
fn resume_after_shutdown(server: &Server) {
    let pending = server.store.borrow().runs_with_status(&[RunStatus::Pending]).unwrap_or_default();
    for run in pending.into_iter().filter(|r| r.parent_run.is_none() && r.started_at.is_none()) {
        let runs_dir = runtime::runs_dir_for(&server.config.state_path);
        if matches!(runtime::control::try_lock(&runs_dir, &run.id), Ok(Some(_))) {
            server.workers.start(run.id, &server.config, "starting a run that was created but never started");
        }
    }
    let runs = server.store.borrow().runs_with_status(&[RunStatus::Paused]).unwrap_or_default();
    for run in runs.into_iter().filter(|r| r.parent_run.is_none()) {
        let events = server.store.borrow().events(&run.id).unwrap_or_default();
        let last = events.iter().rev().find(|e| e.step.is_none());
        if last.is_some_and(|e| e.event == "paused" && e.payload.get("reason").and_then(Value::as_str) == Some("shutdown")) {
            server.workers.start(run.id, &server.config, "resuming after the last shutdown");
        }
    }
}

fn fire_schedule(server: &Server, s: &Schedule, at: i64) {
    let plan = &server.plans[s.plan];
    let origin = RunOrigin {
        initiator: None,
        trigger: "schedule".into(),
        detail: json!({ "cron": s.cron_text, "scheduled_for": time::rfc3339_s(at) }),
        version: None,
        plan_hash: String::new(),
    };
    match triggers::create_run(plan, serde_json::Map::new(), &origin, &server.config.options()) {
        Ok(c) if c.error.is_none() => server.workers.start(c.run, &server.config, &format!("scheduled run of {} ({})", c.workflow, s.cron_text)),
        Ok(c) => log(&format!("scheduled run {} of {} failed: {}", c.run, c.workflow, c.error.unwrap_or_default())),
        Err(e) => log(&format!("schedule {} of {}: {e}", s.cron_text, plan.entry)),
    }
}

/// Continues blocked runs that have a decision, a matching event or an expired gate.
fn scan(server: &Server) {
    let store = server.store.borrow();
    let Ok(blocked) = store.runs_with_status(&[RunStatus::Blocked]) else { return };
    let now = time::now();
    let mut live = HashSet::new();
    for run in blocked.into_iter().filter(|r| r.parent_run.is_none()) {
        if server.workers.is_active(&run.id) {
            live.insert(run.id.clone());
            continue;
        }
        let mut tree = vec![run.clone()];
        let mut i = 0;
        while i < tree.len() {
            let children = store.child_runs(&tree[i].id).unwrap_or_default();
            tree.extend(children.into_iter().filter(|c| !c.status.is_terminal()));
            i += 1;
        }
        live.extend(tree.iter().map(|r| r.id.clone()));
        let mut why = None;
        for r in &tree {
            if !store.pending_gate_requests(&r.id, 0).unwrap_or_default().is_empty() {
                why = Some("a decision arrived");
                break;
            }
            let gates = store.blocked_gates(&r.id).unwrap_or_default();
            if gates.iter().any(|g| g.gate.get("deadline").and_then(Value::as_str).is_some_and(|d| d <= now.as_str())) {
                why = Some("a gate's deadline passed");
                break;
            }
            let waits: Vec<_> = gates.iter().filter(|g| g.gate.get("gate").and_then(Value::as_str) == Some("wait")).collect();
            if waits.is_empty() {
                continue;
            }
            let since = r.started_at.clone().unwrap_or_default();
            let after = server.scanned.borrow().get(&r.id).copied().unwrap_or(0);
            let events = store.inbound_events_after(after, &since).unwrap_or_default();
            let delivered = store.deliveries(&r.id).unwrap_or_default();
            let hit = events.iter().any(|e| {
                !delivered.contains(&e.seq)
                    && waits.iter().any(|g| {
                        inbox::wait_matches(
                            g.gate.get("event").and_then(Value::as_str).unwrap_or(""),
                            g.gate.get("subject").and_then(Value::as_str),
                            &e.event,
                        )
                    })
            });
            if let Some(last) = events.last() {
                server.scanned.borrow_mut().insert(r.id.clone(), last.seq);
            }
            if hit {
                why = Some("an event it waits for arrived");
                break;
            }
        }
        if let Some(why) = why {
            // Rescan from the start next time it blocks: it may wait for something else.
            for r in &tree {
                server.scanned.borrow_mut().remove(&r.id);
            }
            server.workers.start(run.id.clone(), &server.config, why);
        }
    }
    server.scanned.borrow_mut().retain(|k, _| live.contains(k));
}

// ----------------------------------------------------------------- HTTP

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r
}

fn bad(msg: impl Into<String>) -> Reply {
    reply(StatusCode::BAD_REQUEST, json!({ "error": msg.into() }))
}

async fn handle(server: &Rc<Server>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => reply(StatusCode::OK, json!({ "status": "ok" })),
        (&Method::GET, ["runs", run]) => {
            let run = run.to_string();
            let store = server.store.borrow();
            match runtime::RunReport::load(&*store, &run) {
                Ok(report) => {
                    let mut doc = report.to_json();
                    if report.status == RunStatus::Blocked {
                        doc["blocked"] = crate::people::blocked_json(&store, &run);
                    }
                    reply(StatusCode::OK, doc)
                }
                Err(e) => reply(StatusCode::NOT_FOUND, json!({ "error": e.to_string() })),
            }
        }
        (&Method::POST, ["events"]) => {
            let headers = req.headers().clone();
            match body_of(req).await {
                Ok(body) => post_events(server, &headers, body),
                Err(r) => r,
            }
        }
        (&Method::POST, ["webhooks", provider, rest @ ..]) if rest.is_empty() || rest.len() == 2 => {
            let provider = provider.to_string();
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            let headers = req.headers().clone();
            match body_of(req).await {
                Ok(body) => post_webhook(server, &provider, &rest, &headers, body),
                Err(r) => r,
            }
        }
        (&Method::POST, ["runs", run, "steps", step, action]) => {
            let (run, step, action) = (run.to_string(), step.to_string(), action.to_string());
            match body_of(req).await {
                Ok(body) => post_decision(server, &run, &step, &action, body),
                Err(r) => r,
            }
        }
        (_, ["health"]) | (_, ["events"]) | (_, ["webhooks", ..]) | (_, ["runs", _]) | (_, ["runs", _, "steps", _, _]) => {
            reply(StatusCode::METHOD_NOT_ALLOWED, json!({ "error": format!("{method} is not allowed on {path}") }))
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({ "error": format!(
                "no such endpoint: {method} {path}; see POST /events, POST /webhooks/PROVIDER, \
                 POST /runs/RUN/steps/STEP/approve|reject|complete, GET /runs/RUN, GET /health"
            ) }),
        ),
    }
}

async fn body_of(req: Request<Incoming>) -> Result<Bytes, Reply> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": format!("the body is larger than {} bytes", MAX_BODY) }),
        )),
        Err(e) => Err(bad(format!("cannot read the body: {e}"))),
    }
}

fn header<'a>(headers: &'a hyper::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
            let data = if content_type.ends_with("json") {
                serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?
            } else {
                json!(String::from_utf8(body.to_vec()).map_err(|_| "the body is not UTF-8 text".to_string())?)
            };
            if !content_type.is_empty() {
                event.insert("datacontenttype".into(), json!(content_type));
            }
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

fn post_events(server: &Rc<Server>, headers: &hyper::HeaderMap, body: Bytes) -> Reply {
    let events = match events_from(headers, &body) {
        Ok(e) => e,
        Err(msg) => return bad(msg),
    };
    for (i, e) in events.iter().enumerate() {
        if let Err(msg) = inbox::validate_event(e) {
            return bad(if events.len() > 1 { format!("event {i}: {msg}") } else { msg });
        }
    }
    accept(server, events, None)
}

/// Stores events (all or none), starts the runs their triggers fire, and
/// wakes the scanner for the runs waiting on them.
fn accept(server: &Rc<Server>, events: Vec<Value>, webhook: Option<(&str, &str, &str)>) -> Reply {
    let stored = match inbox::store_events(&mut server.store.borrow_mut(), events) {
        Ok(s) => s,
        Err(runtime::Error::Input(msg)) => return bad(msg),
        Err(e) => return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e.to_string() })),
    };
    let mut accepted = Vec::new();
    for s in stored {
        let mut doc = json!({ "id": s.event["id"], "type": s.event["type"], "seq": s.seq, "duplicate": s.duplicate });
        if s.duplicate {
            accepted.push(doc);
            continue;
        }
        let mut started = Vec::new();
        let mut problems = Vec::new();
        let fired: Vec<(usize, serde_json::Map<String, Value>)> = match webhook {
            Some((provider, entity, action)) => server
                .plans
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    let wf = p.workflow(&p.entry)?;
                    wf.triggers
                        .iter()
                        .any(|t| triggers::webhook_fires(t, provider, entity, action))
                        .then(|| (i, triggers::inputs_from(wf, &inbox::data_fields(&s.event))))
                })
                .collect(),
            None => {
                let (fired, errors) = triggers::fired_by_event(&server.loaded, &s.event);
                problems = errors;
                fired
            }
        };
        let (trigger, detail) = match webhook {
            Some((p, e, a)) => ("webhook", json!({ "id": s.event["id"], "provider": p, "entity": e, "action": a })),
            None => ("event", json!({ "id": s.event["id"], "type": s.event["type"], "subject": s.event.get("subject"), "source": s.event["source"] })),
        };
        for (i, inputs) in fired {
            let origin = RunOrigin { initiator: None, trigger: trigger.into(), detail: detail.clone(), version: None, plan_hash: String::new() };
            match triggers::create_run(&server.plans[i], inputs, &origin, &server.config.options()) {
                Ok(c) => {
                    if c.error.is_none() {
                        server.workers.start(c.run.clone(), &server.config, &format!("started by {trigger} {} for {}", s.event["type"], c.workflow));
                    }
                    started.push(json!(c));
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        let waiting = inbox::waiting_for(&server.store.borrow(), s.seq, &s.event).unwrap_or_default();
        doc["started"] = json!(started);
        doc["waiting"] = json!(waiting);
        if !problems.is_empty() {
            doc["problems"] = json!(problems);
        }
        accepted.push(doc);
    }
    server.scan_now.notify_one();
    reply(StatusCode::ACCEPTED, json!({ "accepted": accepted }))
}

/// `POST /runs/RUN/steps/STEP/approve|reject|complete` with
/// `{"as": NAME, "comment"?: TEXT, "output"?: JSON}`: the decision is
/// checked and filed as `flowc approve|reject|complete` would, and the run
/// continues on a worker. 202 when filed, 409 when the gate refuses it.
fn post_decision(server: &Rc<Server>, run: &str, step: &str, action: &str, body: Bytes) -> Reply {
    let Some(action) = flowc_interpreter::state::GateAction::parse(action) else {
        return reply(StatusCode::NOT_FOUND, json!({ "error": format!("`{action}` is not a decision; use approve, reject or complete") }));
    };
    let doc: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad("the body must be a JSON object: {\"as\": NAME, \"comment\": TEXT, \"output\": JSON}"),
        Err(e) => return bad(format!("the body is not JSON: {e}")),
    };
    let Some(actor) = doc.get("as").and_then(Value::as_str).filter(|a| !a.is_empty()) else {
        return bad("say who decides: {\"as\": NAME}");
    };
    let comment = match doc.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c.as_str()),
        Some(_) => return bad("`comment` must be a string"),
    };
    let output = doc.get("output");
    if action == flowc_interpreter::state::GateAction::Complete && output.is_none() {
        return bad("a completion needs the task's `output`");
    }
    let filed = runtime::people::file(&mut server.store.borrow_mut(), run, step, action, actor, comment, output);
    match filed {
        Ok(f) => {
            server.scan_now.notify_one();
            reply(StatusCode::ACCEPTED, json!({ "request": f.id, "run": run, "root": f.root, "step": step, "action": action, "by": actor }))
        }
        Err(runtime::Error::Run(msg)) if msg.starts_with("there is no run") => reply(StatusCode::NOT_FOUND, json!({ "error": msg })),
        Err(runtime::Error::Run(msg)) => reply(StatusCode::CONFLICT, json!({ "error": msg })),
        Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": e.to_string() })),
    }
}

/// `POST /webhooks/PROVIDER[/ENTITY/ACTION]`: the entity and action come from
/// the path, else the `X-Flow-Entity`/`X-Flow-Action` headers, else (GitHub)
/// `X-GitHub-Event` and the body's `action`, else the body's `entity` (or
/// `entity_type`) and `action` fields. The webhook is stored as the event
/// `webhook.PROVIDER.ENTITY.ACTION` with the body as `data`.
fn post_webhook(server: &Rc<Server>, provider: &str, rest: &[String], headers: &hyper::HeaderMap, body: Bytes) -> Reply {
    let data: Value = match serde_json::from_slice(&body) {
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
        .or_else(|| field("entity_type"));
    let action = rest.get(1).cloned().or_else(|| header(headers, "x-flow-action").map(str::to_string)).or_else(|| field("action"));
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
    let id = header(headers, "x-flow-delivery").or_else(|| header(headers, "x-github-delivery")).map(str::to_string);
    let event = inbox::new_event(&format!("webhook.{provider}.{entity}.{action}"), None, Some(data), &format!("/webhooks/{provider}"), id.as_deref());
    accept(server, vec![event], Some((provider, &entity, &action)))
}
