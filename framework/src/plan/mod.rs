//! `flow plan`: what a flowgraph will cost before it runs. From the flowgraph alone: the
//! item rate of every edge, the disk each storing sink fills per day, the memory the buffers
//! take, and the CPU of every block (measured by a short calibration run of the block on
//! synthetic data, cached), compared with the host's free disk, memory and cores.
//!
//! Blocks describe their rates and storage through [`BlockDef::plan`](crate::registry::BlockDef::plan):
//! sources give their sample rate, rate-changing blocks their output rate, storing sinks
//! where they write and how fast.

pub mod calibrate;
pub mod estimate;
pub mod host;
pub mod report;

use std::path::PathBuf;

use crate::item::ItemType;

/// What a block's plan hook gets: the rates (items per second) and types of its stream
/// inputs, in order. A rate is `None` when unknown (an unpaced offline source upstream).
#[derive(Clone, Debug, Default)]
pub struct PlanInputs {
    /// Items per second per stream input.
    pub rates: Vec<Option<f64>>,
    /// Item type per stream input.
    pub types: Vec<ItemType>,
}

impl PlanInputs {
    /// The rate of the first stream input.
    pub fn first_rate(&self) -> Option<f64> {
        self.rates.first().copied().flatten()
    }
}

/// What a block tells the planner.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanInfo {
    /// Items per second of each stream output; `None` means "the rate of the first input"
    /// for every output (a 1:1 block).
    pub output_rates: Option<Vec<Option<f64>>>,
    /// True when the block paces the flowgraph in real time (live sources, throttles).
    pub paced: bool,
    /// For a finite source: the items it produces in all.
    pub items: Option<u64>,
    /// What the block writes to storage.
    pub storage: Vec<Storage>,
}

/// A storing sink's use of a filesystem.
#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    /// Where it writes (a file or a directory).
    pub path: PathBuf,
    /// Bytes written per second at the planned rates.
    pub bytes_per_second: f64,
    /// The sink's own limit on what it keeps (`max_bytes`), if any.
    pub limit_bytes: Option<u64>,
}
