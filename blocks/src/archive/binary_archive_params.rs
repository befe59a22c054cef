//! Parameters of `binary_archive` (its TOML schema and docs) and their validation.

use std::path::PathBuf;
use std::time::Duration;

use flow_framework::prelude::*;

use crate::util::fsync::FsyncPolicy;
use crate::util::retention::Limits;

/// Parameters of `binary_archive`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BinaryArchiveParams {
    /// Root directory of the archive (relative paths are relative to where flow runs).
    pub dir: PathBuf,
    /// The channel's directory name under `dir` (default: the block's name).
    #[serde(default)]
    pub channel: Option<String>,
    /// The channel's name in the sidecars (default: `channel` with `_` shown as spaces).
    #[serde(default)]
    pub channel_name: Option<String>,
    /// Sample rate in Hz (an integer) if the stream has no `rate` tag.
    #[serde(default)]
    pub sample_rate: Option<u64>,
    /// Centre frequency in Hz if the stream has no `freq` tag.
    #[serde(default)]
    pub frequency_hz: Option<f64>,
    /// How far (in stream time) the stream must be past a minute before that minute is
    /// finalized; data arriving for it later reopens and republishes it.
    #[serde(
        default = "default_finalize_after",
        with = "crate::util::duration::text"
    )]
    #[schemars(with = "String")]
    pub finalize_after: Duration,
    /// When data is forced to disk: `always`, `never` (at finalize only) or an interval.
    /// Bounds what a power loss can take; kill -9 loses nothing already written.
    #[serde(default = "default_fsync")]
    pub fsync: FsyncPolicy,
    /// At start, finalize minutes a crashed run left open in this many newest day
    /// directories of the channel.
    #[serde(default = "default_recover_days")]
    pub recover_days: usize,
    /// Storage limits of the channel directory (`{ max_bytes, max_age, min_free,
    /// require_confirmation, on_full }`): whole minutes are deleted, oldest first, never an
    /// open one. Without it the archive only stops writing when its filesystem is nearly
    /// full (1% free). See docs/durability.md.
    #[serde(default)]
    pub limits: Option<Limits>,
    /// Compress finished minutes in the background: `none` (default: `.bin` files that
    /// `np.memmap` reads as they are) or `zstd` (`<minute>.bin.zst`, decompressed with
    /// `zstd -d`; `flow convert` and `flow daily` read them directly).
    #[serde(default)]
    pub compress: Compression,
    /// zstd level, 1 (fastest) to 19 (smallest).
    #[serde(default = "default_compress_level")]
    pub compress_level: i32,
}

/// Compression of finished minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Plain `.bin` files.
    #[default]
    None,
    /// zstd, in a background thread at low priority.
    Zstd,
}

fn default_finalize_after() -> Duration {
    Duration::from_secs(2)
}
fn default_fsync() -> FsyncPolicy {
    FsyncPolicy::Interval(Duration::from_secs(5))
}
fn default_recover_days() -> usize {
    2
}
fn default_compress_level() -> i32 {
    3
}

/// Checks the parameters (pure: no files), for `flow check`.
pub fn validate(p: &BinaryArchiveParams) -> Vec<ParamError> {
    let mut errs = Vec::new();
    if let Some(c) = &p.channel {
        if c.is_empty() || c == "." || c == ".." || c.contains(['/', '\\']) {
            errs.push(ParamError::new(
                "channel",
                format!("`{c}` is not a directory name"),
            ));
        }
    }
    if p.sample_rate == Some(0) {
        errs.push(ParamError::new("sample_rate", "must be at least 1"));
    }
    if let Some(l) = &p.limits {
        errs.extend(l.check());
    }
    if !(1..=19).contains(&p.compress_level) {
        errs.push(ParamError::new("compress_level", "must be 1 to 19"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_channel_names() {
        let p: BinaryArchiveParams = toml::from_str("dir = \"d\"").unwrap();
        assert_eq!(p.fsync, FsyncPolicy::Interval(Duration::from_secs(5)));
        assert_eq!(p.finalize_after, Duration::from_secs(2));
        assert!(validate(&p).is_empty());
        for bad in ["", "..", "a/b"] {
            let p: BinaryArchiveParams =
                toml::from_str(&format!("dir = \"d\"\nchannel = {bad:?}")).unwrap();
            assert_eq!(validate(&p).len(), 1, "{bad}");
        }
    }
}
