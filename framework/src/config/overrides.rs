//! `--set KEY=VALUE` overrides: `KEY` is a dotted TOML key (`blocks.archive.dir`,
//! `flowgraph.duration`, quoted parts allowed), `VALUE` is read as a TOML value when it is
//! one (`5`, `true`, `"x"`, `[1, 2]`) and as a plain string otherwise (`/data`, `10s`).
//! The key is created when absent. Applied before interpolation; the values themselves are
//! not interpolated.

use toml::de::{DeTable, DeValue};

use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::tree::{self, Entry, Node, Origin, Table, Value};

/// A parsed `--set` argument.
#[derive(Debug)]
pub(crate) struct Override {
    /// The key path.
    pub path: Vec<String>,
    /// The value, located at the argument.
    pub value: Node,
}

/// Parses `--set` argument number `index`.
pub(crate) fn parse(arg: &str, index: usize) -> Result<Override, String> {
    let Some((key, value)) = arg.split_once('=') else {
        return Err("expected KEY=VALUE, e.g. `--set blocks.src.frequency=2000`".to_string());
    };
    let path = key_path(key.trim()).ok_or_else(|| format!("`{}` is not a TOML key", key.trim()))?;
    let origin = |_| Origin::Set(index);
    let node = match DeValue::parse(value) {
        Ok(v) => {
            let mut errors = Vec::new();
            let n = tree::from_de(&v, &origin, &mut errors);
            if errors.is_empty() {
                n
            } else {
                Node::new(Value::String(value.to_string()), Origin::Set(index))
            }
        }
        Err(_) => Node::new(Value::String(value.to_string()), Origin::Set(index)),
    };
    Ok(Override { path, value: node })
}

/// The parts of a dotted key (`a."b.c".d` → `a`, `b.c`, `d`), using the TOML parser.
fn key_path(key: &str) -> Option<Vec<String>> {
    if key.is_empty() || key.contains(['\n', '\r', '=', '[', '#']) {
        return None;
    }
    let doc_text = format!("{key} = 0");
    let doc = DeTable::parse(&doc_text).ok()?;
    let mut path = Vec::new();
    let mut table = doc.get_ref();
    loop {
        let mut it = table.iter();
        let (k, v) = it.next()?;
        if it.next().is_some() {
            return None;
        }
        path.push(k.get_ref().to_string());
        match v.get_ref() {
            DeValue::Table(t) => table = t,
            DeValue::Integer(_) => return Some(path),
            _ => return None,
        }
    }
}

/// Applies every `--set` argument to the document, recording errors that name the argument.
pub(crate) fn apply(root: &mut Table, sets: &[String], ctx: &mut Ctx<'_>) {
    for (i, arg) in sets.iter().enumerate() {
        let result = parse(arg, i).and_then(|o| set(root, &o.path, o.value, i));
        if let Err(message) = result {
            ctx.error(DiagnosticKind::Override, &Origin::Set(i), message);
        }
    }
}

/// Sets `path` to `value`, creating tables on the way.
fn set(root: &mut Table, path: &[String], value: Node, index: usize) -> Result<(), String> {
    let Some((leaf, parents)) = path.split_last() else {
        return Err("empty key".to_string());
    };
    let mut table = root;
    for (depth, seg) in parents.iter().enumerate() {
        let pos = match table.entries.iter().position(|e| &e.key == seg) {
            Some(p) => p,
            None => {
                table.entries.push(Entry {
                    key: seg.clone(),
                    key_origin: Origin::Set(index),
                    node: Node::new(Value::Table(Table::default()), Origin::Set(index)),
                });
                table.entries.len() - 1
            }
        };
        let node = &mut table.entries[pos].node;
        let ty = node.type_name();
        table = match &mut node.value {
            Value::Table(t) => t,
            _ => {
                return Err(format!(
                    "`{}` is {} {ty}, not a table",
                    path[..=depth].join("."),
                    article(ty)
                ))
            }
        };
    }
    match table.get_mut(leaf) {
        Some(existing) => *existing = value,
        None => table.entries.push(Entry {
            key: leaf.clone(),
            key_origin: Origin::Set(index),
            node: value,
        }),
    }
    Ok(())
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_toml_when_they_parse_and_strings_otherwise() {
        let v = |s: &str| parse(&format!("a.b={s}"), 0).unwrap().value.to_toml();
        assert_eq!(v("5"), toml::Value::Integer(5));
        assert_eq!(v("2000.5"), toml::Value::Float(2000.5));
        assert_eq!(v("true"), toml::Value::Boolean(true));
        assert_eq!(v("\"x\""), toml::Value::String("x".into()));
        assert_eq!(v("[1, 2]"), toml::Value::Array(vec![1.into(), 2.into()]));
        assert_eq!(v("/data/raw"), toml::Value::String("/data/raw".into()));
        assert_eq!(v("10s"), toml::Value::String("10s".into()));
        assert_eq!(v(""), toml::Value::String(String::new()));
        assert_eq!(v("a=b"), toml::Value::String("a=b".into()));
    }

    #[test]
    fn keys_are_dotted_toml_keys() {
        assert_eq!(
            key_path("blocks.src.frequency").unwrap(),
            ["blocks", "src", "frequency"]
        );
        assert_eq!(
            key_path("blocks.\"a.b\".x").unwrap(),
            ["blocks", "a.b", "x"]
        );
        assert_eq!(key_path(" a . b ").unwrap(), ["a", "b"]);
        assert!(key_path("").is_none());
        assert!(key_path("a..b").is_none());
        assert!(key_path("a = 1\nb").is_none());
        assert!(parse("novalue", 0).is_err());
        assert!(parse("=3", 0).is_err());
    }

    #[test]
    fn set_creates_and_replaces_and_refuses_to_descend_into_values() {
        let mut root = Table::default();
        set(
            &mut root,
            &["x".into(), "y".into()],
            Node::new(Value::Integer(1), Origin::Set(0)),
            0,
        )
        .unwrap();
        set(
            &mut root,
            &["x".into(), "y".into()],
            Node::new(Value::Integer(2), Origin::Set(1)),
            1,
        )
        .unwrap();
        let y = root
            .get("x")
            .and_then(Node::as_table)
            .and_then(|t| t.get("y"))
            .unwrap();
        assert!(matches!(y.value, Value::Integer(2)));
        let err = set(
            &mut root,
            &["x".into(), "y".into(), "z".into()],
            Node::new(Value::Integer(3), Origin::Set(2)),
            2,
        );
        assert_eq!(err.unwrap_err(), "`x.y` is an integer, not a table");
    }
}
