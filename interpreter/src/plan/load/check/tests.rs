//! The loader's tests of stores, spawns, items, select, gates, policies,
//! triggers and the blocking instructions.

/// A step's code: post actions, item sources, fix loops.
mod step_code {
        use serde_json::{json, Value};

        use crate::plan::{LoadedPlan, Plan};

        fn plan(steps: Value) -> Value {
            json!({
                "format_version": 3,
                "entry": "w",
                "workflows": [{
                    "name": "w",
                    "exprs": ["output", "[1, 2]"],
                    "templates": [{ "parts": [{ "text": "true" }] }],
                    "steps": steps
                }]
            })
        }

        fn load_err(v: Value) -> String {
            let plan: Plan = serde_json::from_value(v).unwrap();
            LoadedPlan::load(plan).err().map(|e| e.message).unwrap_or_default()
        }

        #[test]
        fn post_actions_come_last() {
            let err = load_err(plan(json!([
                { "id": 0, "name": "a", "kind": "run", "code": [
                    { "op": "ITEMS", "expr": 1 }, { "op": "RENDER", "template": 0, "dst": "cmd" }, { "op": "END" } ] }
            ])));
            assert_eq!(
                err,
                "workflow `w`: step `a`, instruction 1 (RENDER): post actions (STORE_PUT, SPAWN, SPAWN_EACH, ITEMS) must come after every other instruction"
            );
        }

        #[test]
        fn item_lists_need_a_source_upstream() {
            let err = load_err(plan(json!([
                { "id": 0, "name": "a", "kind": "run", "code": [{ "op": "END" }] },
                { "id": 1, "name": "b", "kind": "run", "after": [0], "for_each": true, "code": [{ "op": "END" }] }
            ])));
            assert_eq!(err, "workflow `w`: step `b` uses the item list, but no step before it sets one (`items` or a `select`)");
            let ok = load_err(plan(json!([
                { "id": 0, "name": "a", "kind": "run", "code": [{ "op": "ITEMS", "expr": 1 }, { "op": "END" }] },
                { "id": 1, "name": "b", "kind": "run", "after": [0], "for_each": true, "code": [{ "op": "END" }] }
            ])));
            assert_eq!(ok, "");
        }

        #[test]
        fn fix_steps_run_before_their_gate_and_loops_are_indexed() {
            let gate = |fix: u32| {
                json!({ "id": 2, "name": "g", "kind": "gate", "after": [1], "gate": { "fix": [fix], "fix_retries": 2, "on_fail": "fail" },
                        "code": [{ "op": "GATE", "checks": [{ "template": 0 }] }, { "op": "END" }] })
            };
            let steps = |fix: u32| {
                json!([
                    { "id": 0, "name": "a", "kind": "run", "code": [{ "op": "END" }] },
                    { "id": 1, "name": "b", "kind": "run", "after": [0], "code": [{ "op": "END" }] },
                    gate(fix),
                    { "id": 3, "name": "c", "kind": "run", "code": [{ "op": "END" }] }
                ])
            };
            assert_eq!(load_err(plan(steps(3))), "workflow `w`: step `g`: its fix step `c` does not run before the gate");
            let loaded = LoadedPlan::load(serde_json::from_value(plan(steps(0))).unwrap()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(loaded.workflows[0].steps[2].fix_loop, [0, 1, 2]);
        }
}

/// Policies, triggers and the blocking instructions.
mod blocking {
        use serde_json::{json, Value};

        use crate::plan::{LoadedPlan, Plan};

        fn base() -> Value {
            json!({
                "format_version": 3,
                "entry": "w",
                "policies": [{ "name": "p", "exprs": ["input.n > 1"], "rules": [{ "effect": "deny", "when": 0 }] }],
                "workflows": [{
                    "name": "w",
                    "exprs": ["{}"],
                    "templates": [{ "parts": [{ "text": "t" }] }],
                    "steps": [
                        { "id": 0, "name": "c", "kind": "check", "code": [
                            { "op": "EVAL", "expr": 0, "dst": "input" },
                            { "op": "CHECK_POLICY", "policy": 0, "input": "input" },
                            { "op": "APPROVAL", "implicit": true },
                            { "op": "END" } ] },
                        { "id": 1, "name": "w8", "kind": "wait", "after": [0], "code": [
                            { "op": "RENDER", "template": 0, "dst": "event" },
                            { "op": "WAIT", "event": "event" },
                            { "op": "END" } ] }
                    ],
                    "triggers": [{ "on": "schedule", "cron": "0 9 * * MON-FRI" }]
                }]
            })
        }

        fn load_err(mutate: impl FnOnce(&mut Value)) -> String {
            let mut v = base();
            mutate(&mut v);
            let plan: Plan = serde_json::from_value(v).unwrap();
            LoadedPlan::load(plan).err().map(|e| e.message).unwrap_or_default()
        }

        #[test]
        fn the_base_plan_loads() {
            assert_eq!(load_err(|_| {}), "");
        }

        #[test]
        fn blocking_instructions_come_last() {
            assert_eq!(
                load_err(|v| {
                    let code = v["workflows"][0]["steps"][1]["code"].as_array_mut().unwrap();
                    code.insert(2, json!({ "op": "RENDER", "template": 0, "dst": "x" }));
                }),
                "workflow `w`: step `w8`, instruction 1 (WAIT): WAIT must be the last instruction before END"
            );
            assert_eq!(
                load_err(|v| v["workflows"][0]["steps"][0]["code"][1] = json!({ "op": "RENDER", "template": 0, "dst": "x" })),
                "workflow `w`: step `c`, instruction 2 (APPROVAL): an implicit APPROVAL needs a CHECK_POLICY before it"
            );
        }

        #[test]
        fn policies_and_triggers_are_checked() {
            assert_eq!(
                load_err(|v| v["workflows"][0]["steps"][0]["code"][1]["policy"] = json!(3)),
                "workflow `w`: step `c`, instruction 1 (CHECK_POLICY): policy 3 is not in the plan's 1 policies"
            );
            assert_eq!(load_err(|v| v["policies"][0]["rules"][0]["when"] = json!(9)), "policy `p`: rule 0 refers to expr e9, but the policy has 1 exprs");
            let err = load_err(|v| v["workflows"][0]["triggers"][0]["cron"] = json!("0 9 * *"));
            assert!(err.starts_with("workflow `w`: trigger 0: `0 9 * *`: expected 5 fields"), "{err}");
            let err = load_err(|v| v["policies"][0]["exprs"][0] = json!("input.n >"));
            assert!(err.starts_with("policy `p`: expr e0 `input.n >` is not valid CEL"), "{err}");
        }

        #[test]
        fn signatures_and_catchup_are_checked() {
            let signed = |sig: Value| {
                move |v: &mut Value| {
                    v["secrets"] = json!([
                        { "name": "hooks.GITHUB", "from": "env", "arg": "GH", "redact": true },
                        { "name": "from_env(\"GH\")", "from": "env", "arg": "GH" }
                    ]);
                    v["workflows"][0]["triggers"] =
                        json!([{ "on": "webhook", "provider": "github", "entity": "*", "action": "*", "signature": sig }]);
                }
            };
            assert_eq!(load_err(signed(json!({ "scheme": "github", "secret": 0 }))), "");
            assert_eq!(load_err(signed(json!({ "scheme": "stripe", "secret": 0, "tolerance_s": 300 }))), "");
            assert_eq!(load_err(signed(json!({ "scheme": "hmac", "secret": 0, "header": "x-acme-signature" }))), "");
            let cases = [
                (json!({ "scheme": "github", "secret": 2 }), "signature secret#2 is not in the plan's 2 secrets"),
                (json!({ "scheme": "github", "secret": 1 }), "signature secret#1 (`from_env(\"GH\")`) is not redacted"),
                (json!({ "scheme": "stripe", "secret": 0 }), "a stripe signature needs `tolerance_s`"),
                (json!({ "scheme": "stripe", "secret": 0, "tolerance_s": 0 }), "a stripe signature with a tolerance of 0 seconds"),
                (json!({ "scheme": "github", "secret": 0, "tolerance_s": 5 }), "`tolerance_s` on a github signature (only stripe signs a timestamp)"),
                (json!({ "scheme": "hmac", "secret": 0 }), "an hmac signature needs a `header`"),
                (json!({ "scheme": "github", "secret": 0, "header": "x" }), "`header` on a github signature (its header is fixed)"),
                (json!({ "scheme": "hmac", "secret": 0, "header": "X-Acme" }), "`X-Acme` is not a lower-case header name"),
                (json!({ "scheme": "hmac", "secret": 0, "header": "x acme" }), "`x acme` is not a lower-case header name"),
            ];
            for (sig, why) in cases {
                assert_eq!(load_err(signed(sig)), format!("workflow `w`: trigger 0: {why}"));
            }
            let schedule = |t: Value| move |v: &mut Value| v["workflows"][0]["triggers"] = json!([t]);
            assert_eq!(load_err(schedule(json!({ "on": "schedule", "cron": "0 9 * * *", "catchup": "all", "window_s": 3600 }))), "");
            assert_eq!(
                load_err(schedule(json!({ "on": "schedule", "cron": "0 9 * * *", "catchup": "none", "window_s": 3600 }))),
                "workflow `w`: trigger 0: a catch-up window with `catchup none`"
            );
            assert_eq!(
                load_err(schedule(json!({ "on": "schedule", "cron": "0 9 * * *", "window_s": 0 }))),
                "workflow `w`: trigger 0: a catch-up window of 0 seconds"
            );
        }
}

/// The exit handler's group: one, at the top level, and no dependency across it.
mod finally {
    use serde_json::{json, Value};

    use crate::plan::{LoadedPlan, Plan};

    fn plan(groups: Value, b_after: Value) -> Value {
        let step = |id: u32, name: &str, after: Value, group: Option<u32>| {
            let mut s = json!({ "id": id, "name": name, "kind": "run", "after": after, "code": [{ "op": "END" }] });
            if let Some(g) = group {
                s["group"] = json!(g);
            }
            s
        };
        json!({
            "format_version": 3,
            "entry": "w",
            "workflows": [{
                "name": "w",
                "steps": [step(0, "a", json!([]), None), step(1, "b", b_after, Some(0)), step(2, "c", json!([]), Some(0))],
                "groups": groups
            }]
        })
    }

    fn load_err(v: Value) -> String {
        let plan: Plan = serde_json::from_value(v).unwrap();
        LoadedPlan::load(plan).err().map(|e| e.message).unwrap_or_default()
    }

    #[test]
    fn a_handler_step_may_wait_for_another_but_not_for_the_rest() {
        let handler = json!([{ "name": "finally", "kind": "finally", "steps": [1, 2] }]);
        assert_eq!(load_err(plan(handler.clone(), json!([2]))), "");
        assert_eq!(load_err(plan(handler, json!([0]))), "workflow `w`: step `b`: depends on `a`, across the boundary of the finally group");
    }

    #[test]
    fn one_handler_at_the_top_level() {
        let two = json!([{ "name": "finally", "kind": "finally", "steps": [1] }, { "name": "again", "kind": "finally", "steps": [2] }]);
        assert_eq!(load_err(plan(two, json!([]))), "workflow `w`: the workflow has 2 finally groups; it may have one");
        let nested = json!([{ "name": "g", "kind": "parallel", "steps": [1] }, { "name": "finally", "kind": "finally", "parent": 0, "steps": [2] }]);
        assert_eq!(load_err(plan(nested, json!([]))), "workflow `w`: the finally group is nested in another group; it must be at the top level");
    }
}
