//! The type tree of `input` and `output` declarations, and run-time validation.
//!
//! JSON shape: `{"type": "string"|"number"|"int"|"bool"|"any"}`,
//! `{"type": "list", "items": T}`,
//! `{"type": "object", "fields": [{"name": N, "ty": T, "optional": bool}]}`.
//! Objects are structural: fields not declared are allowed.

use serde::{Deserialize, Serialize};

/// A type of an `input` or a step's `output`, checked against values at run time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Type {
    /// A JSON string.
    String,
    /// Any JSON number.
    Number,
    /// An integral JSON number.
    Int,
    /// `true` or `false`.
    Bool,
    /// Anything; not checked.
    Any,
    /// `[T]`: a list whose every element has the type.
    List {
        /// The elements' type.
        items: Box<Type>,
    },
    /// `{ … }`: an object with these fields; undeclared fields are allowed.
    Object {
        /// The declared fields, in source order.
        fields: Vec<Field>,
    },
}

/// One field of an object type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// The field's name, a key of the object.
    pub name: String,
    /// The type the field's value must have, when present.
    pub ty: Type,
    /// Written `name?:`: the field may be absent (but not `null` unless the type allows it).
    #[serde(default)]
    pub optional: bool,
}

impl std::fmt::Display for Type {
    /// The `.flow` spelling: `string`, `[T]`, `{ a: T, b?: T }`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Int => f.write_str("int"),
            Type::Bool => f.write_str("bool"),
            Type::Any => f.write_str("any"),
            Type::List { items } => write!(f, "[{items}]"),
            Type::Object { fields } => {
                f.write_str("{")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, " {}{}: {}", field.name, if field.optional { "?" } else { "" }, field.ty)?;
                }
                f.write_str(if fields.is_empty() { "}" } else { " }" })
            }
        }
    }
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

fn is_integral(n: &serde_json::Number) -> bool {
    n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
}

impl Type {
    /// The simplest value of the type (empty strings and lists, zeros,
    /// `false`, every required field): a skeleton a person fills in.
    pub fn example(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Type::String => Value::String(String::new()),
            Type::Number => serde_json::json!(0.0),
            Type::Int => serde_json::json!(0),
            Type::Bool => Value::Bool(false),
            Type::Any => Value::Null,
            Type::List { .. } => Value::Array(Vec::new()),
            Type::Object { fields } => {
                Value::Object(fields.iter().filter(|f| !f.optional).map(|f| (f.name.clone(), f.ty.example())).collect())
            }
        }
    }

    /// Checks `value` against the type. The error names the path of the first
    /// mismatch (`output.goals[2].description`) and what was found there.
    pub fn validate(&self, value: &serde_json::Value, path: &str) -> Result<(), String> {
        let mismatch = || Err(format!("{path} should be {self} but is {}", kind_of(value)));
        match (self, value) {
            (Type::Any, _) => Ok(()),
            (Type::String, serde_json::Value::String(_)) => Ok(()),
            (Type::Bool, serde_json::Value::Bool(_)) => Ok(()),
            (Type::Number, serde_json::Value::Number(_)) => Ok(()),
            (Type::Int, serde_json::Value::Number(n)) if is_integral(n) => Ok(()),
            (Type::Int, serde_json::Value::Number(n)) => Err(format!("{path} should be int but is {n}")),
            (Type::List { items }, serde_json::Value::Array(values)) => {
                for (i, v) in values.iter().enumerate() {
                    items.validate(v, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            (Type::Object { fields }, serde_json::Value::Object(map)) => {
                for field in fields {
                    match map.get(&field.name) {
                        Some(v) => field.ty.validate(v, &format!("{path}.{}", field.name))?,
                        None if field.optional => {}
                        None => return Err(format!("{path} is missing the field `{}` ({})", field.name, field.ty)),
                    }
                }
                Ok(())
            }
            _ => mismatch(),
        }
    }

    /// Reads a `-i key=value` text as this type: strings as written, numbers
    /// and bools by their spelling, lists, objects and `any` as JSON (`any`
    /// falls back to the text as a string).
    pub fn parse_cli(&self, text: &str) -> Result<serde_json::Value, String> {
        let value = match self {
            Type::String => serde_json::Value::String(text.to_string()),
            Type::Int => text
                .trim()
                .parse::<i64>()
                .map(serde_json::Value::from)
                .map_err(|_| format!("`{text}` is not an int"))?,
            Type::Number => {
                let n: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
                serde_json::Number::from_f64(n)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| format!("`{text}` is not a finite number"))?
            }
            Type::Bool => match text.trim() {
                "true" => serde_json::Value::Bool(true),
                "false" => serde_json::Value::Bool(false),
                _ => return Err(format!("`{text}` is not a bool (true or false)")),
            },
            Type::Any => serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string())),
            Type::List { .. } | Type::Object { .. } => {
                serde_json::from_str(text).map_err(|e| format!("`{text}` is not JSON: {e}"))?
            }
        };
        self.validate(&value, "the value")?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj() -> Type {
        Type::Object {
            fields: vec![
                Field { name: "summary".into(), ty: Type::String, optional: false },
                Field { name: "n".into(), ty: Type::Int, optional: true },
            ],
        }
    }

    #[test]
    fn objects_are_structural() {
        assert!(obj().validate(&json!({"summary": "x", "extra": 1}), "output").is_ok());
        assert_eq!(
            obj().validate(&json!({"n": 1}), "output").unwrap_err(),
            "output is missing the field `summary` (string)"
        );
        assert_eq!(
            obj().validate(&json!({"summary": "x", "n": 1.5}), "output").unwrap_err(),
            "output.n should be int but is 1.5"
        );
    }

    #[test]
    fn lists_name_the_index() {
        let t = Type::List { items: Box::new(Type::Number) };
        assert_eq!(t.validate(&json!([1, "a"]), "output").unwrap_err(), "output[1] should be number but is a string");
        assert_eq!(t.to_string(), "[number]");
        assert_eq!(obj().to_string(), "{ summary: string, n?: int }");
    }

    #[test]
    fn cli_values_follow_the_declared_type() {
        assert_eq!(Type::Int.parse_cli("42").unwrap(), json!(42));
        assert!(Type::Int.parse_cli("4.5").is_err());
        assert_eq!(Type::Number.parse_cli("4.5").unwrap(), json!(4.5));
        assert_eq!(Type::String.parse_cli("4.5").unwrap(), json!("4.5"));
        assert!(Type::Bool.parse_cli("yes").is_err());
        assert_eq!(Type::Any.parse_cli("hello").unwrap(), json!("hello"));
    }
}
