//! End-to-end tests of the `flowc` binary: output formats, exit codes, and
//! how IO and usage errors are reported.
//!
//! Every command runs with relative paths from one scratch root laid out
//! like the repository (`examples/` linked to the repository's, two sections
//! of `tests/fixtures/syntax.flowtest` written to `tests/fixtures/syntax/`),
//! so the paths in the output (and in the snapshots) are the same on every
//! machine.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const TYPO: &str = "tests/fixtures/syntax/e0101_keyword_typo.flow";
const MULTI: &str = "tests/fixtures/syntax/multiple_errors.flow";

struct Out {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// The scratch root every command runs from, made once per test process.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-root");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("a scratch root");
        std::os::unix::fs::symlink(repo.join("examples"), root.join("examples")).expect("a link to examples/");
        let syntax = support::fixture::load(&repo.join("tests/fixtures/syntax.flowtest"));
        for path in [TYPO, MULTI] {
            let name = path.rsplit('/').next().expect("a file name");
            let case = syntax.iter().find(|c| c.flow_files().any(|(f, _)| f == name)).expect("a syntax case");
            case.write_to(&root.join("tests/fixtures/syntax"));
        }
        root
    })
}

fn flowc(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_flowc"))
        .current_dir(root())
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("flowc runs");
    Out {
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        code: out.status.code(),
    }
}

fn snapshot(name: &str, text: &str) {
    insta::with_settings!({ snapshot_path => "snapshots/cli", prepend_module_to_snapshot => false, omit_expression => true, description => "regenerate: INSTA_UPDATE=always cargo test -p flowc --test cli" }, {
        insta::assert_snapshot!(name, text);
    });
}

/// A fresh, empty directory for one test, under cargo's scratch space for tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove the old scratch directory");
    }
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// A usage or IO error: exit 2, one message on stderr, nothing on stdout (so a
/// JSON consumer never reads half a result).
fn assert_fatal(out: &Out, needle: &str) {
    assert_eq!(out.code, Some(2), "expected exit 2\nstderr: {}", out.stderr);
    assert!(out.stdout.is_empty(), "expected nothing on stdout, got:\n{}", out.stdout);
    assert!(out.stderr.contains(needle), "expected {needle:?} in stderr:\n{}", out.stderr);
}

// ------------------------------------------------------------ exit codes

#[test]
fn every_example_checks_clean() {
    for example in ["hello", "outbound_sdr", "dev_lifecycle", "build_feature", "approvals", "ci_pipeline"] {
        let out = flowc(&["check", &format!("examples/{example}"), "--color", "never"]);
        assert_eq!(out.code, Some(0), "examples/{example}:\n{}", out.stderr);
        assert!(out.stdout.is_empty(), "human output belongs on stderr");
        assert!(out.stderr.contains("no problems found"), "{}", out.stderr);
    }
}

#[test]
fn errors_exit_1() {
    let out = flowc(&["check", TYPO, "--color", "never"]);
    assert_eq!(out.code, Some(1));
}

#[test]
fn any_project_with_errors_fails_the_whole_check() {
    let out = flowc(&["check", "examples/hello", TYPO, "--format", "json"]);
    assert_eq!(out.code, Some(1));
    let diags: Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    assert_eq!(diags.as_array().map(Vec::len), Some(1), "{diags:#}");
}

// --------------------------------------------------------------- human

#[test]
fn human_output_goes_to_stderr() {
    let out = flowc(&["check", MULTI, "--color", "never"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.is_empty());
    snapshot("human_multiple_errors", &out.stderr);
}

#[test]
fn human_output_is_plain_with_color_never() {
    let out = flowc(&["check", TYPO, "--color", "never"]);
    assert!(!out.stderr.contains('\u{1b}'), "escape codes in:\n{}", out.stderr);
    let out = flowc(&["check", TYPO, "--color", "always"]);
    assert!(out.stderr.contains('\u{1b}'), "no escape codes with --color always:\n{}", out.stderr);
}

#[test]
fn quiet_clean_check_prints_nothing() {
    let out = flowc(&["check", "examples/hello", "-q"]);
    assert_eq!(out.code, Some(0));
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "");
}

// ---------------------------------------------------------------- json

#[test]
fn json_items_carry_every_field() {
    let out = flowc(&["check", TYPO, "--format", "json"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.is_empty(), "json mode printed on stderr:\n{}", out.stderr);
    let diags: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    let items = diags.as_array().expect("an array");
    assert_eq!(items.len(), 1);
    let d = &items[0];
    let source = std::fs::read_to_string(root().join(TYPO)).expect("fixture");
    let start = source.find("comand").expect("the typo") as u64;
    assert_eq!(d["code"], "E0101");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["message"], "expected a step statement, found `comand`");
    assert_eq!(d["file"], TYPO);
    assert_eq!(d["span"]["start"], start);
    assert_eq!(d["span"]["end"], start + "comand".len() as u64);
    assert_eq!(d["line"], 3);
    assert_eq!(d["column"], 5);
    assert_eq!(d["help"], "did you mean `command`?");
    snapshot("json_keyword_typo", &out.stdout);
}

#[test]
fn json_of_a_clean_project_is_an_empty_array() {
    let out = flowc(&["check", "examples/outbound_sdr", "--format", "json"]);
    assert_eq!(out.code, Some(0));
    assert_eq!(serde_json::from_str::<Value>(&out.stdout).expect("JSON"), Value::Array(Vec::new()));
}

#[test]
fn json_lists_every_error_in_source_order() {
    let out = flowc(&["check", MULTI, "--format", "json"]);
    let diags: Value = serde_json::from_str(&out.stdout).expect("JSON");
    let lines: Vec<u64> = diags.as_array().expect("array").iter().map(|d| d["line"].as_u64().expect("line")).collect();
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "not in source order: {lines:?}");
}

// --------------------------------------------------------------- sarif

fn sarif_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(path).expect("schema");
    // The published schema's `run.language` pattern has a stray `]`, which
    // ECMA-262 reads as a literal but the validator's meta-schema check rejects
    // as an invalid regex. Escaping it keeps the meaning and lets the schema compile.
    let stray = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    assert!(text.contains(stray), "the SARIF schema changed; revisit the pattern fix-up");
    let text = text.replace(stray, r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$""#);
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("the SARIF schema compiles")
}

fn assert_valid_sarif(log: &Value) {
    let errors: Vec<String> =
        sarif_validator().iter_errors(log).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "invalid SARIF:\n{}\n{log:#}", errors.join("\n"));
}

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let out = flowc(&["check", MULTI, "--format", "sarif"]);
    assert_eq!(out.code, Some(1));
    let log: Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
    assert_valid_sarif(&log);
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert!(results.len() >= 3);
    for r in results {
        let rule = &log["runs"][0]["tool"]["driver"]["rules"][r["ruleIndex"].as_u64().expect("ruleIndex") as usize];
        assert_eq!(rule["id"], r["ruleId"], "ruleIndex points at another rule");
        assert_eq!(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], MULTI);
    }
}

#[test]
fn sarif_of_a_clean_project_is_valid_and_empty() {
    let out = flowc(&["check", "examples/hello", "--format", "sarif"]);
    assert_eq!(out.code, Some(0));
    let log: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_valid_sarif(&log);
    assert_eq!(log["runs"][0]["results"], Value::Array(Vec::new()));
}

#[test]
fn the_schema_check_rejects_a_broken_log() {
    // Proves the validation above can fail: a result without a message is not SARIF.
    let out = flowc(&["check", TYPO, "--format", "sarif"]);
    let mut log: Value = serde_json::from_str(&out.stdout).expect("JSON");
    log["runs"][0]["results"][0].as_object_mut().expect("a result").remove("message");
    assert!(!sarif_validator().is_valid(&log));
}

// -------------------------------------------------------------- github

#[test]
fn github_prints_one_annotation_per_diagnostic() {
    let out = flowc(&["check", MULTI, "--format", "github"]);
    assert_eq!(out.code, Some(1));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 3, "{}", out.stdout);
    for line in &lines {
        let prefix = format!("::error file={MULTI},line=");
        assert!(line.starts_with(&prefix), "not an annotation: {line}");
        let (props, message) = line["::error ".len()..].split_once("::").expect("`::` before the message");
        assert!(props.contains(",col="), "no column: {line}");
        assert!(props.contains(",title=E01"), "no code: {line}");
        assert!(!message.is_empty());
    }
    snapshot("github_multiple_errors", &out.stdout);
}

#[test]
fn github_escapes_newlines_in_messages() {
    let out = flowc(&["check", TYPO, "--format", "github"]);
    assert_eq!(out.stdout.lines().count(), 1, "a help line broke the annotation:\n{}", out.stdout);
    assert!(out.stdout.contains("%0Ahelp: did you mean `command`?"), "{}", out.stdout);
}

// ------------------------------------------------------ io and usage

#[test]
fn missing_file_is_fatal() {
    let out = flowc(&["check", "examples/no_such_project.flow", "--format", "json"]);
    assert_fatal(&out, "cannot read examples/no_such_project.flow: No such file or directory");
    snapshot("missing_file", &out.stderr);
}

#[test]
fn path_through_a_file_is_fatal() {
    let out = flowc(&["check", "examples/hello/hello.flow/inner.flow"]);
    assert_fatal(&out, "cannot read examples/hello/hello.flow/inner.flow: Not a directory");
}

#[test]
fn unreadable_file_inside_a_project_is_fatal() {
    let dir = scratch("unreadable");
    std::fs::write(dir.join("good.flow"), "workflow w {\n  step s {\n    command \"true\"\n  }\n}\n").expect("write");
    // A dangling link is a `.flow` entry that cannot be read, whoever runs the test
    // (permission bits do not stop root).
    std::os::unix::fs::symlink(dir.join("gone.flow"), dir.join("broken.flow")).expect("symlink");
    let out = flowc(&["check", dir.to_str().expect("UTF-8 path"), "--format", "json"]);
    assert_fatal(&out, "broken.flow: No such file or directory");
}

#[test]
fn directory_without_flow_files_is_fatal() {
    let dir = scratch("empty_project");
    std::fs::write(dir.join("notes.txt"), "not a flow file").expect("write");
    std::fs::create_dir_all(dir.join("target")).expect("mkdir");
    std::fs::write(dir.join("target/skipped.flow"), "workflow w {}").expect("write");
    let out = flowc(&["check", dir.to_str().expect("UTF-8 path"), "--format", "sarif"]);
    assert_fatal(&out, "contains no .flow files");
}

#[test]
fn non_utf8_file_is_fatal() {
    let dir = scratch("latin1");
    let path = dir.join("latin1.flow");
    std::fs::write(&path, b"workflow caf\xe9 {}\n").expect("write");
    let out = flowc(&["check", path.to_str().expect("UTF-8 path"), "--format", "json"]);
    assert_fatal(&out, "is not valid UTF-8 (invalid byte at offset 12)");
}

#[test]
fn unknown_format_is_a_usage_error() {
    let out = flowc(&["check", "examples/hello", "--format", "xml"]);
    assert_fatal(&out, "invalid value 'xml' for '--format <FORMAT>'");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = flowc(&["check", "--frobnicate"]);
    assert_fatal(&out, "unexpected argument '--frobnicate'");
}

#[test]
fn unknown_command_is_a_usage_error() {
    let out = flowc(&["frobnicate"]);
    assert_fatal(&out, "unrecognized subcommand 'frobnicate'");
}

// -------------------------------------------------------------- explain

#[test]
fn explain_prints_the_catalogue_page() {
    let out = flowc(&["explain", "E0101"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.starts_with("# E0101: unexpected syntax\n"), "{}", out.stdout);
    assert!(out.stdout.contains("## Wrong") && out.stdout.contains("## Fixed"));
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics/E0101.md")).expect("page");
    assert_eq!(out.stdout, page);
}

#[test]
fn explain_accepts_lowercase_codes() {
    let out = flowc(&["explain", "e0109"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.starts_with("# E0109:"));
}

#[test]
fn explain_of_an_unknown_code_is_a_usage_error() {
    let out = flowc(&["explain", "E9999"]);
    assert_fatal(&out, "unknown diagnostic code `E9999`");
    snapshot("explain_unknown_code", &out.stderr);
}
