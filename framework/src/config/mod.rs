//! Loading a TOML flowgraph into a validated [`Graph`]: parsing with locations,
//! `--set` overrides, `${VAR}` interpolation, and every check `flow check` runs, with all
//! problems reported together as [`Diagnostics`] (each with `file:line:column`, the source
//! line and a "did you mean" where one fits). Pure: nothing is opened besides the file.
//!
//! # The file
//!
//! ```toml
//! [flowgraph]            # optional
//! name = "demo"          # default: the file stem
//! workers = 2            # threads for the non-blocking blocks (default: 1)
//! buffer_bytes = 262144  # default edge buffer size
//! message_queue = 4096   # message queue length
//! duration = "30s"       # stop after this long
//!
//! [blocks.src]
//! type = "signal_source" # a registered block type (`flow blocks`)
//! frequency = 1000.0     # every other key is a parameter of the block
//!
//! [blocks.f]
//! type = "copy"
//! inputs = ["src"]       # fills the input ports in order; "blk" is blk's only output of
//!                        # the needed kind (stream/message), "blk.port" names one
//! # inputs = { in = "src.out" }   # or by input port name
//! policy = "block"       # block | drop_newest | drop_oldest, or { in = "drop_oldest" }
//! on_error = "stop"      # stop | restart | ignore
//! thread = "auto"        # auto | own
//! buffer = 65536         # items in this block's stream output buffers
//! ```
//!
//! A variadic input (`in`) becomes `in0`, `in1`, ... one port per connection, given
//! positionally or as `{ in = ["a", "b"] }` (or `{ in0 = "a", in1 = "b" }`).
//!
//! String values may use `${VAR}` and `${VAR:-default}` (environment variables; `$$` is a
//! literal `$`). When a parameter is a number or a boolean, an interpolated string that
//! parses as one becomes one, so `ssrc = "${SSRC:-10000}"` works for an integer.

mod assemble;
mod block;
mod coerce;
mod context;
mod diagnostic;
mod interpolate;
mod overrides;
mod params;
mod policy;
mod requests;
pub mod schema;
mod settings;
mod sources;
mod suggest;
mod topology;
mod tree;
mod types;
mod values;
mod wiring;

#[cfg(test)]
pub(crate) mod testblocks;
#[cfg(test)]
mod tests;

use std::path::Path;

use toml::de::DeTable;

use crate::graph::Graph;

pub use block::COMMON_KEYS;
pub use diagnostic::{Diagnostic, DiagnosticKind, Diagnostics, Snippet};
pub use interpolate::{expand, Expanded, InterpolationError};
pub use settings::KEYS as FLOWGRAPH_KEYS;
pub use suggest::closest;

use context::Ctx;
use tree::Origin;

/// Top-level tables of a flowgraph file.
const TOP_KEYS: [&str; 2] = ["flowgraph", "blocks"];

/// Loads and validates the flowgraph file at `path`, with `--set KEY=VALUE` `overrides`
/// applied and `${VAR}`s taken from the process environment. Relative paths in block
/// params resolve against the file's directory.
pub fn load_file(path: &Path, overrides: &[String]) -> Result<Graph, Diagnostics> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics(vec![Diagnostic::unplaced(
            file.clone(),
            DiagnosticKind::Io,
            format!("cannot read the flowgraph: {e}"),
        )])
    })?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    load_str(&text, &file, base_dir, overrides)
}

/// Loads and validates flowgraph `text`; `file` names it in messages (and its stem is the
/// default flowgraph name), `base_dir` is where relative paths resolve.
pub fn load_str(
    text: &str,
    file: &str,
    base_dir: &Path,
    overrides: &[String],
) -> Result<Graph, Diagnostics> {
    load_str_with_env(text, file, base_dir, overrides, &|name| {
        std::env::var(name).ok()
    })
}

/// [`load_str`] with `${VAR}`s looked up by `env` instead of the process environment.
pub fn load_str_with_env(
    text: &str,
    file: &str,
    base_dir: &Path,
    overrides: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Graph, Diagnostics> {
    let mut ctx = Ctx::new(file, text, overrides);
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            ctx.error(
                DiagnosticKind::Syntax,
                &Origin::File(span),
                format!("invalid TOML: {}", e.message().trim()),
            );
        }
        return Err(Diagnostics(ctx.finish()));
    }
    let mut convert_errors = Vec::new();
    let mut root = tree::table_from_de(doc.get_ref(), &Origin::File, &mut convert_errors);
    for e in convert_errors {
        ctx.error(DiagnosticKind::Syntax, &Origin::File(e.span), e.message);
    }
    overrides::apply(&mut root, overrides, &mut ctx);
    for e in &mut root.entries {
        interpolate::interpolate_tree(&mut e.node, env, &mut ctx);
    }
    for e in root
        .entries
        .iter()
        .filter(|e| !TOP_KEYS.contains(&e.key.as_str()))
    {
        let help = suggest::did_you_mean(&e.key, &TOP_KEYS).unwrap_or_else(|| {
            "a flowgraph file has a `[flowgraph]` table and `[blocks.NAME]` tables".into()
        });
        ctx.error(
            DiagnosticKind::UnknownKey,
            &e.key_origin,
            format!("unknown top-level key `{}`", e.key),
        )
        .help(help);
    }
    let stem = Path::new(file)
        .file_stem()
        .map_or_else(|| "flowgraph".into(), |s| s.to_string_lossy().into_owned());
    let settings = settings::read(&mut ctx, root.get("flowgraph"), &stem);

    let specs = match root.get("blocks") {
        None => {
            ctx.error(
                DiagnosticKind::NoBlocks,
                &Origin::File(0..0),
                "the flowgraph has no blocks",
            )
            .help(
                "add a block: `[blocks.NAME]` with `type = \"...\"`; `flow blocks` lists the types",
            );
            Vec::new()
        }
        Some(node) => match node.as_table() {
            None => {
                ctx.error(
                    DiagnosticKind::InvalidOption,
                    &node.origin,
                    format!(
                        "`blocks` must be a table of blocks, found {}",
                        node.type_name()
                    ),
                )
                .help("write each block as `[blocks.NAME]`");
                Vec::new()
            }
            Some(t) if t.entries.is_empty() => {
                ctx.error(
                    DiagnosticKind::NoBlocks,
                    &node.origin,
                    "the flowgraph has no blocks",
                )
                .help("add a block: `[blocks.NAME]` with `type = \"...\"`");
                Vec::new()
            }
            Some(t) => {
                let names: Vec<&str> = t.keys().collect();
                t.entries
                    .iter()
                    .map(|e| block::read(&mut ctx, e, &names))
                    .collect()
            }
        },
    };
    let wiring = wiring::wire(&mut ctx, &specs);
    let order = topology::order(&mut ctx, &specs, &wiring.conns);
    let types = types::infer(&mut ctx, &specs, &wiring, &order);
    assemble::check_buffers(&mut ctx, &specs, &wiring);
    if ctx.has_errors() {
        return Err(Diagnostics(ctx.finish()));
    }
    assemble::graph(ctx.file(), specs, wiring, types, &order, settings, base_dir)
}
