//! Reading a block's params JSON schema (from `schemars`): the parameter list with type,
//! default and doc for `flow blocks` and `docs/blocks.md`, and the questions validation asks
//! (which keys exist, which are required, what primitive types a field accepts).
//!
//! Handles what `schemars` emits for params structs: `type` (also as a list with `null`),
//! `enum`, `oneOf`/`anyOf` of `const`s (documented enums), `$ref` into `$defs`, `anyOf`
//! with `null` for `Option`, arrays and nested tables.

use serde_json::Value as Json;

/// How deep `$ref`s and nested alternatives are followed before giving up (cycles).
const MAX_DEPTH: usize = 16;

/// One parameter of a block, as its params schema describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamDoc {
    /// The TOML key.
    pub name: String,
    /// A readable type: `integer`, `number`, `string`, `"a" | "b"`, `array of number`,
    /// `optional integer`, `table`.
    pub type_name: String,
    /// The default as a TOML literal, if the schema states one (and it is not "none").
    pub default: Option<String>,
    /// True when the parameter must be given.
    pub required: bool,
    /// The field's doc comment.
    pub doc: String,
    /// For enumerations with documented variants: each value and its doc.
    pub variants: Vec<(String, String)>,
}

/// The schema's root JSON value.
pub fn root(schema: &schemars::Schema) -> &Json {
    schema.as_value()
}

/// Every parameter of a params schema, in declaration order.
pub fn params(schema: &schemars::Schema) -> Vec<ParamDoc> {
    let root = root(schema);
    let required = required(schema);
    let Some(props) = resolve(root, root)
        .get("properties")
        .and_then(Json::as_object)
    else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, node)| ParamDoc {
            name: name.clone(),
            type_name: type_name(node, root),
            default: node
                .get("default")
                .filter(|d| !d.is_null())
                .map(toml_literal),
            required: required.iter().any(|r| r == name),
            doc: description(node, root),
            variants: variants(node, root),
        })
        .collect()
}

/// The parameter names, or `None` when the schema does not list them (then unknown keys are
/// left for the params struct to reject).
pub fn property_names(schema: &schemars::Schema) -> Option<Vec<String>> {
    let root = root(schema);
    let props = resolve(root, root).get("properties")?.as_object()?;
    Some(props.keys().cloned().collect())
}

/// The names of required parameters.
pub fn required(schema: &schemars::Schema) -> Vec<String> {
    let root = root(schema);
    resolve(root, root)
        .get("required")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Follows `$ref`s from `node` to the schema they point at.
pub fn resolve<'a>(node: &'a Json, root: &'a Json) -> &'a Json {
    let mut n = node;
    for _ in 0..MAX_DEPTH {
        match n
            .get("$ref")
            .and_then(Json::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| root.pointer(p))
        {
            Some(target) => n = target,
            None => break,
        }
    }
    n
}

/// The schema of property `key` of the table schema `node` (through `$ref` and alternatives).
pub fn property<'a>(node: &'a Json, root: &'a Json, key: &str) -> Option<&'a Json> {
    find_in_alternatives(node, root, 0, &|n| {
        n.get("properties").and_then(|p| p.get(key))
    })
}

/// The schema of the elements of the array schema `node`.
pub fn items<'a>(node: &'a Json, root: &'a Json) -> Option<&'a Json> {
    find_in_alternatives(node, root, 0, &|n| n.get("items").filter(|i| i.is_object()))
}

fn find_in_alternatives<'a>(
    node: &'a Json,
    root: &'a Json,
    depth: usize,
    f: &dyn Fn(&'a Json) -> Option<&'a Json>,
) -> Option<&'a Json> {
    if depth > MAX_DEPTH {
        return None;
    }
    let n = resolve(node, root);
    f(n).or_else(|| {
        ["anyOf", "oneOf", "allOf"]
            .iter()
            .filter_map(|k| n.get(*k).and_then(Json::as_array))
            .flatten()
            .find_map(|alt| find_in_alternatives(alt, root, depth + 1, f))
    })
}

/// The primitive JSON types (`string`, `integer`, `number`, `boolean`, `array`, `object`,
/// `null`) that `node` accepts; empty when it accepts anything.
pub fn primitive_types(node: &Json, root: &Json) -> Vec<&'static str> {
    let mut out = Vec::new();
    collect_types(node, root, 0, &mut out);
    out.sort_unstable();
    out.dedup();
    out
}

fn collect_types(node: &Json, root: &Json, depth: usize, out: &mut Vec<&'static str>) {
    if depth > MAX_DEPTH {
        return;
    }
    let n = resolve(node, root);
    match n.get("type") {
        Some(Json::String(t)) => out.extend(static_type(t)),
        Some(Json::Array(ts)) => {
            out.extend(ts.iter().filter_map(Json::as_str).filter_map(static_type))
        }
        _ => {}
    }
    if let Some(values) = n.get("enum").and_then(Json::as_array) {
        out.extend(values.iter().map(json_type));
    }
    if let Some(c) = n.get("const") {
        out.push(json_type(c));
    }
    for k in ["anyOf", "oneOf", "allOf"] {
        for alt in n.get(k).and_then(Json::as_array).into_iter().flatten() {
            collect_types(alt, root, depth + 1, out);
        }
    }
}

fn static_type(t: &str) -> Option<&'static str> {
    [
        "string", "integer", "number", "boolean", "array", "object", "null",
    ]
    .into_iter()
    .find(|s| *s == t)
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_f64() => "number",
        Json::Number(_) => "integer",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// A readable type for the schema `node`.
pub fn type_name(node: &Json, root: &Json) -> String {
    type_name_at(node, root, 0)
}

fn type_name_at(node: &Json, root: &Json, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return "any".into();
    }
    let n = resolve(node, root);
    if let Some(c) = n.get("const") {
        return toml_literal(c);
    }
    if let Some(values) = n.get("enum").and_then(Json::as_array) {
        let (nulls, rest): (Vec<&Json>, Vec<&Json>) = values.iter().partition(|v| v.is_null());
        let s = rest
            .iter()
            .map(|v| toml_literal(v))
            .collect::<Vec<_>>()
            .join(" | ");
        return if nulls.is_empty() {
            s
        } else {
            format!("optional {s}")
        };
    }
    for k in ["oneOf", "anyOf"] {
        if let Some(alts) = n.get(k).and_then(Json::as_array) {
            let is_null =
                |a: &Json| resolve(a, root).get("type").and_then(Json::as_str) == Some("null");
            let mut names: Vec<String> = Vec::new();
            for a in alts.iter().filter(|a| !is_null(a)) {
                let t = type_name_at(a, root, depth + 1);
                if !names.contains(&t) {
                    names.push(t);
                }
            }
            let s = names.join(" | ");
            return if alts.iter().any(is_null) {
                format!("optional {s}")
            } else {
                s
            };
        }
    }
    let (types, nullable): (Vec<&str>, bool) = match n.get("type") {
        Some(Json::String(t)) => (vec![t.as_str()], false),
        Some(Json::Array(ts)) => {
            let all: Vec<&str> = ts.iter().filter_map(Json::as_str).collect();
            (
                all.iter().copied().filter(|t| *t != "null").collect(),
                all.contains(&"null"),
            )
        }
        _ => (Vec::new(), false),
    };
    if types.is_empty() {
        return if n.get("properties").is_some() {
            "table".into()
        } else {
            "any".into()
        };
    }
    let s = types
        .iter()
        .map(|t| match *t {
            "array" => match n.get("items").filter(|i| i.is_object()) {
                Some(i) => format!("array of {}", type_name_at(i, root, depth + 1)),
                None => "array".into(),
            },
            "object" => match n.get("additionalProperties").filter(|a| a.is_object()) {
                Some(a) => format!("table of {}", type_name_at(a, root, depth + 1)),
                None => "table".into(),
            },
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" | ");
    if nullable {
        format!("optional {s}")
    } else {
        s
    }
}

/// The doc of a property (its own description, else its type's).
fn description(node: &Json, root: &Json) -> String {
    node.get("description")
        .or_else(|| resolve(node, root).get("description"))
        .and_then(Json::as_str)
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Documented enumeration values (`oneOf` of `const`s with descriptions).
fn variants(node: &Json, root: &Json) -> Vec<(String, String)> {
    let n = resolve(node, root);
    let alts = n
        .get("oneOf")
        .or_else(|| n.get("anyOf"))
        .and_then(Json::as_array);
    let mut out = Vec::new();
    for a in alts.into_iter().flatten() {
        let a = resolve(a, root);
        if let Some(c) = a
            .get("const")
            .or_else(|| a.get("enum").and_then(|e| e.get(0)))
        {
            let doc = a
                .get("description")
                .and_then(Json::as_str)
                .unwrap_or("")
                .trim()
                .to_string();
            out.push((toml_literal(c), doc));
        } else if a.get("type").and_then(Json::as_str) != Some("null") {
            // Not a plain enumeration (a variant with data): list nothing.
            return Vec::new();
        }
    }
    if out.iter().all(|(_, d)| d.is_empty()) {
        out.clear();
    }
    out
}

/// A JSON value written as a TOML literal (`"x"`, `1.0`, `[1, 2]`, `{ a = 1 }`, `none`).
pub fn toml_literal(v: &Json) -> String {
    match v {
        Json::Null => "none".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (None, Some(u), _) => u.to_string(),
            (None, None, Some(f)) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 => {
                format!("{f:.1}")
            }
            (None, None, Some(f)) => f.to_string(),
            _ => n.to_string(),
        },
        Json::String(s) => toml::Value::String(s.clone()).to_string(),
        Json::Array(a) => format!(
            "[{}]",
            a.iter().map(toml_literal).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(o) if o.is_empty() => "{}".into(),
        Json::Object(o) => format!(
            "{{ {} }}",
            o.iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        toml::Value::String(k.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// How to open.
    #[derive(Serialize, Deserialize, JsonSchema, Default)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        /// Keep what is there.
        #[default]
        Append,
        /// Start empty.
        Truncate,
    }

    #[derive(Serialize, Deserialize, JsonSchema, Default)]
    enum Plain {
        #[default]
        A,
        B,
    }

    /// Nested.
    #[derive(Serialize, Deserialize, JsonSchema, Default)]
    struct Inner {
        /// X.
        x: u32,
    }

    /// Params.
    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct P {
        /// Frequency in Hz.
        frequency: f64,
        /// Gain.
        #[serde(default = "one")]
        gain: f32,
        /// Count.
        #[serde(default)]
        count: Option<u64>,
        /// Mode.
        #[serde(default)]
        mode: Mode,
        /// Plain.
        #[serde(default)]
        plain: Plain,
        /// Inner.
        #[serde(default)]
        inner: Option<Inner>,
        /// Taps.
        #[serde(default)]
        taps: Vec<f32>,
        /// Name.
        #[serde(default)]
        name: String,
        /// Flag.
        #[serde(default)]
        flag: bool,
    }

    fn one() -> f32 {
        1.0
    }

    fn schema() -> schemars::Schema {
        schemars::generate::SchemaSettings::draft2020_12()
            .into_generator()
            .into_root_schema_for::<P>()
    }

    #[test]
    fn lists_params_with_types_defaults_docs_and_variants() {
        let s = schema();
        let p = params(&s);
        let row = |n: &str| p.iter().find(|x| x.name == n).unwrap();
        assert_eq!(p.len(), 9);
        assert_eq!(
            (
                row("frequency").type_name.as_str(),
                row("frequency").required
            ),
            ("number", true)
        );
        assert_eq!(row("frequency").doc, "Frequency in Hz.");
        assert_eq!(row("gain").default.as_deref(), Some("1.0"));
        assert_eq!(row("count").type_name, "optional integer");
        assert_eq!(row("count").default, None);
        assert_eq!(row("mode").type_name, "\"append\" | \"truncate\"");
        assert_eq!(row("mode").default.as_deref(), Some("\"append\""));
        assert_eq!(row("mode").doc, "Mode.");
        assert_eq!(
            row("mode").variants,
            vec![
                ("\"append\"".into(), "Keep what is there.".into()),
                ("\"truncate\"".into(), "Start empty.".into())
            ]
        );
        assert_eq!(row("plain").type_name, "\"A\" | \"B\"");
        assert_eq!(row("inner").type_name, "optional table");
        assert_eq!(row("taps").type_name, "array of number");
        assert_eq!(row("taps").default.as_deref(), Some("[]"));
        assert_eq!(row("name").default.as_deref(), Some("\"\""));
        assert_eq!(required(&s), vec!["frequency".to_string()]);
        assert_eq!(property_names(&s).unwrap().len(), 9);
    }

    #[test]
    fn answers_type_questions_through_refs_and_alternatives() {
        let s = schema();
        let r = root(&s);
        let top = resolve(r, r);
        let count = property(top, r, "count").unwrap();
        assert_eq!(primitive_types(count, r), vec!["integer", "null"]);
        assert_eq!(
            primitive_types(property(top, r, "mode").unwrap(), r),
            vec!["string"]
        );
        let inner = property(top, r, "inner").unwrap();
        let x = property(inner, r, "x").unwrap();
        assert_eq!(primitive_types(x, r), vec!["integer"]);
        let taps = property(top, r, "taps").unwrap();
        assert_eq!(primitive_types(items(taps, r).unwrap(), r), vec!["number"]);
        assert!(property(top, r, "nope").is_none());
    }

    #[test]
    fn literals_are_toml() {
        let j: Json = serde_json::json!({"a": [1, 2.5, "x"], "b c": null, "d": true});
        assert_eq!(
            toml_literal(&j),
            "{ a = [1, 2.5, \"x\"], \"b c\" = none, d = true }"
        );
        assert_eq!(toml_literal(&serde_json::json!(1000.0)), "1000.0");
    }
}
