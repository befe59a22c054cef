//! The `[flowgraph]` table: name, worker threads, default buffer sizes, run duration and
//! the stall watchdog's limits.

use crate::graph::Settings;

use super::context::Ctx;
use super::diagnostic::DiagnosticKind;
use super::suggest;
use super::tree::Node;
use super::values;

/// The keys `[flowgraph]` takes.
pub const KEYS: [&str; 7] = [
    "name",
    "workers",
    "buffer_bytes",
    "message_queue",
    "duration",
    "stall_after",
    "startup_grace",
];

/// Reads `[flowgraph]` (absent: defaults, named `default_name`).
pub(crate) fn read(ctx: &mut Ctx<'_>, node: Option<&Node>, default_name: &str) -> Settings {
    let mut s = Settings {
        name: default_name.to_string(),
        ..Settings::default()
    };
    let Some(node) = node else { return s };
    let Some(table) = node.as_table() else {
        ctx.error(
            DiagnosticKind::InvalidOption,
            &node.origin,
            format!("`flowgraph` must be a table, found {}", node.type_name()),
        )
        .help("write `[flowgraph]` followed by `name = \"...\"` and other settings");
        return s;
    };
    for e in &table.entries {
        let (key, owner, n) = (e.key.as_str(), "[flowgraph]", &e.node);
        match e.key.as_str() {
            "name" => s.name = values::string(ctx, n, key, owner).unwrap_or(s.name),
            "workers" => s.workers = values::positive(ctx, n, key, owner).or(s.workers),
            "buffer_bytes" => {
                s.buffer_bytes = values::positive(ctx, n, key, owner).unwrap_or(s.buffer_bytes)
            }
            "message_queue" => {
                s.message_queue = values::positive(ctx, n, key, owner).unwrap_or(s.message_queue)
            }
            "duration" => s.duration = values::duration(ctx, n, key, owner).or(s.duration),
            "stall_after" => {
                s.stall_after = values::duration(ctx, n, key, owner).unwrap_or(s.stall_after)
            }
            "startup_grace" => {
                s.startup_grace = values::duration(ctx, n, key, owner).unwrap_or(s.startup_grace)
            }
            other => {
                let help = suggest::did_you_mean(other, &KEYS)
                    .unwrap_or_else(|| format!("[flowgraph] takes {}", suggest::list(&KEYS)));
                ctx.error(
                    DiagnosticKind::UnknownKey,
                    &e.key_origin,
                    format!("unknown key `{other}` in [flowgraph]"),
                )
                .help(help);
            }
        }
    }
    s
}
