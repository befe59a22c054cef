//! The flowgraph document as an owned tree whose every key and value remembers where it came
//! from (a byte range of the file, or a `--set` argument), built from `toml`'s spanned
//! parser. Interpolation, overrides and validation work on this tree; params are handed to
//! blocks as plain `toml::Value`s.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Where a key or value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A byte range of the file.
    File(Range<usize>),
    /// The `--set` argument with this index.
    Set(usize),
}

/// A value and where it came from.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// The value.
    pub value: Value,
    /// Its place.
    pub origin: Origin,
    /// True when `${...}` interpolation changed this string (it may then be coerced to the
    /// number or boolean the schema asks for).
    pub interpolated: bool,
    /// True when interpolating it failed (already reported; later checks skip it).
    pub poisoned: bool,
}

/// A TOML value with located children.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(toml::value::Datetime),
    Array(Vec<Node>),
    Table(Table),
}

/// One key of a table.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// The key.
    pub key: String,
    /// Where the key is written.
    pub key_origin: Origin,
    /// Its value.
    pub node: Node,
}

/// A table, keys in file order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub entries: Vec<Entry>,
}

impl Table {
    /// The entry for `key`.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.node)
    }

    /// The value of `key`, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|e| e.key == key)
            .map(|e| &mut e.node)
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<Entry> {
        let i = self.entries.iter().position(|e| e.key == key)?;
        Some(self.entries.remove(i))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.key.as_str())
    }
}

impl Node {
    /// A node with this value and origin.
    pub fn new(value: Value, origin: Origin) -> Self {
        Node {
            value,
            origin,
            interpolated: false,
            poisoned: false,
        }
    }

    /// The table, if this is one.
    pub fn as_table(&self) -> Option<&Table> {
        match &self.value {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// True when this value or anything inside it failed to interpolate.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
            || match &self.value {
                Value::Array(a) => a.iter().any(Node::is_poisoned),
                Value::Table(t) => t.entries.iter().any(|e| e.node.is_poisoned()),
                _ => false,
            }
    }

    /// The TOML type name (`string`, `integer`, ...), for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::Boolean(_) => "boolean",
            Value::Datetime(_) => "datetime",
            Value::Array(_) => "array",
            Value::Table(_) => "table",
        }
    }

    /// The value as a plain `toml::Value`.
    pub fn to_toml(&self) -> toml::Value {
        match &self.value {
            Value::String(s) => toml::Value::String(s.clone()),
            Value::Integer(i) => toml::Value::Integer(*i),
            Value::Float(f) => toml::Value::Float(*f),
            Value::Boolean(b) => toml::Value::Boolean(*b),
            Value::Datetime(d) => toml::Value::Datetime(*d),
            Value::Array(a) => toml::Value::Array(a.iter().map(Node::to_toml).collect()),
            Value::Table(t) => toml::Value::Table(table_to_toml(t)),
        }
    }

    /// The value as it would be written in TOML, for messages (`1000.0`, `"x"`).
    pub fn display(&self) -> String {
        match &self.value {
            Value::Table(t) if t.entries.is_empty() => "{}".into(),
            Value::Table(t) => {
                let items: Vec<String> = t
                    .entries
                    .iter()
                    .map(|e| format!("{} = {}", e.key, e.node.display()))
                    .collect();
                format!("{{ {} }}", items.join(", "))
            }
            _ => self.to_toml().to_string(),
        }
    }
}

/// A located table as a plain `toml::Table`.
pub(crate) fn table_to_toml(t: &Table) -> toml::Table {
    t.entries
        .iter()
        .map(|e| (e.key.clone(), e.node.to_toml()))
        .collect()
}

/// A problem converting the parser's output (an integer out of the `i64` range).
pub(crate) struct ConvertError {
    /// Where.
    pub span: Range<usize>,
    /// What.
    pub message: String,
}

/// Converts a parsed TOML document into a located tree; `origin` maps parser spans (for a
/// `--set` value, every span becomes that argument).
pub(crate) fn from_de(
    value: &Spanned<DeValue<'_>>,
    origin: &dyn Fn(Range<usize>) -> Origin,
    errors: &mut Vec<ConvertError>,
) -> Node {
    let span = value.span();
    let v = match value.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Integer(n),
            Err(_) => {
                errors.push(ConvertError {
                    span: span.clone(),
                    message: format!("integer `{i}` is out of range (64-bit signed)"),
                });
                Value::Integer(0)
            }
        },
        DeValue::Float(x) => {
            let f = parse_float(x.as_str());
            if f.is_infinite() && !x.as_str().contains("inf") {
                errors.push(ConvertError {
                    span: span.clone(),
                    message: format!("float `{x}` is out of range (64-bit)"),
                });
            }
            Value::Float(f)
        }
        DeValue::Boolean(b) => Value::Boolean(*b),
        DeValue::Datetime(d) => Value::Datetime(*d),
        DeValue::Array(a) => Value::Array(a.iter().map(|x| from_de(x, origin, errors)).collect()),
        DeValue::Table(t) => Value::Table(table_from_de(t, origin, errors)),
    };
    Node::new(v, origin(span))
}

/// Converts a parsed table (see [`from_de`]).
pub(crate) fn table_from_de(
    t: &DeTable<'_>,
    origin: &dyn Fn(Range<usize>) -> Origin,
    errors: &mut Vec<ConvertError>,
) -> Table {
    Table {
        entries: t
            .iter()
            .map(|(k, v)| Entry {
                key: k.get_ref().to_string(),
                key_origin: origin(k.span()),
                node: from_de(v, origin, errors),
            })
            .collect(),
    }
}

/// A TOML float literal (the parser has checked its syntax): underscores removed, `inf` and
/// `nan` with their signs.
fn parse_float(s: &str) -> f64 {
    let clean: String = s.chars().filter(|c| *c != '_').collect();
    match clean.as_str() {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" | "+nan" | "-nan" => f64::NAN,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_keeps_spans_and_converts_back() {
        let text = "[a]\nx = 0x10\ny = [1.5, \"s\"]\nz.w = true\n";
        let doc = DeTable::parse(text).map_err(|e| e.to_string()).unwrap();
        let mut errs = Vec::new();
        let t = table_from_de(doc.get_ref(), &|r| Origin::File(r), &mut errs);
        assert!(errs.is_empty());
        let a = t.get("a").and_then(Node::as_table).unwrap();
        let x = a.get("x").unwrap();
        assert_eq!(x.origin, Origin::File(8..12));
        assert_eq!(&text[8..12], "0x10");
        assert_eq!(a.entry("y").unwrap().key_origin, Origin::File(13..14));
        let v = Node::new(Value::Table(a.clone()), Origin::Set(0)).to_toml();
        assert_eq!(v["x"].as_integer(), Some(16));
        assert_eq!(v["y"][0].as_float(), Some(1.5));
        assert_eq!(v["z"]["w"].as_bool(), Some(true));
    }

    #[test]
    fn out_of_range_integer_is_reported_not_panicked() {
        let text = "x = 0xffffffffffffffff\ny = 1_000.5\n";
        let doc = DeTable::parse(text).map_err(|e| e.to_string()).unwrap();
        let mut errs = Vec::new();
        let t = table_from_de(doc.get_ref(), &|r| Origin::File(r), &mut errs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].span, 4..22);
        assert!(matches!(t.get("y").unwrap().value, Value::Float(f) if f == 1000.5));
    }
}
