//! The JSON sidecar of a minute file (`<minute>.json`): seed 000's fields (minute_boundary,
//! channel_name, frequency_hz, sample_rate, samples_written, samples_expected,
//! completeness_pct, gap_count, dtype, byte_order) plus the exact gap list, the time
//! snapshot the samples were placed by, and the minute's state (`open`, `complete`,
//! `stopped`, `recovered`).

use serde::{Deserialize, Serialize};

use super::ranges::RangeSet;

/// A run of missing samples in a minute file (offsets in samples from the file's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapEntry {
    /// First missing sample.
    pub start: u64,
    /// Missing samples.
    pub length: u64,
}

/// The time mapping the minute's samples were placed by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TimeSnapshot {
    /// `gpsdo`, `system_clock`, ...
    pub source: String,
    /// Unix ns of the anchor sample, as the time tag gave it.
    pub anchor_unix_ns: i64,
    /// The same, RFC 3339.
    pub anchor_time: String,
    /// Sample index of the anchor sample in the stream.
    pub anchor_sample_index: u64,
    /// How far the anchor's time lies from the archive's sample grid (ns; placement rounds
    /// to the nearest grid slot, so |offset| ≤ half a sample period).
    pub grid_offset_ns: i64,
    /// RTP SSRC, when the stream came from `rtp_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtp_ssrc: Option<u64>,
    /// RTP timestamp of the anchor sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtp_timestamp: Option<u64>,
    /// radiod's GPS_TIME behind the anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtp_gps_time_ns: Option<i64>,
    /// radiod's RTP_TIMESNAP behind the anchor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtp_timesnap: Option<u64>,
}

/// The sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Unix seconds of the minute's first sample.
    pub minute_boundary: i64,
    /// Channel name.
    pub channel_name: String,
    /// Centre frequency in Hz, if known.
    pub frequency_hz: Option<f64>,
    /// Samples per second.
    pub sample_rate: u64,
    /// Samples on disk.
    pub samples_written: u64,
    /// Samples in a full minute.
    pub samples_expected: u64,
    /// 100 × written / expected.
    pub completeness_pct: f64,
    /// Number of entries in `gaps`.
    pub gap_count: u64,
    /// Always `complex64`.
    pub dtype: String,
    /// Always `little`.
    pub byte_order: String,
    /// Missing samples (zeros in the file), in order.
    #[serde(default)]
    pub gaps: Vec<GapEntry>,
    /// RFC 3339 time of the first sample.
    #[serde(default)]
    pub start_time: String,
    /// Name of the data file beside it (`<minute>.bin`, or `<minute>.bin.zst` once
    /// compressed).
    #[serde(default)]
    pub data_file: String,
    /// `zstd` when the data file is compressed (`compress = "zstd"`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// `open` (being written; the journal holds the latest), `complete` (the stream moved
    /// past it), `stopped` (finalized at stop), `recovered` (finalized after a crash).
    #[serde(default)]
    pub state: String,
    /// The time mapping in use for the minute (the latest, if it changed).
    #[serde(default)]
    pub time: Option<TimeSnapshot>,
    /// Writer.
    #[serde(default)]
    pub writer: String,
    /// Layout version.
    #[serde(default)]
    pub format_version: u32,
}

/// What the writer knows about a minute besides its samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinuteMeta {
    /// Channel name.
    pub channel_name: String,
    /// Centre frequency in Hz.
    pub frequency_hz: Option<f64>,
    /// Time mapping.
    pub time: Option<TimeSnapshot>,
}

impl Sidecar {
    /// The sidecar of minute `minute` (Unix minute number) with `written` on disk.
    pub fn new(
        minute: i64,
        rate: u64,
        written: &RangeSet,
        meta: &MinuteMeta,
        state: &str,
    ) -> Sidecar {
        let expected = 60 * rate;
        let gaps: Vec<GapEntry> = written
            .gaps(expected)
            .into_iter()
            .map(|(start, length)| GapEntry { start, length })
            .collect();
        let pct = written.len() as f64 * 100.0 / expected as f64;
        Sidecar {
            minute_boundary: minute * 60,
            channel_name: meta.channel_name.clone(),
            frequency_hz: meta.frequency_hz,
            sample_rate: rate,
            samples_written: written.len(),
            samples_expected: expected,
            completeness_pct: (pct * 1e6).round() / 1e6,
            gap_count: gaps.len() as u64,
            dtype: "complex64".into(),
            byte_order: "little".into(),
            gaps,
            start_time: flow_framework::tag::format_unix_ns(minute * 60_000_000_000),
            data_file: format!("{}.bin", minute * 60),
            compression: None,
            state: state.into(),
            time: meta.time.clone(),
            writer: "flow binary_archive".into(),
            format_version: 1,
        }
    }

    /// The samples the sidecar says are on disk (the complement of its gaps).
    pub fn written(&self) -> RangeSet {
        let mut gaps: Vec<GapEntry> = self.gaps.clone();
        gaps.sort_by_key(|g| g.start);
        let mut out = RangeSet::new();
        let mut at = 0;
        for g in gaps {
            out.insert(at, g.start.min(self.samples_expected));
            at = at.max(g.start.saturating_add(g.length));
        }
        out.insert(at, self.samples_expected);
        out
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_gaps_and_round_trips_the_written_set() {
        let mut w = RangeSet::new();
        w.insert(0, 1000);
        w.insert(1100, 1_199_990);
        let meta = MinuteMeta {
            channel_name: "WWV 10 MHz".into(),
            frequency_hz: Some(10e6),
            time: None,
        };
        let s = Sidecar::new(29_417_204, 20_000, &w, &meta, "complete");
        assert_eq!(s.minute_boundary, 1_765_032_240);
        assert_eq!(s.samples_expected, 1_200_000);
        assert_eq!(s.samples_written, 1_199_890);
        assert_eq!(s.gap_count, 2);
        assert_eq!(
            s.gaps,
            [
                GapEntry {
                    start: 1000,
                    length: 100
                },
                GapEntry {
                    start: 1_199_990,
                    length: 10
                }
            ]
        );
        assert_eq!(s.completeness_pct, 99.990833);
        assert_eq!(s.start_time, "2025-12-06T14:44:00.000000000Z");
        assert_eq!(s.data_file, "1765032240.bin");
        let back: Sidecar = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.written(), w);
        // The seed's fields, under the seed's names.
        let v: serde_json::Value = serde_json::from_slice(&s.to_json()).unwrap();
        for k in [
            "minute_boundary",
            "channel_name",
            "frequency_hz",
            "sample_rate",
            "samples_written",
            "samples_expected",
            "completeness_pct",
            "gap_count",
            "dtype",
            "byte_order",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["dtype"], "complex64");
    }
}
