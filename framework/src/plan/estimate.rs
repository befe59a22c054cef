//! Rates, storage and buffer memory of a flowgraph, computed from the flowgraph alone by
//! walking it in topological order and asking each block's plan hook.

use crate::graph::{EdgePolicy, Graph};
use crate::registry::PortKind;

use super::{PlanInputs, Storage};

/// The planned rate of one stream edge.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeRate {
    /// `block.port` of the producer.
    pub from: String,
    /// `block.port` of the consumer.
    pub to: String,
    /// Items per second (`None`: unpaced, as fast as the CPU allows).
    pub items_per_second: Option<f64>,
    /// Bytes per second.
    pub bytes_per_second: Option<f64>,
}

/// What one block is planned to do.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockPlan {
    /// Block name.
    pub name: String,
    /// Block type.
    pub type_name: &'static str,
    /// Items per second into its stream inputs (summed), if known.
    pub items_in: Option<f64>,
    /// Items per second out of its stream outputs (summed), if known.
    pub items_out: Option<f64>,
    /// Live source or throttle: sets the pace.
    pub paced: bool,
    /// Its own thread (blocking or live) rather than the worker pool.
    pub own_thread: bool,
    /// What it stores.
    pub storage: Vec<Storage>,
}

/// The whole estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Per block, in graph order.
    pub blocks: Vec<BlockPlan>,
    /// Per stream edge.
    pub edges: Vec<EdgeRate>,
    /// Memory of all stream buffers (shared rings and lossy private rings), in bytes.
    pub buffer_bytes: u64,
    /// True when no source is paced: the flowgraph runs as fast as the CPU allows, so
    /// rates are nominal (sample rates), not what the machine will see.
    pub offline: bool,
    /// How long the flowgraph runs, when that is known: its `duration`, or the longest of
    /// its sources when every source is finite. `None`: it runs until stopped.
    pub run_seconds: Option<f64>,
}

/// Estimates `graph`.
pub fn estimate(graph: &Graph) -> Estimate {
    let n = graph.blocks.len();
    // Rate of each (block, signature output port).
    let mut out_rates: Vec<Vec<Option<f64>>> = graph
        .blocks
        .iter()
        .map(|b| vec![None; b.signature.outputs.len()])
        .collect();
    let mut blocks = Vec::with_capacity(n);
    // Per source: its duration at its rate, if finite (`None` inside: endless or unknown).
    let mut source_seconds: Vec<Option<f64>> = Vec::new();
    for (bi, b) in graph.blocks.iter().enumerate() {
        let mut inputs = PlanInputs::default();
        for (k, (port, _)) in b.stream_inputs().enumerate() {
            let rate = graph
                .edges
                .iter()
                .find(|e| e.to_block == bi && e.to_port == port)
                .and_then(|e| out_rates[e.from_block][e.from_port]);
            inputs.rates.push(rate);
            inputs.types.push(b.input_types[k]);
        }
        let info = b.params.plan(&inputs);
        if b.signature.inputs.is_empty() {
            let rate = info
                .output_rates
                .as_ref()
                .and_then(|r| r.first().copied().flatten());
            source_seconds.push(
                info.items
                    .zip(rate)
                    .map(|(items, rate)| items as f64 / rate),
            );
        }
        let stream_ports: Vec<usize> = b.stream_outputs().map(|(p, _)| p).collect();
        let rates = info
            .output_rates
            .clone()
            .unwrap_or_else(|| vec![inputs.first_rate(); stream_ports.len()]);
        for (k, port) in stream_ports.iter().enumerate() {
            out_rates[bi][*port] = rates.get(k).copied().flatten();
        }
        let sum = |v: &[Option<f64>]| -> Option<f64> {
            if v.is_empty() {
                None
            } else {
                v.iter().copied().sum::<Option<f64>>()
            }
        };
        blocks.push(BlockPlan {
            name: b.name.clone(),
            type_name: b.def.name(),
            items_in: sum(&inputs.rates),
            items_out: sum(&rates),
            paced: info.paced || b.signature.live,
            own_thread: b.signature.blocking || b.signature.live,
            storage: info.storage,
        });
    }
    let mut edges = Vec::new();
    let mut buffer_bytes = 0u64;
    let page = crate::buffer::mirrored::page_size() as u64;
    for (bi, b) in graph.blocks.iter().enumerate() {
        for (k, (port, spec)) in b.stream_outputs().enumerate() {
            let size = b.output_types[k].size() as u64;
            let ring = (crate::runtime::build::buffer_items(graph, bi, port) as u64 * size)
                .div_ceil(page)
                * page;
            buffer_bytes += ring;
            for e in graph
                .edges
                .iter()
                .filter(|e| e.from_block == bi && e.from_port == port)
            {
                if e.policy != EdgePolicy::Block {
                    buffer_bytes += 2 * ring;
                }
                let to = &graph.blocks[e.to_block];
                let rate = out_rates[bi][port];
                edges.push(EdgeRate {
                    from: format!("{}.{}", b.name, spec.name),
                    to: format!("{}.{}", to.name, to.signature.inputs[e.to_port].name),
                    items_per_second: rate,
                    bytes_per_second: rate.map(|r| r * size as f64),
                });
            }
        }
        debug_assert!(b
            .signature
            .outputs
            .iter()
            .all(|p| matches!(p.kind, PortKind::Stream(_) | PortKind::Message)));
    }
    let offline = !blocks.iter().any(|b| b.paced);
    let finite: Option<Vec<f64>> = source_seconds.into_iter().collect();
    let run_seconds = graph
        .settings
        .duration
        .map(|d| d.as_secs_f64())
        .or_else(|| {
            finite
                .filter(|v| !v.is_empty())
                .map(|v| v.into_iter().fold(0.0, f64::max))
        });
    Estimate {
        blocks,
        edges,
        buffer_bytes,
        offline,
        run_seconds,
    }
}
