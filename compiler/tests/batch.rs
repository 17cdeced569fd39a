//! A one-shot check (`Database::batch` and `check_project_on_all_cores`, as
//! `flowc check` runs it: pieces parsed ahead and steps checked on every
//! core) reports exactly what the editor's sequential check reports.

use flowc_compiler::{Database, Project, SourceFile, check_project, check_project_on_all_cores};

/// Two files, large enough for both the parse ahead (64 KB) and the
/// threads (256 steps), with mistakes scattered through them.
fn project() -> Vec<(String, String)> {
    let mut agents = String::from("agent writer {\n  command \"sh agent.sh\"\n}\n\nagent unused {\n  command \"true\"\n}\n");
    agents.push_str("store memo {\n  schema { type: \"object\", properties: { n: { type: \"integer\" } } }\n}\n");
    agents.push_str("template echo_step: run {\n  command \"echo template\"\n}\n");
    agents.push_str("policy spend {\n  deny when `input.amount > 10` because \"too much\"\n}\n");
    let mut flows = String::new();
    for w in 0..4 {
        flows.push_str(&format!("// workflow {w}: {}\nworkflow w{w} {{\n  input n: int = 1\n\n", "padding ".repeat(40)));
        for s in 0..100 {
            let after = if s == 0 { String::new() } else { format!(" after s{}", s - 1) };
            let body = match s % 25 {
                3 => format!("    command \"echo ${{s{}.output.x}}\"\n", s + 1), // not upstream
                7 => "    command \"echo ${inputs.n + 'x'}\"\n".to_string(), // a type error
                11 => "    prompt \"hello\"\n".to_string(), // wrong statement for a run step
                13 => format!("    command \"echo $s{}.stdout\"\n", s - 1),
                _ => format!("    description \"step {s} of workflow {w}: {}\"\n    command \"echo {s}\"\n", "text ".repeat(20)),
            };
            // Steps that read other declarations: a called workflow's inputs,
            // a store's schema, a template's body.
            if s == 50 && w > 0 {
                flows.push_str(&format!("  step s{s}: call w{}{after} {{\n    with {{ n: 2 }}\n  }}\n", w - 1));
                continue;
            }
            if s == 60 {
                flows.push_str(&format!("  step s{s}{after} {{\n    command \"echo 1\"\n    then put memo.last = `{{'n': 'x'}}`\n  }}\n"));
                continue;
            }
            if s == 70 {
                flows.push_str(&format!("  step s{s}: use echo_step{after} {{\n    description \"from a template\"\n  }}\n"));
                continue;
            }
            let kind = if s % 25 == 17 { ": agent writr" } else { "" };
            flows.push_str(&format!("  step s{s}{kind}{after} {{\n{body}  }}\n"));
        }
        flows.push_str("  step stray after nowhere {\n    command \"true\"\n  }\n}\n\n");
    }
    vec![("agents.flow".into(), agents), ("flows.flow".into(), flows)]
}

fn inputs(db: &Database, files: &[(String, String)]) -> Project {
    let files = files.iter().map(|(p, t)| SourceFile::new(db, p.clone(), t.clone())).collect();
    Project::new(db, files)
}

#[test]
fn the_one_shot_check_reports_what_the_sequential_one_does() {
    let files = project();
    assert!(files[1].1.len() > 64 * 1024, "big enough to parse ahead");

    let db = Database::default();
    let project = inputs(&db, &files);
    let sequential = check_project(&db, project).clone();

    let batch = Database::batch();
    let project = inputs(&batch, &files);
    let parallel = check_project_on_all_cores(&batch, project).clone();

    let codes: std::collections::BTreeSet<&str> = sequential.iter().map(|d| d.code.as_str()).collect();
    // No syntax error: a file with one is parsed whole, not in pieces.
    assert!(!codes.iter().any(|c| c.starts_with("E01")), "{codes:?}");
    for code in ["E0402", "E0408", "E0601", "E0204", "E0203", "E0504", "W0101"] {
        assert!(codes.contains(code), "the project exercises {code}: {codes:?}");
    }
    assert_eq!(sequential, parallel);
}
