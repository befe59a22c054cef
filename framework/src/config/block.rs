//! One `[blocks.NAME]` table: its `type` (checked against the registry), the common keys
//! flow reads itself (`inputs`, `policy`, `on_error`, `thread`, `buffer`, `stall_after`), and
//! the rest as
//! the block's params (checked in [`super::params`]).

use std::sync::Arc;

use crate::graph::{OnError, ThreadChoice};
use crate::registry::{self, AnyParams, DynBlockDef, Signature};

use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::suggest;
use super::tree::{Entry, Node, Origin, Table};
use super::{params, values};

/// Keys of a block table that are flow's, not the block's params.
pub const COMMON_KEYS: [&str; 7] = [
    "type",
    "inputs",
    "policy",
    "on_error",
    "thread",
    "buffer",
    "stall_after",
];

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
    /// `stall_after`: this block's own stall deadline.
    pub stall_after: Option<std::time::Duration>,
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
        stall_after: None,
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
            "stall_after" => spec.stall_after = values::duration(ctx, &e.node, key, owner),
            _ => {}
        }
    }
    if let Some(def) = spec.def {
        spec.params = params::parse(ctx, &spec, def, table);
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
    if let Some(d) = registry::disabled(&type_name) {
        ctx.error(
            DiagnosticKind::UnknownBlockType,
            &node.origin,
            format!(
                "block type `{type_name}` of block `{}` is not in this build: it needs the cargo feature `{}`",
                spec.name, d.feature
            ),
        )
        .help(format!(
            "rebuild with `cargo build --release --features {}` ({})",
            d.feature, d.needs
        ));
        return None;
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
