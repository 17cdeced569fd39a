//! Data literals (`[..]`, `{ … }`, numbers, strings) as JSON: for schemas,
//! resource instances, store values and literal item lists alike.

use flowc_grammar::ast::{Span, Value, ValueKind};

/// The literal as JSON; `Err` with the span of the first backtick
/// expression, whose value only exists where the literal is used. Integral
/// numbers below 2^53 are JSON integers.
pub fn to_json(v: &Value) -> Result<serde_json::Value, Span> {
    Ok(match &v.kind {
        ValueKind::Null => serde_json::Value::Null,
        ValueKind::Bool(b) => serde_json::Value::Bool(*b),
        ValueKind::Number(n) => {
            if n.is_int && n.value.fract() == 0.0 && n.value.abs() < 9.0e15 {
                serde_json::Value::from(n.value as i64)
            } else {
                serde_json::Number::from_f64(n.value).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        ValueKind::String(s) => serde_json::Value::String(s.clone()),
        ValueKind::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        ValueKind::Object(fields) => {
            let mut map = serde_json::Map::new();
            for f in fields {
                map.insert(f.key.text.clone(), to_json(&f.value)?);
            }
            serde_json::Value::Object(map)
        }
        ValueKind::Expr(e) => return Err(e.span),
    })
}
