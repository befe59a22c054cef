//! `flow status [NAME | FILE]`: the health of a running flowgraph, from the status file
//! `flow run` keeps, as a table or JSON; the exit code says it for scripts.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::log::group_thousands;
use crate::service::snapshot::{self, Overall, Snapshot};

/// A status file older than this means the run is gone (it is rewritten every tick).
const STALE_AFTER_S: f64 = 10.0;

/// Arguments of `flow status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The flowgraph's name (its `[flowgraph] name` or file stem), or a status file path.
    pub target: String,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Exit codes: 0 ok (or starting), 1 degraded, 2 failed or stalled, 3 not running.
pub fn execute(args: &StatusArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let path = if args.target.contains('/') || args.target.ends_with(".json") {
        PathBuf::from(&args.target)
    } else {
        snapshot::default_path(&args.target)
    };
    let snap = match snapshot::read(&path) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(
                err,
                "`{}` is not running (no status at {}: {e})",
                args.target,
                path.display()
            );
            return ExitCode::from(3);
        }
    };
    if snap.age() > STALE_AFTER_S || !process_alive(snap.pid) {
        let _ = writeln!(
            err,
            "`{}` is not running: its status at {} is {:.0} s old (pid {})",
            snap.flowgraph,
            path.display(),
            snap.age(),
            snap.pid
        );
        return ExitCode::from(3);
    }
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&snap).unwrap_or_default()
        );
    } else {
        let _ = out.write_all(render(&snap).as_bytes());
    }
    ExitCode::from(match snap.health {
        Overall::Ok | Overall::Starting => 0,
        Overall::Degraded => 1,
        Overall::Failed => 2,
    })
}

fn process_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The table `flow status` prints.
pub fn render(s: &Snapshot) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let now = s.updated_unix;
    let _ = writeln!(
        out,
        "{}: {:?} (pid {}, up {:.0} s)",
        s.flowgraph,
        s.health,
        s.pid,
        now - s.started_unix
    );
    for p in &s.problems {
        let _ = writeln!(out, "  problem: {p}");
    }
    let _ = writeln!(
        out,
        "\n{:<16} {:<16} {:<10} {:<9} {:>13} {:>13} {:>9} {:>7} {:>8}  counters",
        "block", "type", "state", "health", "in", "out", "dropped", "errors", "progress"
    );
    for b in &s.blocks {
        let progress = if b.last_progress_unix > 0.0 {
            format!("{:.0} s ago", (now - b.last_progress_unix).max(0.0))
        } else {
            "never".into()
        };
        let counters: Vec<String> = b
            .counters
            .iter()
            .map(|(k, v)| format!("{k}={}", group_thousands(*v)))
            .collect();
        let _ = writeln!(
            out,
            "{:<16} {:<16} {:<10} {:<9} {:>13} {:>13} {:>9} {:>7} {:>8}  {}",
            b.name,
            b.type_name,
            b.state,
            b.health,
            group_thousands(b.items_in),
            group_thousands(b.items_out),
            group_thousands(b.dropped),
            group_thousands(b.errors),
            progress,
            counters.join(" ")
        );
        if !b.reason.is_empty() {
            let _ = writeln!(out, "  {}: {}", b.name, b.reason);
        }
    }
    out
}
