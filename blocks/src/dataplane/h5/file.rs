//! The life of the HDF5 files of one sink: a file is created as `NAME.h5.part` (SWMR, so
//! h5py can read it while it grows), flushed on an interval, rotated by time or size, and
//! renamed to `NAME.h5` when closed. Any HDF5 error closes the file and the next write
//! opens a fresh one: an error costs one file, never the process. At start, `.part` files
//! a killed writer left behind get their superblock flags cleared and are renamed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flow_framework::prelude::*;

use super::raw;
use super::stream::{str_attr, StreamDs, StreamInfo};
use super::table::Table;

/// An open file with its datasets.
pub struct OpenFile {
    /// The HDF5 file.
    pub file: hdf5::File,
    /// Its name while open (`.h5.part`).
    pub part: PathBuf,
    /// The stream datasets, if the sink stores a stream.
    pub stream: Option<StreamDs>,
    /// Message tables by kind.
    pub tables: HashMap<String, Table>,
    opened: Instant,
    swmr: bool,
}

impl OpenFile {
    /// Creates `part` with the stream datasets (if `info`) and tables for `first` messages.
    pub fn create(
        part: &Path,
        info: Option<&StreamInfo>,
        chunk: usize,
        first: &[&Message],
        swmr: bool,
    ) -> hdf5::Result<OpenFile> {
        let file = hdf5::File::with_options()
            .with_fapl(|p| p.libver_v110())
            .create_excl(part)?;
        str_attr(&file, "flow_version", env!("CARGO_PKG_VERSION"))?;
        str_attr(
            &file,
            "created",
            &flow_framework::tag::format_unix_ns(now_ns()),
        )?;
        let stream = match info {
            Some(i) => {
                str_attr(&file, "block", &i.block)?;
                Some(StreamDs::create(&file, i, chunk)?)
            }
            None => None,
        };
        let mut tables = HashMap::new();
        if !first.is_empty() {
            let g = file.create_group("messages")?;
            for m in first {
                if !tables.contains_key(&*m.kind) {
                    tables.insert(m.kind.to_string(), Table::create(&g, &m.kind, m)?);
                }
            }
        }
        if swmr {
            file.start_swmr()?;
        }
        Ok(OpenFile {
            file,
            part: part.to_path_buf(),
            stream,
            tables,
            opened: Instant::now(),
            swmr,
        })
    }

    /// How long the file has been open.
    pub fn age(&self) -> Duration {
        self.opened.elapsed()
    }

    /// True if readers see the file through SWMR.
    pub fn swmr(&self) -> bool {
        self.swmr
    }

    /// Flushes, closes and renames the file to its final name. Returns the final path.
    pub fn finish(self) -> Result<PathBuf, String> {
        let flushed = self.file.flush();
        let part = self.part.clone();
        drop(self);
        flushed.map_err(|e| format!("flushing {}: {e}", part.display()))?;
        publish(&part)
    }
}

/// ns since the Unix epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Renames `X.h5.part` to `X.h5` and syncs the directory.
pub fn publish(part: &Path) -> Result<PathBuf, String> {
    let done = part.with_extension("");
    std::fs::rename(part, &done).map_err(|e| format!("renaming {}: {e}", part.display()))?;
    if let Some(dir) = done.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(done)
}

/// A fresh file name in `dir`: `PREFIX-YYYYMMDDTHHMMSSZ[-N].h5.part`, never an existing one.
pub fn next_name(dir: &Path, prefix: &str, time_ns: i64) -> PathBuf {
    let (y, mo, d, h, mi, s) =
        flow_framework::tag::civil_from_unix(time_ns.div_euclid(1_000_000_000));
    let stem = format!("{prefix}-{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z");
    (0..)
        .map(|n| {
            if n == 0 {
                stem.clone()
            } else {
                format!("{stem}-{n}")
            }
        })
        .map(|s| dir.join(format!("{s}.h5.part")))
        .find(|p| !p.exists() && !p.with_extension("").exists())
        .unwrap_or_else(|| dir.join(format!("{stem}-x.h5.part")))
}

/// Finalizes `PREFIX-*.h5.part` files left by a killed writer: clears their superblock
/// flags and renames them. Returns the recovered paths and the failures.
pub fn recover(dir: &Path, prefix: &str) -> (Vec<PathBuf>, Vec<String>) {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (ok, bad);
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(&format!("{prefix}-")) && name.ends_with(".h5.part")) {
            continue;
        }
        match raw::clear_status_flags(&p).and_then(|()| publish(&p)) {
            Ok(done) => ok.push(done),
            Err(e) => bad.push(e),
        }
    }
    (ok, bad)
}
