//! Stream tags: metadata attached to a position in a stream (time, rate, frequency, gaps,
//! end of stream, user key/values), and the rule by which the runtime carries them through
//! blocks.
//!
//! # Positions and sample indices
//!
//! A tag sits at an absolute *item position* of its stream: the count of items written to
//! that edge before the tagged item. When a source loses samples it does not write filler;
//! it writes a [`Tag::Gap`] at the position where data resumes. The *sample index* of an
//! item (the count of samples since the stream started, losses included) is therefore its
//! position plus every gap at or before it; [`crate::port::StreamInput::sample_index`]
//! keeps that sum for a block.
//!
//! # Propagation rule
//!
//! Unless a block declares [`Propagation::Manual`], the runtime forwards every tag on the
//! input items a work call consumed to every stream output, at the output position that
//! corresponds by the call's rate: `out = out_start + (pos - in_start) * produced / consumed`.
//! For a 1:1 block a tag stays on the same item; for a decimator it lands on the output item
//! the tagged input contributed to. Blocks that change time structure (resamplers, FFT
//! framing) or that consume tags (sinks) choose `Manual` and write their own.

use std::sync::Arc;

use crate::message::Value;

/// Where an absolute time came from, so a product can say how far to trust it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// radiod's GPS_TIME / RTP_TIMESNAP pair (GPS-disciplined when radiod is).
    Gpsdo,
    /// The system clock when the first sample arrived (NTP at best; includes network delay).
    SystemClock,
    /// Metadata of a recording (SigMF `core:datetime`, archive sidecar).
    FileMetadata,
    /// Simulation: the generator's own notion of time.
    Simulated,
    /// Another flow instance or peer (ZMQ `rx_time`), original source unknown.
    Upstream,
}

impl TimeSource {
    /// The snake_case name used in files and logs.
    pub fn name(self) -> &'static str {
        match self {
            TimeSource::Gpsdo => "gpsdo",
            TimeSource::SystemClock => "system_clock",
            TimeSource::FileMetadata => "file_metadata",
            TimeSource::Simulated => "simulated",
            TimeSource::Upstream => "upstream",
        }
    }
}

/// A piece of metadata attached to a stream position.
#[derive(Clone, Debug, PartialEq)]
pub enum Tag {
    /// The tagged item was sampled at `ns` nanoseconds since the Unix epoch (UTC).
    Time {
        /// Nanoseconds since 1970-01-01T00:00:00Z.
        ns: i64,
        /// Where the time came from.
        source: TimeSource,
    },
    /// Sample rate of the stream from here on, in Hz.
    Rate(f64),
    /// Centre frequency of the stream from here on, in Hz.
    Freq(f64),
    /// `n` samples were lost immediately before the tagged item.
    Gap(u64),
    /// End of stream: no item follows the tagged position.
    Eos,
    /// A user key/value.
    User(Arc<str>, Value),
}

impl Tag {
    /// A short name of the tag kind (`time`, `rate`, `freq`, `gap`, `eos`, or the user key).
    pub fn key(&self) -> &str {
        match self {
            Tag::Time { .. } => "time",
            Tag::Rate(_) => "rate",
            Tag::Freq(_) => "freq",
            Tag::Gap(_) => "gap",
            Tag::Eos => "eos",
            Tag::User(k, _) => k,
        }
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tag::Time { ns, source } => {
                write!(f, "time={} ({})", format_unix_ns(*ns), source.name())
            }
            Tag::Rate(r) => write!(f, "rate={r} Hz"),
            Tag::Freq(x) => write!(f, "freq={x} Hz"),
            Tag::Gap(n) => write!(f, "gap={n} samples"),
            Tag::Eos => write!(f, "eos"),
            Tag::User(k, v) => write!(f, "{k}={v}"),
        }
    }
}

/// A tag at an absolute item position of a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemTag {
    /// Absolute item position in the stream (items written before the tagged one).
    pub position: u64,
    /// The tag.
    pub tag: Tag,
}

/// How tags pass through a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Forward input tags to all outputs at the rate-mapped position (module docs).
    #[default]
    Rate,
    /// The block writes its own output tags; the runtime forwards nothing.
    Manual,
}

/// Formats nanoseconds since the Unix epoch as RFC 3339 UTC with nanoseconds and `Z`.
pub fn format_unix_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (y, mo, d, h, mi, s) = civil_from_unix(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:09}Z")
}

/// Splits Unix seconds into (year, month, day, hour, minute, second) in UTC.
///
/// Howard Hinnant's days-from-civil inverse; valid for the proleptic Gregorian calendar.
pub fn civil_from_unix(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_unix_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_unix_ns(1_765_032_240_500_000_000),
            "2025-12-06T14:44:00.500000000Z"
        );
        assert_eq!(
            format_unix_ns(951_782_400 * 1_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(format_unix_ns(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn tag_display_names_kind_and_value() {
        assert_eq!(Tag::Gap(12).to_string(), "gap=12 samples");
        assert_eq!(Tag::User("k".into(), Value::I64(3)).to_string(), "k=3");
        assert_eq!(Tag::Rate(20000.0).key(), "rate");
    }
}
