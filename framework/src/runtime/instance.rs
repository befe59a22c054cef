//! One running block: the block object, its ports, metrics and supervision state, and
//! [`BlockInstance::step`], which decides whether to call `work`, calls it, commits the
//! result, propagates tags, detects end of stream and applies `on_error`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::block::{Block, BlockContext, BlockError, Flow};
use crate::graph::OnError;
use crate::log::RateLimited;
use crate::metrics::{BlockMetrics, BlockState, Health};
use crate::port::{
    record_output_drops, MessageInput, MessageOutput, StreamInput, StreamOutput, WorkIo,
};
use crate::registry::{AnyParams, BuildContext};
use crate::tag::{ItemTag, Propagation, Tag};

use super::settable::ParamPort;

/// Outcome of one [`BlockInstance::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Something was consumed, produced or handled: call again.
    Progress,
    /// Nothing to do until woken (or until the given instant, for a pending restart).
    Idle(Option<Instant>),
    /// The block has finished.
    Done,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A block with its ports, as the scheduler runs it.
pub(crate) struct BlockInstance {
    pub(crate) name: Arc<str>,
    block: Option<Box<dyn Block>>,
    params: Arc<dyn AnyParams>,
    build_ctx: BuildContext,
    pub(crate) inputs: Vec<StreamInput>,
    pub(crate) outputs: Vec<StreamOutput>,
    pub(crate) msg_in: Vec<MessageInput>,
    pub(crate) msg_out: Vec<MessageOutput>,
    pub(crate) metrics: Arc<BlockMetrics>,
    ctx: BlockContext,
    live: bool,
    propagation: Propagation,
    on_error: OnError,
    backoff: Duration,
    restart_at: Option<Instant>,
    running_since: Option<Instant>,
    started: bool,
    done: bool,
    stop_requested: Arc<AtomicBool>,
    started_all: Arc<AtomicBool>,
    error_log: RateLimited,
    propagated: Vec<ItemTag>,
    param_port: Option<ParamPort>,
}

/// What the instance needs besides its ports.
pub(crate) struct InstanceSpec {
    pub(crate) name: Arc<str>,
    pub(crate) params: Arc<dyn AnyParams>,
    pub(crate) build_ctx: BuildContext,
    pub(crate) block: Box<dyn Block>,
    pub(crate) metrics: Arc<BlockMetrics>,
    pub(crate) live: bool,
    pub(crate) propagation: Propagation,
    pub(crate) on_error: OnError,
    pub(crate) stop_requested: Arc<AtomicBool>,
    /// Set once every block of the flowgraph has run `start`: no block works before.
    pub(crate) started_all: Arc<AtomicBool>,
    /// Run-time parameter changes for this block.
    pub(crate) param_port: Option<ParamPort>,
}

impl BlockInstance {
    pub(crate) fn new(
        spec: InstanceSpec,
        inputs: Vec<StreamInput>,
        outputs: Vec<StreamOutput>,
        msg_in: Vec<MessageInput>,
        msg_out: Vec<MessageOutput>,
    ) -> Self {
        let ctx = BlockContext::new(spec.name.clone(), spec.metrics.clone());
        BlockInstance {
            error_log: RateLimited::new(
                format!("block `{}` failed", spec.name),
                Duration::from_secs(10),
            ),
            name: spec.name,
            block: Some(spec.block),
            params: spec.params,
            build_ctx: spec.build_ctx,
            inputs,
            outputs,
            msg_in,
            msg_out,
            metrics: spec.metrics,
            ctx,
            live: spec.live,
            propagation: spec.propagation,
            on_error: spec.on_error,
            backoff: FIRST_BACKOFF,
            restart_at: None,
            running_since: None,
            started: false,
            done: false,
            stop_requested: spec.stop_requested,
            started_all: spec.started_all,
            propagated: Vec::new(),
            param_port: spec.param_port,
        }
    }

    pub(crate) fn set_on_error(&mut self, on_error: OnError) {
        self.on_error = on_error;
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live
    }

    fn is_source(&self) -> bool {
        self.inputs.is_empty() && self.msg_in.is_empty()
    }

    /// Runs at most one work call.
    pub(crate) fn step(&mut self) -> Step {
        if self.done {
            return Step::Done;
        }
        if let Some(at) = self.restart_at {
            if Instant::now() < at {
                if self.stop_requested.load(Ordering::Relaxed) {
                    return self.end(None);
                }
                return Step::Idle(Some(at));
            }
            self.restart_at = None;
            match self.params.build(&self.build_ctx) {
                Ok(b) => self.block = Some(b),
                Err(e) => return self.fail(e),
            }
            self.started = false;
        }
        if !self.started {
            self.started = true;
            self.running_since = Some(Instant::now());
            let Some(block) = self.block.as_mut() else {
                return self.end(None);
            };
            match catch_unwind(AssertUnwindSafe(|| block.start(&self.ctx))) {
                Ok(Ok(())) => self.metrics.set_state(BlockState::Running),
                Ok(Err(e)) => return self.fail(e),
                Err(p) => return self.fail(panic_error(p)),
            }
        }
        if !self.started_all.load(Ordering::Acquire) {
            // Data flows only once every block is ready (sockets bound, files open), so a
            // sender cannot start before its receiver listens.
            return Step::Idle(Some(Instant::now() + Duration::from_millis(1)));
        }
        if self.is_source() && self.stop_requested.load(Ordering::Relaxed) {
            return self.end(Some(true));
        }
        if let (Some(port), Some(block)) = (&self.param_port, self.block.as_mut()) {
            if port.pending() {
                port.apply(block.as_mut(), &mut self.params);
            }
        }
        for i in &mut self.inputs {
            i.refresh(false);
        }
        for o in &mut self.outputs {
            o.refresh();
        }
        let outputs_closed = !self.outputs.is_empty()
            && self.outputs.iter().all(StreamOutput::closed)
            && !self.msg_out.iter().any(MessageOutput::is_connected);
        if outputs_closed {
            return self.end(Some(false));
        }
        let inputs_finished = (!self.inputs.is_empty() || !self.msg_in.is_empty())
            && self.inputs.iter().all(StreamInput::is_finished)
            && self.msg_in.iter().all(MessageInput::is_finished);
        let in_ready = self.inputs.iter().all(|i| i.ready() || i.is_finished());
        let any_stream_data = self.inputs.is_empty() || self.inputs.iter().any(|i| !i.is_empty());
        let out_ready = self.outputs.iter().all(StreamOutput::ready)
            && self.msg_out.iter().all(MessageOutput::ready);
        let msgs_waiting = self.msg_in.iter().any(|m| !m.is_empty());
        let stream_ready = !self.inputs.is_empty() || self.msg_in.is_empty();
        let inputs_drained = inputs_finished && self.inputs.iter().all(StreamInput::is_empty);
        let wake_at = self.block.as_ref().and_then(|b| b.wake_at());
        let timer_due = wake_at.is_some_and(|t| Instant::now() >= t);
        let call = self.live
            || timer_due
            || (out_ready && ((stream_ready && in_ready && any_stream_data) || msgs_waiting));
        if !call {
            return if inputs_drained {
                self.end(Some(true))
            } else {
                Step::Idle(wake_at)
            };
        }
        let started_at = Instant::now();
        let Some(block) = self.block.as_mut() else {
            return self.end(None);
        };
        let mut io = WorkIo {
            inputs: &mut self.inputs,
            outputs: &mut self.outputs,
            msg_in: &mut self.msg_in,
            msg_out: &mut self.msg_out,
        };
        let result = catch_unwind(AssertUnwindSafe(|| block.work(&mut io)));
        self.metrics.work_calls.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .work_ns
            .fetch_add(started_at.elapsed().as_nanos() as u64, Ordering::Relaxed);
        match result {
            Ok(Ok(flow)) => {
                let progress = self.commit();
                if flow == Flow::Done {
                    return self.end(Some(true));
                }
                if progress {
                    self.metrics.touch();
                    self.maybe_reset_backoff();
                    Step::Progress
                } else if self.inputs.iter().any(|i| i.is_finished() && !i.ready()) {
                    // An input has ended with less left than the block needs per call: the
                    // block cannot make progress any more.
                    self.end(Some(true))
                } else if inputs_finished {
                    Step::Idle(Some(Instant::now() + Duration::from_millis(1)))
                } else {
                    Step::Idle(self.block.as_ref().and_then(|b| b.wake_at()))
                }
            }
            Ok(Err(e)) => self.fail(e),
            Err(p) => self.fail(panic_error(p)),
        }
    }

    /// Publishes what the last work call consumed, produced and tagged.
    fn commit(&mut self) -> bool {
        let mut progress = false;
        if self.propagation == Propagation::Rate && !self.outputs.is_empty() {
            self.propagate_tags();
        }
        for (k, i) in self.inputs.iter_mut().enumerate() {
            progress |= i.commit(self.metrics.items_in.get(k)) > 0;
        }
        let mut lossy = 0;
        for (k, o) in self.outputs.iter_mut().enumerate() {
            let (n, dropped) = o.commit();
            lossy += dropped;
            if n > 0 {
                progress = true;
                if let Some(m) = self.metrics.items_out.get(k) {
                    m.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        if lossy > 0 {
            self.metrics.dropped.fetch_add(lossy, Ordering::Relaxed);
        }
        if record_output_drops(&mut self.outputs, &self.metrics) > 0 {
            progress = true;
        }
        for m in &mut self.msg_in {
            if m.received > 0 {
                self.metrics
                    .messages_in
                    .fetch_add(std::mem::take(&mut m.received), Ordering::Relaxed);
                progress = true;
                for w in &m.producers {
                    w.wake();
                }
            }
        }
        for m in &mut self.msg_out {
            if m.sent > 0 {
                self.metrics
                    .messages_out
                    .fetch_add(std::mem::take(&mut m.sent), Ordering::Relaxed);
                progress = true;
            }
            if m.dropped > 0 {
                self.metrics
                    .dropped
                    .fetch_add(std::mem::take(&mut m.dropped), Ordering::Relaxed);
            }
        }
        progress
    }

    /// The default tag rule: consumed input tags go to every output at the rate-mapped
    /// position (see [`crate::tag`]).
    fn propagate_tags(&mut self) {
        for input in &self.inputs {
            let consumed = input.consumed() as u64;
            if consumed == 0 {
                continue;
            }
            let in_start = input.window_start();
            self.propagated.clear();
            self.propagated
                .extend(input.consumed_tags().filter(|t| t.tag != Tag::Eos).cloned());
            for out in &mut self.outputs {
                let produced = out.produced() as u64;
                let out_start = out.window_start();
                for t in &self.propagated {
                    let offset =
                        (t.position - in_start) as u128 * produced as u128 / consumed as u128;
                    out.push_propagated(ItemTag {
                        position: out_start + offset as u64,
                        tag: t.tag.clone(),
                    });
                }
            }
        }
    }

    fn maybe_reset_backoff(&mut self) {
        if self.backoff > FIRST_BACKOFF
            && self
                .running_since
                .is_some_and(|t| t.elapsed() > Duration::from_secs(30))
        {
            self.backoff = FIRST_BACKOFF;
        }
    }

    /// Applies `on_error`.
    fn fail(&mut self, e: BlockError) -> Step {
        let msg = e.to_string();
        self.metrics.record_error(&msg);
        self.error_log.error(&msg);
        match self.on_error {
            OnError::Ignore => {
                self.metrics.set_health(Health::Degraded, &msg);
                Step::Idle(Some(Instant::now() + Duration::from_millis(10)))
            }
            OnError::Stop => {
                self.metrics.set_health(Health::Failed, &msg);
                self.end(None)
            }
            OnError::Restart => {
                self.metrics
                    .set_health(Health::Degraded, &format!("restarting after: {msg}"));
                if let Some(mut b) = self.block.take() {
                    // Forget what the failed call consumed and produced: the new instance
                    // starts from the last committed positions, so nothing is lost.
                    for i in &mut self.inputs {
                        i.refresh(false);
                    }
                    for o in &mut self.outputs {
                        o.refresh();
                    }
                    let mut io = WorkIo {
                        inputs: &mut self.inputs,
                        outputs: &mut self.outputs,
                        msg_in: &mut self.msg_in,
                        msg_out: &mut self.msg_out,
                    };
                    let _ = catch_unwind(AssertUnwindSafe(|| b.stop(&mut io)));
                    self.commit();
                }
                self.metrics.restarts.fetch_add(1, Ordering::Relaxed);
                self.metrics.set_state(BlockState::Restarting);
                tracing::warn!(block = %self.name, backoff_ms = self.backoff.as_millis() as u64, "restarting block");
                self.restart_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                Step::Idle(self.restart_at)
            }
        }
    }

    /// Ends the block: optionally calls `stop` (flush), then ends outputs and releases
    /// inputs. `Some(true)`: normal end with stop; `Some(false)`: nobody listens, stop
    /// anyway; `None`: after a failure (stop is attempted, errors only logged).
    fn end(&mut self, clean: Option<bool>) -> Step {
        if let Some(mut b) = self.block.take() {
            for o in &mut self.outputs {
                o.refresh();
            }
            for i in &mut self.inputs {
                i.refresh(true);
            }
            let mut io = WorkIo {
                inputs: &mut self.inputs,
                outputs: &mut self.outputs,
                msg_in: &mut self.msg_in,
                msg_out: &mut self.msg_out,
            };
            match catch_unwind(AssertUnwindSafe(|| b.stop(&mut io))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    self.metrics.record_error(&e.to_string());
                    self.metrics.set_health(Health::Failed, &e.to_string());
                    tracing::error!(block = %self.name, error = %e, "stopping block failed");
                }
                Err(p) => {
                    let e = panic_error(p);
                    self.metrics.record_error(&e.to_string());
                    tracing::error!(block = %self.name, error = %e, "stopping block panicked");
                }
            }
            self.commit();
        }
        for o in &mut self.outputs {
            o.finish();
        }
        for m in &mut self.msg_out {
            m.close();
        }
        for i in &self.inputs {
            i.detach();
        }
        self.msg_in.clear();
        if let Some(port) = self.param_port.take() {
            port.refuse_all();
        }
        self.done = true;
        self.metrics.set_state(if clean.is_some() {
            BlockState::Done
        } else {
            BlockState::Failed
        });
        Step::Done
    }

    /// Items the block expects to produce (progress bar).
    pub(crate) fn expected_items(&self) -> Option<u64> {
        self.block.as_ref().and_then(|b| b.expected_items())
    }
}

fn panic_error(p: Box<dyn std::any::Any + Send>) -> BlockError {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    BlockError::internal(format!("panicked: {msg}"))
}
