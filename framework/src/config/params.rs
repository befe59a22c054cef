//! A block's params: unknown and missing parameters (from its schema), interpolated strings
//! coerced to the schema's types, every bad value located by the parse error's path (the
//! parse is retried without each bad key, so all of them are reported, not just the first),
//! and the block's own `validate()` errors located at the parameter they name.

use std::collections::HashSet;
use std::sync::Arc;

use crate::registry::{AnyParams, DynBlockDef};

use super::block::{BlockSpec, COMMON_KEYS};
use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::suggest;
use super::tree::{table_to_toml, Origin, Table, Value};
use super::{coerce, schema};

/// Checks and parses the params of a block of type `def`.
pub(crate) fn parse(
    ctx: &mut Ctx<'_>,
    spec: &BlockSpec,
    def: &dyn DynBlockDef,
    table: &Table,
) -> Option<Arc<dyn AnyParams>> {
    let schema = def.schema();
    let root = schema::root(&schema);
    let what = spec.describe();
    let errors_before = ctx.count();
    let mut skip: HashSet<String> = HashSet::new();
    let mut ptable = Table {
        entries: table
            .entries
            .iter()
            .filter(|e| !COMMON_KEYS.contains(&e.key.as_str()))
            .cloned()
            .collect(),
    };
    for e in &ptable.entries {
        if e.node.is_poisoned() {
            skip.insert(e.key.clone());
        }
    }
    let known = schema::property_names(&schema);
    if let Some(known) = &known {
        for e in ptable.entries.iter().filter(|e| !known.contains(&e.key)) {
            let help =
                suggest::did_you_mean(&e.key, known).unwrap_or_else(|| match known.is_empty() {
                    true => format!("`{}` takes no parameters", def.name()),
                    false => format!("`{}` takes {}", def.name(), suggest::list(known)),
                });
            ctx.error(
                DiagnosticKind::UnknownParam,
                &e.key_origin,
                format!("unknown parameter `{}` for {what}", e.key),
            )
            .help(help);
            skip.insert(e.key.clone());
        }
    }
    let top = schema::resolve(root, root);
    for r in schema::required(&schema) {
        if ptable.get(&r).is_none() {
            let ty = schema::property(top, root, &r)
                .map_or_else(|| "...".into(), |p| schema::type_name(p, root));
            ctx.error(
                DiagnosticKind::MissingParam,
                &spec.header,
                format!("missing parameter `{r}` for {what}"),
            )
            .help(format!("add `{r} = <{ty}>`"));
            skip.insert(r);
        }
    }
    ptable.entries.retain(|e| !skip.contains(&e.key));
    coerce::params(&mut ptable, root);

    let mut attempts = 0;
    let parsed = loop {
        attempts += 1;
        if attempts > ptable.entries.len() + 2 {
            break None;
        }
        let err = match def.parse(toml::Value::Table(table_to_toml(&ptable))) {
            Ok(p) => break Some(p),
            Err(e) => e,
        };
        let message = err.message.lines().next().unwrap_or("").trim().to_string();
        let path = parse_path(&err.path);
        let top_key = match path.first() {
            Some(Seg::Key(k)) => k.clone(),
            _ => String::new(),
        };
        if let Some(field) = missing_field(&message) {
            if !skip.contains(field) && ctx.count() == errors_before {
                ctx.error(
                    DiagnosticKind::MissingParam,
                    &spec.header,
                    format!("missing parameter `{field}` for {what}"),
                );
            }
            break None;
        }
        if top_key.is_empty() || skip.contains(&top_key) {
            if ctx.count() == errors_before {
                ctx.error(
                    DiagnosticKind::BadValue,
                    &spec.header,
                    format!("invalid parameters for {what}: {message}"),
                );
            }
            break None;
        }
        if message.starts_with("unknown field") {
            let origin = ptable
                .entry(&top_key)
                .map_or(spec.header.clone(), |e| e.key_origin.clone());
            let names = backticked_after(&message, "expected");
            ctx.error(
                DiagnosticKind::UnknownParam,
                &origin,
                format!("unknown parameter `{}` for {what}", err.path),
            )
            .maybe_help(suggest::did_you_mean(&top_key, &names));
        } else {
            let origin = locate(&ptable, &path).unwrap_or_else(|| spec.header.clone());
            ctx.error(
                DiagnosticKind::BadValue,
                &origin,
                format!(
                    "invalid value for parameter `{}` of {what}: {message}",
                    err.path
                ),
            );
        }
        ptable.remove(&top_key);
        skip.insert(top_key);
    }?;

    for e in parsed.validate() {
        let origin = locate(table, &parse_path(&e.param)).unwrap_or_else(|| spec.header.clone());
        let message = match e.param.is_empty() {
            true => format!("{what}: {}", e.message),
            false => format!("invalid `{}` for {what}: {}", e.param, e.message),
        };
        ctx.error(DiagnosticKind::Invalid, &origin, message);
    }
    Some(parsed)
}

/// A part of a params path (`taps[1]` → `taps`, 1).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Splits a `serde_path_to_error` path (`a.b[2].c`).
fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            out.push(Seg::Key(key.to_string()));
        }
        for idx in pieces {
            match idx.trim_end_matches(']').parse() {
                Ok(i) => out.push(Seg::Index(i)),
                Err(_) => return out,
            }
        }
    }
    out
}

/// The origin of the deepest value along `path` that exists in `table`.
fn locate(table: &Table, path: &[Seg]) -> Option<Origin> {
    let Some(Seg::Key(first)) = path.first() else {
        return None;
    };
    let mut node = table.get(first)?;
    for seg in &path[1..] {
        let next = match (seg, &node.value) {
            (Seg::Key(k), Value::Table(t)) => t.get(k),
            (Seg::Index(i), Value::Array(a)) => a.get(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    Some(node.origin.clone())
}

/// The field of serde's "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// The backticked names after `word` in a serde message (`expected one of `a`, `b``).
fn backticked_after(message: &str, word: &str) -> Vec<String> {
    let Some(rest) = message.split_once(word).map(|(_, r)| r) else {
        return Vec::new();
    };
    rest.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_serde_messages() {
        assert_eq!(
            parse_path("a.b[2][3].c"),
            vec![
                Seg::Key("a".into()),
                Seg::Key("b".into()),
                Seg::Index(2),
                Seg::Index(3),
                Seg::Key("c".into())
            ]
        );
        assert_eq!(parse_path(""), vec![]);
        assert_eq!(
            missing_field("missing field `frequency`"),
            Some("frequency")
        );
        assert_eq!(
            backticked_after("unknown field `x`, expected one of `a`, `b`", "expected"),
            vec!["a", "b"]
        );
    }
}
