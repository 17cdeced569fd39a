//! References: every name a file mentions but does not define, enumerated
//! once for the name index and the name checks.
//!
//! A reference is a step, a declaration, an env or secret set or one of its
//! keys, or an input of a workflow, named where it is used. Two readers, one
//! list: the editor's name index (`name_index`) records each reference as an
//! occurrence, and the name checks (`checks::names`) check that each
//! resolves, so a construct that names something is added here and both
//! see it. Definitions (the name in `step NAME`, an env set's keys, …) are
//! not references; the index finds those itself. Nor are the names inside
//! expressions: the index reads expression paths itself, and the CEL
//! checker checks them. A reader that leaves some references alone says
//! which and why where it does; the tests below list those the index
//! records and the checks do not check.
//!
//! Spans are those of the tree given: relative to a piece for the checks,
//! absolute in the whole-file tree for the index. Which declaration a step
//! kind or statement names comes from `model::kind_decl_ref` and
//! `model::stmt_decl_ref`, which the step signature reads too.

use flowc_grammar::ast::{
    self, AgentStmtKind, Compensate, Decl, DeclKind, EnvBlock, EnvEntryKind, EnvValue, Field, InvariantStmtKind, Name,
    OnFail, StepKind, StepStmt, StepStmtKind, Trigger, WorkflowStmt, WorkflowStmtKind,
};

use crate::model::{kind_decl_ref, stmt_decl_ref};

/// What a step reference is for: the checks' label of an unknown one, and
/// which names it may resolve to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepRole {
    /// `after NAME` of a step or group: a step or group.
    Dependency,
    /// `when … -> NAME`, `else -> NAME`: a step or group.
    BranchTarget,
    /// `on_fail fix NAME`: a step or group.
    FixStep,
    /// `compensate NAME`: a step or group.
    CompensationStep,
    /// An invariant's `at NAME`: a step (not a group).
    Checkpoint,
}

impl StepRole {
    /// The role as a noun, for a diagnostic's label (`unknown dependency`).
    pub fn noun(self) -> &'static str {
        match self {
            StepRole::Dependency => "dependency",
            StepRole::BranchTarget => "branch target",
            StepRole::FixStep => "fix step",
            StepRole::CompensationStep => "compensation step",
            StepRole::Checkpoint => "checkpoint",
        }
    }
}

/// One reference: a name written where something declared elsewhere is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref<'a> {
    /// A step or group of the enclosing workflow (in a template, of each
    /// workflow that uses it).
    Step { name: &'a Name, role: StepRole },
    /// A top-level declaration: a step's kind (`agent A`, `check P`, `use T`,
    /// `call W`), the store of `reads` and `then put`, the workflow of
    /// `then spawn`, an instance's resource kind.
    Decl { kind: DeclKind, name: &'a Name },
    /// `use SET` in an env block: an env set.
    SetUse(&'a Name),
    /// `NAME = SET.KEY` in an env block: an env or secret set, and its key.
    SetKey { set: &'a Name, key: &'a Name },
    /// `signed … with SET.KEY` of a webhook: a secrets set, and its key.
    Signature { set: &'a Name, key: &'a Name },
    /// A key of the inputs passed to a called or spawned workflow (quoted
    /// keys included; the field says how it was written).
    InputKey { workflow: &'a Name, field: &'a Field },
}

/// The declaration a step's kind names, if it names one.
pub fn kind_ref(kind: &StepKind) -> Option<Ref<'_>> {
    kind_decl_ref(kind).map(|(kind, name)| Ref::Decl { kind, name })
}

/// The references of a step: its deps, each statement's ([`stmt_refs`]),
/// its kind's declaration, and for `call W` the keys of each `with`.
pub fn step_refs(step: &ast::Step) -> Vec<Ref<'_>> {
    let mut out = deps_refs(step.deps.as_deref());
    for stmt in &step.body {
        out.extend(stmt_refs(stmt));
    }
    out.extend(kind_ref(&step.kind));
    if let StepKind::Call(callee) = &step.kind {
        for stmt in &step.body {
            if let StepStmtKind::With(v) = &stmt.kind {
                out.extend(input_key_refs(callee, Some(v)));
            }
        }
    }
    out
}

/// The references of one statement of a step or template: the store or
/// workflow it names, the step it targets (a branch, a fix, a compensation
/// step), its env block's sets, and the keys of a spawn's inputs.
pub fn stmt_refs(stmt: &StepStmt) -> Vec<Ref<'_>> {
    let mut out: Vec<Ref<'_>> = stmt_decl_ref(&stmt.kind).map(|(kind, name)| Ref::Decl { kind, name }).into_iter().collect();
    match &stmt.kind {
        StepStmtKind::Arm { targets, .. } => out.extend(targets.iter().map(|name| Ref::Step { name, role: StepRole::BranchTarget })),
        StepStmtKind::OnFail(OnFail::Fix { step, .. }) => out.push(Ref::Step { name: step, role: StepRole::FixStep }),
        StepStmtKind::Compensate(Compensate::Step(step)) => out.push(Ref::Step { name: step, role: StepRole::CompensationStep }),
        StepStmtKind::Env(env) => out.extend(env_refs(env)),
        StepStmtKind::Spawn { workflow, inputs } | StepStmtKind::SpawnEach { workflow, inputs, .. } => {
            out.extend(input_key_refs(workflow, inputs.as_ref()));
        }
        _ => {}
    }
    out
}

/// The sets an env block draws on: `use SET`, and `NAME = SET.KEY`.
pub fn env_refs(env: &EnvBlock) -> Vec<Ref<'_>> {
    env.entries
        .iter()
        .filter_map(|e| match &e.kind {
            EnvEntryKind::Use(set) => Some(Ref::SetUse(set)),
            EnvEntryKind::Assign { value: EnvValue::Ref { set, key }, .. } => Some(Ref::SetKey { set, key }),
            EnvEntryKind::Assign { .. } => None,
        })
        .collect()
}

/// The references of a group: its deps, then its members' (steps and inner groups).
pub fn group_refs(group: &ast::Group) -> Vec<Ref<'_>> {
    let mut out = deps_refs(group.deps.as_ref());
    for m in &group.members {
        match m {
            ast::GroupMember::Step(s) => out.extend(step_refs(s)),
            ast::GroupMember::Group(inner) => out.extend(group_refs(inner)),
        }
    }
    out
}

/// The references of one statement of a workflow's body: an invariant's
/// `at` steps, an env block's sets, a webhook's signing secret, and a step's
/// or group's ([`step_refs`], [`group_refs`]).
pub fn workflow_stmt_refs(stmt: &WorkflowStmt) -> Vec<Ref<'_>> {
    match &stmt.kind {
        WorkflowStmtKind::Invariant(inv) => inv
            .body
            .iter()
            .flat_map(|s| match &s.kind {
                InvariantStmtKind::At(names) => names.as_slice(),
                _ => &[],
            })
            .map(|name| Ref::Step { name, role: StepRole::Checkpoint })
            .collect(),
        WorkflowStmtKind::Env(env) => env_refs(env),
        WorkflowStmtKind::On(Trigger::Webhook { signature: Some(sig), .. }) => vec![Ref::Signature { set: &sig.set, key: &sig.key }],
        WorkflowStmtKind::Step(step) => step_refs(step),
        WorkflowStmtKind::Group(group) => group_refs(group),
        _ => Vec::new(),
    }
}

/// Every reference of a top-level declaration: a workflow's statements'
/// ([`workflow_stmt_refs`]), an agent's and an env set's env blocks, a
/// template's kind and statements, an instance's resource kind.
pub fn decl_refs(decl: &Decl) -> Vec<Ref<'_>> {
    match decl {
        Decl::Workflow(w) => w.body.iter().flat_map(workflow_stmt_refs).collect(),
        Decl::Agent(a) => a
            .body
            .iter()
            .flat_map(|s| match &s.kind {
                AgentStmtKind::Env(env) => env_refs(env),
                _ => Vec::new(),
            })
            .collect(),
        Decl::Env(set) => env_refs(&set.body),
        Decl::Template(t) => t.kind.iter().filter_map(kind_ref).chain(t.body.iter().flat_map(stmt_refs)).collect(),
        Decl::Instance(i) => vec![Ref::Decl { kind: DeclKind::Resource, name: &i.kind }],
        Decl::Test(t) => test_refs(t),
        Decl::Secrets(_) | Decl::Store(_) | Decl::Policy(_) | Decl::Resource(_) => Vec::new(),
    }
}

pub fn deps_refs(deps: Option<&ast::Deps>) -> Vec<Ref<'_>> {
    deps.iter().flat_map(|d| &d.names).map(|name| Ref::Step { name, role: StepRole::Dependency }).collect()
}

/// The keys of the inputs passed to `workflow`, when they are an object literal.
fn input_key_refs<'a>(workflow: &'a Name, inputs: Option<&'a ast::Value>) -> Vec<Ref<'a>> {
    inputs.and_then(ast::Value::as_object).unwrap_or(&[]).iter().map(|field| Ref::InputKey { workflow, field }).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A reference as one line of a table: its kind, role and names.
    fn line(r: &Ref<'_>) -> String {
        match r {
            Ref::Step { name, role } => format!("step {} {}", role.noun(), name.text),
            Ref::Decl { kind, name } => format!("decl {} {}", kind.noun(), name.text),
            Ref::SetUse(set) => format!("use {}", set.text),
            Ref::SetKey { set, key } => format!("set-key {}.{}", set.text, key.text),
            Ref::Signature { set, key } => format!("signature {}.{}", set.text, key.text),
            Ref::InputKey { workflow, field } => format!("input {}.{}{}", workflow.text, field.key.text, if field.quoted { " (quoted)" } else { "" }),
        }
    }

    fn refs_of(src: &str) -> Vec<String> {
        let parse = flowc_grammar::parse(src);
        assert!(parse.errors.is_empty(), "{:?}", parse.errors);
        parse.file.decls.iter().flat_map(decl_refs).map(|r| line(&r)).collect()
    }

    /// Each construct that names something, with the reference it yields.
    #[test]
    fn each_construct_yields_its_references() {
        let cases: &[(&str, &[&str])] = &[
            ("agent a { command \"x\"  env { use base  K = keys.TOKEN } }", &["use base", "set-key keys.TOKEN"]),
            ("env e { use base  LOG = \"d\"  K = keys.TOKEN }", &["use base", "set-key keys.TOKEN"]),
            ("secrets keys { TOKEN = from_env(\"T\") }", &[]),
            ("Library shelf { books: [] }", &["decl resource Library"]),
            (
                "template t: agent bot { prompt \"p\"  reads kv.k as x  then spawn child { goal: \"g\" } }",
                &["decl agent bot", "decl store kv", "decl workflow child", "input child.goal"],
            ),
            (
                "workflow w {\n  on webhook a.b signed github with hooks.GH\n  env { use base }\n  invariant i { check \"x\" expect \"1\"  at s }\n  step s { command \"x\" }\n}",
                &["signature hooks.GH", "use base", "step checkpoint s"],
            ),
            (
                "workflow w {\n  parallel g after a { step m: check pol after b { } }\n  step a { command \"x\" }\n  step b { command \"x\" }\n}",
                &["step dependency a", "step dependency b", "decl policy pol"],
            ),
            (
                "workflow w {\n  step s: call child after a, b {\n    with { goal: \"g\", \"other\": 1 }\n    when `true` -> a\n    else -> b\n    then put kv.k = `1`\n    then spawn each `[1]` -> child { goal: `item` }\n    env { K = keys.TOKEN }\n  }\n  step a { command \"x\"  compensate b }\n  step b: gate { check \"x\"  on_fail fix a retry 1 }\n  step u: use tpl { }\n}",
                &[
                    "step dependency a",
                    "step dependency b",
                    "step branch target a",
                    "step branch target b",
                    "decl store kv",
                    "decl workflow child",
                    "input child.goal",
                    "set-key keys.TOKEN",
                    "decl workflow child",
                    "input child.goal",
                    "input child.other (quoted)",
                    "step compensation step b",
                    "step fix step a",
                    "decl template tpl",
                ],
            ),
        ];
        for (src, want) in cases {
            assert_eq!(refs_of(src), *want, "in\n{src}");
        }
    }

    /// Every reference of this source is misspelt (each name starts with
    /// `oops`), in each context that names something.
    const MISSPELT: &str = r#"agent bot { command "echo"  env { use oopsenv1  A = oopskeys.X  B = keys.OOPS_KEY1 } }
env base { LOG = "d"  use oopsenv2 }
secrets keys { TOKEN = from_env("T") }
store kv { backend local }
policy pol { allow when `true` }
resource Library { schema { type: "object" } }
Oopslibrary shelf { books: [] }
template tpl: agent oopsbot {
  reads oopskv.k as x
  then spawn oopschild { }
  then spawn child { oops_tpl_input: "x" }
  env { use oopsenv3 }
}
template tpl2: use oops_tpl_use { }
workflow child {
  input goal: string = "g"
  step s { command "echo" }
}
workflow w {
  on webhook a.b signed github with oopshooks.GH
  on webhook a.c signed github with keys.OOPS_KEY2
  env { use oopsenv4 }
  invariant inv {
    check "true" expect "1"
    at oops_checkpoint
  }
  parallel grp after oops_group_dep {
    step m { command "echo" }
  }
  step a: agent oopsagent after oops_dep {
    prompt "p"
    when `true` -> oops_target
    else -> m
    reads oopsstore.k as r
    then put oopsstore2.k = `1`
    then spawn oopsworkflow { }
    then spawn child { oops_spawn_input: "x" }
    env { K = oopsset.X  L = keys.OOPS_KEY3 }
    compensate oops_comp
  }
  step b: check oopspolicy after a { }
  step c: use oopstemplate after a { }
  step d: call oopscall after a { }
  step e: call child after a {
    with { oops_call_input: "x" }
    with { oops_second_with: "y" }
  }
  step f: gate after a {
    check "true"
    on_fail fix oops_fix retry 1
  }
}
"#;

    /// Misspellings the index records that the name checks leave alone:
    /// a template's `use` (refused on its own, E0601) and a second `with`
    /// (E0603).
    const INDEXED_NOT_CHECKED: &[&str] = &["oops_tpl_use", "oops_second_with"];

    /// The name index and the name checks agree: each misspelt reference the
    /// index records gets one name diagnostic, at the occurrence's span, and
    /// each name diagnostic is at such an occurrence.
    #[test]
    fn the_name_checks_check_every_reference_the_index_records() {
        use crate::codes::Code;
        use crate::db::{Database, SourceFile};
        const NAME_CODES: &[Code] = &[
            Code::UnknownStep,
            Code::UnknownAgent,
            Code::UnknownPolicy,
            Code::UnknownStore,
            Code::UnknownTemplate,
            Code::UnknownWorkflow,
            Code::UnknownEnv,
            Code::UnknownResourceKind,
            Code::UnknownInput,
        ];
        let text = |span: ast::Span| &MISSPELT[span.start as usize..span.end as usize];
        let misspelt = |span: ast::Span| text(span).to_lowercase().starts_with("oops");

        let db = Database::default();
        let file = SourceFile::new(&db, "refs.flow".to_string(), MISSPELT.to_string());
        let index = crate::name_index::name_index(&db, file);
        let indexed: Vec<ast::Span> = index.occs.iter().filter(|o| !o.def && misspelt(o.span)).map(|o| o.span).collect();

        let diags = crate::check_files(&[("refs.flow", MISSPELT)]);
        let mut checked: Vec<ast::Span> = diags.iter().filter(|d| NAME_CODES.contains(&d.code)).map(|d| d.span).collect();
        checked.sort_by_key(|s| (s.start, s.end));
        assert!(checked.iter().all(|s| misspelt(*s)), "a name diagnostic off a misspelling: {diags:#?}");

        let expected: Vec<ast::Span> = indexed.iter().copied().filter(|s| !INDEXED_NOT_CHECKED.contains(&text(*s))).collect();
        let names = |spans: &[ast::Span]| spans.iter().map(|s| text(*s)).collect::<Vec<_>>();
        assert_eq!(names(&checked), names(&expected), "one name diagnostic per misspelt reference the index records");
        assert_eq!(checked, expected);
        for name in INDEXED_NOT_CHECKED {
            assert!(indexed.iter().any(|s| text(*s) == *name), "`{name}` is no longer indexed: remove it from INDEXED_NOT_CHECKED");
        }
        // Each reference the index records comes from this module's list.
        let parse = flowc_grammar::parse(MISSPELT);
        let listed: BTreeSet<(u32, u32)> = parse
            .file
            .decls
            .iter()
            .flat_map(decl_refs)
            .flat_map(|r| match r {
                Ref::Step { name, .. } | Ref::Decl { name, .. } | Ref::SetUse(name) => vec![name.span],
                Ref::SetKey { set, key } | Ref::Signature { set, key } => vec![set.span, key.span],
                Ref::InputKey { field, .. } => vec![field.key.span],
            })
            .map(|s| (s.start, s.end))
            .collect();
        for span in &indexed {
            assert!(listed.contains(&(span.start, span.end)), "`{}` is indexed but not a listed reference", text(*span));
        }
    }
}

/// A test's references: the workflow it runs and the agents it mocks. Its
/// step paths name steps of a workflow given by the test, not of an
/// enclosing one, so they are occurrences of the name index only.
fn test_refs(t: &ast::Test) -> Vec<Ref<'_>> {
    t.body
        .iter()
        .filter_map(|s| match &s.kind {
            ast::TestStmtKind::Run { workflow, .. } => Some(Ref::Decl { kind: DeclKind::Workflow, name: workflow }),
            ast::TestStmtKind::Mock { target: ast::MockTarget::Agent(name), .. } => Some(Ref::Decl { kind: DeclKind::Agent, name }),
            _ => None,
        })
        .collect()
}
