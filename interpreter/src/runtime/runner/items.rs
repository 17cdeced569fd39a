//! Dynamic items: `items` sets the item list, `select` keeps the best items,
//! and the post actions of a step; `exec` runs a `for each item` step's
//! instances.
//!
//! The item list a step sees is the one of its closest upstream item source
//! (a step with `items`, or a `select`): the source latest in topological
//! order (`StepInfo::items_from`, computed by the loader). Lists are kept in
//! the runner and in `step_items`, so a resumed run sees the same lists.
//!
//! A `for each item` step runs the instructions before its post actions once
//! per item, at most `concurrency` instances at a time (the step itself takes
//! one slot like any step). Each instance binds `item`, gets `FLOW_ITEM` and
//! `FLOW_ITEM_INDEX`, and is in the event log as `item_started` /
//! `item_completed` / `item_failed` with its index. After the first failure
//! no new instance starts; the attempt fails naming the item. A retry runs
//! only the instances that did not complete (the outputs of the others are
//! kept in memory, so a resumed run in another process runs them all). The
//! step's output is the list of the instances' outputs, in item order.

use std::rc::Rc;

use serde_json::{json, Value};

use crate::plan::{Select, Strategy};
use crate::plan::Instr;
use super::attempt::{AttemptCtx, Outcome};
use crate::runtime::scope::{to_cel, Evaluator, Scope};


/// The post actions: evaluated first (with `output` bound), then spawn
/// limits checked, then puts written and children started — so a failing
/// expression, schema or limit leaves nothing half done.
pub(crate) async fn run_posts(ctx: &Rc<AttemptCtx>, post: &[Instr], scope: &mut Scope, output: &Value, out: &mut Outcome) -> Result<(), String> {
    if !post.iter().any(crate::plan::is_post_action) {
        return Ok(());
    }
    let sh = &ctx.sh;
    let wf = &sh.plan.plan.workflows[ctx.wf];
    let loaded = &sh.plan.workflows[ctx.wf];
    let ev = Evaluator { env: &sh.plan.cel, programs: &loaded.programs, exprs: &wf.exprs };
    scope.set("output", to_cel(output));
    let mut puts = Vec::new();
    let mut spawns = Vec::new();
    for instr in post {
        match instr {
            Instr::StorePut { store, key, expr } => {
                let def = &sh.plan.plan.stores[*store as usize];
                let mut value = ev.eval(*expr, scope).map_err(|e| format!("then put {}.{key}: {e}", def.name))?;
                sh.secrets.redact_value(&mut value);
                super::stores::validate(def, key, &value)?;
                puts.push((*store, key.clone(), value));
            }
            Instr::Spawn { workflow, inputs } => {
                let inputs = match inputs {
                    Some(e) => ev.eval(*e, scope).map_err(|e| format!("then spawn {workflow}: {e}"))?,
                    None => json!({}),
                };
                spawns.push(super::spawn::Request { workflow: workflow.clone(), inputs });
            }
            Instr::SpawnEach { list, workflow, inputs } => {
                let list = match ev.eval(*list, scope).map_err(|e| format!("then spawn each … -> {workflow}: {e}"))? {
                    Value::Array(items) => items,
                    other => return Err(format!("then spawn each … -> {workflow}: the list is {}, not a list", kind(&other))),
                };
                for item in list {
                    let inputs = match inputs {
                        Some(e) => {
                            let mut each = scope.clone();
                            each.set("item", to_cel(&item));
                            ev.eval(*e, &each).map_err(|e| format!("then spawn each … -> {workflow}: {e}"))?
                        }
                        None => json!({}),
                    };
                    spawns.push(super::spawn::Request { workflow: workflow.clone(), inputs });
                }
            }
            Instr::Items { expr } => match ev.eval(*expr, scope).map_err(|e| format!("items: {e}"))? {
                Value::Array(items) => out.adv.items = Some(items),
                other => return Err(format!("items: the expression gives {}, not a list", kind(&other))),
            },
            Instr::End => break,
            _ => {}
        }
    }
    let prepared = super::spawn::prepare(ctx, spawns)?;
    for (store, key, value) in puts {
        super::stores::put(sh, &ctx.run, store, &key, value).await?;
    }
    super::spawn::perform(ctx, prepared, out)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `SELECT`: keeps the best items of the current item list.
pub(crate) fn run_select(ctx: &AttemptCtx, select: &Select, out: &mut Outcome) -> Result<Value, String> {
    let Some(items) = ctx.adv.items.clone() else {
        return Err("select: there is no item list (no step before it set `items`)".into());
    };
    let (kept, report) = select_items(&items, select)?;
    if let Some(t) = select.output_type {
        let ty = &ctx.sh.plan.plan.workflows[ctx.wf].types[t as usize];
        let value = Value::Array(kept.clone());
        ty.validate(&value, "output").map_err(|e| format!("the output does not match its declared type {ty}: {e}"))?;
    }
    out.adv.items = Some(kept.clone());
    out.adv.select = Some(report);
    Ok(Value::Array(kept))
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 80 { format!("{}…", text.chars().take(79).collect::<String>()) } else { text }
}

fn number(item: &Value, field: &str, index: usize) -> Result<f64, String> {
    match item.get(field) {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("item {index} has `{field}` = {n}, which is not a finite number")),
        Some(other) => Err(format!("item {index} has `{field}` = {}, which is not a number: {}", short(other), short(item))),
        None => Err(format!("item {index} has no `{field}`: {}", short(item))),
    }
}

/// The selection itself: `(kept items, report)`. Missing or non-numeric
/// metrics are errors naming the item, never a silent zero.
///
/// - `min` / `max`: by `metric`, lowest / highest first; `top_k` defaults to 1.
/// - `threshold`: items whose `metric` is at least `threshold`, highest first.
/// - `weighted`: score = Σ weight × field; items scoring at least `threshold`
///   (when given), highest first (ties: higher `metric`, then list order).
///
/// `top_k` keeps at most that many; otherwise every item that qualifies is
/// kept (min and max: one). Ties keep the items' order.
pub fn select_items(items: &[Value], s: &Select) -> Result<(Vec<Value>, crate::state::payload::Selected), String> {
    let metric = s.metric.as_deref();
    let need_metric = |i: usize, item: &Value| -> Result<f64, String> {
        match metric {
            Some(m) => number(item, m, i),
            None => Err(format!("`strategy {}` needs a `metric`", s.strategy.keyword())),
        }
    };
    let mut scored: Vec<(usize, f64, f64)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let (score, tie) = match s.strategy {
            Strategy::Min | Strategy::Max | Strategy::Threshold => {
                let m = need_metric(i, item)?;
                (m, m)
            }
            Strategy::Weighted => {
                if s.weights.is_empty() {
                    return Err("`strategy weighted` needs `weights`".into());
                }
                let mut total = 0.0;
                for (field, w) in &s.weights {
                    total += w * number(item, field, i)?;
                }
                let tie = match metric {
                    Some(m) => number(item, m, i)?,
                    None => 0.0,
                };
                (total, tie)
            }
        };
        scored.push((i, score, tie));
    }
    let before = scored.clone();
    match s.strategy {
        Strategy::Min => scored.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0))),
        Strategy::Max => scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))),
        Strategy::Threshold | Strategy::Weighted => {
            if let Some(t) = s.threshold {
                scored.retain(|x| x.1 >= t);
            } else if s.strategy == Strategy::Threshold {
                return Err("`strategy threshold` needs a `threshold`".into());
            }
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.total_cmp(&a.2)).then(a.0.cmp(&b.0)));
        }
    }
    let k = match (s.top_k, s.strategy) {
        (Some(k), _) => k as usize,
        (None, Strategy::Min | Strategy::Max) => 1,
        (None, _) => scored.len(),
    };
    scored.truncate(k);
    let kept: Vec<Value> = scored.iter().map(|(i, _, _)| items[*i].clone()).collect();
    let report = crate::state::payload::Selected {
        strategy: s.strategy.keyword().to_string(),
        // A score that is not a finite number is recorded as `null`.
        scores: before.iter().map(|(_, sc, _)| sc.is_finite().then_some(*sc)).collect(),
        kept: scored.iter().map(|(i, _, _)| *i as u64).collect(),
    };
    Ok((kept, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn items() -> Vec<Value> {
        vec![
            json!({"name": "cache-layer", "confidence": 0.9, "quality_score": 0.8}),
            json!({"name": "rewrite", "confidence": 0.5, "quality_score": 0.9}),
            json!({"name": "quick-fix", "confidence": 0.95, "quality_score": 0.4}),
        ]
    }

    fn sel(strategy: Strategy) -> Select {
        Select { strategy, metric: Some("quality_score".into()), top_k: None, threshold: None, weights: BTreeMap::new(), output_type: None }
    }

    fn names(kept: &[Value]) -> Vec<&str> {
        kept.iter().map(|v| v["name"].as_str().unwrap()).collect()
    }

    #[test]
    fn min_and_max_keep_one_by_default() {
        assert_eq!(names(&select_items(&items(), &sel(Strategy::Max)).unwrap().0), ["rewrite"]);
        assert_eq!(names(&select_items(&items(), &sel(Strategy::Min)).unwrap().0), ["quick-fix"]);
        let top2 = Select { top_k: Some(2), ..sel(Strategy::Max) };
        assert_eq!(names(&select_items(&items(), &top2).unwrap().0), ["rewrite", "cache-layer"]);
    }

    #[test]
    fn threshold_keeps_what_reaches_it() {
        let s = Select { threshold: Some(0.8), ..sel(Strategy::Threshold) };
        assert_eq!(names(&select_items(&items(), &s).unwrap().0), ["rewrite", "cache-layer"]);
    }

    #[test]
    fn weighted_scores_fields() {
        let weights = BTreeMap::from([("confidence".to_string(), 0.4), ("quality_score".to_string(), 0.6)]);
        let s = Select { weights, top_k: Some(2), threshold: Some(0.7), ..sel(Strategy::Weighted) };
        let (kept, report) = select_items(&items(), &s).unwrap();
        // 0.84, 0.74, 0.62: the third is under the threshold.
        assert_eq!(names(&kept), ["cache-layer", "rewrite"]);
        assert_eq!(report.kept, [0, 1]);
    }

    #[test]
    fn a_missing_metric_is_an_error_not_a_zero() {
        let mut list = items();
        list[1] = json!({"name": "rewrite", "confidence": 0.5});
        let err = select_items(&list, &sel(Strategy::Max)).unwrap_err();
        assert_eq!(err, r#"item 1 has no `quality_score`: {"confidence":0.5,"name":"rewrite"}"#);
        list[1] = json!({"name": "rewrite", "quality_score": "high"});
        let err = select_items(&list, &sel(Strategy::Max)).unwrap_err();
        assert!(err.starts_with("item 1 has `quality_score` = \"high\", which is not a number"), "{err}");
    }
}
