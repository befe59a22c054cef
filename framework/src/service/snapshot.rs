//! A snapshot of a running flowgraph's health: per block state, health, progress, counters
//! and errors, per edge fill and drops, and an overall verdict. `flow run` writes it to a
//! status file every tick ([`StatusFile`]); `flow status` reads it; it is plain JSON so a
//! script can too.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::watchdog::Verdict;
use crate::metrics::{unix_now_ns, BlockState, Health};
use crate::runtime::Flowgraph;

/// Overall health, worst first when compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// Every block is fine.
    Ok,
    /// Within the start-up grace.
    Starting,
    /// Some block is losing data, retrying or restarting.
    Degraded,
    /// Some block is stalled or has failed.
    Failed,
}

/// One block in a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockStatus {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `idle`, `running`, `restarting`, `done`, `failed`.
    pub state: String,
    /// `ok`, `degraded`, `failed`.
    pub health: String,
    /// Why, when not ok.
    pub reason: String,
    /// Items consumed (all stream inputs) plus messages received.
    pub items_in: u64,
    /// Items produced (all stream outputs) plus messages sent.
    pub items_out: u64,
    /// Items dropped.
    pub dropped: u64,
    /// Errors.
    pub errors: u64,
    /// Restarts.
    pub restarts: u64,
    /// Unix seconds of the last work call that moved data (0: never).
    pub last_progress_unix: f64,
    /// The last error, if any.
    pub last_error: String,
    /// The block's own counters.
    pub counters: Vec<(String, u64)>,
}

/// One stream edge in a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeStatus {
    /// Producer `block.port`.
    pub from: String,
    /// Consumer `block.port`.
    pub to: String,
    /// Policy.
    pub policy: String,
    /// Fill, 0 to 1.
    pub fill: f64,
    /// Items dropped on it.
    pub dropped: u64,
}

/// A flowgraph's health at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Flowgraph name.
    pub flowgraph: String,
    /// Process id of `flow run`.
    pub pid: u32,
    /// Unix seconds of the start.
    pub started_unix: f64,
    /// Unix seconds of this snapshot.
    pub updated_unix: f64,
    /// Overall health.
    pub health: Overall,
    /// Why it is not ok (stalled or failed blocks).
    pub problems: Vec<String>,
    /// Blocks.
    pub blocks: Vec<BlockStatus>,
    /// Stream edges.
    pub edges: Vec<EdgeStatus>,
}

fn unix_now() -> f64 {
    unix_now_ns() as f64 / 1e9
}

impl Snapshot {
    /// Captures `fg` with the watchdog's latest verdict.
    pub fn capture(name: &str, fg: &Flowgraph, verdict: &Verdict) -> Snapshot {
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let blocks: Vec<BlockStatus> = fg
            .blocks
            .iter()
            .map(|b| {
                let m = &b.metrics;
                let (health, reason) = m.health();
                BlockStatus {
                    name: b.name.clone(),
                    type_name: b.type_name.to_string(),
                    state: state_name(m.state()).into(),
                    health: health_name(health).into(),
                    reason,
                    items_in: m.total_in() + load(&m.messages_in),
                    items_out: m.total_out() + load(&m.messages_out),
                    dropped: load(&m.dropped),
                    errors: load(&m.errors),
                    restarts: load(&m.restarts),
                    last_progress_unix: load(&m.last_progress_ns) as f64 / 1e9,
                    last_error: m.last_error(),
                    counters: m.custom_counters(),
                }
            })
            .collect();
        let edges = fg
            .edges
            .iter()
            .map(|e| EdgeStatus {
                from: e.from.clone(),
                to: e.to.clone(),
                policy: e.policy.name().into(),
                fill: e.fill(),
                dropped: e.dropped(),
            })
            .collect();
        let (mut health, mut problems) = match verdict {
            Verdict::Starting => (Overall::Starting, Vec::new()),
            Verdict::Healthy => (Overall::Ok, Vec::new()),
            Verdict::Unhealthy(v) => (
                Overall::Failed,
                v.iter().map(|(b, r)| format!("{b}: {r}")).collect(),
            ),
        };
        // A block that reports itself failed while running (a sink stopped by its storage
        // limit) fails the flowgraph's status too, without being a stall: the watchdog keeps
        // pinging, since a restart would not help it.
        for b in &fg.blocks {
            let (h, reason) = b.metrics.health();
            let listed = problems
                .iter()
                .any(|p| p.starts_with(&format!("{}: ", b.name)));
            if h == Health::Failed && !listed {
                problems.push(format!("{}: {reason}", b.name));
                health = Overall::Failed;
            }
        }
        let degraded = fg.blocks.iter().any(|b| {
            b.metrics.health().0 == Health::Degraded || b.metrics.state() == BlockState::Restarting
        });
        if degraded && health < Overall::Degraded {
            health = Overall::Degraded;
        }
        let started = unix_now() - fg.elapsed().as_secs_f64();
        Snapshot {
            flowgraph: name.to_string(),
            pid: std::process::id(),
            started_unix: started,
            updated_unix: unix_now(),
            health,
            problems,
            blocks,
            edges,
        }
    }

    /// Seconds since the snapshot was taken.
    pub fn age(&self) -> f64 {
        unix_now() - self.updated_unix
    }
}

/// The name of a state as snapshots show it.
pub fn state_name(s: BlockState) -> &'static str {
    match s {
        BlockState::Idle => "idle",
        BlockState::Running => "running",
        BlockState::Restarting => "restarting",
        BlockState::Done => "done",
        BlockState::Failed => "failed",
    }
}

/// The name of a health as snapshots show it.
pub fn health_name(h: Health) -> &'static str {
    match h {
        Health::Ok => "ok",
        Health::Degraded => "degraded",
        Health::Failed => "failed",
    }
}

/// Where `flow run` keeps the status of flowgraph `name` unless told otherwise:
/// `$XDG_RUNTIME_DIR/flow/NAME.status.json`, or the temporary directory.
pub fn default_path(name: &str) -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join("flow").join(format!("{name}.status.json"))
}

/// The status file a running flowgraph keeps up to date (replaced atomically, so a reader
/// never sees half a file), removed when the run ends.
#[derive(Debug)]
pub struct StatusFile {
    path: PathBuf,
}

impl StatusFile {
    /// A status file at `path` (its directory is created).
    pub fn new(path: PathBuf) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(StatusFile { path })
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file with `s`.
    pub fn write(&self, s: &Snapshot) -> std::io::Result<()> {
        let tmp = self
            .path
            .with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(&tmp, &self.path)
    }

    /// Removes the file (the run is over).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The latest snapshot, shared between the run loop that captures it and the control port
/// that serves it (`GET /api/status`).
#[derive(Clone, Debug, Default)]
pub struct SharedStatus(std::sync::Arc<std::sync::Mutex<Option<Snapshot>>>);

impl SharedStatus {
    /// Replaces the snapshot.
    pub fn set(&self, s: Snapshot) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
    }

    /// The latest snapshot (`None` before the run loop's first check).
    pub fn get(&self) -> Option<Snapshot> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Reads a status file.
pub fn read(path: &Path) -> std::io::Result<Snapshot> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    #[test]
    fn a_block_reporting_itself_failed_fails_the_status_without_a_stall() {
        // `rt_counter` and `rt_check` are the runtime tests' blocks.
        let g = load_str(
            "[blocks.src]\ntype = \"rt_counter\"\ncount = 10\n[blocks.sink]\ntype = \"rt_check\"\ninputs = [\"src\"]\n",
            "snap.toml",
            Path::new("."),
            &[],
        )
        .unwrap_or_else(|d| panic!("{d}"));
        let fg = Flowgraph::start(&g).unwrap();
        assert!(fg.wait_timeout(std::time::Duration::from_secs(10)));
        let s = Snapshot::capture("snap", &fg, &Verdict::Healthy);
        assert_eq!((s.health, s.problems.len()), (Overall::Ok, 0));
        fg.blocks[1].metrics.set_health(
            Health::Failed,
            "storage: max_bytes reached; writing stopped",
        );
        let s = Snapshot::capture("snap", &fg, &Verdict::Healthy);
        assert_eq!(s.health, Overall::Failed);
        assert_eq!(
            s.problems,
            ["sink: storage: max_bytes reached; writing stopped"]
        );
        fg.wait();
    }
}
