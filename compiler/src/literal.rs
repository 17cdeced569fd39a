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

/// Why `text` is not an RFC 3339 date-time (`2026-12-24T09:00:00Z`,
/// `2026-12-24T09:00:00.5+01:00`), or `None` when it is one: the form a
/// `timer`'s `until` literal must take. Seconds stop at 59 (no leap second).
pub fn rfc3339_problem(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let shape = "it is not `YYYY-MM-DDTHH:MM:SS` followed by `Z` or an offset such as `+01:00`".to_string();
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't')) || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return Some(shape);
    }
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) =
        (digits(0..4), digits(5..7), digits(8..10), digits(11..13), digits(14..16), digits(17..19))
    else {
        return Some(shape);
    };
    if !(1..=12).contains(&mo) {
        return Some(format!("month {mo:02} does not exist"));
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo as usize - 1];
    if d == 0 || d > days {
        return Some(format!("day {d:02} does not exist in {y:04}-{mo:02}"));
    }
    if h > 23 || mi > 59 || s > 59 {
        return Some(format!("{h:02}:{mi:02}:{s:02} is not a time of day"));
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Some("a `.` after the seconds needs digits".into());
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => None,
        [b'+' | b'-', ..] if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            match (digits(text.len() - 5..text.len() - 3), digits(text.len() - 2..text.len())) {
                (Some(oh), Some(om)) if oh <= 23 && om <= 59 => None,
                _ => Some(format!("`{rest}` is not a time-zone offset")),
            }
        }
        [] => Some("it has no time zone: end it with `Z` (UTC) or an offset such as `+01:00`".into()),
        _ => Some(format!("`{rest}` is not `Z` or an offset such as `+01:00`")),
    }
}

#[cfg(test)]
mod timestamp_tests {
    use super::rfc3339_problem;

    #[test]
    fn rfc3339_date_times() {
        for ok in ["2026-12-24T09:00:00Z", "2024-02-29T23:59:59.123+01:00", "2026-01-01t00:00:00z", "2026-06-01T12:00:00-05:30"] {
            assert_eq!(rfc3339_problem(ok), None, "{ok}");
        }
        for bad in ["2026-12-24", "2026-12-24 09:00:00Z", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-12-24T24:00:00Z",
            "2026-12-24T09:00:00", "2026-12-24T09:00:00+1:00", "2026-12-24T09:00:00.Z", "tomorrow", "2026-12-24T09:00:00+01:60"] {
            assert!(rfc3339_problem(bad).is_some(), "{bad}");
        }
    }
}
