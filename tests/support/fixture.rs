//! The sectioned fixture format of `tests/fixtures/*.flowtest` (specified in
//! `tests/README.md`): each `=== NAME` section is an isolated project of
//! `--- PATH` files with its expectations inline — caret markers under the
//! offending text, an `--- expect` block where a marker cannot go, and
//! `--- run` blocks holding a run's expected status table.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flowc_compiler::{Database, LineIndex, Project as DbProject, ProjectSettings, SETTINGS_FILE, SourceFile};

/// One expected (or reported) diagnostic: file, 1-based line, 1-based first
/// column and last column + 1 (in characters; `None` when only the start is
/// given), and code.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diag {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub end: Option<usize>,
    pub code: String,
}

/// A `--- run WORKFLOW ARGS…` block: what `flowc run` is given and what it must report.
#[derive(Clone, Debug)]
pub struct RunCase {
    /// The workflow to run.
    pub workflow: String,
    /// The rest of the header: arguments of `flowc run`, split on blanks.
    pub args: Vec<String>,
    /// `STEP -> STATUS` rows, in order; the step `run` is the run's own status.
    pub statuses: Vec<(String, String)>,
    /// `output NAME = JSON` rows (a workflow output) and `output STEP.output
    /// = JSON` rows (what a step recorded as its output).
    pub outputs: Vec<(String, serde_json::Value)>,
    /// The fixture line of the block's header, for messages.
    pub line: usize,
}

/// One section: an isolated project and what it must produce.
#[derive(Clone, Debug)]
pub struct Case {
    /// The section's name (unique in its fixture file).
    pub name: String,
    /// The fixture file and line of the `===` header, for messages.
    pub origin: String,
    /// The project's files: path relative to its root, and text.
    pub files: Vec<(String, String)>,
    /// The lines of the `--- expect` block.
    pub expect: Vec<Diag>,
    /// The `--- run` blocks, run one after the other in the same project.
    pub runs: Vec<RunCase>,
}

/// Every fixture file with this extension directly in `dir`, sorted.
pub fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// The cases of one fixture file; panics with the file and line on a malformed one.
pub fn load(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}"))
}

enum Block {
    None,
    File,
    Expect,
    Run,
}

/// Parses a fixture file's text (`name` is its path, for messages).
pub fn parse(name: &str, text: &str) -> Result<Vec<Case>, String> {
    let mut cases: Vec<Case> = Vec::new();
    let mut block = Block::None;
    for (i, line) in text.lines().enumerate() {
        let at = format!("{name}:{}", i + 1);
        if let Some(title) = line.strip_prefix("=== ") {
            let title = title.trim().to_string();
            if title.is_empty() || cases.iter().any(|c| c.name == title) {
                return Err(format!("{at}: a section needs a name of its own, got `{title}`"));
            }
            cases.push(Case { name: title, origin: at, files: Vec::new(), expect: Vec::new(), runs: Vec::new() });
            block = Block::None;
            continue;
        }
        if let Some(header) = line.strip_prefix("--- ") {
            let Some(case) = cases.last_mut() else { return Err(format!("{at}: `---` before the first `===` section")) };
            let mut words = header.split_whitespace();
            match words.next() {
                Some("expect") => block = Block::Expect,
                Some("run") => {
                    let workflow = words.next().ok_or(format!("{at}: `--- run` names no workflow"))?.to_string();
                    let args = words.map(str::to_string).collect();
                    case.runs.push(RunCase { workflow, args, statuses: Vec::new(), outputs: Vec::new(), line: i + 1 });
                    block = Block::Run;
                }
                Some(path) if header.trim() == path => {
                    if case.files.iter().any(|(p, _)| p == path) {
                        return Err(format!("{at}: `{path}` appears twice in section `{}`", case.name));
                    }
                    case.files.push((path.to_string(), String::new()));
                    block = Block::File;
                }
                _ => return Err(format!("{at}: expected `--- PATH`, `--- expect` or `--- run WORKFLOW ARGS`, found `{line}`")),
            }
            continue;
        }
        let Some(case) = cases.last_mut() else { continue };
        if !matches!(block, Block::File) && line.starts_with('#') {
            continue;
        }
        match block {
            Block::File => {
                let text = &mut case.files.last_mut().expect("a file block has a file").1;
                text.push_str(line);
                text.push('\n');
            }
            Block::Expect => {
                if line.trim().is_empty() {
                    continue;
                }
                case.expect.push(expect_line(&at, line, case)?);
            }
            Block::Run => {
                if line.trim().is_empty() {
                    continue;
                }
                let run = case.runs.last_mut().expect("a run block has a run");
                if let Some(rest) = line.strip_prefix("output ") {
                    let (name, json) = rest.split_once(" = ").ok_or(format!("{at}: expected `output NAME = JSON`"))?;
                    let value = serde_json::from_str(json).map_err(|e| format!("{at}: output `{name}`: {e}"))?;
                    run.outputs.push((name.trim().to_string(), value));
                } else {
                    let (step, status) = line.split_once(" -> ").ok_or(format!("{at}: expected `STEP -> STATUS`"))?;
                    run.statuses.push((step.trim().to_string(), status.trim().to_string()));
                }
            }
            Block::None if line.trim().is_empty() => {}
            Block::None => return Err(format!("{at}: text outside a `--- PATH` block")),
        }
    }
    Ok(cases)
}

/// `CODE LINE:COL` or `CODE PATH:LINE:COL`; the path defaults to the case's one `.flow` file.
fn expect_line(at: &str, line: &str, case: &Case) -> Result<Diag, String> {
    let bad = || format!("{at}: expected `CODE LINE:COL` or `CODE PATH:LINE:COL`, found `{line}`");
    let (code, place) = line.trim().split_once(' ').ok_or_else(bad)?;
    let mut parts: Vec<&str> = place.trim().rsplitn(3, ':').collect();
    parts.reverse();
    let (file, line_no, col) = match parts.as_slice() {
        [file, l, c] => (file.to_string(), l, c),
        [l, c] => {
            let flows: Vec<&String> = case.files.iter().map(|(p, _)| p).filter(|p| p.ends_with(".flow")).collect();
            let [only] = flows.as_slice() else { return Err(format!("{at}: name the file: the section has several .flow files")) };
            (only.to_string(), l, c)
        }
        _ => return Err(bad()),
    };
    let line_no = line_no.parse().map_err(|_| bad())?;
    let col = col.parse().map_err(|_| bad())?;
    Ok(Diag { file, line: line_no, col, end: None, code: code.to_string() })
}

impl Case {
    /// The project's `.flow` files.
    pub fn flow_files(&self) -> impl Iterator<Item = &(String, String)> {
        self.files.iter().filter(|(p, _)| p.ends_with(".flow"))
    }

    /// The text of the project's file at `path`.
    pub fn file(&self, path: &str) -> &str {
        self.files.iter().find(|(p, _)| p == path).map(|(_, t)| t.as_str()).unwrap_or_else(|| panic!("{}: no file {path}", self.origin))
    }

    /// Writes the project's files below `root`.
    pub fn write_to(&self, root: &Path) {
        for (path, text) in &self.files {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().expect("a file has a parent")).expect("a scratch directory");
            std::fs::write(&full, text).expect("a scratch file");
        }
    }

    /// Every expected diagnostic: the caret markers of its `.flow` files and its `--- expect` block.
    pub fn expected(&self) -> Vec<Diag> {
        let mut all: Vec<Diag> = self
            .flow_files()
            .flat_map(|(path, text)| {
                markers(text).unwrap_or_else(|e| panic!("{} ({path}): {e}", self.origin)).into_iter().map(|(line, col, end, code)| Diag {
                    file: path.clone(),
                    line,
                    col,
                    end: Some(end),
                    code,
                })
            })
            .collect();
        all.extend(self.expect.iter().cloned());
        all
    }

    /// Every code the case expects.
    pub fn codes(&self) -> BTreeSet<String> {
        self.expected().into_iter().map(|d| d.code).collect()
    }

    /// Checks the project in process, as `flowc check` does: its `.flow`
    /// files as one project, with the `flowc.toml` beside them (its silenced
    /// codes and its directory of principals). What is reported, in the
    /// shape of the expectations (an `--- expect` line matches on its start).
    pub fn check(&self) -> Vec<Diag> {
        let settings = self.files.iter().find(|(p, _)| p.rsplit('/').next() == Some(SETTINGS_FILE)).map_or_else(ProjectSettings::default, |(p, t)| {
            ProjectSettings::parse(t).unwrap_or_else(|e| panic!("{} ({p}): {e}", self.origin))
        });
        let db = Database::default();
        let files: Vec<SourceFile> = self.flow_files().map(|(p, t)| SourceFile::new(&db, p.clone(), t.clone())).collect();
        let project = DbProject::new(&db, files);
        let mut diags: Vec<flowc_compiler::Diagnostic> =
            flowc_compiler::check_project(&db, project).iter().filter(|d| !settings.silences(d)).cloned().collect();
        diags.extend(flowc_compiler::check_approvers(&db, project, &settings.directory).into_iter().filter(|d| !settings.silences(d)));
        diags
            .iter()
            .map(|d| {
                let text = self.file(&d.path);
                let index = LineIndex::new(text);
                let (line, col) = index.line_col(text, d.span.start);
                let (end_line, end_col) = index.line_col(text, d.span.end);
                // A span that runs past its first line is marked to the end of that line.
                let end = if end_line == line {
                    end_col.max(col + 1)
                } else {
                    text.lines().nth(line - 1).map_or(col + 1, |l| l.chars().count() + 1)
                };
                Diag { file: d.path.clone(), line, col, end: Some(end), code: d.code.as_str().to_string() }
            })
            .collect()
    }

    /// Compares what [`Case::check`] reports with what the case expects: `Err` lists both differences.
    pub fn assert_diagnostics(&self) -> Result<(), String> {
        let mut unexpected = self.check();
        let mut missing = Vec::new();
        for want in self.expected() {
            let found = unexpected.iter().position(|got| {
                got.file == want.file && got.line == want.line && got.col == want.col && got.code == want.code && (want.end.is_none() || got.end == want.end)
            });
            match found {
                Some(i) => {
                    unexpected.remove(i);
                }
                None => missing.push(want),
            }
        }
        if missing.is_empty() && unexpected.is_empty() {
            Ok(())
        } else {
            Err(format!("{} `{}`:\n  expected but not reported: {missing:?}\n  reported but not expected: {unexpected:?}", self.origin, self.name))
        }
    }
}

/// The caret markers of a `.flow` text, resolved to the line they point at:
/// (line, first column, last column + 1, code), 1-based, in characters. A
/// marker is a comment line `// ^^^ CODE` whose carets sit under the span's
/// first and last character on the nearest line above that is not a marker.
pub fn markers(source: &str) -> Result<Vec<(usize, usize, usize, String)>, String> {
    let mut out = Vec::new();
    let mut target: Option<usize> = None;
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = trimmed.strip_prefix("//").map(str::trim_start).filter(|rest| rest.starts_with('^'));
        match marker {
            Some(rest) => {
                let Some(line_no) = target else { return Err(format!("marker on line {} has no line above it", i + 1)) };
                let col = line.find('^').expect("a marker has a caret");
                let carets = rest.chars().take_while(|c| *c == '^').count();
                let code = rest[carets..].trim().to_string();
                if code.is_empty() {
                    return Err(format!("marker on line {} names no code", i + 1));
                }
                let start = line[..col].chars().count() + 1;
                out.push((line_no, start, start + carets, code));
            }
            None => target = Some(i + 1),
        }
    }
    Ok(out)
}

/// Checks a case in process ([`Case::assert_diagnostics`]: clean, unless it
/// expects diagnostics), then runs its `--- run` blocks in order in one
/// scratch project (so later runs see the state of earlier ones), through
/// the `flowc` binary. `Err` lists every row of the tables that differs.
pub fn run_case(case: &Case) -> Result<(), String> {
    case.assert_diagnostics()?;
    let p = super::Project::new(&format!("flowtest-{}", case.name));
    case.write_to(&p.dir);
    let mut wrong = Vec::new();
    for run in &case.runs {
        let mut args = vec!["run", run.workflow.as_str(), "--json"];
        args.extend(run.args.iter().map(String::as_str));
        let out = p.flowc(&args);
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        let at = format!("{} `{}`, the run of line {}", case.origin, case.name, run.line);
        if !summary.is_object() {
            wrong.push(format!("{at}: no summary; stderr:\n{}", super::stderr(&out)));
            continue;
        }
        for (step, want) in &run.statuses {
            let got = if step == "run" { summary["status"].as_str() } else { summary["steps"][step]["status"].as_str() };
            if got != Some(want.as_str()) {
                wrong.push(format!("{at}: {step} -> {want}, but it is {got:?}"));
            }
        }
        for (name, want) in &run.outputs {
            let got = match name.strip_suffix(".output") {
                Some(step) => &summary["steps"][step]["output"],
                None => &summary["outputs"][name],
            };
            if got != want {
                wrong.push(format!("{at}: output {name} = {want}, but it is {got}"));
            }
        }
    }
    if wrong.is_empty() { Ok(()) } else { Err(wrong.join("\n")) }
}
