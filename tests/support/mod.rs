//! Helpers for end-to-end tests of runs: a temporary project, a small plan
//! builder (so each test states its workflow in a few lines), and running
//! the `flowc` binary.

#![allow(dead_code)]

/// Projects whose runs wait on people or events.
pub mod blocking;
/// Scratch copies of `tests/fixtures/projects/` and `examples/`.
pub mod copies;
/// The sectioned fixture format (`*.flowtest`).
pub mod fixture;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The `flowc` binary cargo built for this test.
pub fn flowc_bin() -> &'static str {
    env!("CARGO_BIN_EXE_flowc")
}

/// A scratch project directory, removed when dropped.
pub struct Project {
    /// The project's directory.
    pub dir: PathBuf,
}

impl Project {
    /// A fresh, empty scratch directory for this test process.
    pub fn new(name: &str) -> Project {
        let dir = std::env::temp_dir().join(format!("flowc-e2e-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Project { dir }
    }

    /// A path inside the project.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Writes `plan.json`; its path.
    pub fn write_plan(&self, plan: &Value) -> PathBuf {
        let path = self.path("plan.json");
        std::fs::write(&path, serde_json::to_string_pretty(plan).unwrap()).unwrap();
        path
    }

    /// `flowc ARGS` in the project, with no state, notify or colour settings from the environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(flowc_bin());
        cmd.current_dir(&self.dir).args(args).env_remove("FLOW_STATE").env_remove("FLOW_NOTIFY").env("NO_COLOR", "1");
        cmd
    }

    /// [`Project::cmd`] run to its end, with no stdin.
    pub fn flowc(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    /// `flowc run plan.json ARGS --json`: the output and the parsed summary.
    pub fn run(&self, plan: &Value, args: &[&str]) -> (Output, Value) {
        self.write_plan(plan);
        let mut all = vec!["run", "plan.json", "--json"];
        all.extend_from_slice(args);
        let out = self.flowc(&all);
        let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, summary)
    }

    /// Writes `main.flow`, checks it (it must be clean) and runs
    /// `flowc run WORKFLOW --json ARGS`: the output and the parsed summary.
    pub fn run_source(&self, source: &str, workflow: &str, args: &[&str]) -> (Output, Value) {
        std::fs::write(self.path("main.flow"), source).unwrap();
        let check = self.flowc(&["check", "--deny-warnings"]);
        assert!(check.status.success(), "the source must check clean:\n{}{}", stdout(&check), stderr(&check));
        let mut all = vec!["run", workflow, "--json"];
        all.extend_from_slice(args);
        let out = self.flowc(&all);
        let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out, summary)
    }

    /// `flowc run plan.json --json ARGS`, started in the background with piped output.
    pub fn spawn_run(&self, plan: &Value, args: &[&str]) -> Child {
        self.write_plan(plan);
        let mut all = vec!["run", "plan.json", "--json"];
        all.extend_from_slice(args);
        self.cmd(&all).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    /// `flowc ARGS`, which must succeed and print JSON: the JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.flowc(args);
        assert!(out.status.success(), "flowc {args:?} failed: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("flowc {args:?}: not JSON ({e}): {}", stdout(&out)))
    }

    /// The id of the most recent run.
    pub fn last_run(&self) -> String {
        let list = self.json(&["runs", "list", "--json"]);
        list[0]["run"].as_str().unwrap().to_string()
    }

    /// The events of a run, in order (`runs events RUN --json`).
    pub fn events(&self, run: &str) -> Vec<Value> {
        self.json(&["runs", "events", run, "--json"]).as_array().unwrap().clone()
    }

    /// The text of a file of the project, or `""`.
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A process's stderr, lossily decoded.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A process's stdout, lossily decoded.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A process's exit code (-1 when a signal ended it).
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Waits for a condition that the test itself makes true eventually (a
/// file a step writes, a process that exits); fails the test after 30 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a spawned process: its exit code, stdout and stderr.
pub fn wait_exit(child: &mut Child) -> (i32, String, String) {
    let out = std::mem::replace(child, Command::new("true").spawn().unwrap());
    let out = out.wait_with_output().unwrap();
    (code(&out), stdout(&out), stderr(&out))
}

/// Whether a process is gone (or a zombie nobody reaped yet).
pub fn process_gone(pid: i64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// A workflow under construction. Steps refer to each other by name;
/// templates are written `"echo ${inputs.x}"` and split here.
pub struct Wf {
    /// The workflow's name.
    pub name: String,
    steps: Vec<Value>,
    exprs: Vec<String>,
    templates: Vec<Value>,
    types: Vec<Value>,
    /// The declared inputs, as plan JSON.
    pub inputs: Vec<Value>,
    /// The declared outputs, as plan JSON.
    pub outputs: Vec<Value>,
    /// The workflow's step defaults (retry, timeout…), as plan JSON.
    pub defaults: Value,
    /// The groups, as plan JSON.
    pub groups: Vec<Value>,
}

impl Wf {
    /// An empty workflow.
    pub fn new(name: &str) -> Wf {
        Wf {
            name: name.into(),
            steps: vec![],
            exprs: vec![],
            templates: vec![],
            types: vec![],
            inputs: vec![],
            outputs: vec![],
            defaults: json!({}),
            groups: vec![],
        }
    }

    /// Interns a CEL expression; its index.
    pub fn expr(&mut self, text: &str) -> u32 {
        if let Some(i) = self.exprs.iter().position(|e| e == text) {
            return i as u32;
        }
        self.exprs.push(text.into());
        (self.exprs.len() - 1) as u32
    }

    /// A template from `text` with `${…}` holes; `shell`: run by `sh -c`,
    /// so each hole gets the quoting context the compiler's lexer finds.
    pub fn template(&mut self, text: &str, shell: bool) -> u32 {
        let mut parts = vec![];
        let mut segs = vec![];
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            if start > 0 {
                parts.push(json!({ "text": &rest[..start] }));
                segs.push(flowc_compiler::shell_lex::Seg::Text(&rest[..start]));
            }
            let end = rest[start..].find('}').unwrap() + start;
            let e = self.expr(&rest[start + 2..end]);
            parts.push(json!({ "hole": { "expr": e } }));
            segs.push(flowc_compiler::shell_lex::Seg::Hole);
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(json!({ "text": rest }));
            segs.push(flowc_compiler::shell_lex::Seg::Text(rest));
        }
        if shell {
            let mut contexts = flowc_compiler::shell_lex::hole_contexts(&segs).into_iter();
            for part in parts.iter_mut().filter(|p| p.get("hole").is_some()) {
                let ctx = contexts.next().unwrap().unwrap_or_else(|r| panic!("{text:?}: {}", r.reason));
                part["hole"]["shell"] = serde_json::to_value(ctx).unwrap();
            }
        }
        self.templates.push(json!({ "parts": parts }));
        (self.templates.len() - 1) as u32
    }

    /// Adds a type; its index.
    pub fn ty(&mut self, ty: Value) -> u32 {
        self.types.push(ty);
        (self.types.len() - 1) as u32
    }

    /// Declares an input of a type, with an optional default.
    pub fn input(&mut self, name: &str, ty: &str, default: Option<Value>) {
        let mut i = json!({ "name": name, "type": { "type": ty } });
        if let Some(d) = default {
            i["default"] = d;
        }
        self.inputs.push(i);
    }

    /// Declares an output computed by an expression.
    pub fn output(&mut self, name: &str, expr: &str) {
        let e = self.expr(expr);
        self.outputs.push(json!({ "name": name, "expr": e }));
    }

    /// A step's index, by name.
    pub fn id(&self, name: &str) -> u32 {
        self.steps.iter().position(|s| s["name"] == name).unwrap_or_else(|| panic!("no step {name}")) as u32
    }

    /// Adds a step; `extra` may hold `after` as names, and any other step field.
    pub fn step(&mut self, name: &str, kind: &str, code: Vec<Value>, extra: Value) -> u32 {
        let id = self.steps.len() as u32;
        let mut step = json!({ "id": id, "name": name, "kind": kind, "code": code });
        if let Value::Object(map) = extra {
            for (k, v) in map {
                let v = if k == "after" {
                    json!(v.as_array().unwrap().iter().map(|n| self.id(n.as_str().unwrap())).collect::<Vec<_>>())
                } else if k == "when" {
                    json!(self.expr(v.as_str().unwrap()))
                } else {
                    v
                };
                step[k] = v;
            }
        }
        self.steps.push(step);
        id
    }

    /// A `run` step: `command`, output parsed `auto`.
    pub fn run(&mut self, name: &str, command: &str, extra: Value) -> u32 {
        let t = self.template(command, true);
        self.step(
            name,
            "run",
            vec![
                json!({"op": "RENDER", "template": t, "dst": "cmd"}),
                json!({"op": "EXEC", "cmd": "cmd"}),
                json!({"op": "PARSE_OUTPUT", "mode": "auto"}),
                json!({"op": "END"}),
            ],
            extra,
        )
    }

    /// A `run` step whose output must be JSON of a declared type.
    pub fn run_typed(&mut self, name: &str, command: &str, ty: Value, extra: Value) -> u32 {
        let t = self.template(command, true);
        let ty = self.ty(ty);
        self.step(
            name,
            "run",
            vec![
                json!({"op": "RENDER", "template": t, "dst": "cmd"}),
                json!({"op": "EXEC", "cmd": "cmd"}),
                json!({"op": "PARSE_OUTPUT", "mode": "json", "type": ty}),
                json!({"op": "END"}),
            ],
            extra,
        )
    }

    /// Adds a `notify` step rendering its channel and message.
    pub fn notify(&mut self, name: &str, channel: &str, message: &str, extra: Value) -> u32 {
        let c = self.template(channel, false);
        let m = self.template(message, false);
        self.step(
            name,
            "notify",
            vec![
                json!({"op": "RENDER", "template": c, "dst": "channel"}),
                json!({"op": "RENDER", "template": m, "dst": "message"}),
                json!({"op": "NOTIFY", "channel": "channel", "message": "message"}),
                json!({"op": "END"}),
            ],
            extra,
        )
    }

    /// Adds an `agent` step calling agent number `agent` with a prompt.
    pub fn agent(&mut self, name: &str, agent: u32, prompt: &str, extra: Value) -> u32 {
        let p = self.template(prompt, false);
        self.step(
            name,
            "agent",
            vec![
                json!({"op": "RENDER", "template": p, "dst": "prompt"}),
                json!({"op": "AGENT", "agent": agent, "prompt": "prompt"}),
                json!({"op": "PARSE_OUTPUT", "mode": "auto"}),
                json!({"op": "END"}),
            ],
            extra,
        )
    }

    /// A `branch` step; arms are (condition or None for else, target name),
    /// and targets are added later, so they are resolved by `finish`.
    pub fn branch(&mut self, name: &str, arms: &[(Option<&str>, &str)], extra: Value) -> u32 {
        let arms: Vec<Value> = arms
            .iter()
            .map(|(cond, target)| {
                let mut a = json!({ "target_name": target });
                if let Some(c) = cond {
                    a["when"] = json!(self.expr(c));
                }
                a
            })
            .collect();
        self.step(name, "branch", vec![json!({"op": "BRANCH", "arms": arms}), json!({"op": "END"})], extra)
    }

    /// Adds a `call` step running `workflow` with the inputs `with` evaluates to.
    pub fn call(&mut self, name: &str, workflow: &str, with: &str, extra: Value) -> u32 {
        let e = self.expr(with);
        self.step(
            name,
            "call",
            vec![
                json!({"op": "EVAL", "expr": e, "dst": "with"}),
                json!({"op": "CALL", "workflow": workflow, "inputs": "with"}),
                json!({"op": "END"}),
            ],
            extra,
        )
    }

    /// The workflow's plan JSON, branch arm targets resolved from names.
    pub fn build(mut self) -> Value {
        // Resolve branch arm targets written by name.
        let names: Vec<String> = self.steps.iter().map(|s| s["name"].as_str().unwrap().to_string()).collect();
        for step in &mut self.steps {
            for instr in step["code"].as_array_mut().unwrap() {
                if let Some(arms) = instr.get_mut("arms").and_then(Value::as_array_mut) {
                    for arm in arms {
                        let name = arm["target_name"].as_str().unwrap().to_string();
                        let obj = arm.as_object_mut().unwrap();
                        obj.remove("target_name");
                        obj.insert("target".into(), json!(names.iter().position(|n| *n == name).unwrap()));
                    }
                }
            }
        }
        json!({
            "name": self.name,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "defaults": self.defaults,
            "steps": self.steps,
            "groups": self.groups,
            "exprs": self.exprs,
            "templates": self.templates,
            "types": self.types,
        })
    }
}

/// A plan of these workflows (the first is the entry) and no agents.
pub fn plan(workflows: Vec<Wf>) -> Value {
    plan_with_agents(workflows, json!([]))
}

/// A plan of these workflows (the first is the entry) and agents.
pub fn plan_with_agents(workflows: Vec<Wf>, agents: Value) -> Value {
    let entry = workflows[0].name.clone();
    json!({
        "format_version": 3,
        "entry": entry,
        "workflows": workflows.into_iter().map(Wf::build).collect::<Vec<_>>(),
        "agents": agents,
    })
}

/// Statuses by step name, from a run summary.
pub fn status(summary: &Value, step: &str) -> String {
    summary["steps"][step]["status"].as_str().unwrap_or("?").to_string()
}

/// A path as UTF-8 text.
pub fn as_path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The operating-system user running the tests: the principal of every
/// `flowc approve|reject|complete` they run.
pub fn os_user() -> String {
    // getpwuid's result lives in static storage that another thread's call
    // overwrites (tests run on several threads): look it up once, under the
    // OnceLock, and hand out copies.
    static USER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    USER.get_or_init(|| {
        // SAFETY: getpwuid returns a pointer into static storage, read at
        // once; this is the test process's only call.
        unsafe {
            let pw = libc::getpwuid(libc::geteuid());
            assert!(!pw.is_null(), "the test user has no passwd entry");
            std::ffi::CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned()
        }
    })
    .clone()
}

/// flowc.toml for a directory where the test's user (see [`os_user`])
/// belongs to each of `groups`: `flowc approve` then acts as one of them.
pub fn directory_with_me_in(groups: &[&str]) -> String {
    let me = os_user();
    let mut text = format!("[principals.\"{me}\"]\nroles = [\"decide\", \"read\"]\n[groups]\n");
    for g in groups {
        text.push_str(&format!("\"{g}\" = [\"{me}\"]\n"));
    }
    text
}

impl Project {
    /// Writes flowc.toml making the test's user a member of `groups`.
    pub fn me_in(&self, groups: &[&str]) {
        std::fs::write(self.path("flowc.toml"), directory_with_me_in(groups)).unwrap();
    }
}
