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

fn project(name: &str, files: &[(&str, &str)]) -> Project {
    let p = Project::new(&format!("serve-{name}"));
    for (path, text) in files {
        std::fs::write(p.path(path), text).unwrap();
    }
    p
}

/// A running `flowc serve`, killed (SIGKILL) if the test does not stop it.
struct Server {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(p: &Project, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--notify", "none"];
        args.extend_from_slice(extra);
        let mut child = p
            .cmd(&args)
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
        while port == 0 {
            assert!(start.elapsed() < Duration::from_secs(60), "flowc serve did not start");
            if let Ok(line) = rx.recv_timeout(Duration::from_secs(1))
                && let Some(addr) = line.strip_prefix("flowc serve listening on http://")
            {
                port = addr.rsplit(':').next().unwrap().parse().unwrap();
            }
        }
        Server { child, port, lines: rx }
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream.write_all(req.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status: u16 = response.split(' ').nth(1).unwrap().parse().unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
        (status, serde_json::from_str(body.trim()).unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
        self.request("POST", path, headers, body)
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
    let server = Server::start(&p, &[]);
    let (status, body) = server.post(&format!("/runs/{run}/steps/ask/approve"), &[], r#"{"as": "boss", "comment": "via chat"}"#);
    assert_eq!(status, 202, "{body}");
    wait_until("the task to block", || server.request("GET", &format!("/runs/{run}"), &[], "").1["steps"]["task"]["status"] == "blocked");
    let (status, body) = server.post(&format!("/runs/{run}/steps/task/complete"), &[], r#"{"as": "dana", "output": {"ok": "yes"}}"#);
    assert_eq!(status, 409, "the output is checked: {body}");
    let (status, _) = server.post(&format!("/runs/{run}/steps/task/complete"), &[], r#"{"as": "dana", "output": {"ok": true}}"#);
    assert_eq!(status, 202);
    let done = server.wait_status(&run, "completed");
    assert_eq!(done["steps"]["ask"]["output"]["comment"], "via chat");
    assert_eq!(done["steps"]["task"]["output"], json!({ "ok": true }));
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
    let server = Server::start(&p, &[]);
    // Over HTTP: refused decisions are 409 and change nothing; bad bodies are 400.
    let (status, body) = server.post(&format!("/runs/{run}/steps/ask/approve"), &[], r#"{"as": "mallory"}"#);
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not among the approvers"), "{body}");
    assert_eq!(server.post(&format!("/runs/{run}/steps/ask/approve"), &[], r#"{"comment": "who?"}"#).0, 400);
    assert_eq!(server.post("/runs/nope/steps/ask/approve", &[], r#"{"as": "boss"}"#).0, 404);
    assert_eq!(server.post(&format!("/runs/{run}/steps/ask/bless"), &[], r#"{"as": "boss"}"#).0, 404);
    // Whoever takes the run's lock first (this command or the server) applies it.
    let out = p.cmd(&["approve", &run, "ask", "--as", "boss"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(server.wait_status(&run, "completed")["steps"]["next"]["output"], "next");
    server.terminate();
}
