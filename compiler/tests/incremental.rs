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
