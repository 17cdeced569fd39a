//! The static types of values that CEL expressions see.
//!
//! A [`Ty`] is what the checker knows about a value before the run: the types
//! declared in `.flow` (`input x: number`, `output { summary: string }`), the
//! types a JSON Schema describes (store and resource schemas), and the types
//! of literal JSON values (input defaults, event payload examples).
//!
//! [`Ty::Dyn`] means "not known statically": the checker never reports
//! anything about a `dyn` value, so whatever cannot be typed precisely is
//! `Dyn` rather than a guess that could raise a false error.
//!
//! Objects are JSON objects with known fields. A *closed* object has no other
//! fields, so selecting an unknown one is a typo the checker reports; an open
//! one may have more, whose type is `dyn`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use flowc_grammar::ast::{TypeExpr, TypeKind};
use serde_json::Value as Json;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// Unknown until run time. Never flagged.
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Duration,
    Timestamp,
    List(Arc<Ty>),
    Map(Arc<Ty>, Arc<Ty>),
    Object(Arc<ObjectTy>),
    /// A CEL optional (`x.?f`, `m[?k]`, `optional.of(v)`): a value of the
    /// inner type, or none. Written `optional(T)`. It is no JSON value: an
    /// expression's result must not be (or hold) one, and it has no
    /// operators; its methods (`hasValue()`, `value()`, `orValue(d)`,
    /// `or(o)`) unwrap it.
    Optional(Arc<Ty>),
    /// A type value: what `type(x)` returns and what `int`, `string`, …
    /// name when written as identifiers (`type(x) == string`).
    Type,
}

/// A JSON object with known fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct ObjectTy {
    pub fields: BTreeMap<String, FieldTy>,
    /// No fields other than `fields` exist: selecting another one is an error.
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldTy {
    pub ty: Ty,
    /// The field may be absent (`name?: T`, or not `required` in a schema).
    pub optional: bool,
}

impl FieldTy {
    pub fn required(ty: Ty) -> Self {
        FieldTy { ty, optional: false }
    }
    pub fn optional(ty: Ty) -> Self {
        FieldTy { ty, optional: true }
    }
}

impl ObjectTy {
    pub fn closed(fields: impl IntoIterator<Item = (String, FieldTy)>) -> Self {
        ObjectTy { fields: fields.into_iter().collect(), closed: true }
    }
    pub fn open(fields: impl IntoIterator<Item = (String, FieldTy)>) -> Self {
        ObjectTy { fields: fields.into_iter().collect(), closed: false }
    }
}

impl Ty {
    pub fn list(elem: Ty) -> Ty {
        Ty::List(Arc::new(elem))
    }
    pub fn map(key: Ty, value: Ty) -> Ty {
        Ty::Map(Arc::new(key), Arc::new(value))
    }
    pub fn object(obj: ObjectTy) -> Ty {
        Ty::Object(Arc::new(obj))
    }
    pub fn optional(inner: Ty) -> Ty {
        Ty::Optional(Arc::new(inner))
    }

    /// Whether a value of this type is, or holds, an optional: something
    /// the evaluator cannot turn into JSON.
    pub fn contains_optional(&self) -> bool {
        match self {
            Ty::Optional(_) => true,
            Ty::List(e) => e.contains_optional(),
            Ty::Map(k, v) => k.contains_optional() || v.contains_optional(),
            Ty::Object(o) => o.fields.values().any(|f| f.ty.contains_optional()),
            _ => false,
        }
    }
    /// A closed object whose fields are all required.
    pub fn record<'a>(fields: impl IntoIterator<Item = (&'a str, Ty)>) -> Ty {
        Ty::object(ObjectTy::closed(fields.into_iter().map(|(n, t)| (n.to_string(), FieldTy::required(t)))))
    }

    pub fn is_dyn(&self) -> bool {
        matches!(self, Ty::Dyn)
    }
    /// `int`, `uint` or `double`.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }

    /// The type of the elements of a list, or of the keys of a map (what a
    /// comprehension's variable ranges over); `None` when the value cannot
    /// be iterated.
    pub fn iter_elem(&self) -> Option<Ty> {
        match self {
            Ty::Dyn => Some(Ty::Dyn),
            Ty::List(e) => Some((**e).clone()),
            Ty::Map(k, _) => Some((**k).clone()),
            Ty::Object(_) => Some(Ty::String),
            _ => None,
        }
    }

    /// The type from an `input`/`output` declaration.
    pub fn from_type_expr(t: &TypeExpr) -> Ty {
        match &t.kind {
            TypeKind::String => Ty::String,
            TypeKind::Number => Ty::Double,
            TypeKind::Int => Ty::Int,
            TypeKind::Bool => Ty::Bool,
            TypeKind::Any => Ty::Dyn,
            // The analysis reports the unknown name; typing it `dyn` keeps
            // that one mistake from cascading into every use.
            TypeKind::Unknown(_) => Ty::Dyn,
            TypeKind::List(elem) => Ty::list(Ty::from_type_expr(elem)),
            TypeKind::Object(fields) => {
                let mut obj = ObjectTy { fields: BTreeMap::new(), closed: true };
                for f in fields {
                    obj.fields
                        .insert(f.name.text.clone(), FieldTy { ty: Ty::from_type_expr(&f.ty), optional: f.optional });
                }
                Ty::object(obj)
            }
        }
    }

    /// The type a JSON Schema describes, as precisely as this checker uses
    /// it: what cannot be expressed (`$ref`, tuples, disagreeing `anyOf`
    /// branches) is `dyn`.
    pub fn from_json_schema(schema: &Json) -> Ty {
        schema_ty(schema, 0)
    }

    /// The type of one literal JSON value: integral numbers are `int`, other
    /// numbers `double`, objects closed with every field present. Arrays take
    /// the [`join`](Ty::join) of their elements (`dyn` when empty).
    pub fn from_json_value(value: &Json) -> Ty {
        match value {
            Json::Null => Ty::Null,
            Json::Bool(_) => Ty::Bool,
            Json::Number(n) => {
                if n.is_i64() {
                    Ty::Int
                } else if n.is_u64() {
                    Ty::Uint
                } else {
                    Ty::Double
                }
            }
            Json::String(_) => Ty::String,
            Json::Array(items) => {
                let mut elems = items.iter().map(Ty::from_json_value);
                match elems.next() {
                    None => Ty::list(Ty::Dyn),
                    Some(first) => Ty::list(elems.fold(first, |acc, t| acc.join(&t))),
                }
            }
            Json::Object(map) => Ty::object(ObjectTy::closed(
                map.iter().map(|(k, v)| (k.clone(), FieldTy::required(Ty::from_json_value(v)))),
            )),
        }
    }

    /// The same type with every object, however deep, open: for a value that
    /// is only an example of what arrives (an event payload), so fields it
    /// happens to lack are not reported as typos.
    pub fn opened(&self) -> Ty {
        match self {
            Ty::List(e) => Ty::list(e.opened()),
            Ty::Map(k, v) => Ty::map((**k).clone(), v.opened()),
            Ty::Optional(t) => Ty::optional(t.opened()),
            Ty::Object(o) => Ty::object(ObjectTy {
                fields: o
                    .fields
                    .iter()
                    .map(|(k, f)| (k.clone(), FieldTy { ty: f.ty.opened(), optional: f.optional }))
                    .collect(),
                closed: false,
            }),
            t => t.clone(),
        }
    }

    /// The least type both values fit: equal types stay, `null` joins
    /// anything (JSON's "absent"), lists join element-wise, objects field-wise
    /// (a field missing on one side becomes optional), anything else is `dyn`.
    pub fn join(&self, other: &Ty) -> Ty {
        match (self, other) {
            (a, b) if a == b => a.clone(),
            // An optional is never null: `null` does not join it.
            (Ty::Optional(a), Ty::Optional(b)) => Ty::optional(a.join(b)),
            (Ty::Optional(_), _) | (_, Ty::Optional(_)) => Ty::Dyn,
            (Ty::Null, t) | (t, Ty::Null) => t.clone(),
            (Ty::List(a), Ty::List(b)) => Ty::list(a.join(b)),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => Ty::map(ka.join(kb), va.join(vb)),
            (Ty::Object(a), Ty::Object(b)) => {
                let mut fields = BTreeMap::new();
                for (name, fa) in &a.fields {
                    let f = match b.fields.get(name) {
                        Some(fb) => FieldTy { ty: fa.ty.join(&fb.ty), optional: fa.optional || fb.optional },
                        None => FieldTy { ty: fa.ty.clone(), optional: true },
                    };
                    fields.insert(name.clone(), f);
                }
                for (name, fb) in &b.fields {
                    if !a.fields.contains_key(name) {
                        fields.insert(name.clone(), FieldTy { ty: fb.ty.clone(), optional: true });
                    }
                }
                Ty::object(ObjectTy { fields, closed: a.closed && b.closed })
            }
            _ => Ty::Dyn,
        }
    }

    /// Whether values of the two types can meet at run time (`==`, `in`, the
    /// branches of `?:`): `dyn` and `null` meet anything, containers meet when
    /// their parts do, objects meet objects and maps.
    pub fn compatible(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Dyn, _) | (_, Ty::Dyn) => true,
            // An optional equals only an optional (`optional.none() == null`
            // is false), so it meets nothing else, `null` included.
            (Ty::Optional(a), Ty::Optional(b)) => a.compatible(b),
            (Ty::Optional(_), _) | (_, Ty::Optional(_)) => false,
            (Ty::Null, _) | (_, Ty::Null) => true,
            (Ty::List(a), Ty::List(b)) => a.compatible(b),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => ka.compatible(kb) && va.compatible(vb),
            (Ty::Object(_), Ty::Object(_)) | (Ty::Object(_), Ty::Map(..)) | (Ty::Map(..), Ty::Object(_)) => true,
            (a, b) => a == b,
        }
    }

    /// Like [`Display`](fmt::Display), but an object with many fields is
    /// shortened so a message stays one readable line.
    pub fn brief(&self) -> String {
        let full = self.to_string();
        if full.chars().count() <= 80 {
            return full;
        }
        match self {
            Ty::Object(o) => {
                let mut out = String::from("{");
                let mut shown = 0;
                for (name, f) in &o.fields {
                    let piece = format!("{name}{}: {}", if f.optional { "?" } else { "" }, f.ty.kind_name());
                    if out.len() + piece.len() > 60 {
                        break;
                    }
                    if shown > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&piece);
                    shown += 1;
                }
                let more = o.fields.len() - shown;
                if more > 0 {
                    out.push_str(&format!("{}… {more} more", if shown > 0 { ", " } else { "" }));
                } else if !o.closed {
                    out.push_str(", ...");
                }
                out.push('}');
                out
            }
            Ty::List(_) => "list(…)".to_string(),
            Ty::Map(..) => "map(…)".to_string(),
            Ty::Optional(t) => format!("optional({})", t.brief()),
            _ => full,
        }
    }

    /// One word for the type: `object` for any object, `list` for any list.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Ty::Dyn => "dyn",
            Ty::Null => "null",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Uint => "uint",
            Ty::Double => "double",
            Ty::String => "string",
            Ty::Bytes => "bytes",
            Ty::Duration => "duration",
            Ty::Timestamp => "timestamp",
            Ty::List(_) => "list",
            Ty::Map(..) => "map",
            Ty::Object(_) => "object",
            Ty::Optional(_) => "optional",
            Ty::Type => "type",
        }
    }
}

/// Schemas nest; a pathological (or cyclic-looking) one must not exhaust the
/// stack, and nothing this deep is worth typing precisely.
const MAX_SCHEMA_DEPTH: usize = 64;

fn schema_ty(schema: &Json, depth: usize) -> Ty {
    let Json::Object(s) = schema else {
        // `true`, `false` and anything malformed say nothing useful.
        return Ty::Dyn;
    };
    if depth > MAX_SCHEMA_DEPTH {
        return Ty::Dyn;
    }
    if let Some(c) = s.get("const") {
        return Ty::from_json_value(c);
    }
    if let Some(Json::Array(values)) = s.get("enum") {
        let mut tys = values.iter().map(Ty::from_json_value);
        return match tys.next() {
            Some(first) => tys.fold(first, |acc, t| if acc == t { acc } else { Ty::Dyn }),
            None => Ty::Dyn,
        };
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Json::Array(branches)) = s.get(key) {
            return agree(branches.iter().map(|b| schema_ty(b, depth + 1)));
        }
    }
    if let Some(Json::Array(parts)) = s.get("allOf") {
        return all_of(parts.iter().map(|b| schema_ty(b, depth + 1)).collect());
    }
    let declared = match s.get("type") {
        Some(Json::String(t)) => Some(t.as_str()),
        Some(Json::Array(types)) => {
            // `["string", "null"]`: a nullable string is a string here, as a
            // null field is; several real types are `dyn`.
            let real: Vec<&str> = types.iter().filter_map(Json::as_str).filter(|t| *t != "null").collect();
            match real.as_slice() {
                [one] => Some(*one),
                [] if !types.is_empty() => Some("null"),
                _ => return Ty::Dyn,
            }
        }
        _ => None,
    };
    let declared = declared.or_else(|| {
        if s.contains_key("properties") || s.contains_key("additionalProperties") {
            Some("object")
        } else if s.contains_key("items") {
            Some("array")
        } else {
            None
        }
    });
    match declared {
        Some("string") => Ty::String,
        Some("number") => Ty::Double,
        Some("integer") => Ty::Int,
        Some("boolean") => Ty::Bool,
        Some("null") => Ty::Null,
        Some("array") => match s.get("items") {
            // A tuple (`items: [a, b]`) has no one element type.
            Some(items @ Json::Object(_)) => Ty::list(schema_ty(items, depth + 1)),
            _ => Ty::list(Ty::Dyn),
        },
        Some("object") => object_schema(s, depth),
        _ => Ty::Dyn,
    }
}

fn object_schema(s: &serde_json::Map<String, Json>, depth: usize) -> Ty {
    let additional = s.get("additionalProperties");
    let Some(Json::Object(props)) = s.get("properties") else {
        return match additional {
            Some(extra @ Json::Object(_)) => Ty::map(Ty::String, schema_ty(extra, depth + 1)),
            _ => Ty::object(ObjectTy::default()),
        };
    };
    let required: Vec<&str> = match s.get("required") {
        Some(Json::Array(r)) => r.iter().filter_map(Json::as_str).collect(),
        _ => Vec::new(),
    };
    let fields = props
        .iter()
        .map(|(name, p)| {
            (name.clone(), FieldTy { ty: schema_ty(p, depth + 1), optional: !required.contains(&name.as_str()) })
        })
        .collect();
    // Listing the properties is taken as listing all of them (so a typo is
    // caught), unless the schema says more may come.
    let closed = !matches!(additional, Some(Json::Bool(true)) | Some(Json::Object(_)));
    Ty::object(ObjectTy { fields, closed })
}

/// The one type all branches agree on, else `dyn`.
fn agree(mut tys: impl Iterator<Item = Ty>) -> Ty {
    let Some(first) = tys.next() else { return Ty::Dyn };
    for t in tys {
        if t != first {
            return Ty::Dyn;
        }
    }
    first
}

/// `allOf`: one part is that part; objects merge their fields (closed only
/// if every part is); anything else is `dyn`.
fn all_of(parts: Vec<Ty>) -> Ty {
    let mut parts = parts.into_iter().filter(|t| !t.is_dyn());
    let Some(first) = parts.next() else { return Ty::Dyn };
    parts.fold(first, |acc, t| match (&acc, &t) {
        (Ty::Object(a), Ty::Object(b)) => {
            let mut merged = (**a).clone();
            for (name, f) in &b.fields {
                merged.fields.entry(name.clone()).and_modify(|e| e.optional &= f.optional).or_insert_with(|| f.clone());
            }
            merged.closed = a.closed && b.closed;
            Ty::object(merged)
        }
        (a, b) if a == b => acc,
        _ => Ty::Dyn,
    })
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::List(e) => write!(f, "list({e})"),
            Ty::Map(k, v) => write!(f, "map({k}, {v})"),
            Ty::Optional(t) => write!(f, "optional({t})"),
            Ty::Object(o) => {
                f.write_str("{")?;
                for (i, (name, field)) in o.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{name}{}: {}", if field.optional { "?" } else { "" }, field.ty)?;
                }
                if !o.closed {
                    f.write_str(if o.fields.is_empty() { "..." } else { ", ..." })?;
                }
                f.write_str("}")
            }
            t => f.write_str(t.kind_name()),
        }
    }
}

/// Reads the [`Display`](fmt::Display) form back: `int`, `list(string)`,
/// `map(string, dyn)`, `{a: int, b?: string}` (closed), `{a: int, ...}`
/// (open). Tests and fixtures write types this way.
impl FromStr for Ty {
    type Err = String;

    fn from_str(s: &str) -> Result<Ty, String> {
        let mut p = TyParser { src: s, pos: 0, depth: 0 };
        let ty = p.ty()?;
        p.skip_ws();
        if p.pos != s.len() {
            return Err(format!("unexpected `{}` at {}", &s[p.pos..], p.pos));
        }
        Ok(ty)
    }
}

struct TyParser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl TyParser<'_> {
    fn skip_ws(&mut self) {
        while let Some(c) = self.src[self.pos..].chars().next().filter(|c| c.is_whitespace()) {
            self.pos += c.len_utf8();
        }
    }
    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.src[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, token: &str) -> Result<(), String> {
        if self.eat(token) { Ok(()) } else { Err(format!("expected `{token}` at {}", self.pos)) }
    }
    fn word(&mut self) -> Result<&str, String> {
        self.skip_ws();
        let rest = &self.src[self.pos..];
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if len == 0 {
            return Err(format!("expected a name at {}", self.pos));
        }
        self.pos += len;
        Ok(&rest[..len])
    }
    fn ty(&mut self) -> Result<Ty, String> {
        self.depth += 1;
        if self.depth > MAX_SCHEMA_DEPTH {
            return Err("type nests too deeply".to_string());
        }
        let ty = self.ty_inner();
        self.depth -= 1;
        ty
    }
    fn ty_inner(&mut self) -> Result<Ty, String> {
        if self.eat("{") {
            let mut obj = ObjectTy { fields: BTreeMap::new(), closed: true };
            if self.eat("}") {
                return Ok(Ty::object(obj));
            }
            loop {
                if self.eat("...") {
                    obj.closed = false;
                    self.expect("}")?;
                    return Ok(Ty::object(obj));
                }
                let name = self.word()?.to_string();
                let optional = self.eat("?");
                self.expect(":")?;
                let ty = self.ty()?;
                obj.fields.insert(name, FieldTy { ty, optional });
                if self.eat("}") {
                    return Ok(Ty::object(obj));
                }
                self.expect(",")?;
            }
        }
        let word = self.word()?;
        Ok(match word {
            "dyn" => Ty::Dyn,
            "null" => Ty::Null,
            "bool" => Ty::Bool,
            "int" => Ty::Int,
            "uint" => Ty::Uint,
            "double" => Ty::Double,
            "string" => Ty::String,
            "bytes" => Ty::Bytes,
            "duration" => Ty::Duration,
            "timestamp" => Ty::Timestamp,
            "type" => Ty::Type,
            "list" => {
                self.expect("(")?;
                let e = self.ty()?;
                self.expect(")")?;
                Ty::list(e)
            }
            "optional" => {
                self.expect("(")?;
                let t = self.ty()?;
                self.expect(")")?;
                Ty::optional(t)
            }
            "map" => {
                self.expect("(")?;
                let k = self.ty()?;
                self.expect(",")?;
                let v = self.ty()?;
                self.expect(")")?;
                Ty::map(k, v)
            }
            other => return Err(format!("unknown type `{other}`")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(s: &str) -> Ty {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// The type of the first `input` of a one-workflow file.
    fn declared(type_text: &str) -> Ty {
        let src = format!("workflow w {{\n  input x: {type_text}\n}}\n");
        let parse = flowc_grammar::parse(&src);
        assert!(parse.errors.is_empty(), "{type_text}: {:?}", parse.errors);
        let flowc_grammar::ast::Decl::Workflow(wf) = &parse.file.decls[0] else { panic!("not a workflow") };
        let input = wf.inputs().next().expect("an input");
        Ty::from_type_expr(&input.ty)
    }

    #[test]
    fn display_reads_naturally_and_parses_back() {
        for text in [
            "dyn",
            "list(string)",
            "map(string, list(int))",
            "{deal_value: double, summary: string}",
            "{a: int, b?: {c: bool, ...}}",
            "{...}",
            "{}",
            "list({description: string})",
            "optional(int)",
            "list(optional({a?: string}))",
        ] {
            assert_eq!(ty(text).to_string(), text);
        }
    }

    #[test]
    fn declared_types() {
        assert_eq!(declared("string"), Ty::String);
        assert_eq!(declared("number"), Ty::Double);
        assert_eq!(declared("int"), Ty::Int);
        assert_eq!(declared("bool"), Ty::Bool);
        assert_eq!(declared("any"), Ty::Dyn);
        assert_eq!(declared("[string]"), ty("list(string)"));
        assert_eq!(declared("{ deal_value: number, summary?: string }"), ty("{deal_value: double, summary?: string}"));
        assert_eq!(declared("{ goals: [{ description: string }] }"), ty("{goals: list({description: string})}"));
        assert_eq!(declared("strng"), Ty::Dyn);
    }

    #[test]
    fn schema_scalars_and_arrays() {
        assert_eq!(Ty::from_json_schema(&json!({"type": "string"})), Ty::String);
        assert_eq!(Ty::from_json_schema(&json!({"type": "number"})), Ty::Double);
        assert_eq!(Ty::from_json_schema(&json!({"type": "integer"})), Ty::Int);
        assert_eq!(Ty::from_json_schema(&json!({"type": "boolean"})), Ty::Bool);
        assert_eq!(Ty::from_json_schema(&json!({"type": "null"})), Ty::Null);
        assert_eq!(Ty::from_json_schema(&json!({"type": "array", "items": {"type": "string"}})), ty("list(string)"));
        assert_eq!(Ty::from_json_schema(&json!({"type": "array"})), ty("list(dyn)"));
        assert_eq!(Ty::from_json_schema(&json!({"type": "array", "items": [{"type": "string"}]})), ty("list(dyn)"));
        assert_eq!(Ty::from_json_schema(&json!({"type": ["string", "null"]})), Ty::String);
        assert_eq!(Ty::from_json_schema(&json!({"type": ["string", "integer"]})), Ty::Dyn);
    }

    #[test]
    fn schema_unknown_or_absent_is_dyn() {
        for s in [json!({}), json!(true), json!(false), json!({"type": "widget"}), json!({"$ref": "#/x"}), json!(3)] {
            assert_eq!(Ty::from_json_schema(&s), Ty::Dyn, "{s}");
        }
    }

    #[test]
    fn schema_objects_are_closed_unless_they_say_otherwise() {
        let s = json!({
            "type": "object", "required": ["prompts"],
            "properties": { "prompts": { "type": "array", "items": {
                "type": "object", "required": ["name", "template"],
                "properties": { "name": { "type": "string" }, "template": { "type": "string" },
                                "tags": { "type": "array", "items": { "type": "string" } } } } } }
        });
        assert_eq!(
            Ty::from_json_schema(&s),
            ty("{prompts: list({name: string, tags?: list(string), template: string})}")
        );
        let open = json!({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": true});
        assert_eq!(Ty::from_json_schema(&open), ty("{a?: int, ...}"));
        let extra = json!({"properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "string"}});
        assert_eq!(Ty::from_json_schema(&extra), ty("{a?: int, ...}"));
        let closed = json!({"properties": {"a": {"type": "integer"}}, "additionalProperties": false});
        assert_eq!(Ty::from_json_schema(&closed), ty("{a?: int}"));
        assert_eq!(Ty::from_json_schema(&json!({"type": "object"})), ty("{...}"));
        assert_eq!(
            Ty::from_json_schema(&json!({"type": "object", "additionalProperties": {"type": "number"}})),
            ty("map(string, double)")
        );
    }

    #[test]
    fn schema_enum_const_and_alternatives() {
        assert_eq!(Ty::from_json_schema(&json!({"enum": ["a", "b"]})), Ty::String);
        assert_eq!(Ty::from_json_schema(&json!({"enum": ["a", 1]})), Ty::Dyn);
        assert_eq!(Ty::from_json_schema(&json!({"const": 3})), Ty::Int);
        assert_eq!(Ty::from_json_schema(&json!({"anyOf": [{"type": "string"}, {"type": "string"}]})), Ty::String);
        assert_eq!(Ty::from_json_schema(&json!({"oneOf": [{"type": "string"}, {"type": "integer"}]})), Ty::Dyn);
        let all = json!({"allOf": [
            {"properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}}
        ]});
        assert_eq!(Ty::from_json_schema(&all), ty("{a: string, b?: int}"));
    }

    #[test]
    fn deep_schemas_do_not_overflow() {
        let mut s = json!({"type": "string"});
        for _ in 0..500 {
            s = json!({"type": "array", "items": s});
        }
        let t = Ty::from_json_schema(&s);
        assert!(matches!(t, Ty::List(_)));
    }

    #[test]
    fn json_values() {
        assert_eq!(Ty::from_json_value(&json!(0)), Ty::Int);
        assert_eq!(Ty::from_json_value(&json!(0.5)), Ty::Double);
        assert_eq!(Ty::from_json_value(&json!(u64::MAX)), Ty::Uint);
        assert_eq!(Ty::from_json_value(&json!(null)), Ty::Null);
        assert_eq!(Ty::from_json_value(&json!([])), ty("list(dyn)"));
        assert_eq!(Ty::from_json_value(&json!([1, 2])), ty("list(int)"));
        assert_eq!(Ty::from_json_value(&json!([1, "a"])), ty("list(dyn)"));
        assert_eq!(
            Ty::from_json_value(&json!({"goals": [{"description": "x"}, {"description": "y", "owner": "z"}]})),
            ty("{goals: list({description: string, owner?: string})}")
        );
        assert_eq!(Ty::from_json_value(&json!({"a": {"b": 1}})).opened(), ty("{a: {b: int, ...}, ...}"));
    }

    #[test]
    fn compatibility() {
        assert!(Ty::Dyn.compatible(&Ty::Int));
        assert!(Ty::Null.compatible(&Ty::String));
        assert!(ty("list(int)").compatible(&ty("list(dyn)")));
        assert!(!ty("list(int)").compatible(&ty("list(string)")));
        assert!(!Ty::Int.compatible(&Ty::String));
        assert!(ty("{a: int}").compatible(&ty("map(string, int)")));
    }

    #[test]
    fn parsing_types_never_panics() {
        for text in ["", "{", "{a", "{a:", "{a: int,", "list(", "map(int", "\u{a0}int\u{a0}", "é", "{...", "int)"] {
            let _ = text.parse::<Ty>();
        }
        assert_eq!("\u{a0}int\u{2003}".parse::<Ty>(), Ok(Ty::Int));
    }

    #[test]
    fn brief_shortens_wide_objects() {
        let wide = Ty::record([
            ("alpha_field", Ty::String),
            ("beta_field", Ty::String),
            ("gamma_field", Ty::String),
            ("delta_field", Ty::String),
            ("epsilon_field", Ty::String),
            ("zeta_field", Ty::String),
        ]);
        let b = wide.brief();
        assert!(b.len() < 80, "{b}");
        assert!(b.contains("more"), "{b}");
    }
}
