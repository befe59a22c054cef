//! Reads `binary_archive` minutes (seed 000 layout): `<dir>/<CHANNEL>/<YYYYMMDD>/
//! <minute_unix>.bin` (a minute of raw complex64 little-endian, missing samples zero) with
//! a `<minute_unix>.json` sidecar (`minute_boundary`, `channel_name`, `frequency_hz`,
//! `sample_rate`, `samples_written`, `samples_expected`, `completeness_pct`, `gap_count`,
//! `dtype`, `byte_order`, and `gaps`: `[{start, length}]` in samples from the minute
//! start). Used by `flow convert`; written against the documented format, not the writer.

use std::path::{Path, PathBuf};

use flow_framework::prelude::*;
use serde::Deserialize;

/// A gap in a minute, in samples from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Gap {
    /// First missing sample.
    pub start: u64,
    /// Missing samples.
    pub length: u64,
}

/// The sidecar fields the reader uses (others are ignored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sidecar {
    /// Unix seconds of the first sample.
    pub minute_boundary: i64,
    /// Channel name.
    #[serde(default)]
    pub channel_name: String,
    /// Centre frequency in Hz.
    #[serde(default)]
    pub frequency_hz: Option<f64>,
    /// Samples per second.
    pub sample_rate: u64,
    /// Sample type; must be `complex64`.
    pub dtype: String,
    /// Must be `little`.
    pub byte_order: String,
    /// Missing samples.
    #[serde(default)]
    pub gaps: Vec<Gap>,
    /// `open` while the writer still has the minute, else `complete`, `stopped`,
    /// `recovered` (empty in sidecars without it).
    #[serde(default)]
    pub state: String,
    /// The time mapping the samples were placed by.
    #[serde(default)]
    pub time: Option<TimeInfo>,
}

/// The part of a sidecar's time snapshot the reader uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TimeInfo {
    /// Where the time came from: `gpsdo`, `system_clock`, ...
    #[serde(default)]
    pub source: String,
}

impl Sidecar {
    /// Percentage of the minute's samples present.
    pub fn completeness_pct(&self) -> f64 {
        let n = 60 * self.sample_rate;
        let missing: u64 = self.gaps.iter().map(|g| g.length).sum::<u64>().min(n);
        if n == 0 {
            0.0
        } else {
            100.0 * (n - missing) as f64 / n as f64
        }
    }
}

/// One minute: its sidecar and the runs of samples present.
#[derive(Debug, Clone)]
pub struct Minute {
    /// The sidecar.
    pub meta: Sidecar,
    /// Runs of present samples: (offset from the minute start, samples).
    pub runs: Vec<(u64, Vec<C32>)>,
}

/// Why a minute could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A file could not be read.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The sidecar is not valid JSON of the expected shape.
    #[error("{0}: {1}")]
    Sidecar(PathBuf, String),
}

/// The sidecars of channel directory `channel` for day `yyyymmdd`, in time order.
pub fn day_sidecars(
    root: &Path,
    channel: &str,
    yyyymmdd: &str,
) -> Result<Vec<PathBuf>, ArchiveError> {
    let day = root.join(channel).join(yyyymmdd);
    let rd = std::fs::read_dir(&day).map_err(|e| ArchiveError::Io(day.clone(), e))?;
    let mut v: Vec<(i64, PathBuf)> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.parse::<i64>().ok()?, p)))
        .collect();
    v.sort();
    Ok(v.into_iter().map(|(_, p)| p).collect())
}

/// The data of a minute: `<minute>.bin`, or its compressed `<minute>.bin.zst`
/// (`binary_archive`'s `compress = "zstd"`) decompressed.
fn read_data(json: &Path) -> Result<Vec<u8>, ArchiveError> {
    let bin = json.with_extension("bin");
    match std::fs::read(&bin) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let zst = crate::archive::compress::zst_path(&bin);
            let packed = std::fs::read(&zst).map_err(|_| ArchiveError::Io(bin.clone(), e))?;
            zstd::stream::decode_all(&packed[..]).map_err(|e| ArchiveError::Io(zst, e))
        }
        Err(e) => Err(ArchiveError::Io(bin, e)),
    }
}

/// Reads a minute by its sidecar path. A data file shorter than the minute counts the
/// missing tail as a gap.
pub fn read_minute(json: &Path) -> Result<Minute, ArchiveError> {
    let text = std::fs::read_to_string(json).map_err(|e| ArchiveError::Io(json.into(), e))?;
    let meta: Sidecar = serde_json::from_str(&text)
        .map_err(|e| ArchiveError::Sidecar(json.into(), e.to_string()))?;
    if meta.dtype != "complex64" || meta.byte_order != "little" {
        return Err(ArchiveError::Sidecar(
            json.into(),
            format!(
                "dtype {} / byte order {}: only little-endian complex64 is supported",
                meta.dtype, meta.byte_order
            ),
        ));
    }
    if meta.sample_rate == 0 {
        return Err(ArchiveError::Sidecar(
            json.into(),
            "sample_rate is 0".into(),
        ));
    }
    let bytes = read_data(json)?;
    let samples: Vec<C32> = bytemuck::pod_collect_to_vec(&bytes[..bytes.len() / 8 * 8]);
    let expected = 60 * meta.sample_rate;
    let have = (samples.len() as u64).min(expected);
    let mut gaps: Vec<(u64, u64)> = meta
        .gaps
        .iter()
        .map(|g| (g.start, (g.start + g.length).min(have)))
        .filter(|g| g.0 < g.1)
        .collect();
    gaps.sort_unstable();
    let mut runs = Vec::new();
    let mut at = 0;
    for (a, b) in gaps.into_iter().chain(std::iter::once((have, have))) {
        if a > at {
            runs.push((at, samples[at as usize..a as usize].to_vec()));
        }
        at = at.max(b);
    }
    Ok(Minute { meta, runs })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes a minute in the documented layout (as `binary_archive` does).
    pub fn write_minute(
        root: &Path,
        channel: &str,
        minute: i64,
        rate: u64,
        gaps: &[(u64, u64)],
        f: impl Fn(u64) -> C32,
    ) -> PathBuf {
        let (y, mo, d, ..) = flow_framework::tag::civil_from_unix(minute);
        let dir = root.join(channel).join(format!("{y:04}{mo:02}{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        let n = 60 * rate;
        let in_gap = |i: u64| gaps.iter().any(|&(s, l)| i >= s && i < s + l);
        let x: Vec<C32> = (0..n)
            .map(|i| {
                if in_gap(i) {
                    C32::new(0.0, 0.0)
                } else {
                    f(minute as u64 * rate + i)
                }
            })
            .collect();
        std::fs::write(
            dir.join(format!("{minute}.bin")),
            bytemuck::cast_slice::<C32, u8>(&x),
        )
        .unwrap();
        let missing: u64 = gaps.iter().map(|g| g.1).sum();
        let json = serde_json::json!({
            "minute_boundary": minute, "channel_name": channel.replace('_', " "), "frequency_hz": 10e6,
            "sample_rate": rate, "samples_written": n - missing, "samples_expected": n,
            "completeness_pct": 100.0 * (n - missing) as f64 / n as f64, "gap_count": gaps.len(),
            "dtype": "complex64", "byte_order": "little",
            "gaps": gaps.iter().map(|g| serde_json::json!({"start": g.0, "length": g.1})).collect::<Vec<_>>(),
        });
        let p = dir.join(format!("{minute}.json"));
        std::fs::write(&p, json.to_string()).unwrap();
        p
    }

    #[test]
    fn reads_runs_between_gaps_and_lists_a_day_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let m0 = 1_700_006_400; // 2023-11-15T00:00:00Z
        write_minute(dir.path(), "WWV_10_MHz", m0 + 60, 100, &[], |i| {
            C32::new(i as f32, 0.0)
        });
        let p = write_minute(
            dir.path(),
            "WWV_10_MHz",
            m0,
            100,
            &[(10, 5), (5990, 10)],
            |i| C32::new(i as f32, 0.0),
        );
        let list = day_sidecars(dir.path(), "WWV_10_MHz", "20231115").unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0], p);
        let m = read_minute(&p).unwrap();
        assert_eq!(m.meta.frequency_hz, Some(10e6));
        let shape: Vec<(u64, usize)> = m.runs.iter().map(|(o, x)| (*o, x.len())).collect();
        assert_eq!(shape, vec![(0, 10), (15, 5975)]);
        assert_eq!(m.runs[1].1[0], C32::new((m0 as u64 * 100 + 15) as f32, 0.0));
        std::fs::write(&p, "{\"minute_boundary\": 1}").unwrap();
        assert!(read_minute(&p)
            .unwrap_err()
            .to_string()
            .contains("missing field"));
    }

    #[test]
    fn a_compressed_minute_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let m0 = 1_700_006_400;
        let p = write_minute(dir.path(), "WWV_10_MHz", m0, 100, &[(10, 5)], |i| {
            C32::new(i as f32, 0.0)
        });
        let plain = read_minute(&p).unwrap();
        let paths =
            crate::archive::minute_file::MinutePaths::new(&dir.path().join("WWV_10_MHz"), m0 / 60);
        assert_eq!(paths.json, p);
        crate::archive::compress::compress_minute(&paths, 3).unwrap();
        assert!(!paths.bin.exists());
        let packed = read_minute(&p).unwrap();
        assert_eq!(packed.runs, plain.runs);
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(json["compression"], "zstd");
    }
}
