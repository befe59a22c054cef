//! Parameters of the `sqlite` sink and the naming of per-session databases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flow_framework::prelude::*;

use super::store::{Column, RESERVED};
use crate::util::fsync::FsyncPolicy;
use crate::util::retention::{ByteSize, Limits};

/// SQLite column type of a declared column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// Integers, times (ns), booleans.
    Integer,
    /// Floats.
    Real,
    /// Text.
    Text,
    /// Bytes, float vectors.
    Blob,
}

/// A declared column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Column name = the message field stored in it.
    pub name: String,
    /// `integer`, `real`, `text` or `blob`.
    #[serde(rename = "type")]
    pub ty: ColumnType,
}

/// Parameters of `sqlite`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqliteParams {
    /// Database file (created if absent; its journal is `<path>.flowjournal`).
    pub path: PathBuf,
    /// Store every message in this table instead of one table per message kind.
    #[serde(default)]
    pub table: Option<String>,
    /// Declared schema: only these fields are stored, in these columns (default: a column
    /// per field, added as fields appear).
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    /// When the journal is forced to disk: `always` (before a message counts as stored),
    /// an interval such as `"1s"`, or `never` (left to the kernel).
    #[serde(default = "default_fsync")]
    pub fsync: FsyncPolicy,
    /// A new database per run, `<stem>-<UTC start time>.<ext>` beside `path`.
    #[serde(default)]
    pub per_session: bool,
    /// Most messages per transaction.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Empty the journal (after a checkpoint) when it grows past this many bytes.
    #[serde(default = "default_compact")]
    pub compact_bytes: u64,
    /// Device metadata stored with each session (`{ device = "...", serial = "..." }`).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Start a new database every period (aligned to UTC: `"1d"` gives one per day), named
    /// `<stem>-<UTC stamp>.<ext>` beside `path`.
    #[serde(default, with = "crate::util::duration::opt_text")]
    #[schemars(with = "Option<String>")]
    pub rotate_every: Option<Duration>,
    /// Start a new database once the current one (with its WAL) passes this size.
    #[serde(default)]
    pub rotate_bytes: Option<ByteSize>,
    /// Storage limits (`{ max_bytes, max_age, min_free, require_confirmation, on_full }`):
    /// finished databases (rotated or per-session ones) are deleted oldest first, never the
    /// one being written nor one whose journal still holds records; without rotation or
    /// `per_session`, `max_bytes` stops the sink when its database reaches it.
    #[serde(default)]
    pub limits: Option<Limits>,
}

fn default_fsync() -> FsyncPolicy {
    FsyncPolicy::Interval(Duration::from_secs(1))
}
fn default_batch() -> usize {
    10_000
}
fn default_compact() -> u64 {
    64 << 20
}

impl SqliteParams {
    /// The declared columns with their SQL types.
    pub fn declared(&self) -> Vec<Column> {
        self.columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                sql_type: match c.ty {
                    ColumnType::Integer => "INTEGER",
                    ColumnType::Real => "REAL",
                    ColumnType::Text => "TEXT",
                    ColumnType::Blob => "BLOB",
                },
            })
            .collect()
    }

    /// Pure validation.
    pub fn check(&self) -> Vec<ParamError> {
        let mut errs = Vec::new();
        if self.path.as_os_str().is_empty() {
            errs.push(ParamError::new("path", "must name a database file"));
        }
        if self.batch == 0 {
            errs.push(ParamError::new("batch", "must be at least 1"));
        }
        if let Some(t) = &self.table {
            if t.is_empty() || RESERVED.contains(&t.as_str()) || t.starts_with("sqlite_") {
                errs.push(ParamError::new(
                    "table",
                    format!("`{t}` is reserved; choose another name"),
                ));
            }
        }
        if let Some(l) = &self.limits {
            errs.extend(l.check());
        }
        for c in &self.columns {
            if c.name.starts_with('_') {
                errs.push(ParamError::new(
                    "columns",
                    format!("`{}`: names starting with `_` are the sink's own", c.name),
                ));
            }
        }
        errs
    }
}

/// `<dir>/<stem>-` for a base path `<dir>/<stem>.<ext>`.
pub fn stem_prefix(base: &Path) -> String {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{stem}-")
}

/// The database of a session that starts at `start_ns`: `<stem>-YYYYMMDDTHHMMSSmmmZ.<ext>`.
pub fn session_path(base: &Path, start_ns: i64) -> PathBuf {
    let t = std::time::UNIX_EPOCH + Duration::from_nanos(start_ns.max(0) as u64);
    let stamp: String = humantime::format_rfc3339_millis(t)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let ext = base
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    base.with_file_name(format!("{}{stamp}{ext}", stem_prefix(base)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_databases_are_named_by_start_time() {
        let p = session_path(Path::new("/d/meter.sqlite"), 1_700_000_000_123_000_000);
        assert_eq!(p, Path::new("/d/meter-20231114T221320123Z.sqlite"));
        assert!(p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&stem_prefix(Path::new("/d/meter.sqlite"))));
    }
}
