//! CPU per block: a short calibration run of each compute block on synthetic data through
//! the [`Harness`](crate::harness::Harness) (nanoseconds per input item, cached per block
//! type, parameters and input types), and a simple model for blocks that wait on I/O,
//! which cannot be measured without their devices.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::graph::GraphBlock;
use crate::harness::Harness;
use crate::item::ItemType;
use crate::registry::PortKind;
use crate::tag::{Tag, TimeSource};

use super::estimate::BlockPlan;

/// Nanoseconds per byte moved assumed for I/O blocks (syscalls and copies).
pub const IO_NS_PER_BYTE: f64 = 0.5;

/// How a CPU figure was obtained.
#[derive(Clone, Debug, PartialEq)]
pub enum Method {
    /// Measured now.
    Measured,
    /// Measured earlier (cache).
    Cached,
    /// Estimated from bytes moved (I/O blocks).
    IoModel,
    /// Unknown (no rate, or nothing to measure).
    Unknown,
}

/// CPU estimate of one block.
#[derive(Clone, Debug, PartialEq)]
pub struct Cpu {
    /// Fraction of one core at the planned rate.
    pub cores: Option<f64>,
    /// Nanoseconds per input item, when measured.
    pub ns_per_item: Option<f64>,
    /// How it was obtained.
    pub method: Method,
}

/// Calibration results kept between runs (`~/.cache/flow/calibration.json`).
#[derive(Debug, Default)]
pub struct Cache {
    path: Option<PathBuf>,
    entries: BTreeMap<String, f64>,
    dirty: bool,
}

impl Cache {
    /// Loads the cache at the default place (an empty one if it is missing or unreadable).
    pub fn load_default() -> Cache {
        let dir = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
        Cache::load(dir.map(|d| d.join("flow").join("calibration.json")))
    }

    /// Loads the cache at `path` (`None`: in memory only).
    pub fn load(path: Option<PathBuf>) -> Cache {
        let entries = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Cache {
            path,
            entries,
            dirty: false,
        }
    }

    /// Forgets every entry (`flow plan --recalibrate`).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.dirty = true;
    }

    /// Writes the cache back if it changed (failures only logged: it is a cache).
    pub fn save(&self) {
        let (Some(path), true) = (&self.path, self.dirty) else {
            return;
        };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = path.with_extension("json.tmp");
            std::fs::write(
                &tmp,
                serde_json::to_string_pretty(&self.entries).unwrap_or_default(),
            )?;
            std::fs::rename(&tmp, path)
        };
        if let Err(e) = write() {
            tracing::warn!(path = %path.display(), "cannot save the calibration cache: {e}");
        }
    }
}

/// The cache key of a block: type, effective params, input types and flow's version.
fn key(b: &GraphBlock) -> String {
    let params = b
        .params
        .to_toml()
        .map(|v| v.to_string())
        .unwrap_or_default();
    let types: Vec<&str> = b.input_types.iter().map(|t| t.name()).collect();
    format!(
        "{}|{}|{}|{}",
        b.def.name(),
        params,
        types.join(","),
        env!("CARGO_PKG_VERSION")
    )
}

/// True for blocks a synthetic run can measure: compute blocks fed by streams only, and
/// compute sources (generators).
fn measurable(b: &GraphBlock) -> bool {
    let message_input = b
        .signature
        .inputs
        .iter()
        .any(|p| p.kind == PortKind::Message);
    !b.signature.blocking
        && !b.signature.live
        && !message_input
        && (!b.input_types.is_empty() || !b.output_types.is_empty())
}

/// The CPU of block `b` at its planned rates.
pub fn cpu(b: &GraphBlock, plan: &BlockPlan, cache: &mut Cache, budget: Duration) -> Cpu {
    if measurable(b) {
        let k = key(b);
        let (ns, method) = match cache.entries.get(&k) {
            Some(ns) => (Some(*ns), Method::Cached),
            None => match quietly(|| measure(b, plan, budget)) {
                Some(ns) => {
                    cache.entries.insert(k, ns);
                    cache.dirty = true;
                    (Some(ns), Method::Measured)
                }
                None => (None, Method::Unknown),
            },
        };
        // Per item of one input (or of the output, for a source).
        let per_input = if b.input_types.is_empty() {
            plan.items_out
        } else {
            plan.items_in.map(|r| r / b.input_types.len() as f64)
        };
        return Cpu {
            cores: ns.zip(per_input).map(|(ns, r)| ns * r / 1e9),
            ns_per_item: ns,
            method,
        };
    }
    // I/O blocks: bytes moved through their stream ports.
    let in_bytes: Option<f64> = plan
        .items_in
        .map(|r| r * b.input_types.first().map_or(1, |t| t.size()) as f64);
    let out_bytes: Option<f64> = plan
        .items_out
        .map(|r| r * b.output_types.first().map_or(1, |t| t.size()) as f64);
    match in_bytes.or(out_bytes) {
        Some(bytes) => Cpu {
            cores: Some(bytes * IO_NS_PER_BYTE / 1e9),
            ns_per_item: None,
            method: Method::IoModel,
        },
        None => Cpu {
            cores: None,
            ns_per_item: None,
            method: Method::Unknown,
        },
    }
}

/// Runs the block on synthetic input for about `budget`; nanoseconds per input item (per
/// output item for a generator).
fn measure(b: &GraphBlock, plan: &BlockPlan, budget: Duration) -> Option<f64> {
    let body = b
        .params
        .to_toml()
        .and_then(|v| toml::to_string(&v).ok())
        .unwrap_or_default();
    let mut h = match Harness::new(b.def.name(), &body, &b.input_types) {
        Ok(h) => h.discard_outputs(),
        Err(e) => {
            tracing::debug!(block = %b.name, "cannot calibrate: {e}");
            return None;
        }
    };
    // Blocks that compute in time need the stream's rate and time, as a source would tag.
    let rate = plan.items_in.map(|r| r / b.input_types.len().max(1) as f64);
    for port in 0..b.input_types.len() {
        if let Some(r) = rate {
            h.push_tag(port, 0, Tag::Rate(r));
        }
        h.push_tag(
            port,
            0,
            Tag::Time {
                ns: crate::metrics::unix_now_ns(),
                source: TimeSource::Simulated,
            },
        );
    }
    if b.input_types.is_empty() {
        // A generator: let it run; count what it produces.
        let t0 = Instant::now();
        h.run_for(budget);
        let produced = h.metrics().total_out() as f64;
        return (produced > 0.0).then(|| t0.elapsed().as_nanos() as f64 / produced);
    }
    const CHUNK: usize = 1 << 15;
    let chunks: Vec<Vec<u8>> = b.input_types.iter().map(|t| synthetic(*t, CHUNK)).collect();
    let t0 = Instant::now();
    let mut rounds = 0u64;
    while t0.elapsed() < budget && rounds < 100_000 {
        for (port, data) in chunks.iter().enumerate() {
            if h.queued_input_bytes(port) < data.len() {
                h.push_input::<u8>(port, data);
            }
        }
        h.run();
        if h.is_done() {
            break;
        }
        rounds += 1;
    }
    let elapsed = t0.elapsed();
    let consumed = h.metrics().total_in() as f64 / b.input_types.len() as f64;
    (consumed > 0.0).then(|| elapsed.as_nanos() as f64 / consumed)
}

/// Runs `f` with logging off: a block fed synthetic data may complain about it, and that is
/// not news for the user.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    tracing::dispatcher::with_default(&tracing::Dispatch::none(), f)
}

/// `n` items of plausible data of type `t` as bytes (small floats, no NaN or denormals).
fn synthetic(t: ItemType, n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let scalars = if t.is_complex() { 2 * n } else { n };
    let mut out = Vec::with_capacity(n * t.size());
    for _ in 0..scalars {
        let r = next();
        match t {
            ItemType::C32 | ItemType::F32 => {
                out.extend_from_slice(&((r as f32 / u32::MAX as f32) - 0.5).to_le_bytes())
            }
            ItemType::C64 | ItemType::F64 => {
                out.extend_from_slice(&((r as f64 / u32::MAX as f64) - 0.5).to_le_bytes())
            }
            ItemType::C16 | ItemType::I16 => out.extend_from_slice(&(r as i16 / 4).to_le_bytes()),
            ItemType::I32 => out.extend_from_slice(&((r as i32) / 4).to_le_bytes()),
            ItemType::U8 | ItemType::Cu8 | ItemType::Cs8 => out.push(r as u8),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_data_has_the_right_size() {
        for t in ItemType::ALL {
            assert_eq!(synthetic(t, 10).len(), 10 * t.size(), "{t}");
        }
        let f: Vec<f32> = bytemuck::pod_collect_to_vec(&synthetic(ItemType::F32, 1000));
        assert!(f.iter().all(|x| x.is_finite() && x.abs() <= 0.5));
    }
}
