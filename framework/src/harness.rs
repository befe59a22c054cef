//! A harness that runs one block without the scheduler, for unit tests: feed input items,
//! tags and messages, run the block until it can do no more, and read what it produced.
//!
//! It drives the block through the same ports and the same `step` logic as the runtime
//! (readiness, tag propagation, end of stream, `on_error`), so what passes here behaves the
//! same in a flowgraph.
//!
//! ```
//! use flow_framework::harness::Harness;
//! # use flow_framework::prelude::*;
//! # #[derive(Serialize, Deserialize, JsonSchema)] struct P {}
//! # struct Neg; impl Block for Neg { fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
//! #   let i = io.inputs[0].slice::<f32>(); let o = io.outputs[0].slice_mut::<f32>();
//! #   let n = i.len().min(o.len()); for k in 0..n { o[k] = -i[k]; }
//! #   io.inputs[0].consume(n); io.outputs[0].produce(n); Ok(Flow::Continue) } }
//! # struct NegDef; impl BlockDef for NegDef { type Params = P; const NAME: &'static str = "neg_doc";
//! #   const SUMMARY: &'static str = ""; const DOC: &'static str = ""; const EXAMPLE: &'static str = "";
//! #   fn signature(_: &P) -> Signature { Signature::new().input("in", ItemType::F32).output("out", ItemType::F32) }
//! #   fn build(_: &P, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> { Ok(Box::new(Neg)) } }
//! let mut h = Harness::of::<NegDef>(P {}, &[ItemType::F32]).unwrap();
//! h.push_input(0, &[1.0f32, -2.0]);
//! h.run_to_end().unwrap();
//! assert_eq!(h.output::<f32>(0), vec![-1.0, 2.0]);
//! ```

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::buffer::{StreamBuffer, Waker};
use crate::graph::{EdgePolicy, OnError};
use crate::item::{Item, ItemType};
use crate::message::Message;
use crate::metrics::BlockMetrics;
use crate::port::{
    InputSource, MessageInput, MessageOutput, MessageTarget, StreamInput, StreamOutput,
};
use crate::registry::{
    AnyParams, BlockDef, BuildContext, DynBlockDef, PortKind, Signature, TypeSpec,
};
use crate::runtime::instance::{BlockInstance, InstanceSpec, Step};
use crate::tag::{ItemTag, Tag};

/// Why a harness could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// No block of that name is registered.
    #[error("no block type `{0}` is registered")]
    UnknownBlock(String),
    /// The params did not parse.
    #[error("params of `{block}` at `{path}`: {message}")]
    Params {
        /// Block type.
        block: String,
        /// Path of the bad value.
        path: String,
        /// Parser message.
        message: String,
    },
    /// The params TOML did not parse.
    #[error("params TOML: {0}")]
    Toml(String),
    /// Wrong number of input types, or a type the signature does not allow.
    #[error("{0}")]
    Types(String),
    /// The block's constructor failed.
    #[error("building the block: {0}")]
    Build(crate::block::BlockError),
    /// A buffer could not be created.
    #[error("buffer: {0}")]
    Buffer(std::io::Error),
    /// The block did not finish in time.
    #[error("the block did not finish within {0:?}")]
    Timeout(Duration),
}

struct PendingInput {
    buf: Arc<StreamBuffer>,
    data: VecDeque<u8>,
    tags: Vec<ItemTag>,
    written: u64,
    finished: bool,
}

/// Runs one block in isolation.
pub struct Harness {
    inst: BlockInstance,
    inputs: Vec<PendingInput>,
    outputs: Vec<(Arc<StreamBuffer>, Vec<u8>, Vec<ItemTag>)>,
    msg_tx: Vec<Option<flume::Sender<Message>>>,
    msg_rx: Vec<(flume::Receiver<Message>, Vec<Message>)>,
    metrics: Arc<BlockMetrics>,
    stop: Arc<AtomicBool>,
    params: crate::runtime::ParamHandle,
    keep_outputs: bool,
    /// The block's signature.
    pub signature: Signature,
}

impl Harness {
    /// A harness for block `D` with `params`, whose stream inputs carry `input_types`.
    pub fn of<D: BlockDef>(
        params: D::Params,
        input_types: &[ItemType],
    ) -> Result<Self, HarnessError> {
        let value =
            toml::Value::try_from(&params).map_err(|e| HarnessError::Toml(e.to_string()))?;
        let def = crate::registry::DefAdapter::<D>::INSTANCE;
        let parsed = def.parse(value).map_err(|e| HarnessError::Params {
            block: D::NAME.into(),
            path: e.path,
            message: e.message,
        })?;
        Self::with_params(def, parsed, input_types)
    }

    /// A harness for the registered block `type_name` with params given as a TOML table body.
    pub fn new(
        type_name: &str,
        params_toml: &str,
        input_types: &[ItemType],
    ) -> Result<Self, HarnessError> {
        let def = crate::registry::find(type_name)
            .ok_or_else(|| HarnessError::UnknownBlock(type_name.into()))?;
        let table: toml::Table = params_toml
            .parse()
            .map_err(|e: toml::de::Error| HarnessError::Toml(e.to_string()))?;
        let parsed = def
            .parse(toml::Value::Table(table))
            .map_err(|e| HarnessError::Params {
                block: type_name.into(),
                path: e.path,
                message: e.message,
            })?;
        Self::with_params(def, parsed, input_types)
    }

    fn with_params(
        def: &'static dyn DynBlockDef,
        params: Arc<dyn AnyParams>,
        input_types: &[ItemType],
    ) -> Result<Self, HarnessError> {
        let mut sig = params.signature();
        // Expand a variadic input to as many ports as input types were given.
        let fixed = sig
            .inputs
            .iter()
            .filter(|p| !p.variadic && matches!(p.kind, PortKind::Stream(_)))
            .count();
        if let Some(pos) = sig.inputs.iter().position(|p| p.variadic) {
            let proto = sig.inputs.remove(pos);
            for k in 0..input_types.len().saturating_sub(fixed) {
                let mut p = proto.clone();
                p.name = format!("{}{k}", proto.name).into();
                p.variadic = false;
                sig.inputs.insert(pos + k, p);
            }
        }
        let stream_in: Vec<_> = sig
            .inputs
            .iter()
            .filter_map(|p| match p.kind {
                PortKind::Stream(t) => Some((p, t)),
                PortKind::Message => None,
            })
            .collect();
        if stream_in.len() != input_types.len() {
            return Err(HarnessError::Types(format!(
                "`{}` has {} stream inputs but {} input types were given",
                def.name(),
                stream_in.len(),
                input_types.len()
            )));
        }
        let mut generic: Option<ItemType> = None;
        for ((p, t), actual) in stream_in.iter().zip(input_types) {
            match t {
                TypeSpec::Fixed(want) if want != actual => {
                    return Err(HarnessError::Types(format!(
                        "input `{}` expects {want}, got {actual}",
                        p.name
                    )))
                }
                TypeSpec::Generic => generic = Some(*actual),
                _ => {}
            }
        }
        let mut output_types = Vec::new();
        for p in &sig.outputs {
            if let PortKind::Stream(t) = p.kind {
                output_types.push(match t {
                    TypeSpec::Fixed(x) => x,
                    TypeSpec::Generic => generic.ok_or_else(|| {
                        HarnessError::Types(format!(
                            "output `{}` is generic but no generic input was given",
                            p.name
                        ))
                    })?,
                });
            }
        }
        let waker = Arc::new(Waker::new());
        let ctx = BuildContext {
            name: def.name().into(),
            input_types: input_types.to_vec(),
            output_types: output_types.clone(),
            base_dir: std::env::temp_dir(),
        };
        let block = params.build(&ctx).map_err(HarnessError::Build)?;

        let mut inputs = Vec::new();
        let mut ins = Vec::new();
        for ((p, _), t) in stream_in.iter().zip(input_types) {
            let buf = Arc::new(
                StreamBuffer::new(
                    *t,
                    (65536 / t.size()).max(4 * p.min_items),
                    waker.clone(),
                    vec![waker.clone()],
                )
                .map_err(HarnessError::Buffer)?,
            );
            ins.push(StreamInput::new(
                p.name.clone().into(),
                *t,
                InputSource::Shared(buf.clone(), 0),
                p.min_items,
            ));
            inputs.push(PendingInput {
                buf,
                data: VecDeque::new(),
                tags: Vec::new(),
                written: 0,
                finished: false,
            });
        }
        let mut outputs = Vec::new();
        let mut outs = Vec::new();
        let mut k = 0;
        for p in &sig.outputs {
            if let PortKind::Stream(_) = p.kind {
                let t = output_types[k];
                k += 1;
                let buf = Arc::new(
                    StreamBuffer::new(
                        t,
                        (65536 / t.size()).max(4 * p.min_items),
                        waker.clone(),
                        vec![waker.clone()],
                    )
                    .map_err(HarnessError::Buffer)?,
                );
                outs.push(StreamOutput::new(
                    p.name.clone().into(),
                    buf.clone(),
                    Vec::new(),
                    p.min_items,
                ));
                outputs.push((buf, Vec::new(), Vec::new()));
            }
        }
        let mut msg_tx = Vec::new();
        let mut mins = Vec::new();
        for p in sig.inputs.iter().filter(|p| p.kind == PortKind::Message) {
            let (tx, rx) = flume::unbounded();
            msg_tx.push(Some(tx));
            mins.push(MessageInput::new(p.name.clone().into(), rx));
        }
        let mut msg_rx = Vec::new();
        let mut mouts = Vec::new();
        for p in sig.outputs.iter().filter(|p| p.kind == PortKind::Message) {
            let (tx, rx) = flume::unbounded();
            let target = MessageTarget {
                tx,
                rx: None,
                waker: waker.clone(),
                capacity: usize::MAX,
                policy: EdgePolicy::Block,
            };
            mouts.push(MessageOutput::new(p.name.clone().into(), vec![target]));
            msg_rx.push((rx, Vec::new()));
        }
        let metrics = Arc::new(BlockMetrics::new(ins.len(), outs.len()));
        let stop = Arc::new(AtomicBool::new(false));
        let (params_handle, param_port) =
            crate::runtime::settable::channel(def.name().into(), def, &params, waker.clone());
        let spec = InstanceSpec {
            name: def.name().into(),
            params,
            build_ctx: ctx,
            block,
            metrics: metrics.clone(),
            live: sig.live,
            propagation: sig.propagation,
            on_error: OnError::Stop,
            stop_requested: stop.clone(),
            started_all: Arc::new(AtomicBool::new(true)),
            param_port: Some(param_port),
        };
        Ok(Harness {
            inst: BlockInstance::new(spec, ins, outs, mins, mouts),
            inputs,
            outputs,
            msg_tx,
            msg_rx,
            metrics,
            stop,
            params: params_handle,
            keep_outputs: true,
            signature: sig,
        })
    }

    /// Sets what happens when the block fails (default: stop).
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.inst.set_on_error(on_error);
        self
    }

    /// Drops what the block produces instead of keeping it (for long runs, such as CPU
    /// calibration); counters still count it.
    pub fn discard_outputs(mut self) -> Self {
        self.keep_outputs = false;
        self
    }

    /// Bytes queued on stream input `port` and not yet fed to the block.
    pub fn queued_input_bytes(&self, port: usize) -> usize {
        self.inputs[port].data.len()
    }

    /// Queues items on stream input `port`.
    pub fn push_input<T: Item>(&mut self, port: usize, items: &[T]) {
        self.inputs[port]
            .data
            .extend(bytemuck::cast_slice::<T, u8>(items));
    }

    /// Tags the next item pushed on stream input `port` (offset counts from it).
    pub fn push_tag(&mut self, port: usize, offset: u64, tag: Tag) {
        let input = &mut self.inputs[port];
        let queued = input.data.len() as u64 / input.buf.item_type().size() as u64;
        input.tags.push(ItemTag {
            position: input.written + queued + offset,
            tag,
        });
    }

    /// Queues a message on message input `port`.
    pub fn push_message(&mut self, port: usize, msg: Message) {
        if let Some(tx) = &self.msg_tx[port] {
            let _ = tx.send(msg);
        }
    }

    /// Ends every input (streams and messages) after what was queued.
    pub fn finish_inputs(&mut self) {
        for i in &mut self.inputs {
            i.finished = true;
        }
        for tx in &mut self.msg_tx {
            *tx = None;
        }
    }

    /// Asks a source to stop, as Ctrl-C does.
    pub fn request_stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Runs until the block neither makes progress nor can be fed more input.
    /// Returns true if the block has finished.
    pub fn run(&mut self) -> bool {
        loop {
            let fed = self.feed();
            let step = self.inst.step();
            self.drain();
            match step {
                Step::Done => return true,
                Step::Progress => {}
                Step::Idle(Some(at)) => {
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    return false;
                }
                Step::Idle(None) if fed => {}
                Step::Idle(None) => {
                    if !self.inst.is_live() {
                        return false;
                    }
                }
            }
        }
    }

    /// Runs a live or timed block for `d`, or until it finishes. Returns true if finished.
    pub fn run_for(&mut self, d: Duration) -> bool {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.feed();
            let step = self.inst.step();
            self.drain();
            match step {
                Step::Done => return true,
                Step::Idle(Some(at)) => {
                    std::thread::sleep(at.min(end).saturating_duration_since(Instant::now()))
                }
                Step::Idle(None) => std::thread::sleep(Duration::from_millis(1)),
                Step::Progress => {}
            }
        }
        false
    }

    /// Ends the inputs and runs the block to its end (at most 60 s).
    pub fn run_to_end(&mut self) -> Result<(), HarnessError> {
        self.finish_inputs();
        let limit = Duration::from_secs(60);
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.run() {
                return Ok(());
            }
        }
        Err(HarnessError::Timeout(limit))
    }

    fn feed(&mut self) -> bool {
        let mut fed = false;
        for i in &mut self.inputs {
            let size = i.buf.item_type().size();
            let (w, free) = i.buf.writable();
            let n = ((i.data.len() / size) as u64).min(free);
            if n > 0 {
                let bytes = n as usize * size;
                let (a, b) = i.data.as_slices();
                let dst = i.buf.ptr_at(w);
                // SAFETY: the writer owns w..w+free; we copy `bytes` <= free*size.
                unsafe {
                    let first = a.len().min(bytes);
                    std::ptr::copy_nonoverlapping(a.as_ptr(), dst, first);
                    std::ptr::copy_nonoverlapping(b.as_ptr(), dst.add(first), bytes - first);
                }
                i.data.drain(..bytes);
                let end = w + n;
                let split = i.tags.partition_point(|t| t.position < end);
                let mut tags: Vec<ItemTag> = i.tags.drain(..split).collect();
                i.buf.commit(n, &mut tags);
                i.written = end;
                fed = true;
            }
            if i.finished && i.data.is_empty() && !i.buf.is_finished() {
                let mut tags: Vec<ItemTag> = std::mem::take(&mut i.tags);
                tags.push(ItemTag {
                    position: i.written,
                    tag: Tag::Eos,
                });
                i.buf.commit(0, &mut tags);
                i.buf.finish();
                fed = true;
            }
        }
        fed
    }

    fn drain(&mut self) {
        for (buf, data, tags) in &mut self.outputs {
            let win = buf.readable(0);
            if win.available > 0 && self.keep_outputs {
                let bytes = win.available as usize * buf.item_type().size();
                // SAFETY: the reader may read its window.
                data.extend_from_slice(unsafe {
                    std::slice::from_raw_parts(buf.ptr_at(win.pos), bytes)
                });
            }
            let mut t = Vec::new();
            buf.tags_in(
                win.pos,
                win.pos + win.available + u64::from(win.finished),
                &mut t,
            );
            if self.keep_outputs {
                for tag in t {
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
            }
            buf.consume(0, win.available);
        }
        for (rx, got) in &mut self.msg_rx {
            if self.keep_outputs {
                got.extend(rx.try_iter());
            } else {
                rx.try_iter().for_each(drop);
            }
        }
    }

    /// Everything produced on stream output `port` so far.
    pub fn output<T: Item>(&self, port: usize) -> Vec<T> {
        let (buf, data, _) = &self.outputs[port];
        assert_eq!(
            buf.item_type(),
            T::TYPE,
            "output {port} carries {}",
            buf.item_type()
        );
        bytemuck::pod_collect_to_vec(data)
    }

    /// The tags produced on stream output `port` so far.
    pub fn output_tags(&self, port: usize) -> &[ItemTag] {
        &self.outputs[port].2
    }

    /// The messages sent on message output `port` so far.
    pub fn messages(&self, port: usize) -> &[Message] {
        &self.msg_rx[port].1
    }

    /// The block's metrics (counters, health, errors).
    pub fn metrics(&self) -> &BlockMetrics {
        &self.metrics
    }

    /// The value of the block's counter `name`.
    pub fn counter(&self, name: &str) -> u64 {
        self.metrics.counter(name).get()
    }

    /// Changes a parameter as the control port does (same checks), applied at the next step.
    pub fn set_param(&mut self, name: &str, value: toml::Value) -> crate::runtime::SetParamResult {
        let answer = self.params.request(name, value);
        self.inst.step();
        self.drain();
        answer.try_recv().unwrap_or_else(|_| {
            Err(crate::runtime::SetParamError::NotRunning(
                self.signature_name(),
            ))
        })
    }

    fn signature_name(&self) -> String {
        self.params.type_name().to_string()
    }

    /// True once the block has finished.
    pub fn is_done(&self) -> bool {
        self.inst.is_done()
    }
}
