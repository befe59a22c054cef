//! Coercion of interpolated strings: `ssrc = "${SSRC:-10000}"` is a string in TOML, but when
//! the params schema says `ssrc` is an integer (or a number, or a boolean) and the
//! interpolated text parses as one, the value becomes that. Only strings that `${...}`
//! changed are coerced; a literal `"10000"` stays a string and is reported as a bad value.

use serde_json::Value as Json;

use super::schema;
use super::tree::{Node, Table, Value};

/// Coerces the interpolated strings of a block's params table by its schema.
pub(crate) fn params(table: &mut Table, root: &Json) {
    let top = schema::resolve(root, root);
    for e in &mut table.entries {
        if let Some(prop) = schema::property(top, root, &e.key) {
            node(&mut e.node, prop, root);
        }
    }
}

/// Coerces `n` (and what it contains) by the schema `s`.
fn node(n: &mut Node, s: &Json, root: &Json) {
    match &mut n.value {
        Value::String(_) if n.interpolated => scalar(n, &schema::primitive_types(s, root)),
        Value::Table(t) => {
            for e in &mut t.entries {
                if let Some(prop) = schema::property(s, root, &e.key) {
                    node(&mut e.node, prop, root);
                }
            }
        }
        Value::Array(a) => {
            if let Some(item) = schema::items(s, root) {
                a.iter_mut().for_each(|x| node(x, item, root));
            }
        }
        _ => {}
    }
}

/// Turns an interpolated string into the first of `types` (`integer`, `number`, `boolean`) it
/// parses as, unless a string is acceptable.
pub(crate) fn scalar(n: &mut Node, types: &[&str]) {
    let Value::String(s) = &n.value else { return };
    if !n.interpolated || types.is_empty() || types.contains(&"string") {
        return;
    }
    let t = s.trim();
    let new = if types.contains(&"integer") && t.parse::<i64>().is_ok() {
        t.parse::<i64>().ok().map(Value::Integer)
    } else if types.contains(&"number") {
        t.parse::<f64>().ok().map(Value::Float)
    } else {
        None
    };
    let new = new.or_else(|| match (types.contains(&"boolean"), t) {
        (true, "true") => Some(Value::Boolean(true)),
        (true, "false") => Some(Value::Boolean(false)),
        _ => None,
    });
    if let Some(v) = new {
        n.value = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tree::{Entry, Origin};

    fn interpolated(s: &str) -> Node {
        let mut n = Node::new(Value::String(s.into()), Origin::File(0..1));
        n.interpolated = true;
        n
    }

    #[test]
    fn coerces_only_interpolated_strings_to_the_schema_type() {
        let root = serde_json::json!({
            "type": "object",
            "properties": {
                "ssrc": {"type": "integer"},
                "gain": {"type": ["number", "null"]},
                "on": {"type": "boolean"},
                "name": {"type": "string"},
                "taps": {"type": "array", "items": {"type": "number"}},
                "sub": {"$ref": "#/$defs/Sub"}
            },
            "$defs": {"Sub": {"type": "object", "properties": {"n": {"type": "integer"}}}}
        });
        let mut sub = Table::default();
        sub.entries.push(Entry {
            key: "n".into(),
            key_origin: Origin::Set(0),
            node: interpolated("3"),
        });
        let mut t = Table::default();
        for (k, n) in [
            ("ssrc", interpolated("10000")),
            ("gain", interpolated("2.5")),
            ("on", interpolated("true")),
            ("name", interpolated("42")),
            (
                "taps",
                Node::new(
                    Value::Array(vec![interpolated("1"), interpolated("x")]),
                    Origin::Set(0),
                ),
            ),
            ("sub", Node::new(Value::Table(sub), Origin::Set(0))),
        ] {
            t.entries.push(Entry {
                key: k.into(),
                key_origin: Origin::Set(0),
                node: n,
            });
        }
        t.entries.push(Entry {
            key: "literal".into(),
            key_origin: Origin::Set(0),
            node: Node::new(Value::String("5".into()), Origin::Set(0)),
        });
        params(&mut t, &root);
        let v = crate::config::tree::table_to_toml(&t);
        assert_eq!(v["ssrc"], toml::Value::Integer(10000));
        assert_eq!(v["gain"], toml::Value::Float(2.5));
        assert_eq!(v["on"], toml::Value::Boolean(true));
        assert_eq!(v["name"], toml::Value::String("42".into()));
        assert_eq!(v["taps"][0], toml::Value::Float(1.0));
        assert_eq!(v["taps"][1], toml::Value::String("x".into()));
        assert_eq!(v["sub"]["n"], toml::Value::Integer(3));
        assert_eq!(v["literal"], toml::Value::String("5".into()));
    }
}
