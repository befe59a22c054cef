//! Turns a validated [`Graph`] into running parts: places blocks on threads, sizes and
//! creates the buffers (shared rings for lossless edges, private rings for lossy ones),
//! connects message queues, and builds every block.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::buffer::{DropPolicy, PrivateEdge, StreamBuffer, Waker};
use crate::graph::{EdgePolicy, Graph, ThreadChoice};
use crate::metrics::BlockMetrics;
use crate::port::{
    InputSource, MessageInput, MessageOutput, MessageTarget, StreamInput, StreamOutput,
};
use crate::registry::PortKind;

use super::instance::{BlockInstance, InstanceSpec};
use super::{EdgeHandle, RuntimeError};

/// Which thread runs each block: pool groups first, then one thread per own-thread block.
pub(crate) struct Placement {
    /// Thread index per block.
    pub(crate) thread_of: Vec<usize>,
    /// Number of threads.
    pub(crate) threads: usize,
}

/// Worker threads for the non-blocking blocks unless `[flowgraph] workers` says otherwise.
///
/// One: every benchmark so far runs as fast or faster on one worker (copy 10 the same, copy 1
/// 5×, fft 1024 2×; docs/performance.md), because handing items between cores costs more
/// than cheap blocks do, and blocks that wait on I/O have threads of their own anyway. A
/// flowgraph with several heavy processing blocks sets `workers`; `flow plan` says when.
pub(crate) const DEFAULT_WORKERS: usize = 1;

/// Splits the pool blocks (in topological order) into contiguous groups, one per worker, and
/// gives every blocking, live or `thread = "own"` block its own thread.
pub(crate) fn place(graph: &Graph) -> Placement {
    let own: Vec<bool> = graph
        .blocks
        .iter()
        .map(|b| b.signature.blocking || b.signature.live || b.thread == ThreadChoice::Own)
        .collect();
    let pool: Vec<usize> = (0..graph.blocks.len()).filter(|&i| !own[i]).collect();
    let workers = graph
        .settings
        .workers
        .unwrap_or(DEFAULT_WORKERS)
        .clamp(1, pool.len().max(1));
    let mut thread_of = vec![0; graph.blocks.len()];
    for (k, &b) in pool.iter().enumerate() {
        thread_of[b] = k * workers / pool.len().max(1);
    }
    let mut next = if pool.is_empty() { 0 } else { workers };
    for (b, is_own) in own.iter().enumerate() {
        if *is_own {
            thread_of[b] = next;
            next += 1;
        }
    }
    Placement {
        thread_of,
        threads: next,
    }
}

/// The minimum size in items of the buffer behind output `port` of block `bi`: the
/// flowgraph's `buffer_bytes`, the block's `buffer` override, and twice what the producer
/// or any consumer needs per call, whichever is largest (the ring then rounds up to whole
/// pages). Sizing from what blocks declare is what keeps a block that needs more items than
/// the default buffer from deadlocking.
pub(crate) fn buffer_items(graph: &Graph, bi: usize, port: usize) -> usize {
    let block = &graph.blocks[bi];
    let spec = &block.signature.outputs[port];
    let item_size = match spec.kind {
        PortKind::Stream(_) => block
            .stream_outputs()
            .position(|(p, _)| p == port)
            .and_then(|k| block.output_types.get(k))
            .map_or(1, |t| t.size()),
        PortKind::Message => 1,
    };
    let mut items = (graph.settings.buffer_bytes / item_size)
        .max(block.buffer_items.unwrap_or(0))
        .max(2 * spec.min_items);
    for e in graph
        .edges
        .iter()
        .filter(|e| e.from_block == bi && e.from_port == port)
    {
        let reader = &graph.blocks[e.to_block].signature.inputs[e.to_port];
        items = items.max(2 * reader.min_items);
    }
    items
}

/// Everything [`super::Flowgraph::start`] needs to spawn threads.
pub(crate) struct Built {
    pub(crate) instances: Vec<BlockInstance>,
    pub(crate) wakers: Vec<Arc<Waker>>,
    pub(crate) placement: Placement,
    pub(crate) edges: Vec<EdgeHandle>,
    pub(crate) metrics: Vec<Arc<BlockMetrics>>,
    pub(crate) param_handles: Vec<super::settable::ParamHandle>,
}

/// Builds buffers, ports and blocks.
pub(crate) fn build(
    graph: &Graph,
    stop: &Arc<AtomicBool>,
    started_all: &Arc<AtomicBool>,
) -> Result<Built, RuntimeError> {
    let placement = place(graph);
    let wakers: Vec<Arc<Waker>> = (0..placement.threads)
        .map(|_| Arc::new(Waker::new()))
        .collect();
    let waker_of = |block: usize| wakers[placement.thread_of[block]].clone();
    let n = graph.blocks.len();

    let mut inputs: Vec<Vec<Option<InputSource>>> = graph
        .blocks
        .iter()
        .map(|b| vec![None; b.signature.inputs.len()])
        .collect();
    let mut outputs: Vec<Vec<Option<StreamOutput>>> = graph
        .blocks
        .iter()
        .map(|b| (0..b.signature.outputs.len()).map(|_| None).collect())
        .collect();
    let mut edge_handles = Vec::new();

    // Stream outputs: one shared ring each, plus a private ring per lossy edge.
    for (bi, block) in graph.blocks.iter().enumerate() {
        for (stream_k, (port, spec)) in block.stream_outputs().enumerate() {
            let item_type = block.output_types[stream_k];
            let edges: Vec<_> = graph
                .edges
                .iter()
                .filter(|e| e.from_block == bi && e.from_port == port)
                .collect();
            let min_items = buffer_items(graph, bi, port);
            let shared_edges: Vec<_> = edges
                .iter()
                .filter(|e| e.policy == EdgePolicy::Block)
                .collect();
            let buf = Arc::new(
                StreamBuffer::new(
                    item_type,
                    min_items,
                    waker_of(bi),
                    shared_edges.iter().map(|e| waker_of(e.to_block)).collect(),
                )
                .map_err(|e| RuntimeError::Buffer {
                    block: block.name.clone(),
                    error: e,
                })?,
            );
            let mut private = Vec::new();
            for (reader_idx, e) in shared_edges.iter().enumerate() {
                inputs[e.to_block][e.to_port] = Some(InputSource::Shared(buf.clone(), reader_idx));
                edge_handles.push(EdgeHandle::new(graph, e, buf.clone(), None, reader_idx));
            }
            for e in edges.iter().filter(|e| e.policy != EdgePolicy::Block) {
                let ring = StreamBuffer::new(
                    item_type,
                    2 * buf.capacity() as usize,
                    waker_of(bi),
                    vec![waker_of(e.to_block)],
                )
                .map_err(|err| RuntimeError::Buffer {
                    block: block.name.clone(),
                    error: err,
                })?;
                let policy = if e.policy == EdgePolicy::DropOldest {
                    DropPolicy::Oldest
                } else {
                    DropPolicy::Newest
                };
                let edge = Arc::new(PrivateEdge::new(ring, policy));
                inputs[e.to_block][e.to_port] = Some(InputSource::Private(edge.clone()));
                edge_handles.push(EdgeHandle::new(
                    graph,
                    e,
                    buf.clone(),
                    Some(edge.clone()),
                    0,
                ));
                private.push(edge);
            }
            outputs[bi][port] = Some(StreamOutput::new(
                spec.name.clone().into(),
                buf,
                private,
                spec.min_items,
            ));
        }
    }

    // Message inputs: one queue each; every connected output gets a sender.
    let mut msg_inputs: Vec<Vec<Option<MessageInput>>> = graph
        .blocks
        .iter()
        .map(|b| (0..b.signature.inputs.len()).map(|_| None).collect())
        .collect();
    let mut msg_targets: Vec<Vec<Vec<MessageTarget>>> = graph
        .blocks
        .iter()
        .map(|b| (0..b.signature.outputs.len()).map(|_| Vec::new()).collect())
        .collect();
    for (bi, block) in graph.blocks.iter().enumerate() {
        for (port, spec) in block.message_inputs() {
            let (tx, rx) = flume::unbounded();
            for e in graph
                .edges
                .iter()
                .filter(|e| e.to_block == bi && e.to_port == port)
            {
                msg_targets[e.from_block][e.from_port].push(MessageTarget {
                    tx: tx.clone(),
                    rx: (e.policy == EdgePolicy::DropOldest).then(|| rx.clone()),
                    waker: waker_of(bi),
                    capacity: graph.settings.message_queue,
                    policy: e.policy,
                });
            }
            let mut input = MessageInput::new(spec.name.clone().into(), rx);
            input.producers = graph
                .edges
                .iter()
                .filter(|e| e.to_block == bi && e.to_port == port)
                .map(|e| waker_of(e.from_block))
                .collect();
            msg_inputs[bi][port] = Some(input);
        }
    }

    let mut instances = Vec::with_capacity(n);
    let mut metrics = Vec::with_capacity(n);
    let mut param_handles = Vec::with_capacity(n);
    for (bi, block) in graph.blocks.iter().enumerate() {
        let name: Arc<str> = block.name.clone().into();
        let mut ins = Vec::new();
        for (k, (port, spec)) in block.stream_inputs().enumerate() {
            let source = inputs[bi][port].take().unwrap_or(InputSource::None);
            ins.push(StreamInput::new(
                spec.name.clone().into(),
                block.input_types[k],
                source,
                spec.min_items,
            ));
        }
        let outs: Vec<StreamOutput> = outputs[bi].iter_mut().filter_map(Option::take).collect();
        let mins: Vec<MessageInput> = msg_inputs[bi].iter_mut().filter_map(Option::take).collect();
        let mouts: Vec<MessageOutput> = block
            .message_outputs()
            .map(|(port, spec)| {
                MessageOutput::new(
                    spec.name.clone().into(),
                    std::mem::take(&mut msg_targets[bi][port]),
                )
            })
            .collect();
        let m = Arc::new(BlockMetrics::new(ins.len(), outs.len()));
        let build_ctx = crate::registry::BuildContext {
            name: block.name.clone(),
            input_types: block.input_types.clone(),
            output_types: block.output_types.clone(),
            base_dir: graph.base_dir.clone(),
        };
        let b = block
            .params
            .build(&build_ctx)
            .map_err(|e| RuntimeError::Build {
                block: block.name.clone(),
                error: e,
            })?;
        let (handle, port) =
            super::settable::channel(name.clone(), block.def, &block.params, waker_of(bi));
        param_handles.push(handle);
        let spec = InstanceSpec {
            name,
            params: block.params.clone(),
            build_ctx,
            block: b,
            metrics: m.clone(),
            live: block.signature.live,
            propagation: block.signature.propagation,
            on_error: block.on_error,
            stop_requested: stop.clone(),
            started_all: started_all.clone(),
            param_port: Some(port),
        };
        debug_assert!(block
            .signature
            .inputs
            .iter()
            .all(|p| matches!(p.kind, PortKind::Stream(_) | PortKind::Message)));
        instances.push(BlockInstance::new(spec, ins, outs, mins, mouts));
        metrics.push(m);
    }
    Ok(Built {
        instances,
        wakers,
        placement,
        edges: edge_handles,
        metrics,
        param_handles,
    })
}
