//! The language tour: each section of `tests/fixtures/language.flowtest`
//! (format: `tests/README.md`) holds one code block of the original language
//! design verbatim, completed into a whole file where the block is a
//! fragment. Every section parses without a syntax error, and the blocks,
//! copied below, keep the sections from drifting away from them.

mod support;

use std::path::Path;

use support::fixture::{self, Case};

fn cases() -> Vec<Case> {
    fixture::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/language.flowtest"))
}

#[test]
fn every_section_parses_without_errors() {
    let cases = cases();
    assert!(cases.len() >= DESIGN_BLOCKS.len(), "expected a section per design block, found {}", cases.len());
    for case in &cases {
        for (path, text) in case.flow_files() {
            let parse = flowc_grammar::parse(text);
            let errors: Vec<String> = parse
                .errors
                .iter()
                .map(|e| {
                    let line = text[..e.span.start as usize].matches('\n').count() + 1;
                    format!("  {path}:{line}: {} {}", e.kind.code(), e.message)
                })
                .collect();
            assert!(errors.is_empty(), "{}: syntax errors:\n{}", case.origin, errors.join("\n"));
            assert!(!parse.file.decls.is_empty(), "{}: {path} parsed to no declarations", case.origin);
        }
    }
}

#[test]
fn design_blocks_occur_verbatim() {
    let cases = cases();
    for (file, block) in DESIGN_BLOCKS {
        let case = cases.iter().find(|c| c.flow_files().any(|(p, _)| p == file)).unwrap_or_else(|| panic!("no section holds {file}"));
        assert!(case.file(file).contains(block), "{file} no longer holds its design block verbatim:\n{block}");
    }
}

/// The ```flow blocks of the original language design, in order, each with
/// the file of the section that completes it.
const DESIGN_BLOCKS: &[(&str, &str)] = &[
    // Workflows and steps
    (
        "01_workflows_and_steps.flow",
        r##"workflow outbound_sdr {
  description "Outbound SDR pipeline"
  input company: string
  input lead_id: string
  input deal_value: number = 0

  on event "crm.lead.qualified" subject "leads.*" where `event.data.score > 50`
  on webhook hubspot.contact.created
  on schedule "0 9 * * MON-FRI"

  retry 3 backoff exponential 2s max 1m   // default for every step
  timeout 2h                              // whole run
  concurrency 4                           // steps running at once
  budget 5.00                             // USD; the run fails when exceeded
  output summary = `research.output.summary`   // the run's outputs (and a `call` step's output)

  step research: agent researcher {
    prompt "Research ${inputs.company}; answer as JSON {deal_value, summary}"
    output { deal_value: number, summary: string }   // declared output type
  }

  step qualify: agent sales_expert after research {
    prompt "Qualify this lead: $research.output.summary"
  }

  step governance: check outreach_policy after qualify {
    with { deal_value: `research.output.deal_value` }
  }

  step route: branch after governance {
    when `research.output.deal_value > 50000` -> manager_approval
    else -> send_outreach
  }

  step manager_approval: approval after route {
    approvers ["sales-manager"]
    message "Approve a $$${research.output.deal_value} deal with ${inputs.company}?"
    timeout 72h
  }

  step send_outreach: run after one_success(manager_approval, route) {
    command "send-email --lead ${inputs.lead_id}"
    compensate "retract-email --lead ${inputs.lead_id}"
  }

  step tell_team: notify after send_outreach {
    channel "slack:#sales"
    message "Outreach sent to ${inputs.company}"
  }

  step wait_reply: wait after send_outreach {
    event "email.reply" subject "leads/${inputs.lead_id}"
    timeout 72h
  }
}"##,
    ),
    // Agents, environment, secrets, policies
    (
        "02_agents_env_secrets_policies.flow",
        r##"env shared_config { DATABASE_URL = "postgres://localhost/mydb"  LOG_LEVEL = "debug" }
secrets api_keys { OPENAI_API_KEY = from_env("OPENAI_API_KEY") }

agent researcher {
  command "research-agent --json"        // the prompt arrives on stdin and as $FLOW_PROMPT
  capabilities ["research", "web"]
  env { use shared_config  MY_API_KEY = api_keys.OPENAI_API_KEY }
  cost_per_call 0.02                     // unless the output reports cost_usd
}

policy outreach_policy {
  deny when `input.deal_value > 1000000` because "too large to automate"
  require_approval when `input.deal_value > 50000`
}"##,
    ),
    // Stores, spawning, dynamic items
    (
        "03_stores_and_spawning.flow",
        r##"store context {
  backend local                         // SQLite; or: backend command "kv-tool"
  schema { type: "object", properties: { value: { type: "string" } } }
  retention { max_entries 1000  ttl 24h }
}

workflow build_feature {
  safety { max_spawned_tasks 10  max_spawn_depth 3  spawn_cooldown 5s }

  step plan: agent planner {
    prompt "Plan the work as JSON {goals: [{description}]}"
    then put context.plan_result = `output`
    then spawn verify_changes { goal: "verify-changes" }
    then spawn each `output.goals` -> child_workflow { goal: `item.description` }
  }
  step implement after plan {
    reads context.plan_result as inherited_plan
    command "implement --plan ${inherited_plan}"
  }
}"##,
    ),
    // item selection
    (
        "04_item_selection.flow",
        r##"  step pick: select after score {
    strategy weighted          // min | max | threshold | weighted
    metric quality_score
    top_k 3
    threshold 0.7
    weights { confidence: 0.4, quality_score: 0.6 }
  }"##,
    ),
    // Invariants
    (
        "05_invariants.flow",
        r##"  invariant main_branch_exists {
    description "The main branch must always exist"
    check "git branch --list main | wc -l" expect "1"
    on_violation abort          // abort | warn | rollback
    protect ".github/workflows/*", "Cargo.lock"
    at implement, self_test     // checkpoint filter; default: after every step
  }"##,
    ),
    // Quality gates
    (
        "06_quality_gates.flow",
        r##"  step pre_commit: gate after development {
    check "cargo fmt --check"
    check "cargo clippy -- -D warnings"
    on_fail fix development retry 3    // or: pause | fail ; `skippable` allows flowc skip
  }"##,
    ),
    // Resources
    (
        "07_resources.flow",
        r##"resource PromptLibrary {
  group "extensions.orchestrator.dev"  version v1
  plural promptlibraries  short pl
  schema {
    type: "object", required: ["prompts"],
    properties: { prompts: { type: "array", minItems: 1, items: {
      type: "object", required: ["name", "template"],
      properties: { name: { type: "string" }, template: { type: "string" },
                    tags: { type: "array", items: { type: "string" } } } } } }
  }
  rule `size(self.prompts) > 0` message "at least one prompt is required"
}

PromptLibrary qa_prompts {
  labels: { team: "platform" },
  prompts: [ { name: "code-review", template: "Review the following code for {criteria}", tags: ["qa", "review"] } ]
}"##,
    ),
];
