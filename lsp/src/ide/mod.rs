//! The editor features, one module each. They run on worker threads with a
//! [`World`] (the database, and the files and projects by compiler path),
//! read the compiler's queries, and answer in plain types.
//!
//! **Architecture Invariant:** nothing here knows the protocol. A feature
//! takes a [`World`], a file of it and a byte offset and answers in byte
//! spans, files named by the path the compiler knows them by, and the plain
//! structs below. What only the server knows (how the client names each
//! file, editor versions) stays with the server, which hands the features
//! its world: `crate::server` turns a request's position into a file and
//! an offset, `crate::convert` turns the answers into the protocol's types
//! (lines, UTF-16 columns, the client's names of files) and `crate::server`
//! sends them.
//!
//! Positions come from the whole-file tree (`flowc_compiler::parse`,
//! memoised per file text), meaning from the piecewise model and its
//! queries (the name index, the step graph, expression scopes): a feature
//! finds *where* in the tree and asks the model *what*. None of this is on
//! the diagnostics path.

pub mod actions;
pub mod completion;
pub mod format;
pub mod hover;
pub mod navigate;
pub mod rename;
mod scope;
pub mod symbols;
pub mod tokens;
mod world;

pub use world::{File, ProjectFiles, World};

use flowc_compiler::Project;
use flowc_compiler::model::{StepDef, WorkflowDef, item_index};
use flowc_grammar::Parse;
use flowc_grammar::ast::Span;

/// A span of one file of the project, the file named by its compiler path
/// ([`File::path`], the name diagnostics use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpan {
    /// The compiler's path of the file.
    pub path: String,
    /// Byte offsets into that file's text.
    pub span: Span,
}

/// Replace the bytes of `span` with `new_text`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextEdit {
    /// Byte offsets into the edited file's text, before the edit.
    pub span: Span,
    /// What the span becomes.
    pub new_text: String,
}

/// Edits across the project: for each file (by compiler path, in the order
/// first edited), its edits.
pub type FileEdits = Vec<(String, Vec<TextEdit>)>;

/// Adds an edit to the list of its file in `edits`.
fn push_edit(edits: &mut FileEdits, path: &str, edit: TextEdit) {
    match edits.iter_mut().find(|(p, _)| p == path) {
        Some((_, list)) => list.push(edit),
        None => edits.push((path.to_string(), vec![edit])),
    }
}

/// One file of a world, ready for a feature.
pub struct FileCx<'a> {
    /// The world the feature reads.
    pub world: &'a World,
    /// The file the request is about.
    pub file: &'a File,
    /// That file's text.
    pub text: &'a str,
    /// The project (namespace) the file belongs to.
    pub project: Project,
}

impl<'a> FileCx<'a> {
    /// The context of one file of the world.
    pub fn new(world: &'a World, file: &'a File) -> FileCx<'a> {
        FileCx { world, file, text: world.text(file), project: world.project_of(file) }
    }

    /// The file's whole-file tree (memoised per text).
    pub fn parse(&self) -> &'a Parse {
        flowc_compiler::parse(&self.world.db, self.file.source)
    }

    /// The workflow of the project with this name.
    pub fn workflow(&self, name: &str) -> Option<WorkflowDef<'a>> {
        item_index(&self.world.db, self.project).workflow(name)
    }

    /// A step of a workflow of the project, with its workflow.
    pub fn step(&self, workflow: &str, name: &str) -> Option<(WorkflowDef<'a>, StepDef<'a>)> {
        let wf = self.workflow(workflow)?;
        let step = wf.steps(&self.world.db).iter().find(|s| s.name(&self.world.db) == name).copied()?;
        Some((wf, step))
    }
}

/// Whether `s` can be a name: a step, a declaration, a key.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}


/// Where a diagnostic code's page lives.
pub fn docs_url(code: &str) -> String {
    format!("https://github.com/flowc-dev/flowc/blob/main/docs/diagnostics/{code}.md")
}

#[cfg(test)]
mod tests {
    use flowc_grammar::ast::Span;

    use super::completion::{CompletionKind, completion};
    use super::hover::hover;
    use super::navigate::{definition, references};
    use super::rename::rename;
    use super::symbols::{SymbolKind, document_symbols};
    use super::tokens::{DECLARATION, TokenType, semantic_tokens};
    use super::{FileSpan, TextEdit, World};

    const PATH: &str = "/flowc-ide-test/hello.flow";
    const TEXT: &str = "workflow hello {\n  step greet {\n    command \"echo hi\"\n  }\n  step report after greet {\n    command \"echo ${greet.output}\"\n  }\n}\n";

    fn at(needle: &str, nth: usize) -> u32 {
        TEXT.match_indices(needle).nth(nth).map(|(i, _)| i as u32).expect("in the text")
    }

    fn span(needle: &str, nth: usize) -> Span {
        let start = at(needle, nth);
        Span::new(start, start + needle.len() as u32)
    }

    /// The features answer in byte spans and compiler paths: the step
    /// `greet` is defined once and named twice (in `after` and in a hole).
    #[test]
    fn the_features_answer_in_plain_types() {
        let world = World::single_file(PATH, TEXT);
        let file = world.file(PATH).expect("the file");
        let def = span("greet", 0);
        let uses = [span("greet", 1), span("greet", 2)];
        assert_eq!(definition(&world, file, uses[1].start), Some(vec![FileSpan { path: PATH.into(), span: def }]));
        assert_eq!(
            references(&world, file, def.start, false),
            Some(uses.iter().map(|s| FileSpan { path: PATH.into(), span: *s }).collect())
        );
        let edits = rename(&world, file, uses[0].start, "hi").expect("a name");
        let renamed: Vec<TextEdit> = [def, uses[0], uses[1]].iter().map(|s| TextEdit { span: *s, new_text: "hi".into() }).collect();
        assert_eq!(edits, Some(vec![(PATH.to_string(), renamed)]));
        assert!(rename(&world, file, def.start, "1x").is_err(), "not a name");

        let h = hover(&world, file, def.start + 1).expect("a hover on a step");
        assert_eq!(h.span, def);
        assert!(h.markdown.starts_with("```flow\nstep greet: run\n```"), "{}", h.markdown);
        let kw = hover(&world, file, at("command", 0)).expect("a keyword's hover");
        assert_eq!((kw.span, kw.markdown.starts_with("`command`: ")), (span("command", 0), true));

        let outline = document_symbols(&world, file);
        assert_eq!(outline.len(), 1);
        assert_eq!((outline[0].name.as_str(), outline[0].kind, outline[0].name_span), ("hello", SymbolKind::Workflow, span("hello", 0)));
        let steps: Vec<(&str, SymbolKind)> = outline[0].children.iter().map(|c| (c.name.as_str(), c.kind)).collect();
        assert_eq!(steps, [("greet", SymbolKind::Step), ("report", SymbolKind::Step)]);

        let tokens = semantic_tokens(&world, file);
        assert!(tokens.contains(&(def, TokenType::Function, DECLARATION)), "{tokens:?}");
        assert!(tokens.contains(&(uses[1], TokenType::Function, 0)), "{tokens:?}");
        assert!(tokens.windows(2).all(|w| w[0].0.end <= w[1].0.start), "in order, never overlapping");

        // After `after ` in a header: the other steps of the workflow.
        let items = completion(&world, file, at("greet", 1));
        let greet = items.iter().find(|i| i.label == "greet").expect("`greet` is offered");
        assert_eq!(greet.kind, CompletionKind::Step);
        assert!(items.iter().all(|i| i.label != "report"), "a step does not depend on itself");
    }

    /// A name inside an outcome condition is a reference to its step: go to
    /// definition and rename reach it.
    #[test]
    fn names_in_an_outcome_condition_are_references() {
        const T: &str = "workflow w {\n  step a { command \"true\" }\n  step b after succeeded(a) || failed(a) { command \"true\" }\n}\n";
        let world = World::single_file(PATH, T);
        let file = world.file(PATH).expect("the file");
        let spans: Vec<Span> = T.match_indices("(a)").map(|(i, _)| Span::new(i as u32 + 1, i as u32 + 2)).collect();
        let def = Span::new(T.find("step a").unwrap() as u32 + 5, T.find("step a").unwrap() as u32 + 6);
        assert_eq!(definition(&world, file, spans[1].start), Some(vec![FileSpan { path: PATH.into(), span: def }]));
        let edits = rename(&world, file, def.start, "build").expect("a name").expect("edits");
        assert_eq!(edits[0].1.len(), 3, "the declaration and both tests: {edits:?}");
    }

    /// A template's parameter is one symbol: its declaration, `params.NAME`
    /// in the template's lines and the argument keys of each use; rename
    /// changes them all.
    #[test]
    fn a_template_parameter_is_defined_referenced_and_renamed() {
        const T: &str = "template t(image: string) {\n  command \"echo ${params.image}\"\n}\nworkflow w {\n  step s: use t with { image: \"x\" } {}\n}\n";
        let world = World::single_file(PATH, T);
        let file = world.file(PATH).expect("the file");
        let spans: Vec<Span> = T.match_indices("image").map(|(i, _)| Span::new(i as u32, i as u32 + 5)).collect();
        assert_eq!(spans.len(), 3);
        for use_at in &spans[1..] {
            assert_eq!(definition(&world, file, use_at.start + 1), Some(vec![FileSpan { path: PATH.into(), span: spans[0] }]));
        }
        assert_eq!(
            references(&world, file, spans[0].start, false),
            Some(spans[1..].iter().map(|s| FileSpan { path: PATH.into(), span: *s }).collect())
        );
        let edits = rename(&world, file, spans[2].start, "img").expect("a name");
        let renamed: Vec<TextEdit> = spans.iter().map(|s| TextEdit { span: *s, new_text: "img".into() }).collect();
        assert_eq!(edits, Some(vec![(PATH.to_string(), renamed)]));
    }

    /// A source with one cursor marker `$0`: the text without it, and where it was.
    fn cursor(marked: &str) -> (String, u32) {
        let at = marked.find("$0").expect("a `$0` cursor marker");
        (marked.replacen("$0", "", 1), at as u32)
    }

    /// Hover at a cursor marker: each case's markdown contains the text given.
    #[test]
    fn hover_at_a_cursor_marker() {
        let cases = [
            ("workflow w {\n  step a { command \"true\" }\n  step b after a$0 { command \"true\" }\n}\n", "step a: run"),
            ("workflow w {\n  step a { com$0mand \"true\" }\n}\n", "`command`: "),
            // An outcome test and the step after a condition.
            ("workflow w {\n  step a { command \"true\" }\n  step b after fai$0led(a) { command \"true\" }\n}\n", "`failed`: `failed(a)` in an `after` condition"),
            ("workflow w {\n  step a { command \"true\" }\n  step b after a || failed(a$0) { command \"true\" }\n}\n", "step a: run"),
            ("workflow w {\n  step a { command \"true\" }\n  step b$0 after a || failed(a) { command \"true\" }\n}\n", "after `a || failed(a)` — an outcome condition"),
            ("workflow w {\n  step a { command \"true\"  ret$0ry 2 }\n}\n", "`retry"),
            ("workflow w {\n  step a { command \"true\"  skip_on$0_exit 99 }\n}\n", "`skip_on_exit N, …`"),
            ("workflow w {\n  step a for each item in [1] { command \"true\"  fail_f$0ast }\n}\n", "cancels the running ones"),
            ("workflow w {\n  step a: tim$0er { for 10m }\n}\n", "the time left"),
            ("workflow w {\n  step a: timer { unt$0il \"2026-12-24T09:00:00Z\" }\n}\n", "when a `timer` step's wait ends"),
            ("workflow w {\n  step a: timer { f$0or 10m }\n}\n", "how long it waits"),
            ("workflow w {\n  step a { command \"true\" compensate \"undo\" compensate_on$0_failure }\n}\n", "when the step itself failed"),
            ("workflow w {\n  step a for each item in matrix { os: [\"ubuntu\"] } { command \"echo ${it$0em.os}\" }\n}\n", "os: string"),
            ("workflow w {\n  step a for each item in mat$0rix { os: [\"ubuntu\"] } { command \"true\" }\n}\n", "`for each item in matrix"),
            // A job per item: the group's name, its members' `item`, and its output read after it.
            ("workflow w {\n  parallel bu$0ild for each item in [\"a\"] {\n    step c { command \"echo ${item}\" }\n  }\n}\n", "runs for each item: a job per item"),
            ("workflow w {\n  parallel build for each item in [\"a\"] {\n    step c { command \"echo ${item}\" output { n: int } }\n  }\n  step r after build { command \"echo ${build.out$0put}\" }\n}\n", "build.output: list({c: {n: int}})"),
            ("workflow w {\n  input n: int = 1\n  step a { command \"echo ${inp$0uts.n}\" }\n}\n", "int"),
            ("workflow w {\n  step a {\n    command \"true\"\n    retry 2 on ex$0it 75\n  }\n}\n", "`retry N on exit CODE"),
            ("workflow w {\n  step a {\n    command \"true\"\n    timeout 1s\n    retry 2 on exit 75 o$0r timeout\n  }\n}\n", "or timeout"),
            ("workflow w {\n  retry 2 backoff exponential 1s fac$0tor 3 max 1m\n  step a { command \"true\" }\n}\n", "factor F`: each wait is F times"),
            ("workflow w {\n  retry 2 backoff fixed 1s jit$0ter 20%\n  step a { command \"true\" }\n}\n", "±P%"),
            ("agent x {\n  command \"x\"\n  retry 2 max_dur$0ation 1m\n}\n", "since the first one started"),
            // Every trigger rule has its hover text, from the keyword table.
            ("workflow w {\n  step a { command \"true\" }\n  step b after none_fai$0led(a) { command \"true\" }\n}\n", "succeeded or was skipped"),
            ("workflow w {\n  step a { command \"true\" }\n  step b after none_failed_min_one_succ$0ess(a, a) { command \"true\" }\n}\n", "one succeeded"),
            ("workflow w {\n  step a { command \"true\" }\n  step b after one_fai$0led(a) { command \"true\" }\n}\n", "failed or was upstream_failed"),
            ("workflow w {\n  step a { command \"true\" }\n  step b after alw$0ays(a) { command \"true\" }\n}\n", "without waiting"),
            // A template's parameter: where it is read, declared and passed.
            ("template t(image: string) {\n  command \"echo ${params.ima$0ge}\"\n}\n", "params.image: string"),
            ("workflow w {\n  step a { command \"true\" }\n  fina$0lly {\n    step r { command \"true\" }\n  }\n}\n", "the exit handler"),
            ("workflow w {\n  step a { command \"true\" }\n  finally {\n    step r { command \"echo ${run.sta$0tus}\" }\n  }\n}\n", "run.status: string"),
            ("workflow w {\n  step a { command \"true\" }\n  finally {\n    step r { command \"echo ${run.failu$0res}\" }\n  }\n}\n", "error: string"),
            ("template t(ima$0ge: string, n: int = 2) {\n  command \"echo ${params.image}\"\n}\n", "parameter of template `t`"),
            (
                "template t(image: string, n: int = 2) {\n  command \"echo ${params.image}\"\n}\nworkflow w {\n  step s: use t with { n$0: 3, image: \"x\" } {}\n}\n",
                "n: int",
            ),
        ];
        for (marked, want) in cases {
            let (text, at) = cursor(marked);
            let world = World::single_file(PATH, &text);
            let file = world.file(PATH).expect("the file");
            let h = hover(&world, file, at).unwrap_or_else(|| panic!("no hover at the marker of {marked:?}"));
            assert!(h.markdown.contains(want), "hover at the marker of {marked:?}: {:?} lacks {want:?}", h.markdown);
        }
    }

    /// Completion at a cursor marker: each case offers the labels given and
    /// none of those it must not.
    #[test]
    fn completion_at_a_cursor_marker() {
        let rules = [
            "all_success", "all_failed", "all_done", "all_skipped", "one_success", "one_failed", "one_done",
            "none_failed", "none_failed_min_one_success", "none_skipped", "always",
        ];
        let outcomes = ["succeeded", "failed", "upstream_failed", "skipped", "done"];
        let cases: [(&str, &[&str], &[&str]); 24] = [
            // A job per item is one name after it; its members are not.
            (
                "workflow w {\n  parallel build for each item in [\"a\"] {\n    step c { command \"true\" }\n  }\n  step r after build { command \"echo ${$0}\" }\n}\n",
                &["build", "inputs"],
                &["c", "item"],
            ),
            // Outcome tests: after `after`, after `,` / `||`, but not for the name inside one.
            ("workflow w {\n  step a { command \"true\" }\n  step b after $0 { command \"true\" }\n}\n", &outcomes, &[]),
            ("workflow w {\n  step a { command \"true\" }\n  step c { command \"true\" }\n  step b after succeeded(a) || $0 { command \"true\" }\n}\n", &["failed", "a", "c"], &rules),
            ("workflow w {\n  step a { command \"true\" }\n  step b after failed($0 { command \"true\" }\n}\n", &["a"], &outcomes),
            // The exit handler: `finally` in a workflow's body; in its steps,
            // how the run ended and every other step; elsewhere neither.
            ("workflow w {\n  step a { command \"true\" }\n  $0\n}\n", &["finally", "step"], &[]),
            ("workflow w {\n  step a { command \"true\" }\n  finally {\n    step r { command \"echo ${run.$0}\" }\n  }\n}\n", &["status", "error", "failures", "id"], &[]),
            ("workflow w {\n  step a { command \"echo ${run.$0}\" }\n}\n", &["id"], &["status", "failures"]),
            ("workflow w {\n  step a { command \"true\" }\n  finally {\n    step r { command \"echo ${$0}\" }\n  }\n}\n", &["a", "run"], &["r"]),
            (
                "workflow w {\n  step r: branch {\n    when `true` -> a, $0\n  }\n  step a after r { command \"true\" }\n  step b after r { command \"true\" }\n}\n",
                &["b"],
                &["a"],
            ),
            ("workflow w {\n  step a { command \"true\" }\n  step b after $0 { command \"true\" }\n}\n", &["a"], &["b"]),
            // Every trigger rule, right after `after`; none once a name is written.
            ("workflow w {\n  step a { command \"true\" }\n  step b after $0 { command \"true\" }\n}\n", &rules, &[]),
            ("workflow w {\n  step a { command \"true\" }\n  step c { command \"true\" }\n  step b after a, $0 { command \"true\" }\n}\n", &["c"], &rules),
            ("workflow w {\n  step a { command \"true\" }\n  step b { command \"echo ${$0}\" }\n}\n", &["inputs"], &[]),
            ("workflow w {\n  step a {\n    $0\n  }\n}\n", &["command", "retry", "skip_on_exit"], &[]),
            // The timer kind after `:`, and its statements in its body.
            ("workflow w {\n  step a: $0 {\n  }\n}\n", &["timer", "wait"], &[]),
            ("workflow w {\n  step a: timer {\n    $0\n  }\n}\n", &["for", "until"], &[]),
            // The parts of a retry, each where it may come.
            ("workflow w {\n  step a {\n    retry 3 $0\n  }\n}\n", &["on", "backoff", "max_duration"], &["or", "factor", "jitter"]),
            ("workflow w {\n  step a {\n    retry 3 on $0\n  }\n}\n", &["exit", "timeout"], &["backoff"]),
            ("workflow w {\n  step a {\n    retry 3 on exit 75, 111 $0\n  }\n}\n", &["or", "backoff", "max_duration"], &["on", "factor"]),
            ("workflow w {\n  retry 3 backoff exponential 1s $0\n}\n", &["factor", "max", "jitter", "max_duration"], &["on", "backoff"]),
            ("workflow w {\n  retry 3 backoff fixed 1s max 5s $0\n}\n", &["jitter", "max_duration"], &["factor", "max"]),
            // A template's parameters after `params.`, and its argument keys
            // after `use T with {` (those not given yet).
            ("template t(image: string, n: int = 2) {\n  command \"echo ${params.$0}\"\n}\n", &["image", "n"], &[]),
            ("template t(image: string, n: int = 2) {\n  command \"echo ${$0}\"\n}\n", &["params"], &["inputs"]),
            (
                "template t(image: string, n: int = 2) {\n  command \"true\"\n}\nworkflow w {\n  step s: use t with { image: \"x\", $0 } {}\n}\n",
                &["n"],
                &["image", "command"],
            ),
        ];
        for (marked, offered, not_offered) in cases {
            let (text, at) = cursor(marked);
            let world = World::single_file(PATH, &text);
            let file = world.file(PATH).expect("the file");
            let labels: Vec<String> = completion(&world, file, at).into_iter().map(|i| i.label).collect();
            for l in offered {
                assert!(labels.iter().any(|x| x == l), "at the marker of {marked:?}, `{l}` is not offered: {labels:?}");
            }
            for l in not_offered {
                assert!(!labels.iter().any(|x| x == l), "at the marker of {marked:?}, `{l}` is offered: {labels:?}");
            }
        }
    }
}
