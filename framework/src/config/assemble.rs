//! The last steps: the explicit `buffer` check (at least twice the `min_items` of every port
//! the buffer serves, so a block can never wait for more than fits: FutureSDR #195), and
//! building the validated [`Graph`] in topological order once nothing is wrong.

use std::path::Path;

use crate::graph::{Edge, Graph, GraphBlock, Settings};
use crate::registry::PortKind;

use super::block::BlockSpec;
use super::context::Ctx;
use super::diagnostic::{Diagnostic, DiagnosticKind, Diagnostics};
use super::types::Types;
use super::wiring::Wiring;

/// Checks every explicit `buffer` against the `min_items` of the ports it serves.
pub(crate) fn check_buffers(ctx: &mut Ctx<'_>, specs: &[BlockSpec], wiring: &Wiring) {
    for (b, spec) in specs.iter().enumerate() {
        let (Some((items, origin)), Some(sig)) = (&spec.buffer, &wiring.signatures[b]) else {
            continue;
        };
        let mut need: Option<(usize, String, usize)> = None;
        let mut consider = |port: String, min: usize| {
            if need.as_ref().is_none_or(|(_, _, m)| min > *m) {
                need = Some((2 * min, port, min));
            }
        };
        let mut any_stream = false;
        for (o, out) in sig.outputs.iter().enumerate() {
            if !matches!(out.kind, PortKind::Stream(_)) {
                continue;
            }
            any_stream = true;
            consider(format!("{}.{}", spec.name, out.name), out.min_items);
            for c in wiring
                .conns
                .iter()
                .filter(|c| c.from == b && c.from_port == Some(o))
            {
                let reader = c
                    .to_port
                    .and_then(|i| wiring.signatures[c.to].as_ref()?.inputs.get(i));
                if let Some(r) = reader {
                    consider(format!("{}.{}", specs[c.to].name, r.name), r.min_items);
                }
            }
        }
        if !any_stream {
            ctx.error(
                DiagnosticKind::InvalidOption,
                origin,
                format!(
                    "`buffer` sizes stream output buffers, but {} has no stream output",
                    spec.describe()
                ),
            )
            .help("remove `buffer`");
            continue;
        }
        if let Some((needed, port, min)) = need.filter(|(n, _, _)| items < n) {
            ctx.error(
                DiagnosticKind::BufferTooSmall,
                origin,
                format!(
                    "`buffer = {items}` of block `{}` is smaller than twice the `min_items` of `{port}` (2 × {min} = {needed} items)",
                    spec.name
                ),
            )
            .help(format!("set `buffer` to at least {needed}, or remove it to size the buffer automatically"));
        }
    }
}

/// Builds the graph; all checks have passed.
pub(crate) fn graph(
    file: &str,
    specs: Vec<BlockSpec>,
    wiring: Wiring,
    types: Types,
    order: &[usize],
    settings: Settings,
    base_dir: &Path,
) -> Result<Graph, Diagnostics> {
    let internal = |what: &str| {
        Diagnostics(vec![Diagnostic::unplaced(
            file,
            DiagnosticKind::Internal,
            format!("internal error assembling the flowgraph: {what} (please report this)"),
        )])
    };
    if order.len() != specs.len() {
        return Err(internal("topological order incomplete"));
    }
    let mut pos = vec![0; specs.len()];
    for (k, &b) in order.iter().enumerate() {
        pos[b] = k;
    }
    let mut blocks = Vec::with_capacity(specs.len());
    let mut slots: Vec<Option<BlockSpec>> = specs.into_iter().map(Some).collect();
    for &b in order {
        let spec = slots[b]
            .take()
            .ok_or_else(|| internal("block visited twice"))?;
        let (Some(def), Some(params), Some(signature)) =
            (spec.def, spec.params, wiring.signatures[b].clone())
        else {
            return Err(internal(&format!("block `{}` incomplete", spec.name)));
        };
        let (Some(input_types), Some(outputs)) =
            (types.inputs[b].clone(), types.outputs[b].clone())
        else {
            return Err(internal(&format!(
                "types of block `{}` unresolved",
                spec.name
            )));
        };
        blocks.push(GraphBlock {
            name: spec.name,
            def,
            params,
            signature,
            input_types,
            output_types: outputs.into_iter().flatten().collect(),
            on_error: spec.on_error,
            thread: spec.thread,
            buffer_items: spec.buffer.map(|(n, _)| n),
            stall_after: spec.stall_after,
        });
    }
    let mut edges = Vec::with_capacity(wiring.conns.len());
    for c in &wiring.conns {
        let (Some(from_port), Some(to_port)) = (c.from_port, c.to_port) else {
            return Err(internal("unresolved connection"));
        };
        let item_type = types.outputs[c.from]
            .as_ref()
            .and_then(|o| o.get(from_port).copied().flatten());
        edges.push(Edge {
            from_block: pos[c.from],
            from_port,
            to_block: pos[c.to],
            to_port,
            item_type,
            policy: c.policy,
        });
    }
    edges.sort_by_key(|e| (e.to_block, e.to_port));
    Ok(Graph {
        settings,
        blocks,
        edges,
        base_dir: base_dir.to_path_buf(),
    })
}
