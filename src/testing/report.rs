//! What `flowc test` prints: for people (each failing expectation with its
//! source line and what the run showed), one JSON document, JUnit XML for
//! CI systems, or GitHub annotations on the failing lines; and coverage.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;

use flowc_plan::{Instr, Plan};
use serde_json::{json, Value};

use super::case::TestCase;
use super::driver::{Note, TestResult};
use super::TestFormat;
use crate::render::github::{escape_data, escape_property};

/// Which steps and branch arms of the tests' workflows (and the workflows
/// they call) no test reached.
pub struct Coverage {
    /// `(workflow, step)` → reached by some test.
    pub steps: BTreeMap<(String, String), bool>,
    /// `(workflow, branch step, arm)` → picked by some test.
    pub arms: BTreeMap<(String, String, String), bool>,
}

pub fn coverage(plans: &BTreeMap<String, Plan>, results: &[TestResult]) -> Coverage {
    let reached: BTreeSet<&(String, String)> = results.iter().flat_map(|r| &r.reached).collect();
    let picked: BTreeSet<&(String, String, String)> = results.iter().flat_map(|r| &r.picked).collect();
    let mut cov = Coverage { steps: BTreeMap::new(), arms: BTreeMap::new() };
    for plan in plans.values() {
        for wf in &plan.workflows {
            for step in &wf.steps {
                let key = (wf.name.clone(), step.name.clone());
                let hit = reached.contains(&key);
                cov.steps.insert(key, hit);
                for instr in &step.code {
                    if let Instr::Branch { arms } = instr {
                        for arm in arms {
                            let name = wf.arm_name(arm).to_string();
                            let key = (wf.name.clone(), step.name.clone(), name);
                            let hit = picked.contains(&key);
                            cov.arms.insert(key, hit);
                        }
                    }
                }
            }
        }
    }
    cov
}

impl Coverage {
    fn missed_steps(&self) -> impl Iterator<Item = &(String, String)> {
        self.steps.iter().filter(|(_, hit)| !**hit).map(|(k, _)| k)
    }
    fn missed_arms(&self) -> impl Iterator<Item = &(String, String, String)> {
        self.arms.iter().filter(|(_, hit)| !**hit).map(|(k, _)| k)
    }
    fn to_json(&self) -> Value {
        let steps_hit = self.steps.values().filter(|h| **h).count();
        let arms_hit = self.arms.values().filter(|h| **h).count();
        let (steps, arms) = (self.steps.len(), self.arms.len());
        json!({
            "steps": { "reached": steps_hit, "total": steps },
            "arms": { "reached": arms_hit, "total": arms },
            "missed_steps": self.missed_steps().map(|(w, s)| json!({ "workflow": w, "step": s })).collect::<Vec<_>>(),
            "missed_arms": self.missed_arms().map(|(w, s, a)| json!({ "workflow": w, "step": s, "arm": a })).collect::<Vec<_>>(),
        })
    }
}

pub fn print(format: TestFormat, cases: &[TestCase], results: &[TestResult], coverage: Option<&Coverage>, elapsed: Duration) {
    let text = match format {
        TestFormat::Human => human(cases, results, coverage, elapsed),
        TestFormat::Json => serde_json::to_string_pretty(&json_doc(cases, results, coverage, elapsed)).unwrap_or_default() + "\n",
        TestFormat::Junit => junit(cases, results, elapsed),
        TestFormat::Github => github(cases, results, coverage),
    };
    print!("{text}");
}

fn note_lines(n: &Note, out: &mut String) {
    let _ = writeln!(out, "    {}:{}:{}: {}", n.place.file, n.place.line, n.place.column, n.message);
    let _ = writeln!(out, "      | {}", n.place.source);
    if let Some(o) = &n.observed {
        let _ = writeln!(out, "      = observed: {o}");
    }
}

fn human(cases: &[TestCase], results: &[TestResult], coverage: Option<&Coverage>, elapsed: Duration) -> String {
    let mut out = String::new();
    for (c, r) in cases.iter().zip(results) {
        let word = if r.passed() { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "{word} {} ({} ms)", c.name, r.duration.as_millis());
        for n in r.failures.iter().chain(&r.error) {
            note_lines(n, &mut out);
        }
        if let (false, Some(run)) = (r.passed(), &r.run) {
            let _ = writeln!(out, "    ({run})");
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    let _ = writeln!(
        out,
        "\n{} test{}: {} passed, {failed} failed ({:.2} s)",
        results.len(),
        if results.len() == 1 { "" } else { "s" },
        results.len() - failed,
        elapsed.as_secs_f64()
    );
    if let Some(cov) = coverage {
        let steps_hit = cov.steps.values().filter(|h| **h).count();
        let arms_hit = cov.arms.values().filter(|h| **h).count();
        let _ = writeln!(out, "coverage: {steps_hit}/{} steps, {arms_hit}/{} branch arms", cov.steps.len(), cov.arms.len());
        for (w, s) in cov.missed_steps() {
            let _ = writeln!(out, "  not reached: step {w}.{s}");
        }
        for (w, s, a) in cov.missed_arms() {
            let _ = writeln!(out, "  not taken: branch {w}.{s} -> {a}");
        }
    }
    out
}

fn note_json(n: &Note) -> Value {
    json!({ "file": n.place.file, "line": n.place.line, "column": n.place.column, "source": n.place.source, "message": n.message, "observed": n.observed })
}

fn json_doc(cases: &[TestCase], results: &[TestResult], coverage: Option<&Coverage>, elapsed: Duration) -> Value {
    let tests: Vec<Value> = cases
        .iter()
        .zip(results)
        .map(|(c, r)| {
            json!({
                "name": c.name,
                "workflow": c.workflow,
                "file": c.place.file,
                "line": c.place.line,
                "passed": r.passed(),
                "duration_ms": r.duration.as_millis() as u64,
                "failures": r.failures.iter().map(note_json).collect::<Vec<_>>(),
                "error": r.error.as_ref().map(note_json),
                "run": r.run,
            })
        })
        .collect();
    let failed = results.iter().filter(|r| !r.passed()).count();
    let mut doc = json!({
        "tests": tests,
        "passed": results.len() - failed,
        "failed": failed,
        "duration_ms": elapsed.as_millis() as u64,
    });
    if let Some(cov) = coverage {
        doc["coverage"] = cov.to_json();
    }
    doc
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters, not even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn junit(cases: &[TestCase], results: &[TestResult], elapsed: Duration) -> String {
    let failures = results.iter().filter(|r| !r.failures.is_empty() && r.error.is_none()).count();
    let errors = results.iter().filter(|r| r.error.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"flowc test\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        results.len(),
        elapsed.as_secs_f64()
    );
    let mut by_file: BTreeMap<&str, Vec<(&TestCase, &TestResult)>> = BTreeMap::new();
    for (c, r) in cases.iter().zip(results) {
        by_file.entry(c.place.file.as_str()).or_default().push((c, r));
    }
    for (file, tests) in by_file {
        let f = tests.iter().filter(|(_, r)| !r.failures.is_empty() && r.error.is_none()).count();
        let e = tests.iter().filter(|(_, r)| r.error.is_some()).count();
        let time: f64 = tests.iter().map(|(_, r)| r.duration.as_secs_f64()).sum();
        let _ = writeln!(out, "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" time=\"{time:.3}\">", xml(file), tests.len());
        for (c, r) in tests {
            let _ = write!(
                out,
                "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                xml(&c.name),
                xml(&c.workflow),
                xml(file),
                c.place.line,
                r.duration.as_secs_f64()
            );
            if r.passed() {
                out.push_str("/>\n");
                continue;
            }
            out.push_str(">\n");
            let body = |n: &Note| {
                let mut s = format!("{}:{}:{}: {}\n{}", n.place.file, n.place.line, n.place.column, n.message, n.place.source);
                if let Some(o) = &n.observed {
                    s.push_str(&format!("\nobserved: {o}"));
                }
                s
            };
            if let Some(e) = &r.error {
                let _ = writeln!(out, "      <error message=\"{}\">{}</error>", xml(&e.message), xml(&body(e)));
            }
            for n in &r.failures {
                let _ = writeln!(out, "      <failure message=\"{}\">{}</failure>", xml(&n.message), xml(&body(n)));
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn github(cases: &[TestCase], results: &[TestResult], coverage: Option<&Coverage>) -> String {
    let mut out = String::new();
    for (c, r) in cases.iter().zip(results) {
        for n in r.failures.iter().chain(&r.error) {
            let mut message = n.message.clone();
            if let Some(o) = &n.observed {
                message.push_str(&format!("\nobserved: {o}"));
            }
            let _ = writeln!(
                out,
                "::error file={},line={},col={},title={}::{}",
                escape_property(&n.place.file),
                n.place.line,
                n.place.column,
                escape_property(&format!("test \"{}\"", c.name)),
                escape_data(&message)
            );
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    let _ = writeln!(out, "{} tests: {} passed, {failed} failed", results.len(), results.len() - failed);
    if let Some(cov) = coverage {
        for (w, s) in cov.missed_steps() {
            let _ = writeln!(out, "::notice title=not covered::no test reaches step {w}.{s}");
        }
        for (w, s, a) in cov.missed_arms() {
            let _ = writeln!(out, "::notice title=not covered::no test takes the arm {w}.{s} -> {a}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::xml;
    use crate::render::github::escape_data;

    /// The XML text of `xml` read back: entities, and the `\u{…}` we write for
    /// the control characters XML 1.0 cannot hold.
    fn unxml(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if let Some((entity, value)) =
                [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"'), ("&apos;", '\'')].iter().find(|(e, _)| rest.starts_with(e))
            {
                out.push(*value);
                rest = &rest[entity.len()..];
                continue;
            }
            if let Some(hex) = rest.strip_prefix("\\u{").and_then(|r| r.split_once('}'))
                && let Some(ch) = u32::from_str_radix(hex.0, 16).ok().and_then(char::from_u32)
                && (ch as u32) < 0x20 {
                    out.push(ch);
                    rest = hex.1;
                    continue;
                }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    proptest! {
        /// Any test name, message or observed value is well-formed XML text,
        /// attribute-safe, and reads back as itself.
        #[test]
        fn junit_text_is_well_formed_and_reads_back(s in any::<String>()) {
            let x = xml(&s);
            prop_assert!(!x.contains(['<', '>', '"', '\'']), "{x:?}");
            prop_assert!(!x.chars().any(|c| (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t')), "{x:?}");
            for (i, _) in x.match_indices('&') {
                prop_assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].iter().any(|e| x[i..].starts_with(e)), "{x:?}");
            }
            // `\u{` written by a name itself is ambiguous only for control characters: skip those.
            if !s.contains("\\u{") {
                prop_assert_eq!(unxml(&x), s);
            }
        }

        /// A GitHub annotation's message is one line whatever it holds, and decodes back.
        #[test]
        fn github_messages_stay_on_one_line(s in any::<String>()) {
            let e = escape_data(&s);
            prop_assert!(!e.contains(['\n', '\r']));
            let back = e.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%");
            prop_assert_eq!(back, s);
        }
    }
}
