//! Per-block metrics and health: counters the runtime keeps for every block (items in/out,
//! drops, work calls and time, errors, restarts), counters a block adds for itself
//! (`packets`, `lost`, ...), and the block's visible health. Everything is atomics, updated
//! once per work call, read by the status display, `flow status` and the control port.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A named monotonically increasing count, shared between a block and the observers.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }
    /// Sets the value (for gauges such as a kernel drop count read from /proc).
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Lifecycle state of a block as observers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockState {
    /// Built, not started.
    Idle = 0,
    /// Running.
    Running = 1,
    /// Waiting to restart after an error.
    Restarting = 2,
    /// Finished normally (end of stream).
    Done = 3,
    /// Stopped by an error (`on_error = "stop"` or restarts exhausted).
    Failed = 4,
}

impl BlockState {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => BlockState::Running,
            2 => BlockState::Restarting,
            3 => BlockState::Done,
            4 => BlockState::Failed,
            _ => BlockState::Idle,
        }
    }
}

/// Health as a block reports it (separate from its lifecycle state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Working as expected.
    Ok = 0,
    /// Working, but losing or rejecting data, or retrying.
    Degraded = 1,
    /// Not working.
    Failed = 2,
}

/// Metrics of one block.
#[derive(Debug)]
pub struct BlockMetrics {
    state: AtomicU8,
    health: AtomicU8,
    health_reason: Mutex<String>,
    last_error: Mutex<String>,
    /// Items consumed, per stream input.
    pub items_in: Vec<AtomicU64>,
    /// Items produced, per stream output.
    pub items_out: Vec<AtomicU64>,
    /// Messages received over all message inputs.
    pub messages_in: AtomicU64,
    /// Messages sent over all message outputs.
    pub messages_out: AtomicU64,
    /// Items this block dropped at its outputs (live sources) or its lossy inputs.
    pub dropped: AtomicU64,
    /// Work calls.
    pub work_calls: AtomicU64,
    /// Nanoseconds spent in work.
    pub work_ns: AtomicU64,
    /// Errors returned or panics caught.
    pub errors: AtomicU64,
    /// Restarts after errors.
    pub restarts: AtomicU64,
    /// Unix ns of the last work call that consumed or produced something.
    pub last_progress_ns: AtomicU64,
    custom: Mutex<Vec<(String, Counter)>>,
}

impl BlockMetrics {
    /// Metrics for a block with the given numbers of stream inputs and outputs.
    pub fn new(inputs: usize, outputs: usize) -> Self {
        BlockMetrics {
            state: AtomicU8::new(BlockState::Idle as u8),
            health: AtomicU8::new(Health::Ok as u8),
            health_reason: Mutex::new(String::new()),
            last_error: Mutex::new(String::new()),
            items_in: (0..inputs).map(|_| AtomicU64::new(0)).collect(),
            items_out: (0..outputs).map(|_| AtomicU64::new(0)).collect(),
            messages_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            work_calls: AtomicU64::new(0),
            work_ns: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            last_progress_ns: AtomicU64::new(0),
            custom: Mutex::new(Vec::new()),
        }
    }

    /// The lifecycle state.
    pub fn state(&self) -> BlockState {
        BlockState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Sets the lifecycle state.
    pub fn set_state(&self, s: BlockState) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// The block's health and the reason given for it.
    pub fn health(&self) -> (Health, String) {
        let h = match self.health.load(Ordering::Acquire) {
            0 => Health::Ok,
            1 => Health::Degraded,
            _ => Health::Failed,
        };
        (
            h,
            self.health_reason
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }

    /// Sets the block's health.
    pub fn set_health(&self, h: Health, reason: &str) {
        let mut r = self.health_reason.lock().unwrap_or_else(|e| e.into_inner());
        if self.health.load(Ordering::Relaxed) != h as u8 || *r != reason {
            r.clear();
            r.push_str(reason);
            self.health.store(h as u8, Ordering::Release);
        }
    }

    /// Records an error (counted, kept as the last error, health set to degraded).
    pub fn record_error(&self, message: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut e = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        e.clear();
        e.push_str(message);
    }

    /// The last recorded error, empty if none.
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The counter named `name`, created at zero on first use.
    pub fn counter(&self, name: &str) -> Counter {
        let mut c = self.custom.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, counter)) = c.iter().find(|(n, _)| n == name) {
            return counter.clone();
        }
        let counter = Counter::default();
        c.push((name.to_string(), counter.clone()));
        counter
    }

    /// A snapshot of the block's own counters, in creation order.
    pub fn custom_counters(&self) -> Vec<(String, u64)> {
        let c = self.custom.lock().unwrap_or_else(|e| e.into_inner());
        c.iter().map(|(n, v)| (n.clone(), v.get())).collect()
    }

    /// Total items in over all stream inputs.
    pub fn total_in(&self) -> u64 {
        self.items_in
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum()
    }

    /// Total items out over all stream outputs.
    pub fn total_out(&self) -> u64 {
        self.items_out
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum()
    }

    /// Notes progress now.
    pub fn touch(&self) {
        self.last_progress_ns
            .store(unix_now_ns() as u64, Ordering::Relaxed);
    }
}

/// The current system time in nanoseconds since the Unix epoch.
pub fn unix_now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_shared_by_name_and_health_is_kept() {
        let m = BlockMetrics::new(1, 1);
        m.counter("lost").add(3);
        m.counter("lost").inc();
        m.counter("packets").inc();
        assert_eq!(
            m.custom_counters(),
            vec![("lost".into(), 4), ("packets".into(), 1)]
        );
        m.set_health(Health::Degraded, "dropping");
        assert_eq!(m.health(), (Health::Degraded, "dropping".to_string()));
        m.set_state(BlockState::Failed);
        assert_eq!(m.state(), BlockState::Failed);
    }
}
