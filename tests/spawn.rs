//! Spawned child runs end to end: recorded with their parent, held to the
//! spawn limits, resumed by themselves or with their parent.

mod support;

use serde_json::Value;
use support::copies::*;
use support::*;

#[test]
fn spawned_children_are_recorded_and_safety_limits_enforced() {
    let p = project("spawn", false);
    let (out, s) = run(&p, "parent", &[], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run_id = s["run"].as_str().unwrap();
    let mut done: Vec<String> = p.read("done.txt").lines().map(str::to_string).collect();
    done.sort();
    assert_eq!(done, ["a", "b", "single"], "flowc run waits for the spawned children");
    let show = p.json(&["runs", "show", run_id, "--json"]);
    let children = show["children"].as_array().unwrap();
    assert_eq!(children.len(), 3);
    for c in children {
        assert_eq!(c["spawned"], true);
        assert_eq!(c["depth"], 1);
        assert_eq!(c["status"], "completed");
        assert_eq!(c["step"], "plan");
    }
    let human = stdout(&p.flowc(&["runs", "show", run_id]));
    assert!(human.contains("spawned    plan"), "{human}");
    let spawned = events_named(&p.events(run_id), "spawned")[0].clone();
    assert_eq!(spawned["payload"]["children"].as_array().unwrap().len(), 3);

    let (out, s) = run(&p, "greedy", &[], &[]);
    assert_eq!(code(&out), 1);
    let err = step_error(&p, s["run"].as_str().unwrap(), "plan");
    assert!(err.starts_with("max_spawned_tasks 2 exceeded"), "{err}");

    let (out, _) = run(&p, "deep", &[], &[]);
    assert_eq!(code(&out), 0, "the parent is fine; its child may not spawn deeper");
    let child = runs_of(&p, "deep").into_iter().find(|r| !r["parent_run"].is_null()).unwrap();
    assert_eq!(child["status"], "failed");
    let err = step_error(&p, child["run"].as_str().unwrap(), "go");
    assert!(err.starts_with("max_spawn_depth 1 exceeded: run"), "{err}");
    assert_eq!(p.read("levels.txt"), "0\n1\n");

    let (out, s) = run(&p, "cool", &[], &[]);
    assert_eq!(code(&out), 1);
    let err = step_error(&p, s["run"].as_str().unwrap(), "b");
    assert!(err.starts_with("spawn_cooldown 1h not over"), "{err}");
}

#[test]
fn a_spawned_child_resumes_by_itself_or_with_its_parent() {
    let p = project("spawn", false);
    let (out, _) = run(&p, "fragile_parent", &[], &[]);
    assert_eq!(code(&out), 0, "the parent does not wait for its child's fate: {}", stderr(&out));
    let child = runs_of(&p, "fragile_child")[0].clone();
    assert_eq!(child["status"], "paused");
    std::fs::write(p.path("go"), "").unwrap();
    let out = p.flowc(&["resume", child["run"].as_str().unwrap(), "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    std::fs::remove_file(p.path("go")).unwrap();

    // kill -9 while parent and child both run; resume the parent.
    let quiet = |args: &[&str]| {
        p.cmd(args).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
    };
    let mut flowc = quiet(&["run", "durable_parent", "--json"]);
    wait_until("both steps to start", || p.read("b.started").lines().count() == 1 && p.read("c.started").lines().count() == 1);
    // SAFETY: signalling the child process this test spawned.
    unsafe {
        libc::kill(flowc.id() as i32, libc::SIGKILL);
    }
    let _ = flowc.wait();
    let parent = runs_of(&p, "durable_parent")[0]["run"].as_str().unwrap().to_string();
    let mut resume = quiet(&["resume", &parent, "--json"]);
    wait_until("both steps to run again", || p.read("b.started").lines().count() == 2 && p.read("c.started").lines().count() == 2);
    std::fs::write(p.path("go"), "").unwrap();
    let (exit, stdout, stderr) = wait_exit(&mut resume);
    assert_eq!(exit, 0, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(runs_of(&p, "durable_child")[0]["status"], "completed", "the child was resumed with its parent");
    assert_eq!(p.read("child_done"), "c\n", "the orphaned attempt was stopped before it could finish");
}
