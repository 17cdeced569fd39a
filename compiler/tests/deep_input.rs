//! No input overflows the checker's stack or makes it hang: the grammar's
//! pathological shapes (deep and unclosed brackets in data, types, CEL and
//! template holes), checked whole on a thread with a small stack.

use std::sync::mpsc;
use std::time::Duration;

use flowc_compiler::{Code, check_files};

use flowc_grammar::pathological as shapes;

/// A quarter of a spawned thread's default stack; what an unoptimised build
/// needs for the nesting bound (the grammar's test says why).
const SMALL_STACK: usize = 512 * 1024;

fn check_on_small_stack(name: &str, text: String) -> Vec<Code> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let codes: Vec<Code> = check_files(&[("deep.flow", &text)]).iter().map(|d| d.code).collect();
            let _ = tx.send(codes);
        })
        .unwrap_or_else(|e| panic!("{name}: cannot start a thread: {e}"));
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("{name}: no answer (hung, or the thread died)"))
}

#[test]
fn deep_inputs_are_checked_on_a_small_stack() {
    for n in [flowc_grammar::lexer::MAX_NESTING - 2, flowc_grammar::lexer::MAX_NESTING + 1, 7_500] {
        for (name, text) in shapes::shapes(n) {
            // An answer at all is the point: a thread that overflows its stack aborts the process.
            let codes = check_on_small_stack(name, text);
            if n > flowc_grammar::lexer::MAX_NESTING && name.starts_with("data") {
                assert_eq!(codes, vec![Code::NestingTooDeep], "{name} × {n}");
            }
        }
    }
}

#[test]
fn a_hole_of_7500_open_braces_is_a_nesting_error() {
    let text = shapes::in_step(&format!("command \"${{{}", "{".repeat(7_500)));
    assert_eq!(check_on_small_stack("hole", text), vec![Code::NestingTooDeep]);
}

/// Long graphs: a chain of steps, a loop through all of them, and a chain of
/// workflows each calling the next. The cycle searches walked them
/// recursively (petgraph's Tarjan), one stack frame per node.
#[test]
fn long_chains_and_loops_are_checked_on_a_small_stack() {
    let n = 20_000;
    let chain: String = std::iter::once("workflow w {\n".to_string())
        .chain((0..n).map(|i| if i == 0 { "  step s0 { command \"true\" }\n".to_string() } else { format!("  step s{i} after s{} {{ command \"true\" }}\n", i - 1) }))
        .chain(std::iter::once("}\n".to_string()))
        .collect();
    assert_eq!(check_on_small_stack("chain", chain.clone()), Vec::<Code>::new());
    let looped = chain.replacen("step s0 {", &format!("step s0 after s{} {{", n - 1), 1);
    assert_eq!(check_on_small_stack("loop", looped), vec![Code::Cycle]);
    let calls: String = (0..5_000)
        .map(|i| {
            if i == 0 {
                "workflow w0 {\n  step s { command \"true\" }\n}\n".to_string()
            } else {
                format!("workflow w{i} {{\n  step s: call w{} {{ }}\n}}\n", i - 1)
            }
        })
        .collect();
    assert_eq!(check_on_small_stack("calls", calls), Vec::<Code>::new());
}

