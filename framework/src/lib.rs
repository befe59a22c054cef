//! # flow-framework
//!
//! The runtime of **flow**: a staged dataflow framework for recording and processing radio
//! and instrument data, driven by TOML flowgraphs.
//!
//! | module | what it holds |
//! |---|---|
//! | [`block`] | the block API: [`Block`](block::Block), [`Flow`](block::Flow), errors, context |
//! | [`registry`] | [`BlockDef`](registry::BlockDef), signatures, `register_block!` |
//! | [`port`] | typed input/output slices, tags and message queues during `work` |
//! | [`item`], [`tag`], [`message`] | the data model: item types, stream tags, messages |
//! | [`buffer`] | mirrored circular buffers, lossy private edges, wake-ups |
//! | [`graph`] | the validated flowgraph the runtime runs |
//! | [`config`] | TOML loading, interpolation, overrides and validation with locations |
//! | [`runtime`] | scheduler, supervision, stop and drain |
//! | [`harness`] | run one block without the scheduler, for tests |
//! | [`service`] | systemd notification and the stall watchdog |
//! | [`plan`] | `flow plan`: rates, disk, memory and CPU of a flowgraph before it runs |
//! | [`cli`] | the `flow` command line (`run`, `check`, `blocks`, `graph`) |
//!
//! Block authors start from [`prelude`] and the example in [`block`].

pub mod block;
pub mod buffer;
pub mod cli;
pub mod config;
pub mod control;
pub mod docgen;
pub mod graph;
pub mod harness;
pub mod item;
pub mod log;
pub mod message;
pub mod metrics;
pub mod plan;
pub mod port;
pub mod registry;
pub mod runtime;
pub mod service;
pub mod tag;

#[doc(hidden)]
pub use inventory;

/// Everything a block author needs.
pub mod prelude {
    pub use crate::block::{Block, BlockContext, BlockError, Flow, HealthHandle};
    pub use crate::item::{Complex, Cs8, Cu8, Item, ItemType, C16, C32, C64};
    pub use crate::message::{Message, Value};
    pub use crate::metrics::Counter;
    pub use crate::port::{MessageInput, MessageOutput, StreamInput, StreamOutput, WorkIo};
    pub use crate::registry::{
        BlockDef, BuildContext, ParamError, PlanInfo, PlanInputs, Signature, Storage, TypeSpec,
    };
    pub use crate::tag::{ItemTag, Tag, TimeSource};
    pub use crate::{dispatch_item_type, register_block};
    pub use schemars::JsonSchema;
    pub use serde::{Deserialize, Serialize};
}
