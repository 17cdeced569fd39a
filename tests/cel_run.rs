//! CEL end to end: what the checker accepts, `flowc run` evaluates —
//! `matches`, timestamps (`run.started_at` is one) and the strings
//! extension, in a `when`, a command's hole and a workflow output.

mod support;

use support::*;

const RELEASE: &str = r#"workflow w {
  input branch: string = "release/1.2"
  output tag = `tag.status == 'completed' ? tag.output.trim() : 'none'`
  output when = `string(run.started_at.getFullYear()) == string(run.started_at).substring(0, 4)`
  step tag {
    when `inputs.branch.matches('^release/') && run.started_at > timestamp('2020-01-01T00:00:00Z')`
    command "echo ${inputs.branch.replace('release/', 'v').upperAscii()}-${'%d'.format([inputs.branch.split('/').size()])}"
  }
  step recent {
    when `run.started_at - timestamp('2020-01-01T00:00:00Z') > duration('24h')`
    command "echo recent"
  }
  step never {
    when `inputs.branch.lowerAscii().startsWith('main') || inputs.branch.indexOf('/') < 0`
    command "echo never"
  }
}
"#;

#[test]
fn matches_timestamps_and_string_functions_run_where_they_check() {
    let p = Project::new("cel-run");
    let (out, s) = p.run_source(RELEASE, "w", &[]);
    assert_eq!(s["status"], "completed", "{}", stderr(&out));
    assert_eq!(status(&s, "tag"), "completed");
    assert_eq!(status(&s, "recent"), "completed");
    assert_eq!(status(&s, "never"), "skipped");
    assert_eq!(s["outputs"]["tag"], "V1.2-2", "{s}");
    assert_eq!(s["outputs"]["when"], true, "{s}");
}

#[test]
fn a_branch_that_does_not_match_skips_the_step() {
    let p = Project::new("cel-run-main");
    let (out, s) = p.run_source(RELEASE, "w", &["-i", "branch=main"]);
    assert_eq!(s["status"], "completed", "{}", stderr(&out));
    assert_eq!(status(&s, "tag"), "skipped");
    assert_eq!(status(&s, "never"), "completed");
    assert_eq!(s["outputs"]["tag"], "none", "{s}");
}
