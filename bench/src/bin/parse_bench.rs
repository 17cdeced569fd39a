//! Parse throughput of the whole-file parser: on the generated workflow, and
//! on files made of one construct alone, so a slow rule shows as a slow row.
//!
//! ```sh
//! cargo run --release -p flowc-bench --bin parse_bench [-- --steps 10000 --runs 7 --mb 2]
//! cargo run --release -p flowc-bench --bin parse_bench -- --only for_each  # one row (for perf)
//! ```
//!
//! Each construct's file is about `--mb` megabytes (2 by default): the
//! construct repeated, inside workflows of 500 items where it is a workflow
//! item. Every file must parse without errors (the benchmark asserts it), so
//! a row measures the grammar's fast path, not its recovery. Each figure is
//! the median of `--runs` parses, timed by the parsing thread's CPU clock
//! (`CLOCK_THREAD_CPUTIME_ID`), so other work on a busy machine does not count
//! (it still slows the caches a little; `--wall` times by the wall clock).
//!
//! Deterministic enough for `valgrind --tool=callgrind` (use `--runs 1`),
//! which counts instructions instead of seconds.

use std::fmt::Write;
use std::time::{Duration, Instant};

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let mut steps = 10_000;
    let mut runs = 7;
    let mut mb = 2.0f64;
    let mut only: Option<String> = None;
    let mut wall = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--wall" {
            wall = true;
            continue;
        }
        let v = args.next();
        match (a.as_str(), v) {
            ("--steps", Some(n)) if n.parse::<usize>().is_ok() => steps = n.parse().unwrap_or(steps),
            ("--runs", Some(n)) if n.parse::<usize>().is_ok() => runs = n.parse().unwrap_or(runs),
            ("--mb", Some(n)) if n.parse::<f64>().is_ok_and(|m| m > 0.0) => mb = n.parse().unwrap_or(mb),
            ("--only", Some(name)) if CONSTRUCTS.iter().any(|c| c.0 == name) || name == "project" => {
                only = Some(name)
            }
            _ => {
                let names: Vec<&str> = CONSTRUCTS.iter().map(|c| c.0).collect();
                eprintln!("usage: parse_bench [--steps N] [--runs N] [--mb MB] [--wall] [--only project|{}]", names.join("|"));
                std::process::exit(2);
            }
        }
    }
    let runs = runs.max(1);
    if only.as_deref().is_none_or(|o| o == "project") {
        let text = flowc_bench::workflow(steps);
        let median = median_parse(&text, runs, wall);
        println!(
            "parse: {steps} steps, {:.2} MB, median {:.1} ms, {:.1} MB/s",
            text.len() as f64 / 1e6,
            median.as_secs_f64() * 1e3,
            text.len() as f64 / 1e6 / median.as_secs_f64()
        );
    }
    let target = (mb * 1e6) as usize;
    let mut printed_header = false;
    for (name, what, unit) in CONSTRUCTS {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        if !printed_header {
            println!("\n| construct | what one item is | MB | median ms | MB/s |\n|---|---|---|---|---|");
            printed_header = true;
        }
        let text = construct_file(name, unit, target);
        let median = median_parse(&text, runs, wall);
        println!(
            "| {name} | {what} | {:.2} | {:.1} | {:.1} |",
            text.len() as f64 / 1e6,
            median.as_secs_f64() * 1e3,
            text.len() as f64 / 1e6 / median.as_secs_f64()
        );
    }
}

fn median_parse(text: &str, runs: usize, wall: bool) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let (t, cpu) = (Instant::now(), thread_cpu());
            let parsed = flowc_grammar::parse(text);
            let took = if wall { t.elapsed() } else { thread_cpu().saturating_sub(cpu) };
            assert!(parsed.errors.is_empty(), "the generated text parses clean: {:#?}", &parsed.errors[..1]);
            took
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Where a construct's items go: inside a workflow, or at the top level.
#[derive(Clone, Copy)]
enum Unit {
    /// A workflow item (a step, a group…); `{i}` in the text is the item's number.
    Item(&'static str),
    /// A top-level declaration.
    Decl(&'static str),
}

/// (name, description, one item). `{i}` is replaced by the item's number,
/// `{p}` by the previous item's.
const CONSTRUCTS: &[(&str, &str, Unit)] = &[
    (
        "run_steps",
        "`run` step: a `command` with holes, `output` type, `timeout`",
        Unit::Item(
            "  step s{i} after s{p} {\n    command \"sh bin/process.sh --from ${s{p}.output.id} --name '$s{p}.output.name' --id {i} --out $${TMPDIR:-/tmp}/s{i}.json\"\n    output { id: int, name: string, score: number }\n    timeout 5m\n  }\n",
        ),
    ),
    (
        "agent_steps",
        "`agent` step: a `prompt` with holes, `output`, `timeout`, `retry`",
        Unit::Item(
            "  step s{i}: agent analyst after s{p} {\n    prompt \"Summarise record ${s{p}.output.id} ($s{p}.output.name) for ${inputs.project}; answer as JSON {id, name, score}\"\n    output { id: int, name: string, score: number }\n    timeout 2m\n    retry 3 backoff exponential 1s max 30s\n  }\n",
        ),
    ),
    (
        "people_steps",
        "`approval`, `human`, `wait`, `check`, `notify` steps in turn",
        Unit::Item(
            "  step a{i}: approval after s{p} {\n    approvers [\"tech-lead\", \"security\"]\n    distinct_from_initiator\n    message \"Merge '$fetch.output.title' into ${inputs.repo}?\"\n    timeout 24h\n  }\n  step h{i}: human after a{i} {\n    message \"Collect feedback on ${inputs.feature}\"\n    output { rating: int, notes: string }\n  }\n  step w{i}: wait after h{i} {\n    event \"email.reply\" subject \"leads/${inputs.lead_id}\"\n    timeout 72h\n  }\n  step c{i}: check batch_policy after w{i} {\n    with { score: `s{p}.output.score`, id: `s{p}.output.id` }\n  }\n  step s{i}: notify after c{i} {\n    channel \"log:pipeline\"\n    message \"reached ${s{p}.output.name}\"\n  }\n",
        ),
    ),
    (
        "branches",
        "`branch` step with three `when … -> …` arms and `else`",
        Unit::Item(
            "  step s{i}: branch after s{p} {\n    when `s{p}.output.score > 0.9` -> high{i}\n    when `s{p}.output.score > 0.5` -> mid{i}\n    when `s{p}.output.score > 0.1` -> low{i}\n    else -> none{i}\n  }\n",
        ),
    ),
    (
        "for_each",
        "`for each item` step with `items`, a command and `then spawn each`",
        Unit::Item(
            "  step s{i} after s{p} for each item {\n    items `s{p}.output.records`\n    command \"sh bin/self-test.sh ${item.name} --id {i}\"\n    then spawn each `s{p}.output.children` -> child_workflow { id: `item.id` }\n  }\n",
        ),
    ),
    (
        "groups",
        "`parallel` group of three short steps inside a `phase`",
        Unit::Item(
            "  phase p{i} after p{p} {\n    parallel g{i} {\n      step a{i} { command \"a\" }\n      step b{i} { command \"b\" }\n      step c{i} { command \"c\" }\n    }\n  }\n",
        ),
    ),
    (
        "types",
        "`output` types: nested objects, lists, optional fields; typed `input`s",
        Unit::Item(
            "  input in{i}: { name: string, tags: [string], limits?: { cpu: number, mem: int } } = { name: \"x\", tags: [] }\n  step s{i} {\n    command \"true\"\n    output { id: int, name: string, items: [{ key: string, value?: number, nested: { a: [int], b: bool } }], score: number }\n  }\n",
        ),
    ),
    (
        "data_literals",
        "`with` objects: strings, numbers, booleans, null, nested lists and maps",
        Unit::Item(
            "  step s{i}: use tmpl {\n    with { name: \"record {i}\", count: 42, ratio: -0.125e3, ok: true, missing: null, tags: [\"a\", \"b\", \"c\"], nested: { list: [1, 2, 3, { deep: [true, false] }], \"quoted key\": \"v\\n\\t\\u{1F600}\" } }\n  }\n",
        ),
    ),
    (
        "long_templates",
        "`command` of ~600 bytes: text, `${…}` holes, `$a.b` holes, `$$`, escapes",
        Unit::Item(
            "  step s{i} {\n    command \"sh -c 'deploy --project ${inputs.project} --env ${inputs.target_env} --tag $s{p}.output.tag --name \\\"$s{p}.output.name\\\" --sha ${s{p}.output.sha} --replicas ${s{p}.output.replicas * 2} --region ${inputs.region} --zone ${inputs.zone} --cost $$COST --user ${inputs.user} --note \\\"release {i} of ${inputs.project} built from ${s{p}.output.branch} at ${s{p}.output.time}\\\" --labels ${s{p}.output.labels.join(',')} --dry-run=${inputs.dry_run} --timeout ${inputs.timeout} --out $${TMPDIR:-/tmp}/s{i}.json --log $${LOG_DIR}/s{i}.log --retries ${inputs.retries} --path ${inputs.base}/${s{p}.output.name}/{i} && echo done'\"\n  }\n",
        ),
    ),
    (
        "cel_whens",
        "`when` guards with long CEL expressions (calls, macros, maps, strings)",
        Unit::Item(
            "  step s{i} after s{p} {\n    when `s{p}.output.score > inputs.threshold && size(s{p}.output.items) > 0 && s{p}.output.items.all(x, x.value >= 0.0 && x.key.startsWith('k')) || inputs.force == true && {'a': 1, 'b': [1, 2, 3]}['a'] == 1 && s{p}.output.name.matches('^[a-z]+$')`\n    command \"true\"\n  }\n",
        ),
    ),
    (
        "comments",
        "line and block comments between short steps (mostly comment text)",
        Unit::Item(
            "  // Step {i} processes the records of the previous step and writes them\n  // to the scratch directory; it is retried by the workflow's policy.\n  /* A block comment that spans\n     two lines, with `code` and \"quotes\" inside. */\n  step s{i} { // trailing comment\n    command \"true\" /* inline */\n  }\n",
        ),
    ),
    (
        "declarations",
        "top-level `agent`, `env`, `secrets`, `store`, `policy`, `resource`, instance, `template` in turn",
        Unit::Decl(
            "agent a{i} {\n  description \"Summarises records\"\n  command \"sh agents/analyst.sh --id {i}\"\n  capabilities [\"analysis\", \"review\"]\n  cost_per_call 0.002\n  timeout 2m\n}\nenv e{i} {\n  REGION = \"eu-west-1\"\n  LEVEL = 3\n}\nsecrets k{i} {\n  TOKEN = from_env(\"TOKEN_{i}\")\n  KEY = from_file(\"/run/keys/{i}\")\n}\nstore st{i} {\n  description \"Cross-run memory\"\n  backend local\n  schema { type: \"object\", properties: { value: { type: \"string\" } } }\n  retention { max_entries 1000  ttl 24h }\n}\npolicy pol{i} {\n  deny when `input.score > 0.99` because \"score ${input.score} looks fabricated\"\n  require_approval when `input.score < 0.05`\n  allow when `true`\n}\nresource Kind{i} {\n  description \"Prompt templates\"\n  group \"extensions.orchestrator.dev\"  version v1\n  plural kinds{i}  short k{i}\n  schema { type: \"object\", required: [\"prompts\"] }\n  rule `size(self.prompts) > 0` message \"at least one prompt is required\"\n}\nKind{i} inst{i} {\n  prompts: [{ name: \"code-review\", template: \"Review {criteria}\" }]\n}\ntemplate t{i}: notify {\n  channel \"slack:#sales\"\n}\n",
        ),
    ),
];

/// A file of about `target` bytes made of `unit` alone.
fn construct_file(name: &str, unit: &Unit, target: usize) -> String {
    const ITEMS_PER_WORKFLOW: usize = 500;
    let mut out = String::with_capacity(target + 4096);
    let _ = writeln!(out, "// parse_bench: {name}");
    let mut i = 0usize;
    while out.len() < target {
        let one = |i: usize| {
            let text = match unit {
                Unit::Item(t) | Unit::Decl(t) => *t,
            };
            text.replace("{i}", &i.to_string()).replace("{p}", &i.saturating_sub(1).to_string())
        };
        match unit {
            Unit::Item(_) => {
                let _ = writeln!(out, "workflow w{i} {{");
                for _ in 0..ITEMS_PER_WORKFLOW {
                    out.push_str(&one(i));
                    i += 1;
                }
                out.push_str("}\n\n");
            }
            Unit::Decl(_) => {
                out.push_str(&one(i));
                i += 1;
            }
        }
    }
    out
}
