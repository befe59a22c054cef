//! `flow upload CONFIG`: queues files (`--add`) and uploads what the queue holds, verified,
//! with retries; `--status` shows the queue. Works in every build, for any files (a
//! rotated `file_sink` day, SQLite databases); `flow daily` uses the same queue for the
//! GRAPE product.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use flow_framework::metrics::unix_now_ns;

use super::config::Config;
use super::queue::{Confirmations, Queue};
use super::remote::sha256_file;
use super::run::{process, Report};

/// Arguments of `flow upload`.
#[derive(Parser, Debug)]
#[command(
    name = "flow upload",
    about = "Upload queued files (verified by size and SHA-256, retried) and confirm them locally."
)]
pub struct Args {
    /// The configuration file (see docs/deploy.md).
    pub config: PathBuf,
    /// Queue these files (or every file under these directories) as one batch first.
    #[arg(long = "add", value_name = "PATH")]
    pub add: Vec<PathBuf>,
    /// Destination directory of the added files.
    #[arg(long, default_value = "")]
    pub remote_dir: String,
    /// Name of the added batch (default: `files:<time>`).
    #[arg(long)]
    pub batch: Option<String>,
    /// Put failed files back in the queue first (after fixing what failed them).
    #[arg(long)]
    pub retry_failed: bool,
    /// Only show the queue (no upload).
    #[arg(long)]
    pub status: bool,
    /// With --status: as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Every file under `p` (itself if a file), with its path relative to `p`'s parent.
fn walk(p: &Path, rel: &Path, out: &mut Vec<(PathBuf, PathBuf)>) -> std::io::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(p)?.flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            let name = e.file_name().map(PathBuf::from).unwrap_or_default();
            walk(&e, &rel.join(name), out)?;
        }
    } else if p.is_file() {
        out.push((p.to_path_buf(), rel.to_path_buf()));
    }
    Ok(())
}

/// Queues `paths` as one batch whose confirmations are the files themselves.
pub fn add(
    q: &mut Queue,
    paths: &[PathBuf],
    remote_dir: &str,
    name: &str,
) -> Result<usize, String> {
    let mut found = Vec::new();
    for p in paths {
        let rel = p.file_name().map(PathBuf::from).unwrap_or_default();
        walk(p, &rel, &mut found).map_err(|e| format!("reading {}: {e}", p.display()))?;
    }
    let mut files = Vec::new();
    let mut confirm: Confirmations = Vec::new();
    for (local, rel) in &found {
        if rel
            .file_name()
            .is_some_and(|n| n == crate::util::retention::confirm::MARKER)
        {
            continue;
        }
        let (sha, size) =
            sha256_file(local).map_err(|e| format!("reading {}: {e}", local.display()))?;
        let rel = rel.to_string_lossy().replace('\\', "/");
        let remote = if remote_dir.is_empty() {
            rel
        } else {
            format!("{}/{rel}", remote_dir.trim_end_matches('/'))
        };
        files.push((local.clone(), remote, size, sha));
        let dir = local.parent().unwrap_or(Path::new(".")).to_path_buf();
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match confirm.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, names)) => names.push(name),
            None => confirm.push((dir, vec![name])),
        }
    }
    if files.is_empty() {
        return Err("nothing to add: no files under the given paths".into());
    }
    q.add_batch(name, "", &confirm, &files, unix_now_ns())?;
    Ok(files.len())
}

/// The queue as a table, and the exit code its state implies.
pub fn status(q: &Queue, json: bool) -> Result<(String, u8), String> {
    let batches = q.batches()?;
    let mut code = 0u8;
    let mut out = String::new();
    let mut all = Vec::new();
    for b in &batches {
        let files = q.files(b.id)?;
        let count = |s: &str| files.iter().filter(|f| f.state == s).count();
        let (v, p, f) = (count("verified"), count("pending"), count("failed"));
        if b.state == "failed" || f > 0 {
            code = 2;
        } else if b.state == "pending" && code == 0 {
            code = 1;
        }
        out.push_str(&format!(
            "{:<24} {:<8} {v:>4} verified {p:>4} pending {f:>4} failed{}\n",
            b.name,
            b.state,
            if b.error.is_empty() {
                String::new()
            } else {
                format!("  ({})", b.error)
            }
        ));
        for x in files
            .iter()
            .filter(|x| !x.last_error.is_empty() && x.state != "verified")
        {
            out.push_str(&format!(
                "  {} ({} attempts): {}\n",
                x.remote, x.attempts, x.last_error
            ));
        }
        all.push(serde_json::json!({ "batch": b, "files": files }));
    }
    if json {
        out = serde_json::to_string_pretty(&all).unwrap_or_default();
        out.push('\n');
    }
    Ok((out, code))
}

/// Prints a pass's report and returns its exit code.
pub fn print_report(r: &Report) -> ExitCode {
    println!(
        "uploaded {} file(s), {} already there; {} batch(es) confirmed{}",
        r.uploaded,
        r.already,
        r.done.len(),
        if r.done.is_empty() {
            String::new()
        } else {
            format!(": {}", r.done.join(", "))
        }
    );
    for t in &r.transient {
        eprintln!("will retry: {t}");
    }
    for p in &r.permanent {
        eprintln!("error: {p}");
    }
    ExitCode::from(r.exit_code())
}

/// Reports a failure of `flow upload` / `flow daily` itself (exit code 2).
pub(super) fn fail(m: String) -> ExitCode {
    eprintln!("error: {m}");
    ExitCode::from(2)
}

/// The configuration at `path` and its upload queue, opened.
pub(super) fn open(path: &Path) -> Result<(Config, Queue), ExitCode> {
    let cfg = Config::load(path).map_err(fail)?;
    let q = Queue::open(&cfg.queue_path()).map_err(fail)?;
    Ok((cfg, q))
}

fn main(args: &[OsString]) -> ExitCode {
    let a = match Args::try_parse_from(
        std::iter::once(OsString::from("flow upload")).chain(args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let (cfg, mut q) = match open(&a.config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if a.status {
        return match status(&q, a.json) {
            Ok((text, code)) => {
                print!("{text}");
                ExitCode::from(code)
            }
            Err(e) => fail(e),
        };
    }
    if a.retry_failed {
        if let Err(e) = q.retry_failed() {
            return fail(e);
        }
    }
    if !a.add.is_empty() {
        let name = a
            .batch
            .clone()
            .unwrap_or_else(|| format!("files:{}", unix_now_ns()));
        match add(&mut q, &a.add, &a.remote_dir, &name) {
            Ok(n) => println!("queued {n} file(s) as `{name}`"),
            Err(e) => return fail(e),
        }
    }
    let mut remote = match cfg.remote() {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    print_report(&process(&q, remote.as_mut(), &cfg.upload, &cfg.station))
}

flow_framework::register_command!(
    "upload",
    "Upload queued files over SFTP (or to a directory), verified, retried, confirmed locally.",
    main
);
