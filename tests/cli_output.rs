//! How the binary prints: to a reader that went away (`flowc … | head`),
//! very long source lines in human diagnostics, and tables whose names are
//! longer than their headers.

mod support;

use std::process::Stdio;

use support::*;

const SOURCE: &str = r#"store notes { backend local } // flowc: allow W0101

workflow a_workflow_name_longer_than_twenty_four {
  step a_step_name_longer_than_twenty_four_chars {
    command "printf '{\"k\": 1}'"
  }
  step short after a_step_name_longer_than_twenty_four_chars {
    command "echo hi"
  }
  step fails_too after short {
    command "exit 3"
  }
}
"#;

const WORKFLOW: &str = "a_workflow_name_longer_than_twenty_four";

/// A project with one finished run and a store entry.
fn project_with_a_run(name: &str) -> (Project, String) {
    let p = Project::new(name);
    let (out, summary) = p.run_source(SOURCE, WORKFLOW, &[]);
    assert_eq!(code(&out), 1, "the last step fails: {}", stderr(&out));
    assert_eq!(code(&p.flowc(&["store", "put", "notes", "k", r#"{"n": 1}"#])), 0);
    let run = summary["run"].as_str().expect("a run id").to_string();
    (p, run)
}

/// Runs `flowc ARGS` with stdout (or stderr) a pipe whose reader is gone.
/// It must end without a panic: quietly, as a Unix filter does.
fn assert_quiet_on_closed(p: &Project, args: &[&str], close_stderr: bool) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut cmd = p.cmd(args);
    cmd.stdin(Stdio::null());
    if close_stderr {
        cmd.stdout(Stdio::piped()).stderr(writer);
    } else {
        cmd.stdout(writer).stderr(Stdio::piped());
    }
    let out = cmd.output().expect("flowc runs");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_ne!(out.status.code(), Some(101), "flowc {args:?} panicked: {text}");
    assert!(!text.contains("panicked"), "flowc {args:?}: {text}");
    assert!(!text.contains("Broken pipe"), "flowc {args:?}: {text}");
}

#[test]
fn every_printing_command_exits_quietly_when_its_reader_goes_away() {
    let (p, run) = project_with_a_run("epipe");
    let commands: Vec<Vec<&str>> = vec![
        vec!["check", "--format", "json"],
        vec!["check", "--format", "sarif"],
        vec!["check", "--format", "github"],
        vec!["explain", "E0101"],
        vec!["build", "--workflow", WORKFLOW],
        vec!["graph", WORKFLOW],
        vec!["runs", "list"],
        vec!["runs", "list", "--json"],
        vec!["runs", "show", &run],
        vec!["runs", "events", &run],
        vec!["runs", "events", &run, "--json"],
        vec!["runs", "logs", &run],
        vec!["runs", "stats"],
        vec!["store", "list", "notes"],
        vec!["get", "workflows"],
        vec!["export", "--format", "yaml"],
        vec!["--help"],
    ];
    for args in &commands {
        assert_quiet_on_closed(&p, args, false);
    }
    // Human diagnostics go to stderr: `flowc check 2>&1 | head`.
    std::fs::write(p.path("broken.flow"), "workflow w {\n  @\n}\n").unwrap();
    assert_quiet_on_closed(&p, &["check"], true);
}

/// A step named longer than the STEP column used to run into STATUS.
#[test]
fn runs_show_and_list_size_columns_to_their_content() {
    let (p, run) = project_with_a_run("columns");
    let show = stdout(&p.flowc(&["runs", "show", &run]));
    let table: String = show.lines().skip_while(|l| !l.starts_with("STEP")).take(5).map(|l| format!("{l}\n")).collect();
    insta::with_settings!({ snapshot_path => "snapshots/cli", prepend_module_to_snapshot => false, omit_expression => true, description => "regenerate: INSTA_UPDATE=always cargo test -p flowc --test cli_output" }, {
        insta::assert_snapshot!("runs_show_long_names", table);
    });
    // `runs list`: every cell starts where its header does.
    let list = stdout(&p.flowc(&["runs", "list"]));
    let mut lines = list.lines();
    let header = lines.next().expect("a header");
    let row = lines.next().expect("a row");
    for (name, value) in [("WORKFLOW", WORKFLOW), ("STATUS", "failed")] {
        let at = header.find(name).unwrap();
        assert_eq!(row.find(value), Some(at), "{name} column:\n{list}");
    }
    let stats = stdout(&p.flowc(&["runs", "stats"]));
    assert!(stats.lines().nth(1).is_some_and(|l| l.starts_with(&format!("{WORKFLOW} "))), "{stats}");
}

/// 70,000 columns before the error: the snippet is a window of the line,
/// and the position in the header is still the true one.
#[test]
fn human_diagnostics_on_a_very_long_line() {
    let p = Project::new("long-line");
    let text = format!("workflow a {{{}@ }}\n", " ".repeat(70_000));
    std::fs::write(p.path("long.flow"), &text).unwrap();
    let column = text.find('@').unwrap() + 1;
    for args in [vec!["check", "long.flow"], vec!["fmt", "long.flow"]] {
        let out = p.flowc(&args);
        let err = stderr(&out);
        assert_ne!(code(&out), 101, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains(&format!("long.flow:1:{column}")), "{args:?}: {err}");
        assert!(err.lines().all(|l| l.chars().count() < 400), "{args:?}: a line of {} characters", err.lines().map(|l| l.chars().count()).max().unwrap_or(0));
    }
}
