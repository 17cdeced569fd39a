//! Inbound events: CloudEvents checked and stored, globs, and finding the
//! `wait` steps an event satisfies.
//!
//! Events are stored before anything reacts to them (`inbound_events`), and
//! a `wait` step matches every event received since its run started that no
//! other step of the run consumed, so an event that arrives before the step
//! starts waiting is not lost. An event with the `source` and `id` of one
//! already stored is a duplicate (CloudEvents' identity rule): it is not
//! stored again and starts nothing.

use serde_json::{json, Map, Value};

use super::Error;
use crate::state::{RunStatus, Store};

/// A text the glob matches: escapes dropped, `*` as `example`, `?` as `x`,
/// a class as a character it accepts. (The pattern itself would match, as
/// `*` matches any text, but it is never the event anyone means to send.)
pub fn glob_example(glob: &str) -> String {
    let mut out = String::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                out.push_str("example");
            }
            '?' => out.push('x'),
            '[' => {
                let mut class = Vec::new();
                let negated = matches!(chars.peek(), Some('!') | Some('^'));
                if negated {
                    chars.next();
                }
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == ']' && !class.is_empty() {
                        closed = true;
                        break;
                    }
                    class.push(c);
                }
                if !closed {
                    // Not a class: the `[` and the rest are literal.
                    out.push('[');
                    out.extend(class);
                    continue;
                }
                let accepts = |x: char| {
                    let mut i = 0;
                    let mut hit = false;
                    while i < class.len() {
                        if i + 2 < class.len() && class[i + 1] == '-' {
                            hit |= class[i] <= x && x <= class[i + 2];
                            i += 3;
                        } else {
                            hit |= class[i] == x;
                            i += 1;
                        }
                    }
                    hit != negated
                };
                let pick = class.iter().copied().chain("xyz0123456789abcdefghijklmnopqrstuvw_-".chars()).find(|x| accepts(*x));
                out.push(pick.unwrap_or('x'));
            }
            c => out.push(c),
        }
    }
    out
}

/// `*` any run of characters (separators included), `?` one character,
/// `[abc]`, `[a-z]`, `[!abc]` one of (or none of) a set, `\x` the character x.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it is trying to absorb up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class(&p, pi, t[ti]) {
                Some((true, next)) => Some(next),
                Some((false, _)) => None,
                // An unclosed `[` is a literal.
                None => (t[ti] == '[').then_some(pi + 1),
            },
            Some('\\') if pi + 1 < p.len() => (p[pi + 1] == t[ti]).then_some(pi + 2),
            Some(c) => (*c == t[ti]).then_some(pi + 1),
            None => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Matches `c` against the class starting at `p[start] == '['`: whether it
/// matched and the index after the class, or `None` if the class is unclosed.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = matches!(p.get(i), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|h| *h != ']') {
            let hi = p[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

/// A fresh event id: time and randomness, unique enough for one machine.
pub fn new_event_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(crate::time::now_ms());
    h.write_u32(std::process::id());
    format!("{}-{:016x}", crate::time::now_ms(), h.finish())
}

/// A CloudEvent made from its parts (`flowc event send`).
pub fn new_event(event_type: &str, subject: Option<&str>, data: Option<Value>, source: &str, id: Option<&str>) -> Value {
    let mut event = json!({
        "specversion": "1.0",
        "id": id.map(str::to_string).unwrap_or_else(new_event_id),
        "source": source,
        "type": event_type,
        "time": crate::time::now(),
    });
    if let Some(s) = subject {
        event["subject"] = json!(s);
    }
    if let Some(d) = data {
        event["datacontenttype"] = json!("application/json");
        event["data"] = d;
    }
    event
}

/// Checks a CloudEvent in structured JSON form (specversion 1.0), saying
/// exactly what is wrong. Attribute names are lowercase letters and digits;
/// attributes other than `data` hold strings, numbers or booleans.
pub fn validate_event(value: &Value) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Err("a CloudEvent must be a JSON object".into());
    };
    match map.get("specversion") {
        Some(Value::String(v)) if v == "1.0" => {}
        Some(other) => return Err(format!("`specversion` must be \"1.0\", not {other}")),
        None => return Err("the event has no `specversion` (use \"1.0\")".into()),
    }
    for key in ["id", "source", "type"] {
        match map.get(key) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) => return Err(format!("`{key}` must not be empty")),
            Some(other) => return Err(format!("`{key}` must be a string, not {other}")),
            None => return Err(format!("the event has no `{key}`")),
        }
    }
    for key in ["subject", "time", "datacontenttype", "dataschema", "data_base64"] {
        if let Some(v) = map.get(key)
            && !v.is_string()
        {
            return Err(format!("`{key}` must be a string, not {v}"));
        }
    }
    if map.contains_key("data") && map.contains_key("data_base64") {
        return Err("an event has `data` or `data_base64`, not both".into());
    }
    for (key, v) in map {
        if key == "data" || key == "data_base64" {
            continue;
        }
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(format!("`{key}` is not a CloudEvents attribute name (lowercase letters and digits only)"));
        }
        if v.is_object() || v.is_array() {
            return Err(format!("attribute `{key}` must be a string, number or boolean"));
        }
    }
    Ok(())
}

/// What storing one event did.
#[derive(Clone, Debug)]
pub struct Stored {
    /// The event's number in the inbox (one sequence for all events).
    pub seq: i64,
    /// The CloudEvent as stored.
    pub event: Value,
    /// An event with the same source and id was received before; nothing was stored.
    pub duplicate: bool,
}

/// Validates every event, then stores them all in one transaction (or none).
pub fn store_events(store: &mut dyn Store, events: Vec<Value>) -> Result<Vec<Stored>, Error> {
    for (i, e) in events.iter().enumerate() {
        validate_event(e).map_err(|m| Error::Input(if events.len() > 1 { format!("event {i}: {m}") } else { m }))?;
    }
    let results = store.put_inbound_events(&events)?;
    Ok(events.into_iter().zip(results).map(|(event, (seq, duplicate))| Stored { seq, event, duplicate }).collect())
}

/// Whether a `wait` step's type and subject globs match an event.
pub fn wait_matches(event_glob: &str, subject_glob: Option<&str>, event: &Value) -> bool {
    let ty = event.get("type").and_then(Value::as_str).unwrap_or("");
    if !glob_match(event_glob, ty) {
        return false;
    }
    match subject_glob {
        None => true,
        Some(glob) => event.get("subject").and_then(Value::as_str).is_some_and(|s| glob_match(glob, s)),
    }
}

/// A run with a blocked `wait` step that an event satisfies.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Waiting {
    /// The run with the blocked `wait` step.
    pub run: String,
    /// The `wait` step the event satisfies.
    pub step: String,
    /// The top-level run to resume (the run itself, or the root of its `call` chain).
    pub root: String,
}

/// The runs (not terminal) whose blocked `wait` steps match the event and
/// have not consumed it yet.
pub fn waiting_for(store: &dyn Store, seq: i64, event: &Value) -> Result<Vec<Waiting>, Error> {
    let mut out = Vec::new();
    for run in store.runs_with_status(&[RunStatus::Blocked, RunStatus::Running, RunStatus::Paused])? {
        let gates = store.blocked_gates(&run.id)?;
        if !gates.iter().any(|g| g.gate.get("gate").and_then(Value::as_str) == Some("wait")) {
            continue;
        }
        if store.deliveries(&run.id)?.contains(&seq) {
            continue;
        }
        for g in gates {
            let glob = g.gate.get("event").and_then(Value::as_str).unwrap_or("");
            let subject = g.gate.get("subject").and_then(Value::as_str);
            if g.gate.get("gate").and_then(Value::as_str) == Some("wait") && wait_matches(glob, subject, event) {
                out.push(Waiting { run: run.id.clone(), step: g.step.clone(), root: root_of(store, &run.id)? });
                break;
            }
        }
    }
    Ok(out)
}

/// The top-level run of a `call` chain.
pub fn root_of(store: &dyn Store, run: &str) -> Result<String, Error> {
    let mut current = run.to_string();
    for _ in 0..1000 {
        match store.run(&current)?.and_then(|r| r.parent_run) {
            Some(parent) => current = parent,
            None => return Ok(current),
        }
    }
    Ok(current)
}

/// The event's `data` as an object of named fields, for trigger inputs.
pub fn data_fields(event: &Value) -> Map<String, Value> {
    match event.get("data") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("leads.*", "leads.L-1"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "a/x.b-y-c"));
        assert!(!glob_match("a*b*c", "a/x.b-y-d"));
        assert!(glob_match("email.repl?", "email.reply"));
        assert!(glob_match("v[0-9]", "v7"));
        assert!(!glob_match("v[!0-9]", "v7"));
        assert!(glob_match("leads/L\\*1", "leads/L*1"));
        assert!(!glob_match("leads/L\\*1", "leads/Lx1"));
        assert!(glob_match(&crate::plan::table::glob_escape("a*[b]?"), "a*[b]?"));
        assert!(!glob_match(&crate::plan::table::glob_escape("a*"), "abc"));
        assert!(glob_match("[", "["));
    }

    #[test]
    fn cloudevents_are_checked() {
        let ok = json!({"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": {"a": 1}});
        assert_eq!(validate_event(&ok), Ok(()));
        assert_eq!(validate_event(&json!([])).unwrap_err(), "a CloudEvent must be a JSON object");
        assert_eq!(
            validate_event(&json!({"specversion": "0.3", "id": "1", "source": "s", "type": "t"})).unwrap_err(),
            "`specversion` must be \"1.0\", not \"0.3\""
        );
        assert_eq!(validate_event(&json!({"specversion": "1.0", "id": "1", "source": "s"})).unwrap_err(), "the event has no `type`");
        assert!(validate_event(&json!({"specversion": "1.0", "id": "1", "source": "s", "type": "t", "Bad": 1})).is_err());
    }
}

#[cfg(test)]
mod glob_example_tests {
    use super::{glob_example, glob_match};

    #[test]
    fn the_example_of_a_glob_matches_it() {
        for glob in [
            "deploy.*", "leads/L\\*", "a?c", "v[0-9].*", "x[!abc]y", "x[^a-x]y", "[", "a[b", "**", "", "a[]]b", "[-a]", "é*ü",
        ] {
            let example = glob_example(glob);
            assert!(glob_match(glob, &example), "{glob:?} does not match its example {example:?}");
        }
        assert_eq!(glob_example("deploy.*"), "deploy.example");
        assert_eq!(glob_example("leads/L\\*"), "leads/L*");
    }
}

/// Why a blocked run can move on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum News {
    /// A decision was filed for one of its gates.
    Decision,
    /// A gate is past its deadline.
    DeadlinePassed,
    /// An inbound event matches one of its waits.
    EventArrived,
}

impl News {
    /// Why the run can move on, in words for logs.
    pub fn describe(self) -> &'static str {
        match self {
            News::Decision => "a decision arrived",
            News::DeadlinePassed => "a gate's deadline passed",
            News::EventArrived => "an event it waits for arrived",
        }
    }
}

/// A blocked run and its live child runs, and whether any of them has
/// something to act on: a decision filed, a gate past its deadline, or a
/// stored event one of its waits matches and has not received. `seen` keeps,
/// per run, the last inbound event already looked at, so that a caller that
/// polls (`flowc serve`) reads each event once; a caller that asks once
/// passes an empty map. Returns the runs looked at, the root first.
pub fn news(store: &dyn Store, root: &str, seen: &mut std::collections::HashMap<String, i64>) -> Result<(Option<News>, Vec<String>), Error> {
    let mut tree = vec![root.to_string()];
    let mut i = 0;
    while i < tree.len() {
        let children = store.children(&tree[i])?;
        tree.extend(children.into_iter().map(|c| c.run).filter(|c| !c.status.is_terminal()).map(|c| c.id));
        i += 1;
    }
    let now = crate::time::now();
    for run in &tree {
        if !store.pending_gate_requests(run, 0)?.is_empty() {
            return Ok((Some(News::Decision), tree));
        }
        let gates = store.blocked_gates(run)?;
        if gates.iter().any(|g| g.gate.get("deadline").and_then(Value::as_str).is_some_and(|d| d <= now.as_str())) {
            return Ok((Some(News::DeadlinePassed), tree));
        }
        let waits: Vec<&Value> = gates.iter().filter(|g| g.gate.get("gate").and_then(Value::as_str) == Some("wait")).map(|g| &g.gate).collect();
        if waits.is_empty() {
            continue;
        }
        let Some(record) = store.run(run)? else { continue };
        let since = record.started_at.unwrap_or_default();
        let after = seen.get(run).copied().unwrap_or(0);
        let events = store.inbound_events_after(after, &since)?;
        let delivered = store.deliveries(run)?;
        let hit = events.iter().any(|e| {
            !delivered.contains(&e.seq)
                && waits.iter().any(|g| wait_matches(g.get("event").and_then(Value::as_str).unwrap_or(""), g.get("subject").and_then(Value::as_str), &e.event))
        });
        if let Some(last) = events.last() {
            seen.insert(run.clone(), last.seq);
        }
        if hit {
            return Ok((Some(News::EventArrived), tree));
        }
    }
    Ok((None, tree))
}

/// The blocked-run scan of a process that serves many runs (`flowc serve`):
/// each call looks at every blocked top-level run, reads each inbound event
/// once per run across calls, and returns the runs that can move on now.
#[derive(Default)]
pub struct Scanner {
    /// Per run looked at: the last inbound event already read.
    seen: std::collections::HashMap<String, i64>,
}

impl Scanner {
    /// The blocked top-level runs with [`News`], in the store's order. Runs
    /// `busy` says this process is executing are left alone. Runs that are
    /// not blocked any more are forgotten, and a run reported here is read
    /// from its first event again the next time it blocks (it may wait for
    /// something else then).
    pub fn scan(&mut self, store: &dyn Store, busy: &dyn Fn(&str) -> bool) -> Result<Vec<(String, News)>, Error> {
        let mut live = std::collections::HashSet::new();
        let mut due = Vec::new();
        for run in store.runs_with_status(&[RunStatus::Blocked])?.into_iter().filter(|r| r.parent_run.is_none()) {
            if busy(&run.id) {
                live.insert(run.id.clone());
                continue;
            }
            let Ok((news, tree)) = news(store, &run.id, &mut self.seen) else { continue };
            live.extend(tree.iter().cloned());
            if let Some(news) = news {
                for r in &tree {
                    self.seen.remove(r);
                }
                due.push((run.id, news));
            }
        }
        self.seen.retain(|k, _| live.contains(k));
        Ok(due)
    }
}
