//! `flowc serve`: schedules, CloudEvents and webhooks over HTTP, and the
//! runs they start or continue.
//!
//! The security model is in docs/security.md; in short, every route but
//! `GET /health` needs a credential (an API token, or for a webhook a valid
//! signature), routes are matched exactly, bodies must be JSON, `Host` and
//! `Origin` must be ones this server answers to, and non-loopback listeners
//! need TLS.
//!
//! One tokio current-thread runtime holds the listener, the connections
//! (hyper, HTTP/1.1), the schedule loop and a scanner. Nothing on it touches
//! the state database: database work runs on tokio's blocking pool with a
//! store from a small pool ([`Server::blocking`]), so a database locked by
//! another process slows the requests that need it and nothing else.
//! Runs execute on worker threads, one per run, each with its own runtime
//! (as `flowc run` does), returning when the run ends or blocks. The scanner
//! continues blocked runs that have something to act on: a decision filed by
//! `flowc approve|reject|complete`, a stored event that a `wait` matches, or a
//! gate past its deadline.
//!
//! A request is answered only after what it carries is committed; a bad
//! payload is refused with 400 and a JSON error before anything is stored.
//! SIGTERM (or SIGINT) stops accepting, lets requests in flight finish, gives
//! running runs `--grace` seconds to end or block, then pauses the rest
//! (reason `shutdown`, running steps finish first); the next `flowc serve`
//! resumes them, and also resumes runs a killed server left `running`.

mod http;
mod schedules;
mod workers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Args;
use flowc_interpreter::plan::{LoadedPlan, Plan, Trigger};
use flowc_interpreter::runtime::{self, triggers, NotifySink};
use flowc_interpreter::state::{Control, SqliteStore, Store};
use flowc_interpreter::time;
use serde_json::{json, Value};

use crate::{Cli, Failure};
use workers::{resume_after_restart, scan, RunConfig, Workers};

/// How often blocked runs are looked at (an HTTP event or decision wakes the scan at once).
const SCAN_EVERY: Duration = Duration::from_secs(1);
/// Database connections requests share; requests beyond wait for one.
const DB_SLOTS: usize = 4;
/// A request that cannot get a database connection within this is answered 503.
const DB_WAIT: Duration = Duration::from_secs(30);

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen. Loopback by default; any other address needs --tls-cert and --tls-key
    /// (or --insecure-http, e.g. behind a TLS-terminating reverse proxy on the same host).
    #[arg(long, default_value = "127.0.0.1:8750", value_name = "ADDR")]
    pub listen: String,
    /// Print the triggers, the next fire times of the schedules and the routes, then exit.
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
    /// The TLS certificate chain (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(long)]
    pub insecure_http: bool,
    /// A host name (and optional :port) clients use to reach this server; requests with any
    /// other `Host` are refused. Loopback names are always allowed on a loopback listener.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// A browser origin (scheme://host[:port]) allowed to call the API cross-origin (CORS).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Connections open at once, in all.
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_connections: usize,
    /// Connections open at once from one client address.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_connections_per_address: usize,
    /// A client must send a request's headers within this.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub header_timeout: u64,
    /// A connection with no request in flight and no traffic for this long is closed.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Requests per minute one token may make (bursts of a tenth of it, at least 10).
    #[arg(long, default_value_t = 600, value_name = "N")]
    pub rate_limit: u32,
}

pub(super) fn log(line: &str) {
    eprintln!("[{}] {line}", time::rfc3339_s(time::now_ms()));
}

/// Database connections for requests, the scanner and the schedules.
struct StorePool {
    free: Mutex<Vec<SqliteStore>>,
    slots: tokio::sync::Semaphore,
}

/// Why database work did not run.
enum Busy {
    /// No connection came free within [`DB_WAIT`].
    Timeout,
    /// The database could not be opened.
    Open(String),
    /// The work panicked (a bug); the connection it held is dropped.
    Panicked,
}

impl Busy {
    fn message(&self) -> String {
        match self {
            Busy::Timeout => format!("the state database is busy (no connection came free within {} s); try again", DB_WAIT.as_secs()),
            Busy::Open(e) => format!("cannot open the state database: {e}"),
            Busy::Panicked => "internal error while handling the request".into(),
        }
    }
}

pub(crate) struct Server {
    plans: Vec<Plan>,
    loaded: Vec<LoadedPlan>,
    config: RunConfig,
    workers: Workers,
    db: StorePool,
    /// Wakes the scanner (an event or decision arrived).
    scan_now: tokio::sync::Notify,
    /// A scan is under way (scans never overlap).
    scanning: AtomicBool,
    /// Per blocked run: inbound events up to this sequence number were checked.
    scanned: Mutex<flowc_interpreter::runtime::inbox::Scanner>,
    guard: http::guard::Guard,
}

impl Server {
    /// Runs `f` with a database connection on the blocking pool, never on
    /// the thread that accepts connections.
    async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T, Busy>
    where
        T: Send + 'static,
        F: FnOnce(&Server, &mut SqliteStore) -> T + Send + 'static,
    {
        let _permit = match tokio::time::timeout(DB_WAIT, self.db.slots.acquire()).await {
            Ok(Ok(p)) => p,
            _ => return Err(Busy::Timeout),
        };
        let server = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let taken = server.db.free.lock().ok().and_then(|mut f| f.pop());
            let mut store = match taken {
                Some(s) => s,
                None => runtime::open_sqlite(&server.config.options()).map_err(|e| Busy::Open(e.to_string()))?,
            };
            let out = f(&server, &mut store);
            if let Ok(mut free) = server.db.free.lock() {
                free.push(store);
            }
            Ok(out)
        });
        task.await.unwrap_or(Err(Busy::Panicked))
    }
}

pub fn serve(cli: &Cli, args: &ServeArgs) -> Result<(), Failure> {
    let plans = crate::events::trigger_plans(cli)?;
    let addr: SocketAddr = args
        .listen
        .parse()
        .map_err(|_| Failure::usage(format!("`{}` is not an address to listen on (use HOST:PORT, e.g. 127.0.0.1:8750)", args.listen)))?;
    let guard = http::guard::Guard::new(args, addr, &cli.project_dir()).map_err(Failure::usage)?;
    if args.dry_run {
        return dry_run(args, &plans, addr);
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(http::tls::acceptor(cert, key).map_err(Failure::usage)?),
        _ => None,
    };
    if tls.is_none() && !addr.ip().is_loopback() && !args.insecure_http {
        return Err(Failure::usage(format!(
            "{addr} is not a loopback address: anyone on the network could read tokens and decisions in transit; \
             give --tls-cert and --tls-key, or --insecure-http if a TLS-terminating proxy on this host forwards to it"
        )));
    }
    let loaded: Vec<LoadedPlan> =
        plans.iter().map(|p| LoadedPlan::load(p.clone())).collect::<Result<_, _>>().map_err(|e| Failure::usage(e.to_string()))?;
    let config = RunConfig {
        state_path: cli.state_path(),
        project_dir: cli.project_dir(),
        notify: NotifySink::parse(&args.notify.sink).map_err(Failure::usage)?,
        events: cli.events_sink()?,
    };
    // Open (and create, migrate, check) the database once up front: a bad one stops here.
    let store = runtime::open_sqlite(&config.options()).map_err(|e| Failure::usage(e.to_string()))?;
    let server = Arc::new(Server {
        plans,
        loaded,
        db: StorePool { free: Mutex::new(vec![store]), slots: tokio::sync::Semaphore::new(DB_SLOTS) },
        config,
        workers: Workers::default(),
        scan_now: tokio::sync::Notify::new(),
        scanning: AtomicBool::new(false),
        scanned: Mutex::new(Default::default()),
        guard,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::usage(format!("cannot start the async runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    let limits = http::conn::Limits::from(args);
    let grace = Duration::from_secs(args.grace);
    let result = local.block_on(&rt, run_server(server.clone(), addr, tls, limits, grace));
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
    let routes: Vec<Value> = http::routes::ROUTES.iter().map(|r| json!({ "method": r.method, "path": r.pattern, "access": r.access.describe() })).collect();
    if args.json {
        let doc = json!({ "listen": addr.to_string(), "workflows": docs, "routes": routes });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(());
    }
    let scheme = if args.tls_cert.is_some() { "https" } else { "http" };
    println!("flowc serve would listen on {scheme}://{addr}");
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
    println!("routes");
    for r in http::routes::ROUTES {
        println!("  {:<5}{:<48}{}", r.method, r.pattern, r.access.describe());
    }
    Ok(())
}

async fn run_server(
    server: Arc<Server>,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: http::conn::Limits,
    grace: Duration,
) -> Result<(), Failure> {
    // First: a SIGTERM during the start (resuming, catching up) is then a clean stop.
    let mut signals = Signals::new()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| Failure::usage(e.to_string()))?;
    server.guard.listening_on(bound);
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("flowc serve listening on {scheme}://{bound}");
    let schedules = schedules::schedules(&server.plans);
    for s in &schedules {
        log(&schedules::describe(s));
    }
    if let Err(e) = server.blocking(|s, store| resume_after_restart(s, store)).await {
        log(&format!("cannot look for runs to resume: {}", e.message()));
    }
    // Fire times missed while no server ran, before the first new one.
    let now = time::now_ms();
    let schedules = {
        let caught = server
            .blocking(move |s, store| {
                schedules::catch_up(s, store, &schedules, now);
                schedules
            })
            .await;
        match caught {
            Ok(s) => s,
            Err(e) => return Err(Failure::usage(format!("cannot catch up the schedules: {}", e.message()))),
        }
    };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);

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
                if server.scanning.swap(true, Ordering::AcqRel) {
                    continue;
                }
                if let Err(e) = server.blocking(|s, store| scan(s, store)).await {
                    log(&format!("scan: {}", e.message()));
                }
                server.scanning.store(false, Ordering::Release);
            }
        })
    };
    let scheduler = tokio::task::spawn_local(schedules::run(server.clone(), schedules, now, stop_rx.clone()));

    let connections = http::conn::Connections::new(limits);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                connections.accept(stream, peer, &server, tls.clone(), stop_rx.clone());
            }
            _ = signals.next() => break,
        }
    }
    log("stopping: no new requests; finishing those in flight");
    drop(listener);
    let _ = stop_tx.send(true);
    connections.all_closed().await;
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
        let paused = server
            .blocking(move |_, store| {
                for run in &remaining {
                    let _ = store.request_control(run, Control::Shutdown);
                }
            })
            .await;
        if let Err(e) = paused {
            log(&format!("cannot pause the runs: {}", e.message()));
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

