//! The runtime: starts a validated [`Graph`], runs its blocks on a worker pool (plus one
//! thread per blocking or live block), and stops it by draining.
//!
//! Scheduling: non-blocking blocks run on a pool of worker threads (one by default,
//! `[flowgraph] workers` for more), split in topological order into one contiguous group per
//! worker; each worker loops over its group calling every block that is ready, spins briefly
//! and parks when none made progress. Buffers wake the right thread when data or space
//! appears, so an idle flowgraph costs nothing. Blocks that wait on I/O (sources, sinks,
//! live sources) get their own thread and may block briefly inside `work`.
//!
//! Stopping: [`Flowgraph::stop`] asks every source to finish; end of stream then flows down
//! the graph, so every block drains its inputs and every sink flushes and finalizes.

pub(crate) mod build;
pub(crate) mod instance;
pub mod settable;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::block::BlockError;
use crate::buffer::{PrivateEdge, StreamBuffer, Waker};
use crate::graph::{Edge, EdgePolicy, Graph};
use crate::metrics::{BlockMetrics, BlockState};

use instance::{BlockInstance, Step};
pub use settable::{ParamHandle, SetParamError, SetParamResult};

/// Why a flowgraph could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A block's constructor failed.
    #[error("block `{block}`: {error}")]
    Build {
        /// Block name.
        block: String,
        /// The error.
        error: BlockError,
    },
    /// A buffer could not be allocated.
    #[error("block `{block}`: allocating a stream buffer: {error}")]
    Buffer {
        /// Block name.
        block: String,
        /// The error.
        error: std::io::Error,
    },
    /// A thread could not be spawned.
    #[error("spawning a thread: {0}")]
    Thread(std::io::Error),
}

/// An edge as observers see it (fill level, drops).
#[derive(Clone)]
pub struct EdgeHandle {
    /// `block.port` of the producer.
    pub from: String,
    /// `block.port` of the consumer.
    pub to: String,
    /// Policy.
    pub policy: EdgePolicy,
    buffer: Arc<StreamBuffer>,
    private: Option<Arc<PrivateEdge>>,
    /// The consumer's reader index in the shared buffer (unused for a private edge).
    reader: usize,
    /// Items the consumer needs before its `work` is due (its input's `min_items`).
    needs: u64,
    /// Space the producer needs before its `work` can run (its output's `min_items`).
    producer_needs: u64,
}

impl EdgeHandle {
    fn new(
        graph: &Graph,
        e: &Edge,
        buffer: Arc<StreamBuffer>,
        private: Option<Arc<PrivateEdge>>,
        reader: usize,
    ) -> Self {
        let from_b = &graph.blocks[e.from_block];
        let to_b = &graph.blocks[e.to_block];
        EdgeHandle {
            reader,
            needs: to_b.signature.inputs[e.to_port].min_items.max(1) as u64,
            producer_needs: from_b.signature.outputs[e.from_port].min_items.max(1) as u64,
            from: format!(
                "{}.{}",
                from_b.name, from_b.signature.outputs[e.from_port].name
            ),
            to: format!("{}.{}", to_b.name, to_b.signature.inputs[e.to_port].name),
            policy: e.policy,
            buffer,
            private,
        }
    }

    /// Fill level of the edge's queue, 0.0 to 1.0.
    pub fn fill(&self) -> f64 {
        let b = self.private.as_ref().map_or(&*self.buffer, |p| p.buffer());
        b.fill() as f64 / b.capacity() as f64
    }

    /// Items waiting for this edge's consumer (not the slowest reader of a shared buffer:
    /// this consumer's own backlog).
    pub fn pending(&self) -> u64 {
        match &self.private {
            Some(p) => p.buffer().readable(0).available,
            None => self.buffer.readable(self.reader).available,
        }
    }

    /// True when the consumer has work to do on this edge: it holds at least the items the
    /// consumer declared it needs (`min_items`), or the producer has finished and some are
    /// left. A block whose input only holds part of a chunk is waiting for its upstream,
    /// not stalled, however slow the rate.
    pub fn work_due(&self) -> bool {
        let b = self.private.as_ref().map_or(&*self.buffer, |p| p.buffer());
        let pending = self.pending();
        pending >= self.needs || (pending > 0 && b.is_finished())
    }

    /// True when this edge holds its producer back: a shared (`block` policy) buffer
    /// without the space the producer needs, because a consumer has not read it. A lossy
    /// edge never holds its producer back.
    pub fn holds_producer_back(&self) -> bool {
        self.private.is_none()
            && self.buffer.capacity() - self.buffer.fill().min(self.buffer.capacity())
                < self.producer_needs
    }

    /// Capacity of the edge's queue in items.
    pub fn capacity(&self) -> u64 {
        self.private
            .as_ref()
            .map_or(&*self.buffer, |p| p.buffer())
            .capacity()
    }

    /// Items discarded on this edge (lossy policies).
    pub fn dropped(&self) -> u64 {
        self.private.as_ref().map_or(0, |p| p.dropped())
    }
}

/// A block as observers see it.
#[derive(Clone)]
pub struct BlockHandle {
    /// Name.
    pub name: String,
    /// TOML type.
    pub type_name: &'static str,
    /// Metrics.
    pub metrics: Arc<BlockMetrics>,
    /// For finite sources, the items they will produce.
    pub expected_items: Option<u64>,
    /// True for live sources.
    pub live: bool,
    /// Run-time parameter changes.
    pub params: ParamHandle,
}

struct Completion {
    finished_threads: Mutex<usize>,
    cond: Condvar,
}

/// A running flowgraph.
pub struct Flowgraph {
    threads: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    wakers: Vec<Arc<Waker>>,
    completion: Arc<Completion>,
    started: Instant,
    /// Blocks, in graph order.
    pub blocks: Vec<BlockHandle>,
    /// Stream edges.
    pub edges: Vec<EdgeHandle>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Blocks that ended in the failed state, with their last error.
    pub failed: Vec<(String, String)>,
}

impl Flowgraph {
    /// Builds every block and starts the threads.
    pub fn start(graph: &Graph) -> Result<Flowgraph, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let started_all = Arc::new(AtomicBool::new(false));
        let built = build::build(graph, &stop, &started_all)?;
        let blocks = graph
            .blocks
            .iter()
            .zip(&built.instances)
            .zip(&built.metrics)
            .zip(built.param_handles)
            .map(|(((b, inst), m), params)| BlockHandle {
                name: b.name.clone(),
                type_name: b.def.name(),
                metrics: m.clone(),
                expected_items: inst.expected_items(),
                live: inst.is_live(),
                params,
            })
            .collect();
        let mut groups: Vec<Vec<BlockInstance>> =
            (0..built.placement.threads).map(|_| Vec::new()).collect();
        for (i, inst) in built.instances.into_iter().enumerate() {
            groups[built.placement.thread_of[i]].push(inst);
        }
        let completion = Arc::new(Completion {
            finished_threads: Mutex::new(0),
            cond: Condvar::new(),
        });
        let mut threads = Vec::new();
        for (k, group) in groups.into_iter().enumerate() {
            let waker = built.wakers[k].clone();
            let completion = completion.clone();
            let label = group
                .first()
                .map_or("idle".to_string(), |b| b.name.to_string());
            let handle = std::thread::Builder::new()
                .name(format!("flow-{label}"))
                .spawn(move || {
                    run_group(group, &waker);
                    let mut n = completion
                        .finished_threads
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    *n += 1;
                    completion.cond.notify_all();
                })
                .map_err(RuntimeError::Thread)?;
            threads.push(handle);
        }
        let fg = Flowgraph {
            threads,
            stop,
            wakers: built.wakers,
            completion,
            started: Instant::now(),
            blocks,
            edges: built.edges,
        };
        fg.wait_started(START_WAIT);
        // Every block is ready: let the data flow.
        started_all.store(true, Ordering::Release);
        for w in &fg.wakers {
            w.wake();
        }
        Ok(fg)
    }

    /// Waits until every block has run its `start` (opened its files, bound its sockets),
    /// successfully or not, so that a caller can rely on the flowgraph being ready: a test can
    /// send packets, a service manager can be told READY. Gives up after `limit`, naming the
    /// blocks still starting.
    fn wait_started(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let starting: Vec<&str> = self
                .blocks
                .iter()
                .filter(|b| b.metrics.state() == BlockState::Idle)
                .map(|b| b.name.as_str())
                .collect();
            if starting.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                tracing::warn!(blocks = ?starting, "blocks still starting after {limit:?}; running anyway");
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Asks the sources to finish; everything downstream drains, flushes and finalizes.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        for w in &self.wakers {
            w.wake();
        }
    }

    /// True once a stop was requested.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// True when every block has finished.
    pub fn is_finished(&self) -> bool {
        *self
            .completion
            .finished_threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            == self.threads.len()
    }

    /// Waits up to `timeout` for the run to finish; true if it has.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut n = self
            .completion
            .finished_threads
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while *n < self.threads.len() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            n = self
                .completion
                .cond
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// The block named `name`.
    pub fn block(&self, name: &str) -> Option<&BlockHandle> {
        self.blocks.iter().find(|b| b.name == name)
    }

    /// Changes parameter `param` of block `block` while running and waits up to `timeout`
    /// for the block to apply it (see [`settable`]). Returns the effective value.
    pub fn set_param(
        &self,
        block: &str,
        param: &str,
        value: toml::Value,
        timeout: Duration,
    ) -> SetParamResult {
        self.block(block)
            .ok_or_else(|| SetParamError::UnknownBlock(block.into()))?
            .params
            .set(param, value, timeout)
    }

    /// Time since start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits for the end of the run.
    pub fn wait(self) -> RunReport {
        for t in self.threads {
            let _ = t.join();
        }
        let failed = self
            .blocks
            .iter()
            .filter(|b| b.metrics.state() == BlockState::Failed)
            .map(|b| (b.name.clone(), b.metrics.last_error()))
            .collect();
        RunReport {
            elapsed: self.started.elapsed(),
            failed,
        }
    }
}

/// How long [`Flowgraph::start`] waits for every block's `start` to return.
const START_WAIT: Duration = Duration::from_secs(30);
/// How often a block is called in a row while it makes progress, before the worker moves on.
const BURST: usize = 4;
/// Most passes without progress a worker spins through before it parks.
const MAX_SPIN_PASSES: u32 = 256;
/// Longest sleep of an idle thread (a safety net; wake-ups normally end it sooner).
const IDLE_PARK: Duration = Duration::from_millis(100);

/// The loop of one thread: call every ready block; park when nobody made progress.
fn run_group(mut blocks: Vec<BlockInstance>, waker: &Waker) {
    waker.bind_current();
    let mut idle_passes = 0u32;
    let mut spin_budget = MAX_SPIN_PASSES;
    loop {
        let mut progressed = false;
        let mut all_done = true;
        let mut wake_at: Option<Instant> = None;
        for b in &mut blocks {
            for _ in 0..BURST {
                match b.step() {
                    Step::Progress => progressed = true,
                    Step::Idle(at) => {
                        if let Some(at) = at {
                            wake_at = Some(wake_at.map_or(at, |w| w.min(at)));
                        }
                        break;
                    }
                    Step::Done => break,
                }
            }
            all_done &= b.is_done();
        }
        if all_done {
            break;
        }
        if progressed {
            if idle_passes > 0 {
                // Spinning paid off: allow longer spins.
                spin_budget = (spin_budget * 2).clamp(4, MAX_SPIN_PASSES);
            }
            idle_passes = 0;
        } else {
            // Spin a little before parking: a wake-up costs more than a short wait when data
            // is about to arrive from a block on another core. The budget adapts: it grows
            // while spins find work (high-rate flowgraphs) and shrinks when they do not
            // (low-rate ones), so an idle flowgraph does not burn CPU.
            idle_passes += 1;
            if idle_passes <= spin_budget && wake_at.is_none() {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                continue;
            }
            let live_only = blocks.iter().all(|b| b.is_done() || b.is_live());
            if live_only && wake_at.is_none() {
                // A live source waits on its own I/O inside work; just yield.
                std::thread::yield_now();
                continue;
            }
            if idle_passes > spin_budget {
                spin_budget /= 2;
            }
            idle_passes = 0;
            let park = wake_at.map_or(IDLE_PARK, |t| {
                t.saturating_duration_since(Instant::now()).min(IDLE_PARK)
            });
            std::thread::park_timeout(park);
        }
    }
}

#[cfg(test)]
mod tests;
