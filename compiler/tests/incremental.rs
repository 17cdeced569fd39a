//! Incrementality, proved with salsa's event log: which queries re-executed
//! after an edit. (Never with a stopwatch.)

use std::sync::{Arc, Mutex};

use flowc_compiler::{Database, Project, SourceFile, check_project};
use salsa::Setter;

const TEXT: &str = r#"agent researcher { command "sh research.sh" }

workflow alpha {
  input company: string
  step one: agent researcher {
    prompt "Research ${inputs.company}"
    output { summary: string }
  }
  step two after one { command "echo ${one.output.summary}" }
  step three after two { command "echo three" }
}

workflow beta {
  step four { command "echo 4" }
  step five after four { command "echo ${four.output}" }
}
"#;

struct Harness {
    db: Database,
    file: SourceFile,
    project: Project,
    log: Arc<Mutex<Vec<String>>>,
}

impl Harness {
    fn new(text: &str) -> Harness {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = log.clone();
        let db = Database::with_event_hook(move |event| {
            if let salsa::EventKind::WillExecute { database_key } = event.kind {
                sink.lock().unwrap().push(format!("{database_key:?}"));
            }
        });
        let file = SourceFile::new(&db, "project.flow".into(), text.into());
        let project = Project::new(&db, vec![file]);
        Harness { db, file, project, log }
    }

    /// Checks the project and returns the queries that executed.
    fn check(&mut self) -> Vec<String> {
        let _ = check_project(&self.db, self.project);
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    fn edit(&mut self, from: &str, to: &str) -> Vec<String> {
        let text = self.file.text(&self.db).clone();
        assert!(text.contains(from), "edit target `{from}` not found");
        self.file.set_text(&mut self.db).to(text.replacen(from, to, 1));
        self.check()
    }

    fn diagnostics(&self) -> Vec<(String, String)> {
        check_project(&self.db, self.project)
            .iter()
            .map(|d| (d.code.as_str().to_string(), self.file.text(&self.db)[d.span.range()].to_string()))
            .collect()
    }
}

fn named<'a>(log: &'a [String], query: &str) -> Vec<&'a str> {
    log.iter().filter(|l| l.starts_with(&format!("{query}("))).map(String::as_str).collect()
}

/// The keys a query ran with on the cold check, in declaration order.
fn keys(log: &[String], query: &str) -> Vec<String> {
    named(log, query).into_iter().map(str::to_string).collect()
}

#[test]
fn editing_a_step_body_rechecks_only_that_step() {
    let mut h = Harness::new(TEXT);
    let cold = h.check();
    let workflows = keys(&cold, "check_workflow");
    assert_eq!(workflows.len(), 2, "{cold:#?}");

    let log = h.edit("echo three", "echo three, edited");
    assert_eq!(named(&log, "check_step").len(), 1, "only the edited step is re-checked: {log:#?}");
    assert!(named(&log, "parse_piece").len() == 1, "only the edited piece is re-parsed: {log:#?}");
    assert!(named(&log, "workflow_graph").is_empty(), "a body edit leaves the graph alone: {log:#?}");
    assert!(named(&log, "check_workflow").is_empty(), "the step's diagnostics did not change: {log:#?}");
    assert!(named(&log, "check_decl").is_empty(), "{log:#?}");
}

#[test]
fn editing_one_workflow_does_not_recheck_the_other() {
    let mut h = Harness::new(TEXT);
    let cold = h.check();
    let workflows = keys(&cold, "check_workflow");
    let graphs = keys(&cold, "workflow_graph");
    let (alpha, beta) = (&workflows[0], &workflows[1]);

    // A header edit changes alpha's graph and introduces an error in alpha.
    let log = h.edit("step three after two", "step three after one");
    assert!(log.contains(&graphs[0]), "alpha's graph is rebuilt: {log:#?}");
    assert!(!log.contains(&graphs[1]), "beta's graph is not: {log:#?}");
    assert!(log.contains(alpha), "alpha is re-checked: {log:#?}");
    assert!(!log.contains(beta), "beta is not re-checked: {log:#?}");

    // And the other way round.
    let log = h.edit("echo ${four.output}", "echo ${four.stdout}");
    assert!(!log.contains(alpha), "alpha is not re-checked after an edit in beta: {log:#?}");
    assert!(named(&log, "check_step").len() == 1, "{log:#?}");
}

#[test]
fn moving_code_rechecks_nothing_and_spans_follow() {
    let broken = TEXT.replace("echo ${four.output}", "echo ${fuor.output}");
    let mut h = Harness::new(&broken);
    h.check();
    assert_eq!(h.diagnostics(), vec![("E0401".to_string(), "fuor".to_string())]);

    // Two lines inserted at the top shift every declaration.
    let log = h.edit("agent researcher", "// a comment\n\nagent researcher");
    for query in ["check_step", "check_workflow", "check_decl", "workflow_graph", "parse_piece", "check_project_wide"] {
        assert!(named(&log, query).is_empty(), "moving code must not re-run {query}: {log:#?}");
    }
    // The diagnostic still points at the same text.
    assert_eq!(h.diagnostics(), vec![("E0401".to_string(), "fuor".to_string())]);
}

#[test]
fn a_file_with_syntax_errors_still_gets_semantic_checks() {
    let text = TEXT.replace("step four {", "step four {\n    comand \"x\"\n ").replace("after one {", "after onee {");
    let mut h = Harness::new(&text);
    h.check();
    let codes: Vec<String> = h.diagnostics().into_iter().map(|(c, _)| c).collect();
    assert!(codes.contains(&"E0101".to_string()), "{codes:?}");
    assert!(codes.contains(&"E0203".to_string()), "{codes:?}");
}

#[test]
fn an_edit_before_a_steps_output_declaration_leaves_the_graph_alone() {
    // `one` declares its output after its prompt: growing the prompt moves
    // the declaration, which must not change the step's signature.
    let mut h = Harness::new(TEXT);
    h.check();
    let log = h.edit("Research ${inputs.company}", "Research ${inputs.company} in depth");
    assert!(named(&log, "workflow_graph").is_empty(), "{log:#?}");
    assert_eq!(named(&log, "check_step").len(), 1, "{log:#?}");
}

#[test]
fn editing_a_step_inside_a_group_reparses_only_that_step() {
    let text = r#"workflow lifecycle {
  phase design {
    step schema { command "echo schema" }
    step api after schema { command "echo api" }
  }
  phase development after design {
    parallel build {
      step backend { command "echo backend" }
      step frontend { command "echo frontend" }
    }
    step integrate after build { command "echo ${backend.stdout}" }
  }
}
"#;
    let mut h = Harness::new(text);
    h.check();
    assert!(h.diagnostics().is_empty(), "{:?}", h.diagnostics());
    let log = h.edit("echo frontend", "echo frontend, edited");
    assert_eq!(named(&log, "parse_piece").len(), 1, "only the edited member is re-parsed: {log:#?}");
    assert_eq!(named(&log, "check_step").len(), 1, "{log:#?}");
    assert!(named(&log, "workflow_graph").is_empty(), "{log:#?}");
    // Membership still holds: `integrate` sees `backend` as upstream through the group.
    let log = h.edit("echo ${backend.stdout}", "echo ${backend.stdout} ${schema.stdout}");
    assert!(named(&log, "workflow_graph").is_empty(), "{log:#?}");
    assert!(h.diagnostics().is_empty(), "{:?}", h.diagnostics());
}

/// A file of `n` steps of every kind, chained, with the declarations they
/// use: what an edit in a big file is measured against.
fn big_file(n: usize) -> String {
    let mut out = String::from(
        "agent helper { command \"sh helper.sh\" }\n\npolicy rules {\n  deny when `input.size > 100000` because \"too big\"\n  allow when `true`\n}\n\n\
         workflow child {\n  input note: string = \"\"\n  step only { command \"echo ${inputs.note}\" }\n}\n\nworkflow big {\n  input go: bool = true\n",
    );
    for i in 0..n {
        let me = format!("s{i}");
        let after = if i == 0 { String::new() } else { format!(" after s{}", i - 1) };
        let step = match i % 11 {
            0 => format!("step {me}{after} {{ command \"echo {me}\" }}"),
            1 => format!("step {me}: notify{after} {{\n    channel \"c\"\n    message \"{me}\"\n  }}"),
            2 => format!("step {me}: agent helper{after} {{ prompt \"do {me}\" }}"),
            3 => format!("step {me}: approval{after} {{ message \"ship {me}?\" }}"),
            4 => format!("step {me}: human{after} {{ message \"look at {me}\" }}"),
            5 => format!("step {me}: wait{after} {{\n    event \"e.{me}\" subject \"s\"\n    timeout 1h\n  }}"),
            6 => format!("step {me}: check rules{after} {{ with {{ size: {i} }} }}"),
            7 => format!("step {me}: call child{after} {{ with {{ note: \"{me}\" }} }}"),
            8 if i + 1 < n => format!("step {me}: branch{after} {{\n    when `inputs.go` -> s{}\n  }}", i + 1),
            9 => format!("step {me}{after} {{\n    command \"echo '{{\\\"xs\\\": [1]}}'\"\n    output {{ xs: [int] }}\n    items `output.xs`\n  }}"),
            10 => format!("step {me}{after} for each item {{ command \"echo ${{item}} {me}\" }}"),
            _ => format!("step {me}{after} {{ command \"echo {me}\" }}"),
        };
        out.push_str("  ");
        out.push_str(&step);
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

#[test]
fn a_one_character_edit_in_a_big_file_reruns_one_step_and_bounded_aggregation() {
    let text = big_file(2_000);
    let mut h = Harness::new(&text);
    let cold = h.check();
    assert_eq!(named(&cold, "check_step").len(), 2_001, "every step is checked once cold");
    assert!(h.diagnostics().is_empty(), "{:?}", h.diagnostics());
    // One character typed inside the message of a `notify` step in the middle.
    for (from, to) in [("message \"s1002\"", "message \"xs1002\""), ("message \"xs1002\"", "message \"s1002\"")] {
        let log = h.edit(from, to);
        let checked = named(&log, "check_step");
        assert_eq!(checked.len(), 1, "only the edited step is re-checked: {checked:#?}");
        assert!(named(&log, "parse_piece").len() <= 1, "only the edited piece is re-parsed: {log:#?}");
        assert!(named(&log, "step_sig").len() <= 1, "only the edited step's signature is recomputed: {log:#?}");
        for query in ["workflow_graph", "check_workflow", "check_decl", "check_project_wide", "parse"] {
            assert!(named(&log, query).is_empty(), "{query} must not re-run: {log:#?}");
        }
        // What is left is a bounded number of aggregation queries, whatever
        // the size of the file: the file's model and the project's lists.
        assert!(log.len() <= 12, "{} queries re-ran: {log:#?}", log.len());
        assert!(h.diagnostics().is_empty(), "{:?}", h.diagnostics());
    }
}

/// An edit in the body of a step that sets `items` re-checks that step
/// alone: the `for each` steps after it type `item` from its signature, not
/// from its tree.
#[test]
fn an_edit_in_an_items_step_rechecks_it_alone() {
    let text = big_file(1_100);
    let mut h = Harness::new(&text);
    h.check();
    for (from, to) in [("step s999 after s998 {\n    command \"echo", "step s999 after s998 {\n    command \"echo "), ("command \"echo  '", "command \"echo '")] {
        let log = h.edit(from, to);
        let checked = named(&log, "check_step");
        assert_eq!(checked.len(), 1, "only the edited step is re-checked: {checked:#?}");
        assert!(named(&log, "workflow_graph").is_empty(), "{log:#?}");
        assert!(h.diagnostics().is_empty(), "{:?}", h.diagnostics());
    }
}

/// A small deterministic generator (no dependency, the same sequence on
/// every run and machine).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

/// Incremental diagnostics are exactly those of a fresh database, after
/// every edit of a random series: characters that open and close strings,
/// expressions, comments and blocks, line breaks, renames, deletions,
/// including edits that break the file's split and edits that restore it.
#[test]
fn incremental_diagnostics_equal_a_fresh_check_after_random_edits() {
    let base = format!("{}\n{TEXT}", big_file(40));
    let mut h = Harness::new(&base);
    h.check();
    let mut rng = Lcg(0x5eed_f10c);
    let inserts = ["x", "\"", "{", "}", "`", "\n", "$", "${", "//", "/*", "*/", " ", "step z { command \"echo\" }\n", "after s3", "s1", "\\q"];
    for round in 0..160 {
        let text = h.file.text(&h.db).clone();
        let mut at = rng.next(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let edited = match rng.next(4) {
            // Mostly insertions; a deletion of up to 12 bytes; every 40th
            // round, back to the clean file so the fast path is exercised too.
            _ if round % 40 == 39 => base.clone(),
            0 => {
                let mut end = (at + 1 + rng.next(12)).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                format!("{}{}", &text[..at], &text[end..])
            }
            _ => format!("{}{}{}", &text[..at], inserts[rng.next(inserts.len())], &text[at..]),
        };
        h.file.set_text(&mut h.db).to(edited.clone());
        let incremental = check_project(&h.db, h.project).clone();
        let fresh = flowc_compiler::check_files(&[("project.flow", edited.as_str())]);
        assert_eq!(incremental, fresh, "round {round}: incremental and fresh diagnostics differ for:\n{edited}");
        h.log.lock().unwrap().clear();
    }
}
