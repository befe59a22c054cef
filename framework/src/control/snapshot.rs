//! Metrics as the control port reports them: a sampler that reads every block's counters at a
//! fixed interval and keeps the rates between the last two readings, and the JSON of one
//! reading (per block: items, rates, drops, buffer fill, errors, restarts, work time, health,
//! custom counters; per edge: fill, capacity, drops).

use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Serialize;

use super::model::Handles;
use crate::metrics::{BlockState, Health};

/// One block's metrics.
#[derive(Clone, Debug, Serialize)]
pub struct BlockSample {
    /// Block name.
    pub name: String,
    /// Block type.
    #[serde(rename = "type")]
    pub type_name: &'static str,
    /// Lifecycle state.
    pub state: BlockState,
    /// Health.
    pub health: Health,
    /// Why not ok.
    pub health_reason: String,
    /// Last error, if any.
    pub last_error: String,
    /// Items consumed over all stream inputs.
    pub items_in: u64,
    /// Items produced over all stream outputs.
    pub items_out: u64,
    /// Items in per second (over the last sampling interval).
    pub rate_in: f64,
    /// Items out per second.
    pub rate_out: f64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// Items or messages dropped by this block.
    pub dropped: u64,
    /// Drops per second.
    pub drop_rate: f64,
    /// Errors.
    pub errors: u64,
    /// Restarts.
    pub restarts: u64,
    /// Work calls.
    pub work_calls: u64,
    /// Seconds spent in work.
    pub work_seconds: f64,
    /// Share of wall time spent in work over the last interval (0..1 per thread).
    pub busy: f64,
    /// Fill of each stream input's buffer, 0..1, by port (`in`, `in0`, ...).
    pub input_fill: Vec<(String, f64)>,
    /// The block's own counters.
    pub counters: Vec<(String, u64)>,
    /// Items a finite source will produce.
    pub expected_items: Option<u64>,
}

/// One edge's metrics.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeSample {
    /// Producer `block.port`.
    pub from: String,
    /// Consumer `block.port`.
    pub to: String,
    /// Policy.
    pub policy: &'static str,
    /// Fill, 0..1.
    pub fill: f64,
    /// Capacity in items.
    pub capacity: u64,
    /// Items discarded on this edge.
    pub dropped: u64,
}

/// A full reading.
#[derive(Clone, Debug, Serialize, Default)]
pub struct Sample {
    /// Seconds since the flowgraph started.
    pub uptime: f64,
    /// Blocks.
    pub blocks: Vec<BlockSample>,
    /// Stream edges.
    pub edges: Vec<EdgeSample>,
}

/// Totals of one block at a reading: items in, items out, dropped, work nanoseconds.
type Totals = (u64, u64, u64, u64);

/// Keeps the previous reading to compute rates.
pub struct Sampler {
    handles: Handles,
    started: Instant,
    prev: Option<(Instant, Vec<Totals>)>,
    /// The latest reading.
    pub latest: Sample,
}

impl Sampler {
    /// A sampler over `handles`.
    pub fn new(handles: Handles) -> Self {
        Sampler {
            handles,
            started: Instant::now(),
            prev: None,
            latest: Sample::default(),
        }
    }

    /// Reads every counter now and updates the rates.
    pub fn sample(&mut self) -> &Sample {
        let now = Instant::now();
        let totals: Vec<Totals> = self
            .handles
            .blocks
            .iter()
            .map(|b| {
                let m = &b.metrics;
                (
                    m.total_in(),
                    m.total_out(),
                    m.dropped.load(Ordering::Relaxed),
                    m.work_ns.load(Ordering::Relaxed),
                )
            })
            .collect();
        let (dt, prev) = match &self.prev {
            Some((t, p)) => ((now - *t).as_secs_f64().max(1e-6), Some(p)),
            None => (1.0, None),
        };
        let rate = |now: u64, before: Option<u64>| {
            before.map_or(0.0, |b| now.saturating_sub(b) as f64 / dt)
        };
        let blocks = self
            .handles
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let m = &b.metrics;
                let (tin, tout, drop, work) = totals[i];
                let p = prev.map(|p| p[i]);
                let (health, reason) = m.health();
                let prefix = format!("{}.", b.name);
                BlockSample {
                    name: b.name.clone(),
                    type_name: b.type_name,
                    state: m.state(),
                    health,
                    health_reason: reason,
                    last_error: m.last_error(),
                    items_in: tin,
                    items_out: tout,
                    rate_in: rate(tin, p.map(|p| p.0)),
                    rate_out: rate(tout, p.map(|p| p.1)),
                    messages_in: m.messages_in.load(Ordering::Relaxed),
                    messages_out: m.messages_out.load(Ordering::Relaxed),
                    dropped: drop,
                    drop_rate: rate(drop, p.map(|p| p.2)),
                    errors: m.errors.load(Ordering::Relaxed),
                    restarts: m.restarts.load(Ordering::Relaxed),
                    work_calls: m.work_calls.load(Ordering::Relaxed),
                    work_seconds: work as f64 / 1e9,
                    busy: rate(work, p.map(|p| p.3)) / 1e9,
                    input_fill: self
                        .handles
                        .edges
                        .iter()
                        .filter_map(|e| {
                            e.to.strip_prefix(&prefix)
                                .map(|port| (port.to_string(), e.fill()))
                        })
                        .collect(),
                    counters: m.custom_counters(),
                    expected_items: b.expected_items,
                }
            })
            .collect();
        let edges = self
            .handles
            .edges
            .iter()
            .map(|e| EdgeSample {
                from: e.from.clone(),
                to: e.to.clone(),
                policy: e.policy.name(),
                fill: e.fill(),
                capacity: e.capacity(),
                dropped: e.dropped(),
            })
            .collect();
        self.prev = Some((now, totals));
        self.latest = Sample {
            uptime: self.started.elapsed().as_secs_f64(),
            blocks,
            edges,
        };
        &self.latest
    }
}
