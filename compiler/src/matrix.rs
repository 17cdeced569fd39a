//! The items of a `for each item in …` step: a literal list as written, or a
//! matrix expanded into its combinations. The checker reports what
//! [`expand`] finds wrong (and types `item` from the result); lowering puts
//! the items in the plan. docs/language.md ("Literal items and matrices")
//! is the long form.
//!
//! A matrix is GitHub Actions' `strategy.matrix`: every combination of the
//! axes' values, the first axis outermost, less each combination an
//! `exclude` entry matches (all its keys equal), then each `include` entry
//! merged into every combination whose axis values it does not contradict
//! (adding keys, never changing an axis value), or added as a combination
//! of its own when it fits none.

use flowc_grammar::ast::{ItemSource, Span, Value, ValueKind};
use serde_json::{Map, Value as Json};

use crate::literal::to_json;


/// At most this many items: a bigger matrix is almost surely a mistake
/// (GitHub Actions stops at the same number).
pub const MAX_ITEMS: usize = 256;

/// What is wrong with a list or a matrix, at a span of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub span: Span,
    /// What is wrong.
    pub message: String,
    /// The label under the span.
    pub label: &'static str,
    /// How to fix it.
    pub help: String,
}

fn problem(span: Span, message: impl Into<String>, label: &'static str, help: impl Into<String>) -> Problem {
    Problem { span, message: message.into(), label, help: help.into() }
}

/// The items a source stands for, in order; or what is wrong with it.
pub fn expand(source: &ItemSource) -> Result<Vec<Json>, Vec<Problem>> {
    match source {
        ItemSource::List(v) => list(v),
        ItemSource::Matrix(v) => matrix(v),
    }
}

/// The literal data of `v`; a problem at the first backtick expression.
fn literal(v: &Value, what: &str) -> Result<Json, Problem> {
    to_json(v).map_err(|at| {
        problem(at, format!("{what} is data, written out: it cannot hold an expression"), "an expression", "write the values themselves; to run for a list computed at run time, set it with `items` on a step before this one")
    })
}

fn list(v: &Value) -> Result<Vec<Json>, Vec<Problem>> {
    let items = match literal(v, "a `for each item in` list") {
        Ok(Json::Array(items)) => items,
        Ok(_) => return Err(vec![problem(v.span, "`for each item in` takes a list", "not a list", "write `[\"a\", \"b\"]`, or `in matrix { … }`")]),
        Err(p) => return Err(vec![p]),
    };
    if items.is_empty() {
        return Err(vec![problem(v.span, "the list is empty, so the step would never run", "empty", "list the items, or remove the step")]);
    }
    if items.len() > MAX_ITEMS {
        return Err(vec![too_many(v.span, items.len())]);
    }
    Ok(items)
}

fn too_many(span: Span, n: usize) -> Problem {
    problem(span, format!("{n} items; a step runs for at most {MAX_ITEMS}"), "too many", "split the work over several steps, or exclude combinations nobody needs")
}

fn matrix(v: &Value) -> Result<Vec<Json>, Vec<Problem>> {
    let ValueKind::Object(fields) = &v.kind else {
        return Err(vec![problem(v.span, "`matrix` takes an object of axes", "not an object", "write `matrix { os: [\"ubuntu\", \"macos\"] }`")]);
    };
    let mut problems = Vec::new();
    let mut axes: Vec<(String, Vec<Json>)> = Vec::new();
    let mut exclude: Vec<(Span, Map<String, Json>)> = Vec::new();
    let mut include: Vec<Map<String, Json>> = Vec::new();
    for f in fields {
        let key = f.key.text.as_str();
        let value = match literal(&f.value, "a matrix") {
            Ok(j) => j,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        match (key, value) {
            ("exclude" | "include", Json::Array(entries)) => {
                let ValueKind::Array(written) = &f.value.kind else { continue };
                for (entry, at) in entries.into_iter().zip(written) {
                    match entry {
                        Json::Object(map) if !map.is_empty() => {
                            if key == "exclude" {
                                exclude.push((at.span, map));
                            } else {
                                include.push(map);
                            }
                        }
                        _ => problems.push(problem(
                            at.span,
                            format!("each `{key}` entry is an object of axis values"),
                            "not an object",
                            format!("write `{key}: [{{ os: \"macos\", rust: \"1.80\" }}]`"),
                        )),
                    }
                }
            }
            ("exclude" | "include", _) => problems.push(problem(f.value.span, format!("`{key}` takes a list of objects"), "not a list", format!("write `{key}: [{{ os: \"macos\" }}]`"))),
            (_, Json::Array(values)) if values.is_empty() => {
                problems.push(problem(f.value.span, format!("axis `{key}` has no values, so the matrix has no combinations"), "empty", "list its values, or remove the axis"))
            }
            (_, Json::Array(values)) => {
                if axes.iter().any(|(k, _)| k == key) {
                    problems.push(problem(f.key.span, format!("axis `{key}` is written twice"), "again", "write each axis once, with all its values"));
                } else {
                    axes.push((key.to_string(), values));
                }
            }
            (_, _) => problems.push(problem(f.value.span, format!("axis `{key}` takes a list of values"), "not a list", format!("write `{key}: [\"a\", \"b\"]`"))),
        }
    }
    for (at, entry) in &exclude {
        if let Some(k) = entry.keys().find(|k| !axes.iter().any(|(a, _)| a == *k)) {
            let names: Vec<String> = axes.iter().map(|(a, _)| format!("`{a}`")).collect();
            problems.push(problem(*at, format!("`exclude` names `{k}`, which is not an axis"), "not an axis", format!("an exclude entry matches combinations by axis values; the axes are {}", names.join(", "))));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if axes.is_empty() && include.is_empty() {
        return Err(vec![problem(v.span, "the matrix has no axes", "no axes", "write `matrix { os: [\"ubuntu\", \"macos\"] }`")]);
    }
    // Expanding a matrix far past the limit would only cost memory: say so
    // from the product of the axes' lengths.
    let total = axes.iter().fold(1usize, |n, (_, values)| n.saturating_mul(values.len()));
    if total > MAX_ITEMS * 16 {
        return Err(vec![too_many(v.span, total)]);
    }
    // Every combination, the first axis outermost.
    let mut combos: Vec<Map<String, Json>> = if axes.is_empty() { Vec::new() } else { vec![Map::new()] };
    for (key, values) in &axes {
        let mut next = Vec::with_capacity(combos.len() * values.len());
        for c in &combos {
            for v in values {
                let mut c = c.clone();
                c.insert(key.clone(), v.clone());
                next.push(c);
            }
        }
        combos = next;
    }
    combos.retain(|c| !exclude.iter().any(|(_, e)| e.iter().all(|(k, v)| c.get(k) == Some(v))));
    // `include` merges into the combinations of the axes only, never into
    // one an earlier entry added.
    let original = combos.len();
    let is_axis = |k: &str| axes.iter().any(|(a, _)| a == k);
    for entry in include {
        let mut merged = false;
        for c in &mut combos[..original] {
            if entry.iter().all(|(k, v)| !is_axis(k) || c.get(k) == Some(v)) {
                for (k, v) in &entry {
                    if !is_axis(k) {
                        c.insert(k.clone(), v.clone());
                    }
                }
                merged = true;
            }
        }
        if !merged {
            combos.push(entry);
        }
    }
    if combos.is_empty() {
        return Err(vec![problem(v.span, "`exclude` leaves no combination, so the step would never run", "nothing left", "exclude fewer combinations")]);
    }
    if combos.len() > MAX_ITEMS {
        return Err(vec![too_many(v.span, combos.len())]);
    }
    Ok(combos.into_iter().map(Json::Object).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn source(text: &str) -> ItemSource {
        let src = format!("workflow w {{\n  step s for each item in {text} {{ command \"true\" }}\n}}\n");
        let parse = flowc_grammar::parse(&src);
        assert!(parse.errors.is_empty(), "{text}: {:?}", parse.errors);
        let flowc_grammar::ast::Decl::Workflow(w) = &parse.file.decls[0] else { panic!("a workflow") };
        w.steps()[0].for_each_in.clone().expect("items")
    }

    fn ok(text: &str) -> Json {
        Json::Array(expand(&source(text)).unwrap_or_else(|e| panic!("{text}: {e:?}")))
    }

    fn err(text: &str) -> Vec<String> {
        expand(&source(text)).expect_err(text).into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn a_list_is_its_items() {
        assert_eq!(ok(r#"["a", "b"]"#), json!(["a", "b"]));
        assert_eq!(ok(r#"[{ os: "linux" }, 2]"#), json!([{ "os": "linux" }, 2]));
    }

    /// The cases of GitHub Actions' documentation of `matrix`, `exclude`
    /// and `include`, with the combinations it lists.
    #[test]
    fn a_matrix_expands_as_github_actions_does() {
        assert_eq!(
            ok(r#"matrix { os: ["ubuntu", "windows"], version: [10, 12] }"#),
            json!([{ "os": "ubuntu", "version": 10 }, { "os": "ubuntu", "version": 12 }, { "os": "windows", "version": 10 }, { "os": "windows", "version": 12 }])
        );
        assert_eq!(
            ok(r#"matrix { os: ["macos", "windows"], version: [12, 14, 16], environment: ["staging", "production"],
                exclude: [{ os: "macos", version: 12, environment: "production" }, { os: "windows", version: 16 }] }"#)
            .as_array()
            .unwrap()
            .len(),
            12 - 1 - 2
        );
        // An include entry merges into the combinations it does not
        // contradict, or stands alone when it fits none.
        assert_eq!(
            ok(r#"matrix { fruit: ["apple", "pear"], animal: ["cat", "dog"],
                include: [{ color: "green" }, { color: "pink", animal: "cat" }, { fruit: "apple", shape: "circle" },
                          { fruit: "banana" }, { fruit: "banana", animal: "cat" }] }"#),
            json!([
                { "fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle" },
                { "fruit": "apple", "animal": "dog", "color": "green", "shape": "circle" },
                { "fruit": "pear", "animal": "cat", "color": "pink" },
                { "fruit": "pear", "animal": "dog", "color": "green" },
                { "fruit": "banana" },
                { "fruit": "banana", "animal": "cat" },
            ])
        );
    }

    #[test]
    fn what_is_wrong_is_said() {
        assert_eq!(err("[]"), ["the list is empty, so the step would never run"]);
        assert_eq!(err("[`inputs.x`]"), ["a `for each item in` list is data, written out: it cannot hold an expression"]);
        assert_eq!(err("matrix { os: [] }"), ["axis `os` has no values, so the matrix has no combinations"]);
        assert_eq!(err(r#"matrix { os: "linux" }"#), ["axis `os` takes a list of values"]);
        assert_eq!(err(r#"matrix { os: ["a"], exclude: [{ arch: "x" }] }"#), ["`exclude` names `arch`, which is not an axis"]);
        assert_eq!(err(r#"matrix { os: ["a"], exclude: [{ os: "a" }] }"#), ["`exclude` leaves no combination, so the step would never run"]);
        assert_eq!(err(r#"matrix { os: ["a"], os: ["b"] }"#), ["axis `os` is written twice"]);
        assert_eq!(err("matrix { a: [1,2,3,4,5,6,7], b: [1,2,3,4,5,6,7], c: [1,2,3,4,5,6] }"), ["294 items; a step runs for at most 256"]);
    }
}
