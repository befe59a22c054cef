//! The block API: everything a block author implements, in one place.
//!
//! A block is four things in one file:
//!
//! 1. a **params struct**: `serde::Deserialize` + `schemars::JsonSchema`, `deny_unknown_fields`,
//!    a `///` doc on every field and named defaults. It *is* the TOML schema and the
//!    reference documentation (`flow blocks NAME`, `docs/blocks.md`);
//! 2. a **block struct** holding the block's state;
//! 3. an impl of [`Block`], whose one required method [`Block::work`] reads input slices and
//!    writes output slices through [`WorkIo`];
//! 4. a [`BlockDef`](crate::registry::BlockDef) impl (name, docs, ports, constructor) and one
//!    line, `flow_framework::register_block!(MyDef);`, that makes it usable from TOML.
//!
//! ```
//! use flow_framework::prelude::*;
//!
//! /// Parameters of `scale`.
//! #[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! pub struct ScaleParams {
//!     /// The factor every sample is multiplied by.
//!     pub factor: f32,
//! }
//!
//! /// Multiplies an `f32` stream by a constant.
//! pub struct Scale { factor: f32 }
//!
//! impl Block for Scale {
//!     fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
//!         let input = io.inputs[0].slice::<f32>();
//!         let output = io.outputs[0].slice_mut::<f32>();
//!         let n = input.len().min(output.len());
//!         for (o, i) in output[..n].iter_mut().zip(input) {
//!             *o = i * self.factor;
//!         }
//!         io.inputs[0].consume(n);
//!         io.outputs[0].produce(n);
//!         Ok(Flow::Continue)
//!     }
//! }
//!
//! /// Registration of `scale`.
//! pub struct ScaleDef;
//! impl BlockDef for ScaleDef {
//!     type Params = ScaleParams;
//!     const NAME: &'static str = "scale";
//!     const SUMMARY: &'static str = "Multiplies an f32 stream by a constant.";
//!     const DOC: &'static str = "Input `in` (f32), output `out` (f32).";
//!     const EXAMPLE: &'static str = "factor = 2.0";
//!     fn signature(_: &ScaleParams) -> Signature {
//!         Signature::new().input("in", ItemType::F32).output("out", ItemType::F32)
//!     }
//!     fn build(p: &ScaleParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
//!         Ok(Box::new(Scale { factor: p.factor }))
//!     }
//! }
//! flow_framework::register_block!(ScaleDef);
//! ```
//!
//! # The work contract
//!
//! - `work` is called when every stream input holds at least its `min_items`, every output
//!   has at least its `min_items` of space, or a message is waiting. It must not block
//!   (blocks that wait on I/O declare [`Signature::blocking`](crate::registry::Signature)
//!   and get their own thread, where waiting with a short timeout is fine).
//! - Consume and produce what you used with `consume(n)` / `produce(n)`; the runtime
//!   releases and publishes after `work` returns and calls it again while there is progress.
//! - Return [`Flow::Done`] when the block has finished by itself (a `head` that reached its
//!   count). End of input is detected by the runtime: when every input is finished and
//!   drained, it calls [`Block::stop`] and ends the block's outputs.
//! - A block with something to do at a time rather than on data (an fsync interval, a
//!   periodic flush) returns that time from [`Block::wake_at`]: `work` is then also called
//!   once it has passed, possibly with empty inputs.
//! - Return an error for anything the block cannot continue from; what happens next is the
//!   block's `on_error` (restart with backoff, stop, or ignore). Panics are caught and
//!   treated as errors. Bad *data* (a malformed packet) is not an error: count it, log it
//!   rate-limited ([`crate::log::RateLimited`]) and continue.

use std::fmt;
use std::sync::Arc;

use crate::metrics::{BlockMetrics, Counter, Health};
pub use crate::port::WorkIo;

/// What a work call tells the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep calling me when there is input or space.
    Continue,
    /// I have finished; end my outputs.
    Done,
}

/// A processing block. See the [module docs](self) for the contract.
pub trait Block: Send {
    /// Called once before the first `work` (and again after each restart): open files,
    /// sockets and devices here, and create counters with [`BlockContext::counter`].
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        let _ = ctx;
        Ok(())
    }

    /// Does the block's work on the current input and output windows.
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError>;

    /// Called once at the end: after the inputs ended, after a stop request (sources), or
    /// before a restart. Flush and finalize here; outputs can still take items.
    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        let _ = io;
        Ok(())
    }

    /// Changes parameter `name` to `value` while running (for the names listed in
    /// [`BlockDef::SETTABLE`](crate::registry::BlockDef::SETTABLE)).
    ///
    /// The runtime calls it on the block's own thread between two `work` calls, after the
    /// value passed the same checks as the TOML file (type, `validate`), so `value` already
    /// has the parameter's type: read it with `value.as_float()`, `as_integer()`, ... Return
    /// an error to refuse it (a device rejected the frequency); the old value then stays.
    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        let _ = value;
        Err(BlockError::config(format!(
            "parameter `{name}` is not settable at run time"
        )))
    }

    /// When `work` must be called even if no input arrives: asked after each call (and before
    /// deciding whether to call), so return the earliest pending deadline or `None`. `work`
    /// then runs once the time has passed, with whatever input there is (possibly none), and
    /// must do its timed duty there (sync a file whose data is older than the fsync interval).
    fn wake_at(&self) -> Option<std::time::Instant> {
        None
    }

    /// For finite sources: the number of items the block will produce in all, which drives
    /// the progress bar of `flow run`.
    fn expected_items(&self) -> Option<u64> {
        None
    }
}

/// What the runtime gives a block at start: its name, its counters and its health.
#[derive(Clone)]
pub struct BlockContext {
    name: Arc<str>,
    metrics: Arc<BlockMetrics>,
}

impl BlockContext {
    /// A context for block `name` reporting into `metrics`.
    pub fn new(name: impl Into<Arc<str>>, metrics: Arc<BlockMetrics>) -> Self {
        BlockContext {
            name: name.into(),
            metrics,
        }
    }

    /// The block's name in the flowgraph (the key of its `[blocks.NAME]` table).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A counter shown in status, metrics and the end-of-run summary (`packets`, `lost`).
    pub fn counter(&self, name: &str) -> Counter {
        self.metrics.counter(name)
    }

    /// A handle to report the block's health from `work`.
    pub fn health(&self) -> HealthHandle {
        HealthHandle(self.metrics.clone())
    }

    /// The block's metrics.
    pub fn metrics(&self) -> &Arc<BlockMetrics> {
        &self.metrics
    }
}

/// Lets a block report its health (shown in status; drives `flow status` and the watchdog).
#[derive(Clone)]
pub struct HealthHandle(Arc<BlockMetrics>);

impl HealthHandle {
    /// Reports healthy.
    pub fn ok(&self) {
        self.0.set_health(Health::Ok, "");
    }
    /// Reports working but impaired (dropping, retrying), with the reason.
    pub fn degraded(&self, reason: &str) {
        self.0.set_health(Health::Degraded, reason);
    }
    /// Reports not working, with the reason.
    pub fn failed(&self, reason: &str) {
        self.0.set_health(Health::Failed, reason);
    }
}

/// What went wrong in a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file, socket or device operation failed.
    Io,
    /// A parameter turned out unusable at run time (a device rejected a sample rate).
    Config,
    /// The block met data it cannot go on from.
    Data,
    /// A bug: a panic in the block, a broken invariant.
    Internal,
}

/// An error from a block, with context.
#[derive(Debug)]
pub struct BlockError {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl BlockError {
    /// An I/O error with what was being done (`"opening /data/x.bin"`).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BlockError {
            kind: ErrorKind::Io,
            message: context.into(),
            source: Some(Box::new(source)),
        }
    }
    /// A run-time configuration problem.
    pub fn config(message: impl Into<String>) -> Self {
        BlockError {
            kind: ErrorKind::Config,
            message: message.into(),
            source: None,
        }
    }
    /// A data problem the block cannot continue from.
    pub fn data(message: impl Into<String>) -> Self {
        BlockError {
            kind: ErrorKind::Data,
            message: message.into(),
            source: None,
        }
    }
    /// An internal error (panic, broken invariant).
    pub fn internal(message: impl Into<String>) -> Self {
        BlockError {
            kind: ErrorKind::Internal,
            message: message.into(),
            source: None,
        }
    }
    /// Wraps any error with context.
    pub fn other(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        BlockError {
            kind: ErrorKind::Io,
            message: context.into(),
            source: Some(Box::new(source)),
        }
    }
    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(s) = &self.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BlockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for BlockError {
    fn from(e: std::io::Error) -> Self {
        BlockError {
            kind: ErrorKind::Io,
            message: "I/O error".into(),
            source: Some(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_carries_context_and_cause() {
        let e = BlockError::io(
            "opening /x/y.bin",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.to_string(), "opening /x/y.bin: entity not found");
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(
            BlockError::config("sample rate 3 Hz rejected").to_string(),
            "sample rate 3 Hz rejected"
        );
    }
}
