//! One layout rule per test. The properties over whole files (idempotence,
//! same tree, same comments) are in the workspace's `tests/fmt.rs`.

use super::{WIDTH, format};

#[track_caller]
fn check(src: &str, expected: &str) {
    match format(src) {
        Ok(out) => assert_eq!(out, expected, "\n----- got\n{out}----- expected\n{expected}"),
        Err(errors) => panic!("refused: {errors:?}"),
    }
}

#[test]
fn refuses_a_file_with_syntax_errors() {
    let errors = format("workflow w {\n  step s {\n    comand \"x\"\n  }\n}\n").unwrap_err();
    assert!(!errors.is_empty());
}

#[test]
fn an_empty_file_stays_empty() {
    check("", "");
    check("\n\n  \n", "");
}

#[test]
fn a_file_of_comments_keeps_them() {
    check("  // one\n\n\n/* two */   // three\n", "// one\n\n/* two */ // three\n");
}

#[test]
fn blocks_indent_by_two_spaces_one_statement_per_line() {
    check(
        "workflow w { step s { command \"a\" timeout 5s } }",
        "workflow w {\n  step s {\n    command \"a\"\n    timeout 5s\n  }\n}\n",
    );
}

#[test]
fn headers_are_spaced_canonically() {
    check(
        "workflow w{step  a :agent   r after x,y,z for each item{}\nstep x{}}",
        "workflow w {\n  step a: agent r after x, y, z for each item {}\n  step x {}\n}\n",
    );
    check(
        "workflow w { step j : run after one_success( a ,b ) {} }",
        "workflow w {\n  step j: run after one_success(a, b) {}\n}\n",
    );
}

#[test]
fn every_trigger_rule_is_spaced_and_parsed_back() {
    for rule in crate::ast::TriggerRule::ALL {
        let word = rule.keyword();
        check(
            &format!("workflow w {{ step j after {word}( a ,b ){{}} }}"),
            &format!("workflow w {{\n  step j after {word}(a, b) {{}}\n}}\n"),
        );
    }
}

#[test]
fn blank_lines_are_kept_but_never_more_than_one() {
    check("agent a {}\n\n\n\nagent b {}\nagent c {}\n", "agent a {}\n\nagent b {}\nagent c {}\n");
}

#[test]
fn no_blank_line_opens_or_closes_a_block() {
    check("agent a {\n\n  timeout 1s\n\n  retry 2\n\n}\n", "agent a {\n  timeout 1s\n\n  retry 2\n}\n");
}

#[test]
fn trailing_comments_stay_on_their_line() {
    check(
        "agent a {\n  timeout 1s      // why\n  retry 2 /* how */\n}\n",
        "agent a {\n  timeout 1s // why\n  retry 2 /* how */\n}\n",
    );
}

#[test]
fn comments_on_their_own_line_stay_there() {
    check(
        "agent a {\n    // about the timeout\n  timeout 1s\n      /* the end */\n}\n",
        "agent a {\n  // about the timeout\n  timeout 1s\n  /* the end */\n}\n",
    );
}

#[test]
fn a_line_comment_before_a_brace_moves_after_it() {
    check("agent a // the agent\n{\n  timeout 1s\n}\n", "agent a { // the agent\n  timeout 1s\n}\n");
}

#[test]
fn literals_are_copied_as_written() {
    check(
        "workflow w { budget 5.00 timeout 90m step s { command \"a\\tb \\u{41} $$ ${x.y} $a.b\" with { \"k\": 1e3, n: -0.50 } } }",
        "workflow w {\n  budget 5.00\n  timeout 90m\n  step s {\n    command \"a\\tb \\u{41} $$ ${x.y} $a.b\"\n    with { \"k\": 1e3, n: -0.50 }\n  }\n}\n",
    );
}

#[test]
fn short_data_literals_go_on_one_line() {
    check(
        "store s { schema {\n  type: \"object\"\n  required: [\n \"a\" ,\"b\"]\n} }",
        "store s {\n  schema { type: \"object\", required: [\"a\", \"b\"] }\n}\n",
    );
}

#[test]
fn long_data_literals_go_one_entry_per_line() {
    let long = "x".repeat(WIDTH);
    check(
        &format!("store s {{ schema {{ a: [\"{long}\"], b: {{ c: 1 }} }} }}"),
        &format!("store s {{\n  schema {{\n    a: [\n      \"{long}\",\n    ],\n    b: {{ c: 1 }},\n  }}\n}}\n"),
    );
}

#[test]
fn a_comment_inside_a_data_literal_breaks_it() {
    check(
        "store s { schema { a: 1 /* why */, b: 2 } }",
        "store s {\n  schema {\n    a: 1 /* why */,\n    b: 2,\n  }\n}\n",
    );
}

#[test]
fn long_after_lists_fill_lines_up_to_the_width() {
    let names: Vec<String> = (0..12).map(|i| format!("step_number_{i:02}")).collect();
    let src = format!("workflow w {{ step last after {} {{}} }}", names.join(","));
    let out = format(&src).unwrap();
    assert!(out.lines().all(|l| l.chars().count() <= WIDTH), "{out}");
    assert_eq!(
        out,
        "workflow w {\n  step last after step_number_00, step_number_01, step_number_02, step_number_03, step_number_04,\n      step_number_05, step_number_06, step_number_07, step_number_08, step_number_09,\n      step_number_10, step_number_11 {}\n}\n"
    );
}

#[test]
fn empty_blocks_close_on_their_line() {
    check("workflow w {\n\n}\nDataset d {\n}\n", "workflow w {}\nDataset d {}\n");
    check("workflow w { /* nothing yet */ }", "workflow w { /* nothing yet */ }\n");
}

#[test]
fn crlf_line_endings_become_lf() {
    check("agent a {\r\n  timeout 1s // why\r\n}\r\n", "agent a {\n  timeout 1s // why\n}\n");
}

#[test]
fn deep_nesting_formats_without_overflowing() {
    let depth = 120;
    let src = format!("store s {{ schema {{ a: {}1{} }} }}", "[".repeat(depth), "]".repeat(depth));
    let out = format(&src).unwrap();
    assert_eq!(out.matches('[').count(), depth);
    assert_eq!(format(&out).unwrap(), out);
}

#[test]
fn trigger_signatures_and_catchup_are_spaced_canonically() {
    check(
        concat!(
            "workflow w {\n",
            "  on   webhook github.pull_request.*   signed  github with hooks . GITHUB\n",
            "  on webhook stripe.invoice.paid signed stripe with hooks.STRIPE   tolerance  5m\n",
            "  on webhook acme.order.created signed hmac   \"X-Acme-Signature\" /* why */ with hooks.ACME // key\n",
            "  on schedule \"0 9 * * *\"  catchup   latest within   1d\n",
            "  on schedule \"0 10 * * *\" catchup all\n",
            "}\n",
        ),
        concat!(
            "workflow w {\n",
            "  on webhook github.pull_request.* signed github with hooks.GITHUB\n",
            "  on webhook stripe.invoice.paid signed stripe with hooks.STRIPE tolerance 5m\n",
            "  on webhook acme.order.created signed hmac \"X-Acme-Signature\" /* why */ with hooks.ACME // key\n",
            "  on schedule \"0 9 * * *\" catchup latest within 1d\n",
            "  on schedule \"0 10 * * *\" catchup all\n",
            "}\n",
        ),
    );
}

#[test]
fn retry_conditions_and_backoff_options_keep_their_order() {
    check(
        "workflow w { retry 3   on exit 75,111 or   timeout backoff exponential 1s factor 1.5 max 1m jitter 20% max_duration 10m\nstep s { command \"a\" retry 2 on timeout or exit 75 , 76 } }",
        "workflow w {\n  retry 3 on exit 75, 111 or timeout backoff exponential 1s factor 1.5 max 1m jitter 20% max_duration 10m\n  step s {\n    command \"a\"\n    retry 2 on timeout or exit 75, 76\n  }\n}\n",
    );
    check(
        "agent a { command \"x\" retry 1 max_duration 1s }",
        "agent a {\n  command \"x\"\n  retry 1 max_duration 1s\n}\n",
    );
    check(
        "workflow w { step s { command \"a\" retry 2 on exit 75 /* busy */, 76 backoff fixed 5ms jitter 0% } }",
        "workflow w {\n  step s {\n    command \"a\"\n    retry 2 on exit 75 /* busy */, 76 backoff fixed 5ms jitter 0%\n  }\n}\n",
    );
}
