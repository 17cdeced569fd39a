//! End-to-end: hostile values in command holes, from `.flow` source through
//! `flowc run`, reach the command as exactly their text in every quoting
//! context; a NUL fails the step with a message naming the hole.

mod support;

use serde_json::Value;
use support::*;

/// The docs' own example, and the other quoting contexts, in one workflow.
const SOURCE: &str = r#"workflow shell {
  input name: string
  step greet {
    command "echo \"hello ${inputs.name} from $HOME\""
  }
  step single after greet { command "printf '%s' 'it is ${inputs.name}!'" }
  step bare after single { command "printf '(%s)' ${inputs.name}" }
  step here after bare { command "cat <<EOF\n<${inputs.name}> $$HOME\nEOF" }
  step quoted after here { command "cat <<'EOF'\n<${inputs.name}> $$HOME\nEOF" }
}
"#;

fn run_with(p: &Project, name: &str) -> (std::process::Output, Value) {
    std::fs::write(p.path("shell.flow"), SOURCE).unwrap();
    std::fs::write(p.path("inputs.json"), serde_json::json!({ "name": name }).to_string()).unwrap();
    let out = p.flowc(&["run", "shell.flow", "--json", "--input-file", "inputs.json"]);
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, summary)
}

#[test]
fn hostile_names_arrive_literally_in_every_context() {
    let p = Project::new("shell-holes");
    let home = std::env::var("HOME").unwrap_or_default();
    for name in [
        "Ada Lovelace",
        "$(touch PWNED; echo x)",
        "`touch PWNED`",
        "'; touch PWNED; '",
        "\"; touch PWNED; \"",
        "a\\\"b\\",
        "x\nEOFX\n* ~ -n $HOME && | ;",
    ] {
        let (out, s) = run_with(&p, name);
        assert_eq!(code(&out), 0, "{name:?}: {}", stderr(&out));
        let output = |step: &str| s["steps"][step]["output"].as_str().unwrap_or_default().to_string();
        assert_eq!(output("greet"), format!("hello {name} from {home}"), "{name:?}");
        assert_eq!(output("single"), format!("it is {name}!"), "{name:?}");
        assert_eq!(output("bare"), format!("({name})"), "{name:?}");
        assert_eq!(output("here"), format!("<{name}> {home}"), "{name:?}");
        assert_eq!(output("quoted"), format!("<{name}> $HOME"), "{name:?}");
        assert!(!p.path("PWNED").exists(), "{name:?} ran as code");
    }
}

#[test]
fn a_nul_fails_the_step_naming_the_hole() {
    let p = Project::new("shell-nul");
    let (out, s) = run_with(&p, "a\0b");
    assert_ne!(code(&out), 0);
    assert_eq!(s["steps"]["greet"]["status"], "failed", "{s}");
    let all = format!("{s}{}", stderr(&out));
    assert!(all.contains("the value of `${inputs.name}` contains a NUL byte"), "{all}");
}

#[test]
fn a_value_that_would_end_a_here_document_fails_the_step() {
    let p = Project::new("shell-eof");
    let (out, s) = run_with(&p, "x\nEOF\ntouch PWNED");
    assert_ne!(code(&out), 0);
    assert_eq!(s["steps"]["here"]["status"], "failed", "{s}");
    assert!(format!("{s}").contains("makes a line `EOF`"), "{s}");
    assert!(!p.path("PWNED").exists());
}

#[test]
fn arithmetic_takes_only_integers() {
    let p = Project::new("shell-arith");
    let source = "workflow arith {\n  input n: string\n  step add { command \"echo $(( ${inputs.n} + 1 ))\" }\n}\n";
    std::fs::write(p.path("arith.flow"), source).unwrap();
    let (out, s) = {
        let out = p.flowc(&["run", "arith.flow", "--json", "-i", "n=41"]);
        (out.clone(), serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null))
    };
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s["steps"]["add"]["output"], 42);
    // bash would run the `$(…)` of an array subscript inside arithmetic.
    let out = p.flowc(&["run", "arith.flow", "--json", "-i", "n=a[$(touch PWNED)]"]);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(s["steps"]["add"]["status"], "failed", "{s}");
    assert!(format!("{s}").contains("`${inputs.n}` is not an integer"), "{s}");
    assert!(!p.path("PWNED").exists());
}

/// In a job per item the item and the outer steps a member reads come
/// through the parent's call as data: hostile ones still reach each
/// member's command as exactly their text, and `FLOW_ITEM` holds the item.
#[test]
fn hostile_items_and_outer_outputs_arrive_literally_in_a_job_per_item() {
    let p = Project::new("shell-holes-job");
    let names = ["$(touch PWNED; echo x)", "`touch PWNED`", "'; touch PWNED; '", "\"; touch PWNED; \"", "x\nEOFX\n* ~ -n $HOME && | ;"];
    std::fs::write(p.path("names.json"), serde_json::json!(names).to_string()).unwrap();
    std::fs::write(p.path("outer.json"), serde_json::json!("$(touch PWNED) 'q' \"d\"").to_string()).unwrap();
    let source = r#"workflow w {
  step names { command "cat names.json" output [string] items `output` }
  step outer { command "cat outer.json" output string }
  parallel each after names, outer for each item {
    step bare { command "printf '(%s)' ${item}" }
    step single after bare { command "printf '%s' 'it is ${item}!'" }
    step in_env after single { command "printf '%s|%s' \"$FLOW_ITEM\" \"$FLOW_ITEM_INDEX\"" }
    step outer_read after in_env { command "printf '%s' \"${outer.output}\"" }
  }
}
"#;
    std::fs::write(p.path("w.flow"), source).unwrap();
    let out = p.flowc(&["run", "w.flow", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let jobs = s["steps"]["each"]["output"].as_array().expect("one result per item");
    assert_eq!(jobs.len(), names.len());
    for (i, (name, job)) in names.iter().zip(jobs).enumerate() {
        assert_eq!(job["bare"], format!("({name})"), "{name:?}");
        assert_eq!(job["single"], format!("it is {name}!"), "{name:?}");
        assert_eq!(job["in_env"], format!("{name}|{i}"), "{name:?}");
        assert_eq!(job["outer_read"], "$(touch PWNED) 'q' \"d\"", "{name:?}");
    }
    assert!(!p.path("PWNED").exists(), "a hostile value ran as code");
}
