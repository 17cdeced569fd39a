//! `for each` items and `select` end to end: one run of the step per item,
//! and the best candidates kept.

mod support;

use serde_json::json;
use support::copies::*;
use support::*;

#[test]
fn items_run_once_per_item_and_select_keeps_the_best() {
    let p = project("items", false);
    let (out, s) = run(&p, "tournament", &[], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let names = |step: &str| -> Vec<String> {
        s["steps"][step]["output"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names("each"), ["a", "b", "c", "d"], "instance outputs in item order");
    assert_eq!(s["steps"]["each"]["output"][2]["index"], 2);
    assert_eq!(names("best"), ["b", "c"], "max, top_k 2");
    assert_eq!(names("keep"), ["b", "c", "d"], "threshold 0.5");
    assert_eq!(names("weighted"), ["c"], "weighted: 0.5·score + 0.5·conf, top_k 1");
    assert_eq!(names("low"), ["a"], "min keeps one by default");
    assert_eq!(s["steps"]["use_best"]["output"], "2 b", "`items` after a select is what it kept");
    let counts: Vec<u32> = p.read("counts").lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 4);
    assert!(counts.iter().all(|c| *c <= 2), "more than `concurrency 2` instances at once: {counts:?}");
    let events = p.events(s["run"].as_str().unwrap());
    let mut started: Vec<u64> = events_named(&events, "item_started").iter().map(|e| e["payload"]["item"].as_u64().unwrap()).collect();
    started.sort();
    assert_eq!(started, [0, 1, 2, 3]);
    assert_eq!(events_named(&events, "item_completed").len(), 4);
    let selected = events.iter().find(|e| e["event"] == "selected" && e["step"] == "best").unwrap();
    assert_eq!(selected["payload"]["kept"], json!([1, 2]));

    let (out, s) = run(&p, "missing_metric", &[], &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(step_error(&p, s["run"].as_str().unwrap(), "pick"), r#"item 1 has no `score`: {"name":"y"}"#);
}
