//! A run's inputs: parsing `-i key=value` text and checking against the
//! workflow's `input` declarations. Errors name the input and its type.

use serde_json::{Map, Value};

use crate::plan::Workflow;

/// Reads `-i key=value` pairs (each value parsed by the input's declared
/// type) over an optional `--input-file` object; `-i` wins. Unknown names
/// and unparsable values are errors.
pub fn from_cli(wf: &Workflow, file: Option<Map<String, Value>>, pairs: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = file.unwrap_or_default();
    for pair in pairs {
        let Some((key, text)) = pair.split_once('=') else {
            return Err(format!("`-i {pair}` should be `-i NAME=VALUE`"));
        };
        let Some(decl) = wf.inputs.iter().find(|i| i.name == key) else {
            return Err(unknown(wf, key));
        };
        let value = decl
            .ty
            .parse_cli(text)
            .map_err(|e| format!("input `{key}` ({}): {e}", decl.ty))?;
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

fn unknown(wf: &Workflow, key: &str) -> String {
    if wf.inputs.is_empty() {
        format!("workflow `{}` takes no inputs, but `{key}` was given", wf.name)
    } else {
        let names: Vec<String> = wf.inputs.iter().map(|i| format!("{}: {}", i.name, i.ty)).collect();
        format!("workflow `{}` has no input `{key}`; its inputs are {}", wf.name, names.join(", "))
    }
}

/// Fills defaults, and checks every value against its declared type.
pub fn resolve(wf: &Workflow, mut given: Map<String, Value>) -> Result<Value, String> {
    if let Some(key) = given.keys().find(|k| !wf.inputs.iter().any(|i| &i.name == *k)) {
        return Err(unknown(wf, key));
    }
    let mut out = Map::new();
    for decl in &wf.inputs {
        let value = match given.remove(&decl.name) {
            Some(v) => v,
            None => match &decl.default {
                Some(d) => d.clone(),
                None => {
                    return Err(format!(
                        "missing input `{}` ({}) for workflow `{}`; pass it with -i {}=VALUE",
                        decl.name, decl.ty, wf.name, decl.name
                    ));
                }
            },
        };
        decl.ty
            .validate(&value, &format!("input `{}`", decl.name))
            .map_err(|e| format!("{e} (declared {})", decl.ty))?;
        out.insert(decl.name.clone(), value);
    }
    Ok(Value::Object(out))
}
