//! `flow daily CONFIG`: the station's daily job (run by `flow-daily@.timer`). For every
//! finished UTC day in the archive not yet queued (yesterday and up to `catch_up_days`
//! before), it builds the 10 Hz Digital RF product for PSWS with `flow convert` (feature
//! `hdf5`), with a per-minute completeness map and the time provenance in its metadata and a
//! `completeness.json` beside it, queues its files with the day's archive minutes as the
//! confirmations, then runs the upload queue. Minutes are confirmed (and so become
//! deletable by the archive's storage limits) only after every file of the day was verified
//! at the destination.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use flow_framework::metrics::unix_now_ns;

use super::command::{fail, open, print_report};
use super::config::Config;
use super::queue::Queue;
use super::run::process;

/// Arguments of `flow daily`.
#[derive(Parser, Debug)]
#[command(
    name = "flow daily",
    about = "Build the day's 10 Hz Digital RF product from the archive and upload it, verified."
)]
pub struct Args {
    /// The configuration file (see docs/deploy.md).
    pub config: PathBuf,
    /// Only these UTC days (`YYYY-MM-DD`), instead of every day not yet queued.
    #[arg(long = "date")]
    pub dates: Vec<String>,
    /// Build and queue, but do not upload.
    #[arg(long)]
    pub no_upload: bool,
    /// Put failed files back in the queue first.
    #[arg(long)]
    pub retry_failed: bool,
}

/// The batch name of day `yyyymmdd`.
pub fn batch_name(yyyymmdd: &str) -> String {
    format!("day:{yyyymmdd}")
}

/// `(YYYY-MM-DD, YYYYMMDD)` of the UTC day `days` after the epoch.
pub fn day_names(days: i64) -> (String, String) {
    let (y, m, d, ..) = flow_framework::tag::civil_from_unix(days * 86_400);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{y:04}{m:02}{d:02}"),
    )
}

/// The finished days to consider: the given dates, or yesterday back to `catch_up` days
/// before today, oldest first, that have a day directory in some channel.
pub fn candidate_days(cfg: &Config, dates: &[String]) -> Result<Vec<(String, String)>, String> {
    if !dates.is_empty() {
        return dates
            .iter()
            .map(|d| {
                let digits: String = d.chars().filter(char::is_ascii_digit).collect();
                if digits.len() != 8 {
                    return Err(format!("--date {d}: expected YYYY-MM-DD"));
                }
                Ok((
                    format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..]),
                    digits,
                ))
            })
            .collect();
    }
    let archive = cfg.archive.as_ref().ok_or("`archive` is not set")?;
    let today = unix_now_ns().div_euclid(86_400_000_000_000);
    let mut out = Vec::new();
    for k in (1..=i64::from(cfg.catch_up_days.max(1))).rev() {
        let (date, ymd) = day_names(today - k);
        if cfg
            .channels
            .iter()
            .any(|c| archive.join(c).join(&ymd).is_dir())
        {
            out.push((date, ymd));
        }
    }
    Ok(out)
}

/// Every file under `dir`, with its `/`-separated path relative to `dir`.
fn files_under(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        for e in std::fs::read_dir(&d)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if e.path().is_dir() {
                stack.push((e.path(), r));
            } else {
                out.push((e.path(), r));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Queues the product in `product_dir` as day `date`'s batch, confirming `confirm`.
pub fn queue_product(
    q: &mut Queue,
    cfg: &Config,
    date: &str,
    ymd: &str,
    product_dir: &Path,
    confirm: &super::queue::Confirmations,
) -> Result<usize, String> {
    let remote_dir =
        super::run::render(&cfg.upload.remote_dir, &[("date", date), ("yyyymmdd", ymd)]);
    let mut files = Vec::new();
    for (local, rel) in
        files_under(product_dir).map_err(|e| format!("reading {}: {e}", product_dir.display()))?
    {
        let (sha, size) = super::remote::sha256_file(&local)
            .map_err(|e| format!("reading {}: {e}", local.display()))?;
        files.push((local, format!("{remote_dir}/{rel}"), size, sha));
    }
    let trigger = super::run::render(&cfg.upload.trigger, &[("dir", &remote_dir), ("date", date)]);
    q.add_batch(&batch_name(ymd), &trigger, confirm, &files, unix_now_ns())?;
    Ok(files.len())
}

/// The product directory of a day.
pub fn product_dir(cfg: &Config, date: &str) -> PathBuf {
    cfg.work_dir.join("products").join(date)
}

#[cfg(feature = "hdf5")]
fn build(
    cfg: &Config,
    date: &str,
    ymd: &str,
) -> Result<Option<super::queue::Confirmations>, String> {
    use crate::dataplane::convert::{convert, Args as ConvertArgs};
    let archive = cfg.archive.clone().ok_or("`archive` is not set")?;
    let out = product_dir(cfg, date);
    // A product an interrupted run left half-built is built again.
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| format!("removing {}: {e}", out.display()))?;
    }
    let s = &cfg.station;
    let sum = convert(&ConvertArgs {
        archive: archive.clone(),
        channels: cfg.channels.clone(),
        date: date.to_string(),
        out: out.clone(),
        drf_channel: s.drf_channel.clone(),
        rate: 10,
        uuid: s.uuid.clone(),
        callsign: s.callsign.clone(),
        grid: s.grid.clone(),
        receiver: s.receiver.clone(),
        lat: s.lat,
        long: s.long,
    })?;
    for b in &sum.bad {
        tracing::warn!("flow daily {date}: {b}");
    }
    if sum.rows == 0 {
        let _ = std::fs::remove_dir_all(&out);
        return Ok(None);
    }
    let report = serde_json::json!({
        "date": date,
        "rate_hz": 10,
        "rows": sum.rows,
        "unreadable_minutes": sum.bad,
        "channels": sum.channels,
    });
    std::fs::write(
        out.join("completeness.json"),
        serde_json::to_vec_pretty(&report).unwrap_or_default(),
    )
    .map_err(|e| format!("writing {}: {e}", out.join("completeness.json").display()))?;
    Ok(Some(
        sum.channels
            .iter()
            .map(|c| (archive.join(&c.channel).join(ymd), c.finished_files.clone()))
            .filter(|(_, f)| !f.is_empty())
            .collect(),
    ))
}

#[cfg(not(feature = "hdf5"))]
fn build(_: &Config, date: &str, _: &str) -> Result<Option<super::queue::Confirmations>, String> {
    Err(format!(
        "building the product of {date} writes Digital RF (HDF5) and needs the cargo feature `hdf5`: rebuild with `cargo build --release --features hdf5` (needs libhdf5-dev); `flow upload` works without it"
    ))
}

/// Builds and queues every candidate day not yet queued. Returns the errors.
pub fn build_pending(q: &mut Queue, cfg: &Config, dates: &[String]) -> Vec<String> {
    let days = match candidate_days(cfg, dates) {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    let mut errors = Vec::new();
    for (date, ymd) in days {
        match q.has_batch(&batch_name(&ymd)) {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => {
                errors.push(e);
                continue;
            }
        }
        match build(cfg, &date, &ymd) {
            Ok(None) => tracing::info!(date = %date, "flow daily: no data that day"),
            Ok(Some(confirm)) => {
                match queue_product(q, cfg, &date, &ymd, &product_dir(cfg, &date), &confirm) {
                    Ok(n) => {
                        tracing::info!(date = %date, files = n, "flow daily: product built and queued")
                    }
                    Err(e) => errors.push(format!("{date}: {e}")),
                }
            }
            Err(e) => errors.push(format!("{date}: {e}")),
        }
    }
    errors
}

fn main(args: &[OsString]) -> ExitCode {
    let a = match Args::try_parse_from(
        std::iter::once(OsString::from("flow daily")).chain(args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    let (cfg, mut q) = match open(&a.config) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if a.retry_failed {
        if let Err(e) = q.retry_failed() {
            return fail(e);
        }
    }
    let errors = build_pending(&mut q, &cfg, &a.dates);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if a.no_upload {
        return ExitCode::from(if errors.is_empty() { 0 } else { 2 });
    }
    let mut remote = match cfg.remote() {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    let mut rep = process(&q, remote.as_mut(), &cfg.upload, &cfg.station);
    rep.permanent.extend(errors);
    if !cfg.keep_products {
        for name in &rep.done {
            if let Some(ymd) = name.strip_prefix("day:") {
                let date = format!(
                    "{}-{}-{}",
                    &ymd[..4.min(ymd.len())],
                    ymd.get(4..6).unwrap_or(""),
                    ymd.get(6..).unwrap_or("")
                );
                let _ = std::fs::remove_dir_all(product_dir(&cfg, &date));
            }
        }
    }
    print_report(&rep)
}

flow_framework::register_command!(
    "daily",
    "Build yesterday's 10 Hz Digital RF product (feature hdf5) and upload it, verified.",
    main
);
