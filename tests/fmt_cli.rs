//! `flowc fmt` end to end: what it writes, lists and exits with.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const UGLY: &str = "workflow w{step a{command \"x\"}}\n";
const PRETTY: &str = "workflow w {\n  step a {\n    command \"x\"\n  }\n}\n";
const BROKEN: &str = "workflow w {\n  step a {\n    comand \"x\"\n  }\n}\n";

/// A fresh directory for one test, holding `files` (path, text).
fn project(test: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fmt_cli").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn flowc(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // flowc may exit without reading (a usage error): a broken pipe is fine.
        let _ = pipe.write_all(text.as_bytes());
    }
    child.wait_with_output().unwrap()
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_lists_the_files_that_would_change_and_exits_1() {
    let dir = project(
        "check_lists",
        &[
            ("a.flow", UGLY.as_bytes()),
            ("b.flow", PRETTY.as_bytes()),
            ("sub/c.flow", UGLY.as_bytes()),
            ("target/skipped.flow", UGLY.as_bytes()),
            ("node_modules/skipped.flow", UGLY.as_bytes()),
        ],
    );
    let out = flowc(&dir, &["fmt", "--check"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a.flow\nsub/c.flow\n");
    assert_eq!(read(&dir, "a.flow"), UGLY, "--check wrote a file");
    assert_eq!(read(&dir, "sub/c.flow"), UGLY, "--check wrote a file");
}

#[test]
fn check_exits_0_when_everything_is_formatted() {
    let dir = project("check_clean", &[("a.flow", PRETTY.as_bytes()), ("target/skipped.flow", UGLY.as_bytes())]);
    let out = flowc(&dir, &["fmt", "--check", "."], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn rewrites_changed_files_in_place() {
    let dir = project("in_place", &[("a.flow", UGLY.as_bytes()), ("b.flow", PRETTY.as_bytes())]);
    let before = std::fs::metadata(dir.join("b.flow")).unwrap().modified().unwrap();
    let out = flowc(&dir, &["fmt"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a.flow\n");
    assert_eq!(read(&dir, "a.flow"), PRETTY);
    assert_eq!(read(&dir, "b.flow"), PRETTY);
    let after = std::fs::metadata(dir.join("b.flow")).unwrap().modified().unwrap();
    assert_eq!(before, after, "an already formatted file was written");
    let again = flowc(&dir, &["fmt", "--check"], None);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
}

#[test]
fn formats_the_files_named() {
    let dir = project("named", &[("a.flow", UGLY.as_bytes()), ("b.flow", UGLY.as_bytes())]);
    let out = flowc(&dir, &["fmt", "b.flow"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(read(&dir, "a.flow"), UGLY);
    assert_eq!(read(&dir, "b.flow"), PRETTY);
}

#[test]
fn dash_formats_stdin_to_stdout() {
    let dir = project("stdin", &[]);
    let out = flowc(&dir, &["fmt", "-"], Some(UGLY));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), PRETTY);
}

#[test]
fn dash_with_check_reports_without_printing_the_text() {
    let dir = project("stdin_check", &[]);
    let ugly = flowc(&dir, &["fmt", "--check", "-"], Some(UGLY));
    assert_eq!(ugly.status.code(), Some(1));
    assert_eq!(stdout(&ugly), "<stdin>\n");
    let pretty = flowc(&dir, &["fmt", "--check", "-"], Some(PRETTY));
    assert_eq!(pretty.status.code(), Some(0));
    assert_eq!(stdout(&pretty), "");
}

#[test]
fn a_file_with_syntax_errors_is_left_untouched_and_its_errors_printed() {
    let dir = project("syntax_error", &[("broken.flow", BROKEN.as_bytes()), ("ok.flow", UGLY.as_bytes())]);
    let out = flowc(&dir, &["fmt"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(read(&dir, "broken.flow"), BROKEN);
    // The other files are still formatted.
    assert_eq!(read(&dir, "ok.flow"), PRETTY);
    let err = stderr(&out);
    assert!(err.contains("E0101") && err.contains("broken.flow"), "{err}");
    assert!(err.contains("left unchanged"), "{err}");
}

#[test]
fn syntax_errors_on_stdin_print_nothing_on_stdout() {
    let dir = project("stdin_error", &[]);
    let out = flowc(&dir, &["fmt", "-"], Some(BROKEN));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("E0101"), "{}", stderr(&out));
}

#[test]
fn a_file_that_is_not_utf8_exits_2_before_anything_is_written() {
    let dir = project("not_utf8", &[("a.flow", UGLY.as_bytes()), ("b.flow", b"workflow \xff {}\n")]);
    let out = flowc(&dir, &["fmt"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid UTF-8"), "{}", stderr(&out));
    assert_eq!(read(&dir, "a.flow"), UGLY);
}

#[test]
fn a_missing_path_exits_2() {
    let dir = project("missing", &[]);
    let out = flowc(&dir, &["fmt", "nope.flow"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read nope.flow"), "{}", stderr(&out));
}

#[test]
fn dash_cannot_be_mixed_with_paths() {
    let dir = project("dash_mixed", &[("a.flow", UGLY.as_bytes())]);
    let out = flowc(&dir, &["fmt", "-", "a.flow"], Some(UGLY));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(read(&dir, "a.flow"), UGLY);
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_stays_a_link() {
    let dir = project("symlink", &[("real/a.flow", UGLY.as_bytes())]);
    std::os::unix::fs::symlink(dir.join("real/a.flow"), dir.join("link.flow")).unwrap();
    let out = flowc(&dir, &["fmt", "link.flow"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(dir.join("link.flow")).unwrap().file_type().is_symlink());
    assert_eq!(read(&dir, "real/a.flow"), PRETTY);
}

#[test]
fn a_file_named_twice_is_formatted_once() {
    let dir = project("named_twice", &[("a.flow", UGLY.as_bytes())]);
    let out = flowc(&dir, &["fmt", "--check", ".", "a.flow", "./a.flow"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "a.flow\n");
}

#[test]
fn every_example_is_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = flowc(root, &["fmt", "--check", "examples"], None);
    assert_eq!(out.status.code(), Some(0), "run `flowc fmt examples`:\n{}{}", stdout(&out), stderr(&out));
}
