//! End-to-end tests of `flowc serve` on an ephemeral loopback port, with real
//! HTTP requests (a small HTTP/1.1 client below), including malformed ones.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

/// The principals every test project declares (flowc.toml) and a token for each.
const DIRECTORY: &str = r#"
[principals.admin]
roles = ["admin"]
[principals.ann]
roles = ["decide", "trigger", "read"]
[principals.bob]
roles = ["decide", "read"]
[principals.reader]
roles = ["read"]
[principals.feeder]
roles = ["trigger"]
[principals.ops]
roles = ["operate"]
[principals.carol]
roles = ["decide"]
"#;

fn project(name: &str, files: &[(&str, &str)]) -> Project {
    let p = Project::new(&format!("serve-{name}"));
    let me = os_user();
    let directory = format!("{DIRECTORY}[principals.\"{me}\"]\nroles = [\"decide\"]\n[groups]\nboss = [\"ann\", \"bob\", \"{me}\"]\n");
    std::fs::write(p.path("flowc.toml"), directory).unwrap();
    for (path, text) in files {
        std::fs::write(p.path(path), text).unwrap();
    }
    p
}

/// `flowc auth token create PRINCIPAL ARGS…`: the token, printed once.
fn token(p: &Project, principal: &str, args: &[&str]) -> String {
    let mut all = vec!["auth", "token", "create", principal];
    all.extend_from_slice(args);
    let out = p.cmd(&all).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let token = stdout(&out).trim().to_string();
    assert!(token.starts_with("flowc_"), "{token}");
    token
}

/// A running `flowc serve`, killed (SIGKILL) if the test does not stop it.
struct Server {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
    /// An admin token, used by `request`/`post`.
    admin: String,
}

/// One HTTP/1.1 exchange on a fresh connection; the status and the JSON body.
fn exchange(port: u16, raw: &str) -> (u16, Value) {
    let (status, _, body) = exchange_full(port, raw);
    (status, body)
}

fn exchange_full(port: u16, raw: &str) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status: u16 = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_ascii_lowercase(), serde_json::from_str(body.trim()).unwrap_or(Value::Null))
}

/// A connection whose client side is bound to `local` (std cannot bind before connecting).
fn connect_from(local: [u8; 4], port: u16) -> TcpStream {
    use std::os::fd::FromRawFd;
    let addr = |ip: [u8; 4], port: u16| {
        // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
        let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sa.sin_family = libc::AF_INET as libc::sa_family_t;
        sa.sin_port = port.to_be();
        sa.sin_addr.s_addr = u32::from_ne_bytes(ip);
        sa
    };
    let (me, server) = (addr(local, 0), addr([127, 0, 0, 1], port));
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: socket calls on a descriptor this function owns; ownership moves to the TcpStream.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0);
        assert_eq!(libc::bind(fd, &me as *const _ as *const libc::sockaddr, len), 0);
        assert_eq!(libc::connect(fd, &server as *const _ as *const libc::sockaddr, len), 0);
        TcpStream::from_raw_fd(fd)
    }
}

/// One exchange from a given loopback address (each address has its own failure budget).
fn exchange_from(local: [u8; 4], port: u16, raw: &str) -> (u16, Value) {
    let mut stream = connect_from(local, port);
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status: u16 = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body.trim()).unwrap_or(Value::Null))
}

fn raw_request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str("Host: localhost\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    req
}

impl Server {
    fn start(p: &Project, extra: &[&str]) -> Server {
        let admin = token(p, "admin", &[]);
        Server::start_with(p, extra, admin)
    }

    fn start_with(p: &Project, extra: &[&str], admin: String) -> Server {
        Server::start_env(p, extra, admin, &[])
    }

    fn start_env(p: &Project, extra: &[&str], admin: String, envs: &[(&str, &str)]) -> Server {
        let mut args = vec!["serve", "--notify", "none"];
        if !extra.contains(&"--listen") {
            args.extend_from_slice(&["--listen", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        let mut child = p
            .cmd(&args)
            .envs(envs.iter().copied())
            .env_remove("FLOW_USER")
            .env_remove("FLOW_EVENTS_SINK")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut port = 0;
        let start = std::time::Instant::now();
        let mut seen = Vec::new();
        while port == 0 {
            assert!(start.elapsed() < Duration::from_secs(60), "flowc serve did not start: {seen:?}");
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                seen.extend(rx.try_iter());
                panic!("flowc serve exited ({status}): {seen:?}");
            }
            let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else { continue };
            seen.push(line.clone());
            if let Some(addr) = line.strip_prefix("flowc serve listening on ").and_then(|l| l.split_once("://")).map(|(_, a)| a.to_string())
            {
                port = addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        }
        Server { child, port, lines: rx, admin }
    }

    /// A request with the admin token (and a JSON content type for bodies).
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let bearer = format!("Bearer {}", self.admin);
        self.request_as(Some(&bearer), method, path, headers, body)
    }

    /// A request with this Authorization header (or none).
    fn request_as(&self, auth: Option<&str>, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let mut all: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = auth {
            all.push(("Authorization", a));
        }
        if method == "POST" && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
            all.push(("Content-Type", "application/json"));
        }
        all.extend_from_slice(headers);
        exchange(self.port, &raw_request(method, path, &all, body))
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        self.request("POST", path, headers, body)
    }

    fn post_with(&self, token: &str, path: &str, body: &str) -> (u16, Value) {
        self.request_as(Some(&format!("Bearer {token}")), "POST", path, &[], body)
    }
    /// Polls `GET /runs/RUN` until the run has this status.
    fn wait_status(&self, run: &str, status: &str) -> Value {
        let mut last = Value::Null;
        wait_until(&format!("run {run} to be {status}"), || {
            last = self.request("GET", &format!("/runs/{run}"), &[], "").1;
            last["status"] == status
        });
        last
    }

    fn sigterm(&self) {
        // SAFETY: signalling a child process we started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
    }

    fn terminate(self) -> (i32, Vec<String>) {
        self.sigterm();
        self.wait_exit()
    }

    fn wait_exit(mut self) -> (i32, Vec<String>) {
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "flowc serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let lines: Vec<String> = self.lines.try_iter().collect();
        (status.code().unwrap_or(-1), lines)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const INTAKE: &str = r#"
workflow intake {
  input lead_id: string
  input score: int = 0
  on event "crm.lead.*" subject "leads.*" where `event.data.score > 50`
  on webhook github.pull_request.opened
  on schedule "0 9 * * MON-FRI"
  step note { command "echo lead ${inputs.lead_id} scored ${inputs.score}" }
}

workflow reply {
  input lead: string = "L-1"
  step wait_reply: wait { event "email.reply" subject "leads/${inputs.lead}" }
  output text = `wait_reply.output.data.text`
}
"#;

fn cloudevent(ty: &str, subject: &str, id: &str, data: Value) -> String {
    json!({ "specversion": "1.0", "id": id, "source": "tests", "type": ty, "subject": subject, "data": data }).to_string()
}

#[test]
fn serve_starts_runs_from_cloudevents_and_webhooks_and_refuses_bad_payloads() {
    let p = project("http", &[("intake.flow", INTAKE)]);
    let server = Server::start(&p, &[]);
    assert_eq!(server.request("GET", "/health", &[], ""), (200, json!({ "status": "ok" })));

    let (status, body) = server.post("/events", &[("Content-Type", "application/cloudevents+json")], &cloudevent("crm.lead.qualified", "leads.L-1", "e-1", json!({ "lead_id": "L-1", "score": 90 })));
    assert_eq!(status, 202, "{body}");
    let started = &body["accepted"][0]["started"];
    assert_eq!(started[0]["workflow"], "intake");
    let run = started[0]["run"].as_str().unwrap().to_string();
    let done = server.wait_status(&run, "completed");
    assert_eq!(done["steps"]["note"]["output"], "lead L-1 scored 90");

    // Malformed: not JSON, not a CloudEvent, a batch with one bad event.
    let (status, body) = server.post("/events", &[], "{ not json");
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("not JSON"), "{body}");
    let (status, body) = server.post("/events", &[], r#"{"specversion": "1.0", "id": "x", "source": "tests"}"#);
    assert_eq!((status, body["error"].as_str()), (400, Some("the event has no `type`")));
    let batch = format!("[{}, {{\"specversion\": \"1.0\"}}]", cloudevent("crm.lead.new", "leads.L-2", "e-2", json!({ "lead_id": "L-2", "score": 99 })));
    let (status, body) = server.post("/events", &[("Content-Type", "application/cloudevents-batch+json")], &batch);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("event 1:"), "{body}");
    // Nothing of the refused batch was stored: resending its good event is not a duplicate.
    let (status, body) = server.post("/events", &[], &cloudevent("crm.lead.new", "leads.L-2", "e-2", json!({ "lead_id": "L-2", "score": 99 })));
    assert_eq!(status, 202);
    assert_eq!(body["accepted"][0]["duplicate"], false);
    let again = server.post("/events", &[], &cloudevent("crm.lead.new", "leads.L-2", "e-2", json!({ "lead_id": "L-2", "score": 99 }))).1;
    assert_eq!(again["accepted"][0]["duplicate"], true);
    assert_eq!(again["accepted"][0].get("started"), None);

    // Binary mode: attributes in ce-* headers, the body is the data.
    let (status, body) = server.post(
        "/events",
        &[("ce-specversion", "1.0"), ("ce-id", "b-1"), ("ce-source", "tests"), ("ce-type", "crm.lead.scored"), ("ce-subject", "leads.L-3"), ("Content-Type", "application/json")],
        r#"{"lead_id": "L-3", "score": 70}"#,
    );
    assert_eq!(status, 202, "{body}");
    let run = body["accepted"][0]["started"][0]["run"].as_str().unwrap().to_string();
    assert_eq!(server.wait_status(&run, "completed")["steps"]["note"]["output"], "lead L-3 scored 70");

    // Webhooks: GitHub's header names the entity, the body's `action` the action.
    let (status, body) = server.post("/webhooks/github", &[("X-GitHub-Event", "pull_request"), ("Content-Type", "application/json")], r#"{"action": "opened", "lead_id": "PR-7"}"#);
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"][0]["type"], "webhook.github.pull_request.opened");
    let run = body["accepted"][0]["started"][0]["run"].as_str().unwrap().to_string();
    assert_eq!(server.wait_status(&run, "completed")["steps"]["note"]["output"], "lead PR-7 scored 0");
    let (status, body) = server.post("/webhooks/github", &[], r#"{"lead_id": "PR-8"}"#);
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("entity and action"), "{body}");
    let (status, _) = server.post("/webhooks/hubspot/contact/created", &[], "[1, 2]");
    assert_eq!(status, 400);

    assert_eq!(server.request("GET", "/nowhere", &[], "").0, 404);
    assert_eq!(server.request("GET", "/events", &[], "").0, 405);
    let (code, _) = server.terminate();
    assert_eq!(code, 0);
}

#[test]
fn serve_continues_a_blocked_run_when_its_event_arrives_over_http() {
    let p = project("resume", &[("intake.flow", INTAKE)]);
    let out = p.cmd(&["run", "reply", "--json"]).output().unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run"].as_str().unwrap().to_string();
    let server = Server::start(&p, &[]);
    let (status, body) = server.post("/events", &[], &cloudevent("email.reply", "leads/L-1", "r-1", json!({ "text": "yes please" })));
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"][0]["waiting"][0]["run"], run.as_str());
    let done = server.wait_status(&run, "completed");
    assert_eq!(done["outputs"]["text"], "yes please");
    server.terminate();
}

#[test]
fn serve_stops_on_sigterm_after_letting_running_runs_finish() {
    let flow = r#"
workflow slow {
  on event "go"
  step work { command "sleep 1; echo finished" }
}
"#;
    let p = project("sigterm", &[("slow.flow", flow)]);
    let server = Server::start(&p, &[]);
    let (status, body) = server.post("/events", &[], &cloudevent("go", "x", "g-1", json!({})));
    assert_eq!(status, 202);
    let run = body["accepted"][0]["started"][0]["run"].as_str().unwrap().to_string();
    wait_until("the run to start", || {
        let shown = p.cmd(&["runs", "show", &run, "--json"]).output().unwrap();
        serde_json::from_slice::<Value>(&shown.stdout).map(|v| v["steps"]["work"]["status"] == "running").unwrap_or(false)
    });
    let (code, lines) = server.terminate();
    assert_eq!(code, 0, "{lines:?}");
    let shown: Value = serde_json::from_slice(&p.cmd(&["runs", "show", &run, "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(shown["status"], "completed", "the run in flight finished before serve stopped: {lines:?}");
    assert_eq!(shown["steps"]["work"]["output"], "finished");
}

#[test]
fn serve_pauses_runs_still_executing_after_the_grace_period_and_resumes_them_next_time() {
    let flow = r#"
workflow slow {
  on event "go"
  step work { command "while [ ! -f release ]; do sleep 0.05; done; echo finished" }
  step more after work { command "echo more" }
}
"#;
    let p = project("grace", &[("slow.flow", flow)]);
    let server = Server::start(&p, &["--grace", "0"]);
    let (_, body) = server.post("/events", &[], &cloudevent("go", "x", "g-2", json!({})));
    let run = body["accepted"][0]["started"][0]["run"].as_str().unwrap().to_string();
    wait_until("the run to start", || {
        let shown = p.cmd(&["runs", "show", &run, "--json"]).output().unwrap();
        serde_json::from_slice::<Value>(&shown.stdout).map(|v| v["steps"]["work"]["status"] == "running").unwrap_or(false)
    });
    // The run is paused at once; its running step finishes when released, then serve exits.
    server.sigterm();
    let status_of = |p: &Project| -> Value { serde_json::from_slice(&p.cmd(&["runs", "show", &run, "--json"]).output().unwrap().stdout).unwrap() };
    wait_until("the run to pause", || status_of(&p)["status"] == "paused");
    std::fs::write(p.path("release"), "").unwrap();
    let (code, _) = server.wait_exit();
    assert_eq!(code, 0);
    let shown = status_of(&p);
    assert_eq!(shown["status"], "paused");
    let events = p.events(&run);
    let paused = events.iter().find(|e| e["event"] == "paused").unwrap();
    assert_eq!(paused["payload"]["reason"], "shutdown");
    assert_eq!(shown["steps"]["work"]["status"], "completed", "the running step finished");
    let server = Server::start(&p, &[]);
    assert_eq!(server.wait_status(&run, "completed")["steps"]["more"]["output"], "more");
    server.terminate();
}

#[test]
fn serve_dry_run_lists_triggers_and_the_next_fire_times() {
    let p = project("dry", &[("intake.flow", INTAKE)]);
    let out = p.cmd(&["serve", "--dry-run", "--json"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["listen"], "127.0.0.1:8750");
    let intake = doc["workflows"].as_array().unwrap().iter().find(|w| w["workflow"] == "intake").unwrap();
    let triggers = intake["triggers"].as_array().unwrap();
    assert_eq!(triggers[0]["filter"], "event.data.score > 50");
    assert_eq!(triggers[1], json!({ "on": "webhook", "provider": "github", "entity": "pull_request", "action": "opened" }));
    let next: Vec<&str> = triggers[2]["next"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert_eq!(next.len(), 3);
    assert!(next.iter().all(|n| n.ends_with("T09:00:00Z")), "{next:?}");
    assert!(next.windows(2).all(|w| w[0] < w[1]));
    let human = p.cmd(&["serve", "--dry-run"]).output().unwrap();
    assert!(stdout(&human).contains("on schedule \"0 9 * * MON-FRI\""), "{}", stdout(&human));
    assert!(stdout(&human).contains("where `event.data.score > 50`"), "{}", stdout(&human));
}

#[test]
fn serve_fires_schedules() {
    let flow = r#"
workflow tick {
  on schedule "* * * * *"
  step t { command "echo tick" }
}
"#;
    let p = project("schedule", &[("tick.flow", flow)]);
    let server = Server::start(&p, &[]);
    // The next minute boundary is at most a minute away.
    let mut runs = Value::Null;
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(150) {
        runs = serde_json::from_slice(&p.cmd(&["runs", "list", "--json"]).output().unwrap().stdout).unwrap_or(Value::Null);
        if runs.as_array().is_some_and(|r| r.iter().any(|r| r["status"] == "completed")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let done = runs.as_array().and_then(|r| r.iter().find(|r| r["status"] == "completed")).unwrap_or_else(|| panic!("no scheduled run: {runs}"));
    let shown: Value = serde_json::from_slice(&p.cmd(&["runs", "show", done["run"].as_str().unwrap(), "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(shown["origin"]["trigger"], "schedule");
    assert_eq!(shown["origin"]["detail"]["cron"], "* * * * *");
    server.terminate();
}

#[test]
fn approvals_and_completions_arrive_over_http() {
    let flow = "workflow t {\n  step ask: approval { approvers [\"boss\"] }\n  step task: human after ask { output { ok: bool } }\n}\n";
    let p = project("http-decide", &[("t.flow", flow)]);
    let out = p.cmd(&["run", "t", "--json"]).output().unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run"].as_str().unwrap().to_string();
    let (ann, bob) = (token(&p, "ann", &[]), token(&p, "bob", &[]));
    let server = Server::start(&p, &[]);
    let (status, body) = server.post_with(&ann, &format!("/runs/{run}/steps/ask/approve"), r#"{"comment": "via chat", "on_behalf_of": "Dana"}"#);
    assert_eq!(status, 202, "{body}");
    assert_eq!((body["by"].as_str(), body["on_behalf_of"].as_str()), (Some("ann"), Some("Dana")));
    wait_until("the task to block", || server.request("GET", &format!("/runs/{run}"), &[], "").1["steps"]["task"]["status"] == "blocked");
    let (status, body) = server.post_with(&bob, &format!("/runs/{run}/steps/task/complete"), r#"{"output": {"ok": "yes"}}"#);
    assert_eq!(status, 409, "the output is checked: {body}");
    let (status, _) = server.post_with(&bob, &format!("/runs/{run}/steps/task/complete"), r#"{"output": {"ok": true}}"#);
    assert_eq!(status, 202);
    let done = server.wait_status(&run, "completed");
    assert_eq!(done["steps"]["ask"]["output"]["comment"], "via chat");
    assert_eq!(done["steps"]["task"]["output"], json!({ "ok": true }));
    // The event log says who decided, with which token, from where.
    let events = p.events(&run);
    let approved = events.iter().find(|e| e["step"] == "ask" && e["event"] == "approved").unwrap_or_else(|| panic!("{events:?}"));
    let text = approved.to_string();
    assert!(text.contains("\"ann\"") && text.contains("127.0.0.1") && text.contains("Dana") && text.contains("\"http\""), "{text}");
    let ann_id = ann.split('_').nth(1).unwrap();
    assert!(text.contains(ann_id), "the token id is recorded: {text}");
    assert!(!text.contains(&ann), "never the token itself: {text}");
    server.terminate();
}

#[test]
fn serve_enforces_the_deadline_of_a_gate_nobody_resolved() {
    let flow = "workflow t {\n  step ask: approval { timeout 1s }\n  step after_ask after all_done(ask) { command \"echo done\" }\n}\n";
    let p = project("deadline", &[("t.flow", flow)]);
    let out = p.cmd(&["run", "t", "--json"]).output().unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run"].as_str().unwrap().to_string();
    let server = Server::start(&p, &[]);
    let done = server.wait_status(&run, "failed");
    assert_eq!(done["steps"]["ask"]["status"], "failed");
    assert_eq!(done["steps"]["after_ask"]["output"], "done");
    server.terminate();
}

#[test]
fn a_decision_filed_while_serve_runs_continues_the_run() {
    let flow = "workflow t {\n  step ask: approval { approvers [\"boss\"] }\n  step next after ask { command \"echo next\" }\n}\n";
    let p = project("decision", &[("t.flow", flow)]);
    let out = p.cmd(&["run", "t", "--json"]).output().unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = serde_json::from_slice::<Value>(&out.stdout).unwrap()["run"].as_str().unwrap().to_string();
    let (carol, reader, feeder) = (token(&p, "carol", &[]), token(&p, "reader", &[]), token(&p, "feeder", &[]));
    let server = Server::start(&p, &[]);
    // Over HTTP: the token decides who it is; a gate refuses whoever is not an approver (409).
    let (status, body) = server.post_with(&carol, &format!("/runs/{run}/steps/ask/approve"), "{}");
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not among the approvers"), "{body}");
    // Roles: reading or triggering is not deciding (403).
    assert_eq!(server.post_with(&reader, &format!("/runs/{run}/steps/ask/approve"), "{}").0, 403);
    assert_eq!(server.post_with(&feeder, &format!("/runs/{run}/steps/ask/approve"), "{}").0, 403);
    // A claimed identity is refused, not believed.
    let (status, body) = server.post_with(&carol, &format!("/runs/{run}/steps/ask/approve"), r#"{"as": "ann"}"#);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("`as` is not accepted"), "{body}");
    assert_eq!(server.post("/runs/nope/steps/ask/approve", &[], "{}").0, 404);
    assert_eq!(server.post(&format!("/runs/{run}/steps/ask/bless"), &[], "{}").0, 404);
    // Whoever takes the run's lock first (this command or the server) applies it.
    let out = p.cmd(&["approve", &run, "ask"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(server.wait_status(&run, "completed")["steps"]["next"]["output"], "next");
    server.terminate();
}

// ----------------------------------------------------------------- as an attacker would

/// Fills a route pattern's `{params}`.
fn concrete(pattern: &str) -> String {
    pattern.replace("{run}", "r-1").replace("{step}", "ask").replace("{provider}", "github").replace("{entity}", "pull_request").replace("{action}", "opened")
}

#[test]
fn every_route_refuses_requests_without_valid_credentials() {
    let p = project("deny", &[("intake.flow", INTAKE)]);
    let out = p.cmd(&["serve", "--dry-run", "--json"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let routes: Vec<(String, String, String)> = serde_json::from_slice::<Value>(&out.stdout).unwrap()["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["method"].as_str().unwrap().to_string(), r["path"].as_str().unwrap().to_string(), r["access"].as_str().unwrap().to_string()))
        .collect();
    assert!(routes.len() >= 10, "{routes:?}");
    let public: Vec<_> = routes.iter().filter(|r| r.2 == "public").map(|r| format!("{} {}", r.0, r.1)).collect();
    assert_eq!(public, ["GET /health"]);

    let reader = token(&p, "reader", &[]);
    let revoked = token(&p, "ann", &[]);
    let expired = token(&p, "ann", &["--expires", "1s"]);
    let list: Value = serde_json::from_slice(&p.cmd(&["auth", "token", "list", "--json"]).output().unwrap().stdout).unwrap();
    let revoked_id = revoked.split('_').nth(1).unwrap();
    assert!(list.to_string().contains(revoked_id), "{list}");
    assert!(!list.to_string().contains(&revoked), "the list never shows a token: {list}");
    let out = p.cmd(&["auth", "token", "revoke", revoked_id]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let server = Server::start(&p, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    let bogus = format!("Bearer flowc_{}_{}", "0".repeat(12), "0".repeat(64));
    let revoked = format!("Bearer {revoked}");
    let expired = format!("Bearer {expired}");
    let reader = format!("Bearer {reader}");
    let mut client = 0u8;
    for (method, pattern, _) in routes.iter().filter(|r| r.2 != "public") {
        let path = concrete(pattern);
        let signed = pattern.starts_with("/webhooks");
        for auth in [None, Some(bogus.as_str()), Some(revoked.as_str()), Some(expired.as_str()), Some("Basic YWRtaW46YWRtaW4="), Some("Bearer")] {
            if auth.is_none() && signed {
                continue; // covered below: a webhook without a token needs a signature
            }
            // Each from its own address: failed authentications are limited per address.
            client += 1;
            let mut headers = vec![("Content-Type", "application/json")];
            if let Some(a) = auth {
                headers.push(("Authorization", a));
            }
            let (status, body) = exchange_from([127, 0, 1, client], server.port, &raw_request(method, &path, &headers, "{}"));
            assert_eq!(status, 401, "{method} {path} with {auth:?}: {body}");
        }
        let (status, body) = server.request_as(None, method, &path, &[], r#"{"action": "opened"}"#);
        assert_eq!(status, 401, "{method} {path} without credentials: {body}");
        if method == "POST" {
            let (status, body) = server.request_as(Some(&reader), method, &path, &[], "{}");
            assert_eq!(status, 403, "{method} {path} with a read-only token: {body}");
        }
    }
    // Paths are matched exactly: near misses are not public, and unknown paths say nothing without a token.
    for path in ["/health/", "//health", "/Health", "/health/x", "/x/health", "/healthz", "/runs/r-1/", "/nowhere", "/runs/../health", "/%68ealth"] {
        assert_eq!(server.request_as(None, "GET", path, &[], "").0, 401, "{path}");
    }
    assert_eq!(server.request_as(None, "POST", "/health", &[], "{}").0, 401);
    assert_eq!(server.request_as(None, "GET", "/health", &[], "").0, 200);
    assert_eq!(server.request("GET", "/nowhere", &[], "").0, 404);
    // Guessing tokens from one address: ten failures, then 429.
    let statuses: Vec<u16> = (0..12)
        .map(|_| exchange_from([127, 0, 2, 1], server.port, &raw_request("GET", "/runs/x", &[("Authorization", &bogus)], "")).0)
        .collect();
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert_eq!(&statuses[10..], &[429, 429], "{statuses:?}");
    // Nothing was stored by any refused request.
    let events = p.cmd(&["runs", "list", "--json"]).output().unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&events.stdout).unwrap(), json!([]), "{}", stderr(&events));
    server.terminate();
}

#[test]
fn browsers_cannot_drive_the_server() {
    let p = project("browser", &[("intake.flow", INTAKE)]);
    let server = Server::start(&p, &["--cors-origin", "https://console.example.com"]);
    let event = cloudevent("crm.lead.qualified", "leads.L-1", "e-1", json!({ "lead_id": "L-1", "score": 90 }));
    // A form post cannot send JSON: text/plain and form bodies are refused before they are read.
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let (status, body) = server.post("/events", &[("Content-Type", ct)], &event);
        assert_eq!(status, 415, "{ct}: {body}");
    }
    // DNS rebinding: a Host this server does not answer to.
    let (status, body) = server.post("/events", &[("Host", "evil.example:8750")], &event);
    assert_eq!(status, 421, "{body}");
    // A cross-site page.
    let (status, body) = server.post("/events", &[("Origin", "https://evil.example")], &event);
    assert_eq!(status, 403, "{body}");
    assert_eq!(server.post("/events", &[("Origin", "null")], &event).0, 403);
    assert_eq!(server.request("GET", "/runs/x", &[("Sec-Fetch-Site", "cross-site")], "").0, 403);
    // Nothing was stored.
    let runs: Value = serde_json::from_slice(&p.cmd(&["runs", "list", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(runs, json!([]));
    // A configured origin gets CORS, and its preflight is answered.
    let (status, head, _) = exchange_full(
        server.port,
        &raw_request("OPTIONS", "/events", &[("Origin", "https://console.example.com"), ("Access-Control-Request-Method", "POST")], ""),
    );
    assert_eq!(status, 204, "{head}");
    assert!(head.contains("access-control-allow-origin: https://console.example.com"), "{head}");
    let (status, head, _) = exchange_full(server.port, &raw_request("OPTIONS", "/events", &[("Origin", "https://evil.example")], ""));
    assert_eq!(status, 403, "{head}");
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    let bearer = format!("Bearer {}", server.admin);
    let (status, head, _) = exchange_full(
        server.port,
        &raw_request("POST", "/events", &[("Authorization", &bearer), ("Content-Type", "application/json"), ("Origin", "https://console.example.com")], &event),
    );
    assert_eq!(status, 202, "{head}");
    assert!(head.contains("access-control-allow-origin: https://console.example.com"), "{head}");
    // Without configuration, no CORS headers at all.
    let (_, head, _) = exchange_full(server.port, &raw_request("GET", "/runs/x", &[("Authorization", &bearer)], ""));
    assert!(!head.contains("access-control"), "{head}");
    server.terminate();
}

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    for p in parts {
        m.update(p);
    }
    hex::encode(m.finalize().into_bytes())
}

const SIGNED: &str = r#"
secrets hooks {
  GITHUB = from_env("TEST_GITHUB_SECRET")
  STRIPE = from_env("TEST_STRIPE_SECRET")
  ACME = from_env("TEST_ACME_SECRET")
}

workflow on_pr {
  input number: int = 0
  on webhook github.pull_request.opened signed github with hooks.GITHUB
  step note { command "echo pr ${inputs.number}" }
}

workflow on_invoice {
  on webhook stripe.invoice.paid signed stripe with hooks.STRIPE tolerance 5m
  step note { command "echo paid" }
}

workflow on_order {
  on webhook acme.order.created signed hmac "X-Acme-Signature" with hooks.ACME
  step note { command "echo order" }
}
"#;

#[test]
fn webhooks_need_a_valid_signature_and_are_accepted_once() {
    let p = project("signed", &[("hooks.flow", SIGNED)]);
    let admin = token(&p, "admin", &[]);
    // The secrets come from the server's environment.
    let secrets = [("TEST_GITHUB_SECRET", "gh-secret"), ("TEST_STRIPE_SECRET", "st-secret"), ("TEST_ACME_SECRET", "acme-secret")];
    let server = Server::start_env(&p, &[], admin, &secrets);
    let body = r#"{"action": "opened", "number": 7}"#;
    let good = format!("sha256={}", hmac_hex("gh-secret", &[body.as_bytes()]));
    let gh = |sig: Option<&str>, body: &str, delivery: &str| {
        let mut h = vec![("X-GitHub-Event", "pull_request"), ("X-GitHub-Delivery", delivery)];
        if let Some(s) = sig {
            h.push(("X-Hub-Signature-256", s));
        }
        server.request_as(None, "POST", "/webhooks/github", &h, body)
    };
    // Missing, wrong, tampered: 401 and nothing stored.
    assert_eq!(gh(None, body, "d-1").0, 401);
    let (status, err) = gh(Some(&format!("sha256={}", hmac_hex("other", &[body.as_bytes()]))), body, "d-1");
    assert_eq!(status, 401, "{err}");
    assert!(err["error"].as_str().unwrap().contains("does not match"), "{err}");
    assert_eq!(gh(Some(&good), r#"{"action": "opened", "number": 8}"#, "d-1").0, 401);
    assert_eq!(serde_json::from_slice::<Value>(&p.cmd(&["runs", "list", "--json"]).output().unwrap().stdout).unwrap(), json!([]));
    // Valid: the run starts, its initiator is the webhook.
    let (status, body_doc) = gh(Some(&good), body, "d-1");
    assert_eq!(status, 202, "{body_doc}");
    let run = body_doc["accepted"][0]["started"][0]["run"].as_str().unwrap().to_string();
    assert_eq!(server.wait_status(&run, "completed")["steps"]["note"]["output"], "pr 7");
    let shown: Value = serde_json::from_slice(&p.cmd(&["runs", "show", &run, "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(shown["origin"]["initiator"], "webhook:github");
    assert_eq!(shown["origin"]["detail"]["signed"], true);
    // A replay (same signed bytes, whatever the delivery id says) is refused.
    assert_eq!(gh(Some(&good), body, "d-1").0, 409);
    assert_eq!(gh(Some(&good), body, "d-2").0, 409);
    // A signature for one provider's secret does not open another's triggers.
    let (status, _) = server.request_as(None, "POST", "/webhooks/acme/order/created", &[("X-Acme-Signature", &good[7..])], body);
    assert_eq!(status, 401);

    // Stripe: timestamped, several v1 during a rotation, a tolerance.
    let invoice = r#"{"id": "evt_1", "type": "invoice.paid"}"#;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let stripe_sig = |t: u64, secret: &str| hmac_hex(secret, &[t.to_string().as_bytes(), b".", invoice.as_bytes()]);
    let header = format!("t={now},v1={},v1={}", stripe_sig(now, "old-secret"), stripe_sig(now, "st-secret"));
    let stale = format!("t={},v1={}", now - 600, stripe_sig(now - 600, "st-secret"));
    let (status, err) = server.request_as(None, "POST", "/webhooks/stripe", &[("Stripe-Signature", &stale)], invoice);
    assert_eq!(status, 401, "{err}");
    assert!(err["error"].as_str().unwrap().contains("tolerance"), "{err}");
    let (status, doc) = server.request_as(None, "POST", "/webhooks/stripe", &[("Stripe-Signature", &header)], invoice);
    assert_eq!(status, 202, "{doc}");
    assert_eq!(doc["accepted"][0]["type"], "webhook.stripe.invoice.paid");
    assert_eq!(server.request_as(None, "POST", "/webhooks/stripe", &[("Stripe-Signature", &header)], invoice).0, 409);

    // Generic HMAC header.
    let order = r#"{"entity": "order", "action": "created"}"#;
    let sig = hmac_hex("acme-secret", &[order.as_bytes()]);
    let (status, doc) = server.request_as(None, "POST", "/webhooks/acme", &[("X-Acme-Signature", &sig)], order);
    assert_eq!(status, 202, "{doc}");
    // A token with the trigger role may post any webhook without a signature.
    let feeder = token(&p, "feeder", &[]);
    let (status, doc) = server.post_with(&feeder, "/webhooks/github", r#"{"action": "opened", "number": 9}"#);
    assert_eq!(status, 400, "no entity header: {doc}");
    let (status, doc) = server.post_with(&feeder, "/webhooks/github/pull_request/opened", r#"{"number": 9}"#);
    assert_eq!(status, 202, "{doc}");
    // The secrets are nowhere in what the server recorded.
    let mut recorded = Vec::new();
    collect_bytes(&p.path(".flow"), &mut recorded);
    for secret in ["gh-secret", "st-secret", "acme-secret"] {
        assert!(!recorded.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} was recorded");
    }
    server.terminate();
}

fn collect_bytes(dir: &std::path::Path, out: &mut Vec<u8>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            collect_bytes(&path, out);
        } else if let Ok(b) = std::fs::read(&path) {
            out.extend(b);
        }
    }
}

#[test]
fn tokens_are_rate_limited() {
    let p = project("rate", &[("intake.flow", INTAKE)]);
    let server = Server::start(&p, &["--rate-limit", "60"]);
    let mut statuses = Vec::new();
    for _ in 0..15 {
        statuses.push(server.request("GET", "/runs/x", &[], "").0);
    }
    assert!(statuses[..10].iter().all(|s| *s == 404), "{statuses:?}");
    assert!(statuses[10..].contains(&429), "{statuses:?}");
    let (status, head, body) = exchange_full(server.port, &raw_request("GET", "/runs/x", &[("Authorization", &format!("Bearer {}", server.admin))], ""));
    assert_eq!(status, 429, "{body}");
    assert!(head.contains("retry-after:"), "{head}");
    // Another token has its own budget.
    let reader = token(&p, "reader", &[]);
    assert_eq!(server.request_as(Some(&format!("Bearer {reader}")), "GET", "/runs/x", &[], "").0, 404);
    server.terminate();
}

#[test]
fn slow_and_many_connections_do_not_starve_others() {
    let p = project("slowloris", &[("intake.flow", INTAKE)]);
    let server = Server::start(&p, &["--header-timeout", "2", "--max-connections-per-address", "32"]);
    // 300 connections from 127.0.0.1 that never finish their headers.
    let mut slow = Vec::new();
    for _ in 0..300 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", server.port)) {
            let _ = s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
            slow.push(s);
        }
    }
    // The address over its cap is refused at once, with a well-formed answer.
    let (status, body) = exchange(server.port, &raw_request("GET", "/health", &[], ""));
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("too many connections"), "{body}");
    // Another client address (all of 127/8 is loopback) is answered at once.
    let started = std::time::Instant::now();
    let mut s = connect_from([127, 0, 0, 2], server.port);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(2), "health took {:?}", started.elapsed());
    // The slow ones are cut off after the header timeout (or refused at once past the cap).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        assert!(std::time::Instant::now() < deadline, "a slow connection stayed open");
    }
    // And the server still answers.
    assert_eq!(server.request_as(None, "GET", "/health", &[], "").0, 200);
    server.terminate();

}

/// A CA and a certificate for localhost/127.0.0.1 it signed (openssl's command line).
fn test_certificates(p: &Project) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let dir = p.path("tls");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(&dir).output().expect("openssl is installed (.ci/run installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(&[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=flowc test CA", "-days", "2"]].concat());
    run(&[&["req"][..], &ec, &["-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=localhost"]].concat());
    run(&["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf"]);
    (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"))
}

fn tls_get(port: u16, ca: &std::path::Path, path: &str) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).map_err(|e| e.to_string())?;
    let sock = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    match tls.read_to_string(&mut out) {
        Ok(_) => Ok(out),
        // A peer closing without close_notify still delivered the response.
        Err(_) if !out.is_empty() => Ok(out),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn tls_is_served_and_required_off_loopback() {
    let p = project("tls", &[("intake.flow", INTAKE)]);
    // Plain HTTP on a non-loopback address is refused unless asked for.
    let out = p.cmd(&["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--tls-cert"), "{}", stderr(&out));
    let out = p.cmd(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", "nope.pem", "--tls-key", "nope.key"]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("cannot read the TLS certificate"), "{}", stderr(&out));
    let server = Server::start(&p, &["--listen", "0.0.0.0:0", "--insecure-http"]);
    assert_eq!(server.request_as(None, "GET", "/health", &[], "").0, 200);
    server.terminate();

    let (ca, cert, key) = test_certificates(&p);
    let (cert, key) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let server = Server::start(&p, &["--tls-cert", &cert, "--tls-key", &key]);
    let response = tls_get(server.port, &ca, "/health").unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let response = tls_get(server.port, &ca, "/runs/x").unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    // Plain HTTP to the TLS port gets no answer.
    let (status, _) = exchange(server.port, &raw_request("GET", "/health", &[], ""));
    assert_eq!(status, 0);
    // A client that never finishes its handshake does not hold the server up.
    let _idle = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    assert!(tls_get(server.port, &ca, "/health").unwrap().starts_with("HTTP/1.1 200"));
    server.terminate();
}

#[test]
fn a_database_locked_by_another_process_does_not_stall_the_server() {
    let p = project("locked", &[("intake.flow", INTAKE)]);
    let server = Server::start(&p, &[]);
    assert_eq!(server.request("GET", "/runs/x", &[], "").0, 404);
    let db = rusqlite::Connection::open(p.path(".flow/state.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS held (x); INSERT INTO held VALUES (1);").unwrap();
    let port = server.port;
    let bearer = format!("Bearer {}", server.admin);
    let event = cloudevent("crm.lead.qualified", "leads.L-1", "held-1", json!({ "lead_id": "L-1", "score": 90 }));
    let writer = std::thread::spawn(move || {
        exchange(port, &raw_request("POST", "/events", &[("Authorization", &bearer), ("Content-Type", "application/json")], &event))
    });
    std::thread::sleep(Duration::from_millis(300));
    // While the write waits for the lock, /health answers at once.
    for _ in 0..5 {
        let started = std::time::Instant::now();
        assert_eq!(server.request_as(None, "GET", "/health", &[], "").0, 200);
        assert!(started.elapsed() < Duration::from_millis(500), "health took {:?}", started.elapsed());
    }
    std::thread::sleep(Duration::from_secs(2));
    db.execute_batch("ROLLBACK").unwrap();
    let (status, body) = writer.join().unwrap();
    assert_eq!(status, 202, "the write went through once the lock was released: {body}");
    server.terminate();
}

#[test]
fn a_killed_server_resumes_its_running_runs_on_restart() {
    let flow = r#"
workflow slow {
  on event "go"
  step first { command "echo x >> count; echo first" }
  step work after first { command "while [ ! -f release ]; do sleep 0.05; done; echo finished" }
}
"#;
    let p = project("restart", &[("slow.flow", flow)]);
    let mut server = Server::start(&p, &[]);
    let (status, body) = server.post("/events", &[], &cloudevent("go", "x", "k-1", json!({})));
    assert_eq!(status, 202, "{body}");
    let run = body["accepted"][0]["started"][0]["run"].as_str().unwrap().to_string();
    let show = |p: &Project| -> Value { serde_json::from_slice(&p.cmd(&["runs", "show", &run, "--json"]).output().unwrap().stdout).unwrap_or(Value::Null) };
    wait_until("the run to start its second step", || show(&p)["steps"]["work"]["status"] == "running");
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    assert_eq!(show(&p)["status"], "running", "nobody resumed it yet");
    let admin = server.admin.clone();
    drop(server);
    let server = Server::start_with(&p, &[], admin);
    std::fs::write(p.path("release"), "").unwrap();
    let done = server.wait_status(&run, "completed");
    assert_eq!(done["steps"]["work"]["output"], "finished");
    assert_eq!(p.read("count").lines().count(), 1, "the completed step did not run again");
    server.terminate();
}

#[test]
fn the_state_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let p = project("private", &[("intake.flow", INTAKE)]);
    let server = Server::start(&p, &[]);
    let (status, _) = server.post("/events", &[], &cloudevent("crm.lead.qualified", "leads.L-1", "p-1", json!({ "lead_id": "L-1", "score": 90 })));
    assert_eq!(status, 202);
    server.terminate();
    let mode = |rel: &str| std::fs::metadata(p.path(rel)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(".flow"), 0o700);
    assert_eq!(mode(".flow/state.db"), 0o600);
    let admin_secret = token(&p, "admin", &[]);
    let secret_part = admin_secret.rsplit('_').next().unwrap();
    let mut recorded = Vec::new();
    collect_bytes(&p.path(".flow"), &mut recorded);
    assert!(!recorded.windows(secret_part.len()).any(|w| w == secret_part.as_bytes()), "a token is stored in clear");
}

#[test]
fn schedules_missed_while_serve_was_down_are_caught_up_per_policy() {
    let flow = r#"
workflow latest {
  on schedule "0 * * * *"
  step s { command "echo latest" }
}
workflow every {
  on schedule "0 * * * *" catchup all
  step s { command "echo every" }
}
workflow windowed {
  on schedule "0 * * * *" catchup all within 2h
  step s { command "echo windowed" }
}
workflow never {
  on schedule "0 * * * *" catchup none
  step s { command "echo never" }
}
"#;
    let p = project("catchup", &[("hourly.flow", flow)]);
    // A first start only marks the schedules as served: nothing was missed.
    let server = Server::start(&p, &[]);
    let admin = server.admin.clone();
    server.terminate();
    let caught = |p: &Project| -> Vec<Value> {
        let runs: Value = serde_json::from_slice(&p.cmd(&["runs", "list", "--json"]).output().unwrap().stdout).unwrap();
        runs.as_array()
            .unwrap()
            .iter()
            .map(|r| serde_json::from_slice::<Value>(&p.cmd(&["runs", "show", r["run"].as_str().unwrap(), "--json"]).output().unwrap().stdout).unwrap())
            .filter(|r| r["origin"]["detail"]["caught_up"] == true)
            .collect()
    };
    assert!(caught(&p).is_empty());
    // Pretend the server has been down for five hours.
    let now_ms = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let down_since = now_ms() - 5 * 3600 * 1000;
    let db = rusqlite::Connection::open(p.path(".flow/state.db")).unwrap();
    assert_eq!(db.execute("UPDATE schedule_marks SET handled_until = ?1", [down_since]).unwrap(), 4);
    drop(db);
    let hours_in = |from: i64, to: i64| (from / 3_600_000 + 1..=to / 3_600_000).count();
    let before = now_ms();
    let server = Server::start_with(&p, &[], admin);
    let after = now_ms();
    let mut runs = Vec::new();
    wait_until("the caught-up runs to complete", || {
        runs = caught(&p);
        !runs.is_empty() && runs.iter().all(|r| r["status"] == "completed")
    });
    std::thread::sleep(Duration::from_millis(500));
    let runs = caught(&p);
    let of = |w: &str| runs.iter().filter(|r| r["workflow"] == w).collect::<Vec<_>>();
    let (low, high) = (hours_in(down_since, before), hours_in(down_since, after));
    assert!((low..=high).contains(&of("every").len()), "catchup all: {} runs, expected {low}..={high}", of("every").len());
    assert_eq!(of("latest").len(), 1, "catchup latest (the default) runs once");
    assert!((1..=2).contains(&of("windowed").len()) && of("windowed").len() <= of("every").len(), "within 2h: {}", of("windowed").len());
    assert_eq!(of("never").len(), 0);
    // Each records when it was due; the latest is the most recent due time.
    let latest = &of("latest")[0]["origin"]["detail"];
    let due = latest["scheduled_for"].as_str().unwrap();
    assert!(due.ends_with(":00:00Z"), "{latest}");
    assert_eq!(latest["missed"], json!(of("every").len()));
    let mut every: Vec<&str> = of("every").iter().map(|r| r["origin"]["detail"]["scheduled_for"].as_str().unwrap()).collect();
    every.sort();
    assert_eq!(every.last().copied(), Some(due));
    every.dedup();
    assert_eq!(every.len(), of("every").len(), "one run per missed fire time");
    server.terminate();
}

#[test]
fn distinct_from_initiator_holds_for_runs_an_event_started() {
    let flow = r#"
workflow gated {
  on event "go"
  step ok: approval { approvers ["boss"] distinct_from_initiator }
  step done after ok { command "echo done" }
}
"#;
    let p = project("distinct", &[("gated.flow", flow)]);
    let (ann, bob) = (token(&p, "ann", &[]), token(&p, "bob", &[]));
    let server = Server::start(&p, &[]);
    let (status, body) = server.post_with(&ann, "/events", &cloudevent("go", "x", "d-1", json!({})));
    assert_eq!(status, 202, "{body}");
    let run = body["accepted"][0]["started"][0]["run"].as_str().unwrap().to_string();
    wait_until("the run to block", || server.request("GET", &format!("/runs/{run}"), &[], "").1["status"] == "blocked");
    let shown: Value = serde_json::from_slice(&p.cmd(&["runs", "show", &run, "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(shown["origin"]["initiator"], "ann", "the token's principal started it");
    assert_eq!(shown["origin"]["detail"]["token"], ann.split('_').nth(1).unwrap(), "with that token");
    assert_eq!(shown["origin"]["detail"]["type"], "go");
    let (status, body) = server.post_with(&ann, &format!("/runs/{run}/steps/ok/approve"), "{}");
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("started this run"), "{body}");
    let (status, body) = server.post_with(&ann, &format!("/runs/{run}/steps/ok/approve"), r#"{"on_behalf_of": "bob"}"#);
    assert_eq!(status, 409, "on behalf of someone else is still ann: {body}");
    let (status, body) = server.post_with(&bob, &format!("/runs/{run}/steps/ok/approve"), "{}");
    assert_eq!(status, 202, "{body}");
    assert_eq!(server.wait_status(&run, "completed")["steps"]["done"]["output"], "done");
    server.terminate();
}

#[test]
fn flowc_auth_manages_tokens_for_declared_principals_only() {
    let p = project("auth-cli", &[("intake.flow", INTAKE)]);
    let out = p.cmd(&["auth", "token", "create", "mallory"]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("`mallory` is not a principal of flowc.toml"), "{}", stderr(&out));
    let out = p.cmd(&["auth", "token", "create", "reader", "--role", "decide"]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("does not hold the role decide"), "{}", stderr(&out));
    let out = p.cmd(&["auth", "token", "create", "ann", "--role", "read", "--expires", "30d", "--note", "dashboard"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ann = stdout(&out).trim().to_string();
    assert!(stderr(&out).contains("shown once"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&ann), "the token is printed once, on stdout");
    let id = ann.split('_').nth(1).unwrap().to_string();
    let list: Value = serde_json::from_slice(&p.cmd(&["auth", "token", "list", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!((list[0]["principal"].as_str(), list[0]["state"].as_str(), list[0]["note"].as_str()), (Some("ann"), Some("active"), Some("dashboard")));
    assert_eq!(list[0]["roles"], json!(["read"]));
    // A read-only token of a principal who may decide still only reads.
    let server = Server::start(&p, &[]);
    assert_eq!(server.request_as(Some(&format!("Bearer {ann}")), "GET", "/runs/x", &[], "").0, 404);
    assert_eq!(server.post_with(&ann, "/events", &cloudevent("crm.lead.new", "leads.L", "a-1", json!({}))).0, 403);
    assert_eq!(code(&p.cmd(&["auth", "token", "expire", &id]).output().unwrap()), 0);
    assert_eq!(server.request_as(Some(&format!("Bearer {ann}")), "GET", "/runs/x", &[], "").0, 401, "expired at once");
    server.terminate();
    let out = p.cmd(&["auth", "token", "revoke", &ann]).output().unwrap();
    assert_eq!(code(&out), 0, "a whole token names its id: {}", stderr(&out));
    let list: Value = serde_json::from_slice(&p.cmd(&["auth", "token", "list", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(list[0]["state"], "revoked");
    assert_eq!(code(&p.cmd(&["auth", "token", "revoke", "000000000000"]).output().unwrap()), 2);
    let principals: Value = serde_json::from_slice(&p.cmd(&["auth", "principals", "--json"]).output().unwrap().stdout).unwrap();
    let listed = principals["principals"].as_array().unwrap().iter().find(|x| x["name"] == "ann").unwrap().clone();
    assert_eq!(listed["groups"], json!(["boss"]));
    // A principal removed from flowc.toml loses its roles at once, without a restart.
    let bob = token(&p, "bob", &[]);
    let server = Server::start(&p, &[]);
    assert_eq!(server.request_as(Some(&format!("Bearer {bob}")), "GET", "/runs/x", &[], "").0, 404);
    let toml = std::fs::read_to_string(p.path("flowc.toml")).unwrap().replace("[principals.bob]\nroles = [\"decide\", \"read\"]\n", "").replace("\"bob\", ", "");
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(p.path("flowc.toml"), toml).unwrap();
    let (status, body) = server.request_as(Some(&format!("Bearer {bob}")), "GET", "/runs/x", &[], "");
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not (or no longer) declared"), "{body}");
    server.terminate();
}
