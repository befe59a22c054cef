//! The validated flowgraph: blocks with parsed params, resolved port types and edges. It is
//! what [`crate::config`] produces from a TOML file (or a program builds directly) and what
//! [`crate::runtime`] runs. Every check has passed by the time one exists.

use std::sync::Arc;
use std::time::Duration;

use crate::item::ItemType;
use crate::registry::{AnyParams, DynBlockDef, PortKind, Signature};

/// What a full edge does to its producer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgePolicy {
    /// Lossless: the producer waits (a live source drops at its own output instead).
    #[default]
    Block,
    /// The consumer gets its own queue; when full, new items are discarded (counted, gap).
    DropNewest,
    /// The consumer gets its own queue; when full, its backlog is discarded for new items.
    DropOldest,
}

impl EdgePolicy {
    /// The TOML name.
    pub fn name(self) -> &'static str {
        match self {
            EdgePolicy::Block => "block",
            EdgePolicy::DropNewest => "drop_newest",
            EdgePolicy::DropOldest => "drop_oldest",
        }
    }
}

/// What the runtime does when a block fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Stop this block (its consumers see end of stream; its producers stop waiting for it).
    #[default]
    Stop,
    /// Rebuild and restart the block after a backoff (100 ms doubling to 30 s).
    Restart,
    /// Log and count the error, keep calling the block.
    Ignore,
}

/// Which thread runs a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadChoice {
    /// Blocking and live blocks get their own thread, others share the worker pool.
    #[default]
    Auto,
    /// Always its own thread.
    Own,
}

/// Flowgraph-wide settings (`[flowgraph]` table).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Name of the flowgraph.
    pub name: String,
    /// Worker threads for non-blocking blocks (default: one; see `runtime` docs).
    pub workers: Option<usize>,
    /// Default edge buffer size in bytes (256 KiB: large chunks per call keep per-call
    /// overhead and cross-core wake-ups low; see docs/performance.md).
    pub buffer_bytes: usize,
    /// Default message queue length.
    pub message_queue: usize,
    /// Stop after this long (as `flow run --duration`).
    pub duration: Option<Duration>,
    /// A running block with input waiting that makes no progress for this long is stalled
    /// (health red; `flow run --systemd` stops the watchdog pings).
    pub stall_after: Duration,
    /// No stall is reported this long after start (slow first reads, device warm-up).
    pub startup_grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            name: "flowgraph".into(),
            workers: None,
            buffer_bytes: 256 * 1024,
            message_queue: 4096,
            duration: None,
            stall_after: Duration::from_secs(60),
            startup_grace: Duration::from_secs(120),
        }
    }
}

/// A block of a validated flowgraph.
#[derive(Clone)]
pub struct GraphBlock {
    /// Name (the key of `[blocks.NAME]`).
    pub name: String,
    /// The block type.
    pub def: &'static dyn DynBlockDef,
    /// Parsed params.
    pub params: Arc<dyn AnyParams>,
    /// Signature, with variadic inputs expanded to one port per connection.
    pub signature: Signature,
    /// Resolved item type per stream input, in signature order of stream inputs.
    pub input_types: Vec<ItemType>,
    /// Resolved item type per stream output, in signature order of stream outputs.
    pub output_types: Vec<ItemType>,
    /// Failure handling.
    pub on_error: OnError,
    /// Thread placement.
    pub thread: ThreadChoice,
    /// Buffer size override for this block's stream outputs, in items.
    pub buffer_items: Option<usize>,
    /// This block's stall deadline for the watchdog, overriding `[flowgraph] stall_after`.
    pub stall_after: Option<std::time::Duration>,
}

impl GraphBlock {
    /// Signature indices of stream inputs, in order.
    pub fn stream_inputs(&self) -> impl Iterator<Item = (usize, &crate::registry::PortSpec)> {
        self.signature
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.kind, PortKind::Stream(_)))
    }
    /// Signature indices of stream outputs, in order.
    pub fn stream_outputs(&self) -> impl Iterator<Item = (usize, &crate::registry::PortSpec)> {
        self.signature
            .outputs
            .iter()
            .enumerate()
            .filter(|(_, p)| matches!(p.kind, PortKind::Stream(_)))
    }
    /// Signature indices of message inputs, in order.
    pub fn message_inputs(&self) -> impl Iterator<Item = (usize, &crate::registry::PortSpec)> {
        self.signature
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kind == PortKind::Message)
    }
    /// Signature indices of message outputs, in order.
    pub fn message_outputs(&self) -> impl Iterator<Item = (usize, &crate::registry::PortSpec)> {
        self.signature
            .outputs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kind == PortKind::Message)
    }
}

/// A connection from an output port to an input port. Port numbers index the signature's
/// `outputs` / `inputs` lists (stream and message ports together).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Producing block index.
    pub from_block: usize,
    /// Output port index in its signature.
    pub from_port: usize,
    /// Consuming block index.
    pub to_block: usize,
    /// Input port index in its signature.
    pub to_port: usize,
    /// Item type (`None` for message edges).
    pub item_type: Option<ItemType>,
    /// Full-edge policy.
    pub policy: EdgePolicy,
}

/// A validated flowgraph.
#[derive(Clone)]
pub struct Graph {
    /// Settings.
    pub settings: Settings,
    /// Blocks, in a topological order (producers before consumers).
    pub blocks: Vec<GraphBlock>,
    /// Edges.
    pub edges: Vec<Edge>,
    /// Directory relative paths resolve against.
    pub base_dir: std::path::PathBuf,
}

impl Graph {
    /// The index of block `name`.
    pub fn block_index(&self, name: &str) -> Option<usize> {
        self.blocks.iter().position(|b| b.name == name)
    }
}
