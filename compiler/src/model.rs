//! The project model: files split into pieces, workflows and steps as salsa
//! tracked structs, and the project-wide name index.
//!
//! **Incrementality.** A file is split into pieces (each declaration, each
//! item of a workflow body) and each piece is parsed through an interned key
//! `(kind, text)`, so the parse of an unchanged piece is reused even when the
//! piece moved, and its spans (relative to the piece) are equal to the old
//! ones. Workflows and steps are tracked structs identified by name; their
//! fields (`ast`, `sig`, …) are tracked one by one, so a query that reads only
//! the signatures of steps (the graph) does not re-run when a step's body
//! changes, and a step's checks do not re-run when another step changes.
//!
//! Positions: everything below the file level is relative to its piece. Only
//! [`FileModel`] knows where each piece starts, and only the final
//! per-file diagnostics query turns relative spans into absolute ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use flowc_grammar::ast::{self, Decl, DeclKind, Span, Step, WorkflowStmt, WorkflowStmtKind};
use flowc_grammar::outline::{self, OutlineDecl, PieceKind};
use flowc_grammar::{Parse, PieceAst, SyntaxError};

pub use crate::db::ParsedText;
use crate::types::{FieldTy, ObjectTy, Ty};
use crate::db::{Db, Project, SourceFile};

/// The key a piece is parsed under: equal text, equal parse.
#[salsa::interned(debug)]
pub struct PieceText<'db> {
    #[returns(copy)]
    pub kind: PieceKind,
    #[returns(ref)]
    pub text: String,
}


#[salsa::tracked(returns(ref))]
pub fn parse_piece<'db>(db: &'db dyn Db, piece: PieceText<'db>) -> Option<ParsedText> {
    let (kind, text) = (piece.kind(db), piece.text(db));
    db.take_parsed(kind, text).unwrap_or_else(|| parsed_text(kind, text))
}

/// Parses a piece's text (what [`parse_piece`] memoises).
pub(crate) fn parsed_text(kind: PieceKind, text: &str) -> Option<ParsedText> {
    let (ast, clean) = flowc_grammar::parse_piece(kind, text)?;
    // A step's tree is kept once, in `step`, and the piece has no tree of
    // its own: keeping both was a second copy of every step (60 MB at
    // 100,000 steps; issue 18).
    Some(match ast {
        PieceAst::Item(WorkflowStmt { kind: WorkflowStmtKind::Step(step), .. }) => ParsedText { ast: None, clean, step: Some(Arc::new(step)) },
        ast => ParsedText { ast: Some(Arc::new(ast)), clean, step: None },
    })
}

/// Where a relative span belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Anchor {
    /// Item `index` of workflow declaration `decl` (indices in the file).
    Item { decl: u32, item: u32 },
    /// The top-level declaration `decl`.
    Decl { decl: u32 },
    /// Already absolute (whole-file syntax errors).
    File,
}

/// One workflow: its name, its statements other than steps, and its steps.
#[salsa::tracked(debug)]
pub struct WorkflowDef<'db> {
    #[returns(copy)]
    pub file: SourceFile,
    #[returns(ref)]
    pub name: String,
    /// The workflow's own statements (inputs, triggers, defaults, outputs,
    /// safety, invariants, env), each with the index of the item it came from.
    #[tracked]
    #[returns(ref)]
    pub header: Arc<Vec<(u32, WorkflowStmt)>>,
    /// Every step, those inside groups included, in source order.
    #[tracked]
    #[returns(ref)]
    pub steps: Vec<StepDef<'db>>,
    /// Every group, with the index of the item it came from.
    #[tracked]
    #[returns(ref)]
    pub groups: Arc<Vec<GroupSig>>,
    /// The span of the name, relative to the declaration.
    #[tracked]
    #[returns(copy)]
    pub name_span: Span,
}

/// One step. Its `ast` spans are relative to the item that holds it (the
/// step itself, or the group it is in).
#[salsa::tracked(debug)]
pub struct StepDef<'db> {
    #[returns(ref)]
    pub workflow_name: String,
    #[returns(ref)]
    pub name: String,
    #[tracked]
    #[returns(ref)]
    pub ast: Arc<Step>,
    /// The groups the step is nested in, outermost first.
    #[tracked]
    #[returns(ref)]
    pub groups: Arc<Vec<String>>,
    /// The workflow item the step is in.
    #[tracked]
    #[returns(copy)]
    pub item: u32,
    /// The step's text had a syntax error the parser recovered from (a
    /// statement was dropped): checks that something is missing stay quiet,
    /// since the syntax error already explains it.
    #[tracked]
    #[returns(copy)]
    pub recovered: bool,
}

/// A declaration other than a workflow; its spans are relative to its start.
#[salsa::tracked(debug)]
pub struct OtherDef<'db> {
    #[returns(copy)]
    pub file: SourceFile,
    #[returns(copy)]
    pub kind: DeclKind,
    #[returns(ref)]
    pub name: String,
    #[tracked]
    #[returns(ref)]
    pub ast: Arc<Decl>,
}

/// The graph-relevant part of a step.
///
/// Spans appear only for the header (name, kind, `after`), which precedes the
/// body: an edit inside the body leaves the signature equal, so the graph and
/// the checks of other steps are not recomputed. Facts from the body (arms,
/// output type, spawns) are kept without positions; checks that report on
/// them find the position in the step's AST.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepSig {
    pub name: ast::Name,
    pub kind: ast::StepKind,
    pub deps: Option<std::sync::Arc<ast::Deps>>,
    pub for_each: bool,
    /// Branch arm targets, in order (`else` last if present).
    pub arms: Vec<String>,
    /// The `on_fail fix STEP` target.
    pub fix_target: Option<String>,
    /// The `compensate STEP` target.
    pub compensate_step: Option<String>,
    /// The groups the step is nested in, outermost first.
    pub groups: Vec<String>,
    /// The type of the step's output, if declared; for a `for each item`
    /// step, always the list of its instances' (declared) outputs.
    pub output: Option<crate::types::Ty>,
    pub has_items: bool,
    /// What follows `output` in the step's `items` expression when it starts
    /// with `output` (`""` for `items \`output\``, `".list"` for
    /// `output.list`): what types the items of the steps after it. Only the
    /// text, so moving the statement within the step changes no signature.
    pub items_path: Option<String>,
    /// Why the step itself may end without completing while the run goes
    /// on (its `when`, or `on_failure continue`); `None` when nothing of its
    /// own can (graph::Completion adds what its place in the graph can).
    pub ends_early: Option<EndsEarly>,
    /// Every declaration the step names: its agent, policy, template, called
    /// and spawned workflows, stores, env and secret sets.
    pub uses: Vec<(DeclKind, String)>,
    /// Workflows this step starts: `(name, is_spawn)`.
    pub starts: Vec<(String, bool)>,
}

/// A `parallel`/`phase` group: its name, members and dependencies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupSig {
    pub item: u32,
    pub kind: ast::GroupKind,
    pub name: ast::Name,
    pub deps: Option<ast::Deps>,
    /// `parallel NAME fail_fast { … }`.
    pub fail_fast: bool,
    /// Direct members (steps and groups) by name.
    pub members: Vec<String>,
    /// Enclosing groups, outermost first.
    pub groups: Vec<String>,
    /// `for each item [in …]`: its span; each item runs the members as a
    /// job of its own (a child run, docs/language.md "A job per item").
    pub for_each: Option<ast::Span>,
    /// The literal items of `for each item in …`.
    pub for_each_in: Option<ast::ItemSource>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, salsa::SalsaValue)]
pub enum DeclDef<'db> {
    Workflow(WorkflowDef<'db>),
    Other(OtherDef<'db>),
}

impl<'db> DeclDef<'db> {
    pub fn kind(&self, db: &'db dyn Db) -> DeclKind {
        match self {
            DeclDef::Workflow(_) => DeclKind::Workflow,
            DeclDef::Other(o) => o.kind(db),
        }
    }
    pub fn name(&self, db: &'db dyn Db) -> &'db str {
        match self {
            DeclDef::Workflow(w) => w.name(db),
            DeclDef::Other(o) => o.name(db),
        }
    }
}

/// A file as the analyses see it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, salsa::SalsaValue)]
pub struct FileModel<'db> {
    pub decls: Vec<DeclDef<'db>>,
    /// Absolute start of each declaration.
    pub decl_offsets: Vec<u32>,
    /// Absolute start of each item of each workflow declaration (empty for others).
    pub item_offsets: Vec<Vec<u32>>,
    /// Syntax errors (absolute spans); non-empty only when the file was parsed whole.
    pub syntax_errors: Vec<SyntaxError>,
}

impl FileModel<'_> {
    /// The absolute offset an anchor's relative spans start from.
    pub fn base(&self, anchor: Anchor) -> u32 {
        match anchor {
            Anchor::Item { decl, item } => self
                .item_offsets
                .get(decl as usize)
                .and_then(|items| items.get(item as usize))
                .copied()
                .unwrap_or(0),
            Anchor::Decl { decl } => self.decl_offsets.get(decl as usize).copied().unwrap_or(0),
            Anchor::File => 0,
        }
    }
}

/// A piece of the file, parsed; its spans relative to `offset`.
struct ParsedPiece {
    offset: u32,
    /// `None` for a step: see `step`.
    ast: Option<Arc<PieceAst>>,
    step: Option<Arc<Step>>,
    clean: bool,
    /// The group header (an index into the same item list) this piece is a member of.
    parent: Option<u32>,
    kind: PieceKind,
}

enum PieceDecl {
    Workflow { name: ast::Name, offset: u32, items: Vec<ParsedPiece> },
    Other(ParsedPiece),
}

/// Whether a file has syntax errors: a narrow question, so that queries that
/// only need the answer do not re-run when the file's text moves.
#[salsa::tracked(returns(copy))]
pub fn has_syntax_errors(db: &dyn Db, file: SourceFile) -> bool {
    !file_model(db, file).syntax_errors.is_empty()
}

/// Splits and parses a file into its model.
#[salsa::tracked(returns(ref))]
pub fn file_model<'db>(db: &'db dyn Db, file: SourceFile) -> FileModel<'db> {
    let text = file.text(db);
    let (pieces, syntax_errors) = match split_and_parse(db, file, text) {
        Some(pieces) => (pieces, Vec::new()),
        None => whole_file_pieces(db, file),
    };
    build_model(db, file, pieces, syntax_errors)
}

/// The fast path: split with the outline and parse each piece through the
/// interned cache. `None` if anything is off.
///
/// After an edit, the split is redone only around what changed
/// (`outline::reoutline`, from the file's last outline whose pieces all
/// parsed cleanly, which it requires): the whole text is compared with the
/// old one, but only the items around the change are lexed and split.
fn split_and_parse(db: &dyn Db, file: SourceFile, text: &str) -> Option<Vec<PieceDecl>> {
    let kept = db.last_outline(file);
    let decls = match kept.as_deref().and_then(|k| outline::reoutline(&k.text, &k.decls, text)) {
        Some(decls) => decls,
        None => outline::outline(text, &flowc_grammar::lexer::lex(text))?,
    };
    if db.parses_ahead() {
        parse_ahead(db, text, &decls);
    }
    let mut out = Vec::with_capacity(decls.len());
    for decl in &decls {
        match decl {
            OutlineDecl::Workflow(w) => {
                let mut items = Vec::with_capacity(w.items.len());
                for piece in &w.items {
                    let mut parsed = parse_one(db, text, piece.kind, piece.span, true)?;
                    parsed.parent = piece.parent;
                    items.push(parsed);
                }
                let name = ast::Name { text: w.name.clone(), span: Span::new(w.name_span.start - w.span.start, w.name_span.end - w.span.start) };
                out.push(PieceDecl::Workflow { name, offset: w.span.start, items });
            }
            OutlineDecl::Other(piece) => out.push(PieceDecl::Other(parse_one(db, text, piece.kind, piece.span, true)?)),
        }
    }
    db.keep_outline(file, crate::db::KeptOutline { text: text.to_string(), decls });
    Some(out)
}

/// Parses every piece of an outline on every core, for `parse_piece` to take
/// ([`crate::db::Database::batch`]). Pieces are dealt out in contiguous runs
/// of about equal size in bytes.
fn parse_ahead(db: &dyn Db, text: &str, decls: &[OutlineDecl]) {
    let mut pieces: Vec<(PieceKind, Span)> = Vec::new();
    for decl in decls {
        match decl {
            OutlineDecl::Workflow(w) => pieces.extend(w.items.iter().map(|p| (p.kind, p.span))),
            OutlineDecl::Other(p) => pieces.push((p.kind, p.span)),
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    // Below this, a thread costs more than it saves.
    if threads < 2 || text.len() < 64 * 1024 {
        return;
    }
    let share = text.len() / threads + 1;
    let mut runs: Vec<&[(PieceKind, Span)]> = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (_, span)) in pieces.iter().enumerate() {
        bytes += span.len() as usize;
        if bytes >= share {
            runs.push(&pieces[start..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    runs.push(&pieces[start..]);
    let parse_run = |run: &[(PieceKind, Span)]| -> Vec<(PieceKind, String, crate::db::ParseResult)> {
        run.iter()
            .map(|(kind, span)| {
                let piece = &text[span.range()];
                (*kind, piece.to_string(), parsed_text(*kind, piece))
            })
            .collect()
    };
    let parsed: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs[1..].iter().map(|run| scope.spawn(move || parse_run(run))).collect();
        let mut parsed = parse_run(runs[0]);
        for handle in handles {
            // A thread that panicked leaves its pieces to `parse_piece`.
            if let Ok(more) = handle.join() {
                parsed.extend(more);
            }
        }
        parsed
    });
    db.put_parsed(parsed);
}

/// Parses one piece through the cache; `clean` refuses a piece that needed
/// recovery (the fast path then falls back to the whole file).
fn parse_one(db: &dyn Db, text: &str, kind: PieceKind, span: Span, clean: bool) -> Option<ParsedPiece> {
    // Looked up by `&str`: the text is copied only the first time it is seen.
    let key = PieceText::new(db, kind, &text[span.range()]);
    let parsed = parse_piece(db, key).as_ref()?;
    (parsed.clean || !clean).then(|| ParsedPiece {
        offset: span.start,
        ast: parsed.ast.clone(),
        step: parsed.step.clone(),
        clean: parsed.clean,
        parent: None,
        kind,
    })
}

/// The slow path: parse the whole file (with recovery and real syntax
/// errors), then re-parse each declaration and item that came out clean from
/// its text, so spans are relative as on the fast path.
fn whole_file_pieces(db: &dyn Db, file: SourceFile) -> (Vec<PieceDecl>, Vec<SyntaxError>) {
    let text = file.text(db);
    let parsed = parse(db, file);
    let mut out = Vec::new();
    for decl in &parsed.file.decls {
        match decl {
            Decl::Workflow(w) => {
                let items = w
                    .body
                    .iter()
                    .filter_map(|stmt| parse_one(db, text, PieceKind::WorkflowItem, stmt.span, false))
                    .collect();
                let name = ast::Name { text: w.name.text.clone(), span: Span::new(w.name.span.start - w.span.start, w.name.span.end - w.span.start) };
                out.push(PieceDecl::Workflow { name, offset: w.span.start, items });
            }
            other => {
                if let Some(p) = parse_one(db, text, PieceKind::Declaration, other.span(), false) {
                    out.push(PieceDecl::Other(p));
                }
            }
        }
    }
    (out, parsed.errors.clone())
}

/// Whether a parsed piece is a group header (its members are separate pieces).
fn is_header(item: &ParsedPiece) -> bool {
    item.kind == PieceKind::GroupHeader
}

fn build_model<'db>(db: &'db dyn Db, file: SourceFile, pieces: Vec<PieceDecl>, syntax_errors: Vec<SyntaxError>) -> FileModel<'db> {
    let mut decls = Vec::with_capacity(pieces.len());
    let mut decl_offsets = Vec::with_capacity(pieces.len());
    let mut item_offsets = Vec::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            PieceDecl::Workflow { name, offset, items } => {
                let mut header = Vec::new();
                let mut steps = Vec::new();
                let mut groups: Vec<GroupSig> = Vec::new();
                let mut offsets = Vec::with_capacity(items.len());
                // Group headers seen so far: item index -> (index in `groups`, path).
                let mut group_of: HashMap<u32, (usize, Vec<String>)> = HashMap::new();
                // One shared path for the steps outside every group (most of them).
                let top: Arc<Vec<String>> = Arc::default();
                for (index, item) in items.iter().enumerate() {
                    offsets.push(item.offset);
                    let index = index as u32;
                    // A member of a split group: its path, and the group to list it in.
                    let (path, owner) = match item.parent.and_then(|p| group_of.get(&p)) {
                        Some((g, path)) => (path.clone(), Some(*g)),
                        None => (Vec::new(), None),
                    };
                    // A step piece: its tree is `item.step` (`parsed_text`).
                    if let Some(step) = &item.step {
                        if let Some(g) = owner {
                            groups[g].members.push(step.name.text.clone());
                        }
                        let path = if path.is_empty() { top.clone() } else { Arc::new(path) };
                        steps.push(StepDef::new(db, name.text.clone(), step.name.text.clone(), step.clone(), path, index, !item.clean));
                        continue;
                    }
                    let Some(PieceAst::Item(stmt)) = item.ast.as_deref() else { continue };
                    match &stmt.kind {
                        WorkflowStmtKind::Step(step) => {
                            if let Some(g) = owner {
                                groups[g].members.push(step.name.text.clone());
                            }
                            let path = if path.is_empty() { top.clone() } else { Arc::new(path) };
                            steps.push(StepDef::new(db, name.text.clone(), step.name.text.clone(), Arc::new(step.clone()), path, index, !item.clean));
                        }
                        WorkflowStmtKind::Group(group) if is_header(item) => {
                            // A split group's header: its members follow as pieces of their own.
                            if let Some(g) = owner {
                                groups[g].members.push(group.name.text.clone());
                            }
                            let mut inner = path.clone();
                            inner.push(group.name.text.clone());
                            group_of.insert(index, (groups.len(), inner));
                            groups.push(GroupSig {
                                item: index,
                                kind: group.kind,
                                name: group.name.clone(),
                                deps: group.deps.clone(),
                                fail_fast: group.fail_fast.is_some(),
                                members: Vec::new(),
                                groups: path,
                                for_each: group.for_each,
                                for_each_in: group.for_each_in.clone(),
                            });
                        }
                        WorkflowStmtKind::Group(group) => {
                            if let Some(g) = owner {
                                groups[g].members.push(group.name.text.clone());
                            }
                            collect_group(db, &name.text, group, index, &path, &mut steps, &mut groups, !item.clean);
                        }
                        _ => header.push((index, stmt.clone())),
                    }
                }
                let wf = WorkflowDef::new(db, file, name.text.clone(), Arc::new(header), steps, Arc::new(groups), name.span);
                decls.push(DeclDef::Workflow(wf));
                decl_offsets.push(offset);
                item_offsets.push(offsets);
            }
            PieceDecl::Other(p) => {
                let Some(PieceAst::Decl(decl)) = p.ast.as_deref() else { continue };
                let def = OtherDef::new(db, file, decl.kind(), decl.name().text.clone(), Arc::new(decl.clone()));
                decls.push(DeclDef::Other(def));
                decl_offsets.push(p.offset);
                item_offsets.push(Vec::new());
            }
        }
    }
    FileModel { decls, decl_offsets, item_offsets, syntax_errors }
}

fn collect_group<'db>(
    db: &'db dyn Db,
    workflow: &str,
    group: &ast::Group,
    item: u32,
    outer: &[String],
    steps: &mut Vec<StepDef<'db>>,
    groups: &mut Vec<GroupSig>,
    recovered: bool,
) {
    let mut path = outer.to_vec();
    path.push(group.name.text.clone());
    let members = group
        .members
        .iter()
        .map(|m| match m {
            ast::GroupMember::Step(s) => s.name.text.clone(),
            ast::GroupMember::Group(g) => g.name.text.clone(),
        })
        .collect();
    groups.push(GroupSig {
        item,
        kind: group.kind,
        name: group.name.clone(),
        deps: group.deps.clone(),
        fail_fast: group.fail_fast.is_some(),
        members,
        groups: outer.to_vec(),
        for_each: group.for_each,
        for_each_in: group.for_each_in.clone(),
    });
    for m in &group.members {
        match m {
            ast::GroupMember::Step(s) => steps.push(step_def(db, workflow, s, item, &path, recovered)),
            ast::GroupMember::Group(g) => collect_group(db, workflow, g, item, &path, steps, groups, recovered),
        }
    }
}

fn step_def<'db>(db: &'db dyn Db, workflow: &str, step: &Step, item: u32, groups: &[String], recovered: bool) -> StepDef<'db> {
    StepDef::new(db, workflow.to_string(), step.name.text.clone(), Arc::new(step.clone()), Arc::new(groups.to_vec()), item, recovered)
}

/// What the graph and the checks of other steps need to know about a step.
/// A query of its own: it re-runs when the step changes, and when the result
/// is equal (a body edit), nothing that reads it re-runs.
#[salsa::tracked(returns(ref))]
pub fn step_sig<'db>(db: &'db dyn Db, step: StepDef<'db>) -> Arc<StepSig> {
    Arc::new(compute_sig(step.ast(db), step.groups(db)))
}

fn compute_sig(step: &Step, groups: &[String]) -> StepSig {
    use ast::{Compensate, OnFail, StepStmtKind as K};
    let mut arms = Vec::new();
    let mut fix_target = None;
    let mut compensate_step = None;
    let mut output = None;
    let mut has_items = false;
    let mut items_path = None;
    let mut ends_early = None;
    let mut uses: Vec<(DeclKind, String)> = Vec::new();
    let mut starts = Vec::new();
    if let Some((kind, n)) = kind_decl_ref(&step.kind) {
        uses.push((kind, n.text.clone()));
    }
    if let ast::StepKind::Call(n) = &step.kind {
        starts.push((n.text.clone(), false));
    }
    for stmt in &step.body {
        if let Some((kind, n)) = stmt_decl_ref(&stmt.kind) {
            uses.push((kind, n.text.clone()));
        }
        match &stmt.kind {
            K::Spawn { workflow, .. } | K::SpawnEach { workflow, .. } => starts.push((workflow.text.clone(), true)),
            K::Env(env) => uses.extend(env_uses(env)),
            _ => {}
        }
    }
    for stmt in &step.body {
        match &stmt.kind {
            K::Arm { targets, .. } => arms.extend(targets.iter().map(|t| t.text.clone())),
            K::OnFail(OnFail::Fix { step, .. }) => fix_target = Some(step.text.clone()),
            K::Compensate(Compensate::Step(s)) => compensate_step = Some(s.text.clone()),
            K::Output(t) => output = Some(crate::types::Ty::from_type_expr(t)),
            K::Items(e) => {
                has_items = true;
                items_path = e.text.trim().strip_prefix("output").map(str::to_string);
            }
            K::When(_) => ends_early = Some(EndsEarly::When),
            K::SkipOnExit(_) if ends_early.is_none() => ends_early = Some(EndsEarly::SkipOnExit),
            K::OnFailure { mode: ast::OnFailure::Continue, .. } if ends_early.is_none() => {
                ends_early = Some(EndsEarly::Continue)
            }
            _ => {}
        }
    }
    // `output T` on a `for each item` step declares each instance's output;
    // the step's output (downstream, and in its own post actions) is the
    // list of them.
    if step.for_each.is_some() {
        output = Some(crate::types::Ty::list(output.unwrap_or(crate::types::Ty::Dyn)));
    }
    StepSig {
        name: step.name.clone(),
        kind: step.kind.clone(),
        deps: step.deps.clone(),
        for_each: step.for_each.is_some(),
        arms,
        fix_target,
        compensate_step,
        groups: groups.to_vec(),
        output,
        has_items,
        items_path,
        ends_early,
        uses,
        starts,
    }
}

/// The declaration a step kind names (`agent A`, `check P`, `use T`,
/// `call W`). One answer for the step signature's `uses` and for `refs`,
/// the references the name checks and the editor's name index read.
pub fn kind_decl_ref(kind: &ast::StepKind) -> Option<(DeclKind, &ast::Name)> {
    match kind {
        ast::StepKind::Agent(n) => Some((DeclKind::Agent, n)),
        ast::StepKind::Check(n) => Some((DeclKind::Policy, n)),
        ast::StepKind::Use(n) => Some((DeclKind::Template, n)),
        ast::StepKind::Call(n) => Some((DeclKind::Workflow, n)),
        _ => None,
    }
}

/// The declaration a step statement names: the store of `reads` and
/// `then put`, the workflow of `then spawn` (each or not). Env blocks name
/// sets too; [`env_uses`] lists those. Read by the same two as
/// [`kind_decl_ref`].
pub fn stmt_decl_ref(stmt: &ast::StepStmtKind) -> Option<(DeclKind, &ast::Name)> {
    use ast::StepStmtKind as K;
    match stmt {
        K::Reads { key, .. } | K::Put { key, .. } => Some((DeclKind::Store, &key.store)),
        K::Spawn { workflow, .. } | K::SpawnEach { workflow, .. } => Some((DeclKind::Workflow, workflow)),
        _ => None,
    }
}

/// The env and secret sets an env block draws on.
pub fn env_uses(env: &ast::EnvBlock) -> Vec<(DeclKind, String)> {
    env.entries
        .iter()
        .filter_map(|e| match &e.kind {
            ast::EnvEntryKind::Use(set) => Some((DeclKind::Env, set.text.clone())),
            // `set.KEY` may name an env set or a secret set; record both kinds.
            ast::EnvEntryKind::Assign { value: ast::EnvValue::Ref { set, .. }, .. } => Some((DeclKind::Secrets, set.text.clone())),
            ast::EnvEntryKind::Assign { .. } => None,
        })
        .collect()
}

/// Where a declaration lives: its file and its index in that file's model.
#[derive(Clone, Debug, PartialEq, Eq, Hash, salsa::SalsaValue)]
pub struct DeclLoc<'db> {
    pub file: SourceFile,
    pub index: u32,
    pub def: DeclDef<'db>,
}

/// The project's declarations by kind and name. Changes only when a
/// declaration is added, removed or renamed, never when a body changes.
#[derive(Clone, Debug, PartialEq, Eq, salsa::SalsaValue)]
pub struct ItemIndex<'db> {
    /// One map per [`DeclKind`], indexed by `kind as usize`.
    by_kind: Vec<BTreeMap<String, Vec<DeclLoc<'db>>>>,
}

impl Default for ItemIndex<'_> {
    fn default() -> Self {
        ItemIndex { by_kind: DeclKind::ALL.iter().map(|_| BTreeMap::new()).collect() }
    }
}

impl<'db> ItemIndex<'db> {
    pub fn of(&self, kind: DeclKind) -> &BTreeMap<String, Vec<DeclLoc<'db>>> {
        &self.by_kind[kind as usize]
    }
    /// Every kind with its declarations.
    pub fn iter(&self) -> impl Iterator<Item = (DeclKind, &BTreeMap<String, Vec<DeclLoc<'db>>>)> {
        DeclKind::ALL.iter().map(|k| (*k, &self.by_kind[*k as usize]))
    }
    pub fn get(&self, kind: DeclKind, name: &str) -> Option<&DeclLoc<'db>> {
        self.of(kind).get(name)?.first()
    }
    pub fn names(&self, kind: DeclKind) -> impl Iterator<Item = &str> {
        self.of(kind).keys().map(String::as_str)
    }
    pub fn workflow(&self, name: &str) -> Option<WorkflowDef<'db>> {
        match &self.get(DeclKind::Workflow, name)?.def {
            DeclDef::Workflow(w) => Some(*w),
            DeclDef::Other(_) => None,
        }
    }
    pub fn other(&self, kind: DeclKind, name: &str) -> Option<OtherDef<'db>> {
        match &self.get(kind, name)?.def {
            DeclDef::Other(o) => Some(*o),
            DeclDef::Workflow(_) => None,
        }
    }
}

#[salsa::tracked(returns(ref))]
pub fn item_index<'db>(db: &'db dyn Db, project: Project) -> ItemIndex<'db> {
    let mut index = ItemIndex::default();
    for file in project.files(db) {
        let model = file_model(db, *file);
        for (i, def) in model.decls.iter().enumerate() {
            index.by_kind[def.kind(db) as usize]
                .entry(def.name(db).to_string())
                .or_default()
                .push(DeclLoc { file: *file, index: i as u32, def: def.clone() });
        }
    }
    index
}

/// The syntax tree of one whole file, with its syntax errors. The analyses use
/// the piecewise [`file_model`]; this is for tools that want the whole tree
/// (formatting, editor features) and for files the pieces cannot handle.
#[salsa::tracked(returns(ref))]
pub fn parse(db: &dyn Db, file: SourceFile) -> Parse {
    flowc_grammar::parse(file.text(db))
}

/// Why a step itself may end without completing while the run goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndsEarly {
    /// Its `when` can be false.
    When,
    /// `on_failure continue`: it can fail and let the run go on.
    Continue,
    /// `skip_on_exit`: its command can end it skipped.
    SkipOnExit,
}

/// What a step looks like from an expression: `.output` and its run facts.
pub(crate) fn step_value_ty(sig: &StepSig) -> Ty {
    let output = sig.output.clone().unwrap_or(Ty::Dyn);
    Ty::object(ObjectTy::closed([
        ("output".to_string(), FieldTy::required(output)),
        ("status".to_string(), FieldTy::required(Ty::String)),
        ("attempts".to_string(), FieldTy::required(Ty::Int)),
        ("cost_usd".to_string(), FieldTy::required(Ty::Double)),
        ("stdout".to_string(), FieldTy::required(Ty::String)),
        ("stderr".to_string(), FieldTy::required(Ty::String)),
    ]))
}
