//! One `[blocks.NAME]` table: its `type`, the common keys flow reads itself (`inputs`,
//! `policy`, `on_error`, `thread`, `buffer`) and the params handed to the block type, with
//! every params problem located: unknown and missing parameters (from the schema), bad
//! values (from the parse error's path, all of them, not just the first) and the block's
//! own `validate()` errors.

use std::collections::HashSet;
use std::sync::Arc;

use crate::graph::{OnError, ThreadChoice};
use crate::registry::{self, AnyParams, DynBlockDef, Signature};

use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::suggest;
use super::tree::{table_to_toml, Entry, Node, Origin, Table, Value};
use super::{coerce, schema, values};

/// Keys of a block table that are flow's, not the block's params.
pub const COMMON_KEYS: [&str; 6] = ["type", "inputs", "policy", "on_error", "thread", "buffer"];

/// What was read from one block table.
pub(crate) struct BlockSpec {
    /// The block's name.
    pub name: String,
    /// The block's table (its `[blocks.NAME]` header).
    pub header: Origin,
    /// The block type, if known.
    pub def: Option<&'static dyn DynBlockDef>,
    /// Parsed params, if they parsed.
    pub params: Option<Arc<dyn AnyParams>>,
    /// The signature from the params (variadics not yet expanded).
    pub signature: Option<Signature>,
    /// The `inputs` value.
    pub inputs: Option<Node>,
    /// The `policy` value.
    pub policy: Option<Node>,
    /// `on_error`.
    pub on_error: OnError,
    /// `thread`.
    pub thread: ThreadChoice,
    /// `buffer`, in items, and where it is written.
    pub buffer: Option<(usize, Origin)>,
}

impl BlockSpec {
    /// `block `x` (type `t`)` for messages.
    pub fn describe(&self) -> String {
        match self.def {
            Some(d) => format!("block `{}` (type `{}`)", self.name, d.name()),
            None => format!("block `{}`", self.name),
        }
    }
}

/// Reads block `entry` of `[blocks]`; `names` are all block names (for suggestions).
pub(crate) fn read(ctx: &mut Ctx<'_>, entry: &Entry, names: &[&str]) -> BlockSpec {
    let mut spec = BlockSpec {
        name: entry.key.clone(),
        header: entry.node.origin.clone(),
        def: None,
        params: None,
        signature: None,
        inputs: None,
        policy: None,
        on_error: OnError::default(),
        thread: ThreadChoice::default(),
        buffer: None,
    };
    if entry.key.is_empty() || entry.key.contains('.') {
        ctx.error(
            DiagnosticKind::BadBlockName,
            &entry.key_origin,
            format!(
                "block name `{}` cannot be used: it must be non-empty and without `.`",
                entry.key
            ),
        )
        .help("`inputs` writes `block.port`, so block names cannot contain `.`");
    }
    let Some(table) = entry.node.as_table() else {
        ctx.error(
            DiagnosticKind::InvalidOption,
            &entry.node.origin,
            format!(
                "block `{}` must be a table, found {}",
                entry.key,
                entry.node.type_name()
            ),
        )
        .help(format!(
            "write `[blocks.{}]` followed by `type = \"...\"`",
            entry.key
        ));
        return spec;
    };
    spec.def = block_type(ctx, &spec, table, names);
    for e in &table.entries {
        let owner = format!("block `{}`", spec.name);
        let (key, owner) = (e.key.as_str(), owner.as_str());
        match e.key.as_str() {
            "inputs" => spec.inputs = Some(e.node.clone()),
            "policy" => spec.policy = Some(e.node.clone()),
            "on_error" => {
                let choices = [
                    ("stop", OnError::Stop),
                    ("restart", OnError::Restart),
                    ("ignore", OnError::Ignore),
                ];
                spec.on_error =
                    values::choice(ctx, &e.node, key, owner, &choices).unwrap_or_default();
            }
            "thread" => {
                let choices = [("auto", ThreadChoice::Auto), ("own", ThreadChoice::Own)];
                spec.thread =
                    values::choice(ctx, &e.node, key, owner, &choices).unwrap_or_default();
            }
            "buffer" => {
                spec.buffer =
                    values::positive(ctx, &e.node, key, owner).map(|n| (n, e.node.origin.clone()))
            }
            _ => {}
        }
    }
    if let Some(def) = spec.def {
        spec.params = params(ctx, &spec, def, table);
        spec.signature = spec.params.as_ref().map(|p| p.signature());
    }
    spec
}

/// The block's `type`, checked against the registry.
fn block_type(
    ctx: &mut Ctx<'_>,
    spec: &BlockSpec,
    table: &Table,
    names: &[&str],
) -> Option<&'static dyn DynBlockDef> {
    let Some(node) = table.get("type") else {
        let others: Vec<&str> = names.iter().copied().filter(|n| *n != spec.name).collect();
        let help = match spec.header {
            // A block that only a `--set` created is most likely a misspelt block name.
            Origin::Set(_) => suggest::did_you_mean(&spec.name, &others),
            Origin::File(_) => None,
        };
        ctx.error(
            DiagnosticKind::MissingType,
            &spec.header,
            format!("block `{}` has no `type`", spec.name),
        )
        .help(
            help.unwrap_or_else(|| {
                "add `type = \"...\"`; `flow blocks` lists the block types".into()
            }),
        );
        return None;
    };
    let type_name = values::string(ctx, node, "type", &format!("block `{}`", spec.name))?;
    if let Some(def) = registry::find(&type_name) {
        return Some(def);
    }
    let all: Vec<&str> = registry::all().iter().map(|d| d.name()).collect();
    let help = suggest::did_you_mean(&type_name, &all)
        .unwrap_or_else(|| "`flow blocks` lists the block types".to_string());
    ctx.error(
        DiagnosticKind::UnknownBlockType,
        &node.origin,
        format!("unknown block type `{type_name}` for block `{}`", spec.name),
    )
    .help(help);
    None
}

/// Checks and parses the params of a block of type `def`.
fn params(
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
