//! State you can trust: private files, no writes into a damaged database, a
//! removed state directory noticed, an empty database never taken for new.

mod support;

use std::os::unix::fs::PermissionsExt;

use serde_json::{json, Value};
use support::*;

fn plan_of(command: &str) -> Value {
    let mut wf = Wf::new("x");
    wf.run("a", "echo a", json!({}));
    wf.run("b", command, json!({ "after": ["a"] }));
    plan(vec![wf])
}

fn hash(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// Whatever the umask: the directory 0700, every file 0600.
#[test]
fn state_files_are_private_whatever_the_umask() {
    let p = Project::new("perms");
    p.write_plan(&plan_of("echo b"));
    let bin = flowc_bin();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask 000; '{bin}' run plan.json --events-sink file:.flow/events.jsonl -q"))
        .current_dir(&p.dir)
        .env_remove("FLOW_STATE")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let mut seen = 0;
    let mut stack = vec![p.path(".flow")];
    while let Some(path) = stack.pop() {
        let meta = std::fs::metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 6, "the directory, runs, the run, its lock, two logs, the database, the sink");
    assert!(p.path(".flow/events.jsonl").exists());
}

/// An existing database made by an older flowc is narrowed on open.
#[test]
fn an_existing_database_is_narrowed_to_its_owner() {
    let p = Project::new("narrow");
    let (out, _) = p.run(&plan_of("echo b"), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let db = p.path(".flow/state.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(code(&p.flowc(&["runs", "list"])), 0);
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn an_empty_state_database_is_refused_not_taken_for_new() {
    let p = Project::new("empty-db");
    std::fs::create_dir_all(p.path(".flow")).unwrap();
    std::fs::write(p.path(".flow/state.db"), b"").unwrap();
    let (out, _) = p.run(&plan_of("echo b"), &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("is empty (0 bytes)"), "{}", stderr(&out));
    assert!(stderr(&out).contains("remove the file to start a new database"), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(p.path(".flow/state.db")).unwrap().len(), 0, "the file is left as it was");
}

#[test]
fn removing_the_state_directory_during_a_run_fails_it_loudly() {
    let p = Project::new("rm-state");
    let (out, _) = p.run(&plan_of("rm -rf .flow; echo b"), &[]);
    assert_ne!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("was removed or replaced while flowc was using it"), "{}", stderr(&out));
    assert!(!p.path(".flow/state.db").exists(), "nothing wrote a new database in its place");
}

/// A database with damaged pages is found on open and never written to:
/// its bytes are the same after every command that was refused.
#[test]
fn a_damaged_database_is_never_modified() {
    let p = Project::new("damaged");
    // Enough runs for the database to have inner pages.
    let plan = plan_of("echo b");
    for _ in 0..30 {
        let (out, _) = p.run(&plan, &[]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let db = p.path(".flow/state.db");
    let clean = hash(&db);
    assert!(clean.len() >= 8 * 4096, "{} bytes", clean.len());
    let page = 4096;
    let pages = clean.len() / page;
    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("inner pages overwritten", {
            let mut b = clean.clone();
            for i in [pages / 3, pages / 2, pages - 2] {
                for (j, x) in b[i * page..(i + 1) * page].iter_mut().enumerate() {
                    *x = (j * 37 + i) as u8;
                }
            }
            b
        }),
        ("truncated", clean[..clean.len() / 2].to_vec()),
        ("header garbage", {
            let mut b = clean.clone();
            b[..100].fill(0xAB);
            b
        }),
    ];
    for (what, bytes) in damages {
        std::fs::write(&db, &bytes).unwrap();
        for args in [vec!["run", "plan.json"], vec!["runs", "list"], vec!["store", "list", "s"]] {
            let out = p.flowc(&args);
            assert_ne!(code(&out), 0, "{what}: {args:?} succeeded on a damaged database: {}", stdout(&out));
            let err = stderr(&out);
            assert!(err.contains("damaged") || err.contains("not a flowc state database") || err.contains("malformed"), "{what}: {err}");
            assert!(!err.contains("panicked"), "{what}: {err}");
            assert_eq!(hash(&db), bytes, "{what}: {args:?} modified the damaged database");
        }
        let out = p.flowc(&["run", "plan.json"]);
        assert!(stderr(&out).contains("recover"), "{what}: the message says how to recover: {}", stderr(&out));
    }
}

const SECRET: &str = "s3cr3t-VALUE-qwzjXKvQ";

fn all_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { all_files(&p, out) } else { out.push(p) }
    }
}

/// The longest piece of the secret, 5 bytes or longer, in each file flowc wrote.
fn leaked_pieces(p: &Project) -> Vec<String> {
    let mut files = Vec::new();
    all_files(&p.path(".flow"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        'file: for len in (5..=SECRET.len()).rev() {
            for start in 0..=SECRET.len() - len {
                let piece = &SECRET.as_bytes()[start..start + len];
                if bytes.windows(len).any(|w| w == piece) {
                    found.push(format!("{}: {}", f.display(), std::str::from_utf8(piece).unwrap()));
                    break 'file;
                }
            }
        }
    }
    found
}

/// The stderr tail is cut after masking: a secret the 64 KiB cut goes
/// through is masked whole, its surviving end included.
#[test]
fn a_secret_cut_by_the_stderr_tail_is_not_stored() {
    let p = Project::new("secret-cut");
    // The tail keeps the last 65,536 bytes: the secret starts 10 bytes
    // before that window, so the cut goes through it.
    let filler = 65_536 - (SECRET.len() - 10) - 1;
    let flow = format!(
        r#"secrets keys {{ TOKEN = from_env("FLOWC_TEST_TOKEN") }}
workflow w {{
  step loud {{
    env {{ TOKEN = keys.TOKEN }}
    command "printf '%s' \"$TOKEN\" >&2; printf '%0{filler}d' 0 >&2; echo >&2; exit 1"
  }}
}}
"#
    );
    std::fs::write(p.path("main.flow"), flow).unwrap();
    let out = p.cmd(&["run", "w", "--json"]).env("FLOWC_TEST_TOKEN", SECRET).output().unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let leaked = leaked_pieces(&p);
    assert!(leaked.is_empty(), "pieces of the secret were stored: {leaked:?}");
    // The tail is there, and starts with the mask.
    let run = p.last_run();
    let show = p.json(&["runs", "show", &run, "--json"]);
    let stderr_tail = show.to_string();
    assert!(stderr_tail.contains("***0000"), "the cut secret is masked: {}", &stderr_tail[..stderr_tail.len().min(400)]);
}

/// A step that prints without end fills its log only to the limit; the
/// run goes on and memory stays bounded (the output is refused as too big
/// only if it is the step's output).
#[test]
fn a_step_log_stops_at_its_limit() {
    let p = Project::new("log-limit");
    std::fs::write(
        p.path("main.flow"),
        "workflow w {\n  step loud { command \"printf '%03000000d' 0 >&2; echo done\" }\n}\n",
    )
    .unwrap();
    let out = p.cmd(&["run", "w", "--json"]).env("FLOW_LOG_LIMIT", "1M").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = p.last_run();
    let log = std::fs::read_to_string(p.path(&format!(".flow/runs/{run}/loud.log"))).unwrap();
    assert!(log.len() <= (1 << 20) + 200, "{} bytes", log.len());
    assert!(log.contains("the log reached its limit of 1048576 bytes"), "{}", &log[log.len() - 200..]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["steps"]["loud"]["output"], "done");
}

/// A process that continues a run (here `flowc approve`) masks every secret
/// of the run from before it records anything, even one that only an
/// earlier step, run by another process, read.
#[test]
fn a_process_continuing_a_run_masks_its_secrets() {
    let p = Project::new("secret-continue");
    std::fs::write(
        p.path("main.flow"),
        r#"secrets keys { TOKEN = from_env("FLOWC_TEST_TOKEN") }
workflow w {
  step stash {
    env { TOKEN = keys.TOKEN }
    command "printf '%s' \"$TOKEN\" > stash.txt"
  }
  step ok: approval after stash { message "go?" }
  step spill after ok { command "echo \"it was $(cat stash.txt)\"; echo \"err $(cat stash.txt)\" >&2" }
}
"#,
    )
    .unwrap();
    let out = p.cmd(&["run", "w", "--json"]).env("FLOWC_TEST_TOKEN", SECRET).output().unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = p.last_run();
    let out = p.cmd(&["approve", &run, "ok", "--as", "me", "--json"]).env("FLOWC_TEST_TOKEN", SECRET).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET) && !stderr(&out).contains(SECRET), "the terminal");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["steps"]["spill"]["output"], "it was ***");
    for args in [vec!["runs", "show", &run, "--json"], vec!["runs", "events", &run, "--json"], vec!["runs", "logs", &run]] {
        let out = p.flowc(&args);
        assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET), "{args:?} shows the secret");
    }
    let leaked = leaked_pieces(&p);
    assert!(leaked.is_empty(), "{leaked:?}");
}

/// Four processes decide one gate at once: exactly one decision is recorded
/// and its command alone succeeds; every other says who decided. After a
/// restore, the new attempt of the gate waits again: no stale request
/// decides it.
#[test]
fn concurrent_decisions_have_one_winner_bound_to_one_attempt() {
    let p = Project::new("decisions");
    std::fs::write(
        p.path("main.flow"),
        r#"workflow w {
  step prepare { command "echo ready" }
  step ok: approval after prepare { message "ship?" }
  step ship after ok { command "echo shipped" }
}
"#,
    )
    .unwrap();
    let out = p.flowc(&["run", "w", "--json"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = p.last_run();
    let deciders: Vec<(&str, &str)> = vec![("approve", "ann"), ("reject", "bob"), ("approve", "cy"), ("reject", "dee")];
    let children: Vec<_> = deciders
        .iter()
        .map(|(verb, who)| {
            p.cmd(&[verb, &run, "ok", "--as", who, "--comment", "mine", "-q"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let results: Vec<(i32, String)> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
        })
        .collect();
    // The winner exits as the run it continued ends (0, or 1 when its
    // rejection failed the run); a loser exits 2, saying so.
    let winners: Vec<usize> = (0..4).filter(|i| !results[*i].1.contains("your decision was not applied")).collect();
    assert_eq!(winners.len(), 1, "exactly one decision wins: {results:?}");
    assert!(matches!(results[winners[0]].0, 0 | 1), "{results:?}");
    let events = p.events(&run);
    let decisions: Vec<&Value> = events.iter().filter(|e| e["step"] == "ok" && (e["event"] == "approved" || e["event"] == "rejected")).collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let (verb, who) = deciders[winners[0]];
    // One operating-system user runs them all: `--as` tells them apart (on behalf of).
    assert_eq!(decisions[0]["payload"]["by"], support::os_user().as_str());
    assert_eq!(decisions[0]["payload"]["on_behalf_of"], who);
    assert_eq!(decisions[0]["event"], if verb == "approve" { "approved" } else { "rejected" });
    for (i, (exit, err)) in results.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(*exit, 2, "{err}");
            assert!(err.contains("your decision was not applied"), "{err}");
            assert!(err.contains(who) || err.contains("already"), "a loser learns who decided: {err}");
        }
    }
    // A request filed for the first attempt never decides the second.
    let out = p.flowc(&["restore", &run, "--to", "prepare", "--json"]);
    assert!(matches!(code(&out), 0 | 3), "{}", stderr(&out));
    let show = p.json(&["runs", "show", &run, "--json"]);
    assert_eq!(show["steps"]["ok"]["status"], "blocked", "the new attempt waits: {show}");
    assert_eq!(show["steps"]["ok"]["attempts"], 2);
}

/// Invariants hold after steps a person or an event completes too: an
/// approval after which the invariant's check fails fails the run.
#[test]
fn invariants_are_checked_after_an_approval() {
    let p = Project::new("gate-invariant");
    std::fs::write(
        p.path("main.flow"),
        r#"workflow w {
  invariant intact {
    check "test ! -f broken && echo ok" expect "ok"
  }
  step prepare { command "echo ready" }
  step ok: approval after prepare { message "ship?" }
  step ship after ok { command "touch shipped" }
}
"#,
    )
    .unwrap();
    let out = p.flowc(&["run", "w", "--json"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = p.last_run();
    // Something breaks the invariant while the run waits for the person.
    std::fs::write(p.path("broken"), "").unwrap();
    let out = p.flowc(&["approve", &run, "ok", "--as", "me", "--json"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(s["status"], "failed", "{}", stderr(&out));
    assert_ne!(s["steps"]["ship"]["status"], "completed");
    assert!(!p.path("shipped").exists(), "nothing ran after the violation");
    let events = p.events(&run);
    assert!(events.iter().any(|e| e["step"] == "ok" && e["event"] == "invariant_violated"), "{events:?}");

    // Unbroken, the approval completes the run.
    std::fs::remove_file(p.path("broken")).unwrap();
    let out = p.flowc(&["run", "w", "--json"]);
    assert_eq!(code(&out), 3);
    let run = p.last_run();
    let out = p.flowc(&["approve", &run, "ok", "--as", "me", "--json"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(s["status"], "completed", "{}", stderr(&out));
}
