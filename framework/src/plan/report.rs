//! The plan of a flowgraph against its host: per-block CPU and storage, memory, and the
//! reasons it cannot run there, rendered as the tables `flow plan` prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::graph::Graph;
use crate::log::group_thousands;

use super::calibrate::{self, Cache, Cpu, Method};
use super::estimate::{estimate, Estimate};
use super::host::{free_space, Host};

/// Share of the cores the flowgraph may plan to use.
pub const CPU_HEADROOM: f64 = 0.8;
/// Share of the available memory the buffers may plan to use.
pub const MEM_HEADROOM: f64 = 0.5;
/// A storing sink without a limit must not fill its filesystem sooner than this.
pub const MIN_DAYS: f64 = 7.0;

/// Disk use of one filesystem.
#[derive(Clone, Debug, PartialEq)]
pub struct Disk {
    /// A path on it (the first sink's).
    pub path: String,
    /// Free bytes now.
    pub free: u64,
    /// Bytes written per day by the sinks on it.
    pub per_day: f64,
    /// Sum of the sinks' limits, if every sink on it has one.
    pub limits: Option<u64>,
    /// Sinks on it.
    pub sinks: Vec<String>,
}

/// A flowgraph's plan.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Rates and storage.
    pub estimate: Estimate,
    /// CPU per block, in graph order.
    pub cpu: Vec<Cpu>,
    /// Disks written.
    pub disks: Vec<Disk>,
    /// The host.
    pub host: Host,
    /// Why it does not fit (empty: it fits).
    pub problems: Vec<String>,
    /// Things worth knowing that do not stop it.
    pub notes: Vec<String>,
}

/// Plans `graph` on `host`, calibrating blocks not in `cache` for `budget` each.
pub fn plan(graph: &Graph, host: Host, cache: &mut Cache, budget: Duration) -> Plan {
    let est = estimate(graph);
    let cpu: Vec<Cpu> = graph
        .blocks
        .iter()
        .zip(&est.blocks)
        .map(|(b, p)| calibrate::cpu(b, p, cache, budget))
        .collect();
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    if est.offline {
        notes.push("no source sets a real-time pace (no live source or throttle): rates are nominal, and the flowgraph will run as fast as the CPU allows".to_string());
    }
    let total: f64 = cpu.iter().filter_map(|c| c.cores).sum();
    if !est.offline && total > CPU_HEADROOM * host.cores as f64 {
        problems.push(format!(
            "needs {total:.2} cores at the planned rates; the host has {} ({}% headroom kept)",
            host.cores,
            ((1.0 - CPU_HEADROOM) * 100.0).round()
        ));
    }
    // The non-blocking blocks share the worker threads.
    let pool: f64 = est
        .blocks
        .iter()
        .zip(&cpu)
        .filter(|(b, _)| !b.own_thread)
        .filter_map(|(_, c)| c.cores)
        .sum();
    let workers = graph
        .settings
        .workers
        .unwrap_or(crate::runtime::build::DEFAULT_WORKERS);
    if !est.offline && pool > 0.9 * workers as f64 {
        let need = (pool / 0.8).ceil().max(1.0) as usize;
        let fix = if need <= host.cores {
            format!("set `workers = {need}` in [flowgraph]")
        } else {
            format!(
                "it needs {need} cores at 80 % load; this host has {}",
                host.cores
            )
        };
        problems.push(format!(
            "the processing blocks need {pool:.2} cores but run on {workers} worker thread{}: {fix}",
            if workers == 1 { "" } else { "s" }
        ));
    }
    for (b, c) in est.blocks.iter().zip(&cpu) {
        if let (Some(cores), false) = (c.cores, est.offline) {
            if cores > 0.9 {
                problems.push(format!(
                    "block `{}` needs {cores:.2} cores but runs on one thread",
                    b.name
                ));
            }
        }
    }
    if let Some(avail) = host.mem_available {
        if est.buffer_bytes as f64 > MEM_HEADROOM * avail as f64 {
            problems.push(format!(
                "buffers need {} MiB; {} MiB of memory is available",
                est.buffer_bytes >> 20,
                avail >> 20
            ));
        }
    }
    let disks = disks(&est);
    for d in &disks {
        let free_gib = d.free as f64 / f64::from(1u32 << 30);
        match d.limits {
            Some(limit) if limit > d.free => problems.push(format!(
                "sinks {} may keep {} MiB on the filesystem of {} but only {} MiB is free",
                d.sinks.join(", "),
                limit >> 20,
                d.path,
                d.free >> 20
            )),
            Some(_) => {}
            None if d.per_day > 0.0 && est.run_seconds.is_some() => {
                let total = d.per_day / 86_400.0 * est.run_seconds.unwrap_or(0.0);
                let msg = format!(
                    "sinks {} write {} MiB in all to the filesystem of {} ({free_gib:.1} GiB free)",
                    d.sinks.join(", "),
                    (total as u64) >> 20,
                    d.path
                );
                if total > d.free as f64 {
                    problems.push(msg);
                } else {
                    notes.push(msg);
                }
            }
            None if d.per_day > 0.0 => {
                let days = d.free as f64 / d.per_day;
                let msg = format!(
                    "sinks {} write {:.1} GiB/day to the filesystem of {} ({free_gib:.1} GiB free): full in {days:.1} days; give them a size limit",
                    d.sinks.join(", "),
                    d.per_day / f64::from(1u32 << 30),
                    d.path
                );
                if days < MIN_DAYS && !est.offline {
                    problems.push(msg);
                } else {
                    notes.push(msg);
                }
            }
            None => {}
        }
    }
    Plan {
        estimate: est,
        cpu,
        disks,
        host,
        problems,
        notes,
    }
}

fn disks(est: &Estimate) -> Vec<Disk> {
    let mut by_dev: BTreeMap<u64, Disk> = BTreeMap::new();
    for b in &est.blocks {
        for s in &b.storage {
            let Some((free, dev)) = free_space(&s.path) else {
                continue;
            };
            let d = by_dev.entry(dev).or_insert_with(|| Disk {
                path: s.path.display().to_string(),
                free,
                per_day: 0.0,
                limits: Some(0),
                sinks: Vec::new(),
            });
            d.per_day += s.bytes_per_second * 86_400.0;
            d.limits = d.limits.zip(s.limit_bytes).map(|(a, b)| a + b);
            if !d.sinks.contains(&b.name) {
                d.sinks.push(b.name.clone());
            }
        }
    }
    by_dev.into_values().collect()
}

fn rate(r: Option<f64>) -> String {
    match r {
        None => "-".into(),
        Some(r) if r >= 1e6 => format!("{:.2} M/s", r / 1e6),
        Some(r) if r >= 1e3 => format!("{:.1} k/s", r / 1e3),
        Some(r) => format!("{r:.1} /s"),
    }
}

impl Plan {
    /// The tables `flow plan` prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<16} {:<16} {:>11} {:>11} {:>8}  cpu from",
            "block", "type", "in", "out", "cores"
        );
        for (b, c) in self.estimate.blocks.iter().zip(&self.cpu) {
            let cores = c.cores.map_or("-".into(), |x| format!("{x:.3}"));
            let how = match c.method {
                Method::Measured => {
                    format!("measured ({:.1} ns/item)", c.ns_per_item.unwrap_or(0.0))
                }
                Method::Cached => format!(
                    "calibration cache ({:.1} ns/item)",
                    c.ns_per_item.unwrap_or(0.0)
                ),
                Method::IoModel => "I/O model".to_string(),
                Method::Unknown => "unknown".to_string(),
            };
            let _ = writeln!(
                s,
                "{:<16} {:<16} {:>11} {:>11} {cores:>8}  {how}",
                b.name,
                b.type_name,
                rate(b.items_in),
                rate(b.items_out)
            );
        }
        let total: f64 = self.cpu.iter().filter_map(|c| c.cores).sum();
        let _ = writeln!(s, "\ncpu: {total:.2} of {} cores", self.host.cores);
        if let Some(t) = self.estimate.run_seconds {
            let secs = Duration::from_secs_f64(t.max(0.0).round());
            let _ = writeln!(s, "runs for {}", humantime::format_duration(secs));
        }
        let _ = writeln!(
            s,
            "memory: {} KiB of stream buffers; {} MiB available",
            group_thousands(self.estimate.buffer_bytes >> 10),
            self.host
                .mem_available
                .map_or("?".into(), |m| group_thousands(m >> 20))
        );
        if !self.estimate.edges.is_empty() {
            let _ = writeln!(
                s,
                "\n{:<28} {:<28} {:>11} {:>13}",
                "edge from", "to", "items", "bytes"
            );
            for e in &self.estimate.edges {
                let bytes = e
                    .bytes_per_second
                    .map_or("-".into(), |b| format!("{:.1} kB/s", b / 1e3));
                let _ = writeln!(
                    s,
                    "{:<28} {:<28} {:>11} {bytes:>13}",
                    e.from,
                    e.to,
                    rate(e.items_per_second)
                );
            }
        }
        for d in &self.disks {
            let _ = writeln!(
                s,
                "\ndisk {}: {:.2} GiB/day from {}; {:.1} GiB free{}",
                d.path,
                d.per_day / f64::from(1u32 << 30),
                d.sinks.join(", "),
                d.free as f64 / f64::from(1u32 << 30),
                d.limits.map_or(String::new(), |l| format!(
                    "; limits keep at most {} MiB",
                    l >> 20
                ))
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "\nnote: {n}");
        }
        if self.problems.is_empty() {
            let _ = writeln!(s, "\nok: fits this host");
        } else {
            for p in &self.problems {
                let _ = writeln!(s, "\nerror: {p}");
            }
        }
        s
    }
}
