//! One channel (SSRC) of `rtp_source`: its format (learned from radiod's status, else the
//! TOML parameters), its time mapping, its reorder window, and the writing of its samples,
//! gaps and tags to its output port.
//!
//! A channel starts when its format is known and either a status packet has arrived or
//! `status_wait` has passed since its first packet (packets are held meanwhile, so the
//! stream starts on GPS time when radiod provides it). Its first sample carries `rate`,
//! `freq` and `time` tags (plus `rtp_*` user tags: the RTP snapshot); a later status whose
//! time mapping differs by more than the step threshold, or a better time source, re-tags
//! time on the next sample written.

use std::time::{Duration, Instant};

use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::encoding::Encoding;
use super::ka9q_status::ChannelStatus;
use super::reorder::{Release, Reorder, ReorderConfig, Verdict};
use super::rtp::RtpHeader;
use super::timing::{TimeMap, EXT_ORIGIN};

/// A time step this large (1 s) needs a second status to agree before it is applied.
const BIG_STEP_NS: i64 = 1_000_000_000;

/// User tag: the RTP SSRC of the stream (on each time tag).
pub const TAG_RTP_SSRC: &str = "rtp_ssrc";
/// User tag: the 32-bit RTP timestamp of the tagged sample.
pub const TAG_RTP_TIMESTAMP: &str = "rtp_timestamp";
/// User tag: radiod's GPS_TIME behind the time tag (GPS ns).
pub const TAG_GPS_TIME: &str = "rtp_gps_time_ns";
/// User tag: radiod's RTP_TIMESNAP behind the time tag.
pub const TAG_TIMESNAP: &str = "rtp_timesnap";

/// What the TOML says about a channel.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// SSRC.
    pub ssrc: u32,
    /// Output port name.
    pub name: String,
    /// Frequency if the status does not say.
    pub frequency_hz: Option<f64>,
    /// Sample rate if the status does not say.
    pub sample_rate: Option<f64>,
    /// Encoding if the status does not say.
    pub encoding: Option<Encoding>,
}

/// Settings shared by all channels of a source.
#[derive(Debug, Clone, Copy)]
pub struct Shared {
    /// GPS − UTC.
    pub leap_seconds: i32,
    /// How long a channel waits for status before starting on TOML parameters.
    pub status_wait: Duration,
    /// A status mapping this far (ns) from the current one re-tags time.
    pub time_step_ns: i64,
    /// Most packets held behind a hole.
    pub reorder_packets: usize,
    /// Longest a hole is waited for (also bounds the samples held past it).
    pub reorder_time: Duration,
    /// Most packets held while waiting for the format or status.
    pub hold_packets: usize,
}

/// Per-channel event counts, folded into the block's counters by the caller.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Data packets accepted.
    pub packets: u64,
    /// Samples in accepted packets.
    pub samples: u64,
    /// Samples declared missing (emitted as gaps).
    pub lost: u64,
    /// Packets that arrived after a later one.
    pub reordered: u64,
    /// Packets whose samples were already received.
    pub duplicate: u64,
    /// Packets that could not be used (bad payload, wrong type, lone far timestamps).
    pub malformed: u64,
    /// Packets that arrived after their samples were declared lost.
    pub late: u64,
    /// Packets discarded because the channel's format was still unknown.
    pub no_format: u64,
    /// Time re-tags after the status mapping moved.
    pub time_steps: u64,
    /// Restarts of the sender's RTP timestamps.
    pub resyncs: u64,
}

/// A held packet: header, payload and arrival (monotonic and Unix ns).
type Held = (RtpHeader, Vec<u8>, Instant, i64);

/// One channel.
pub struct Channel {
    /// TOML configuration.
    pub cfg: ChannelConfig,
    st: ChannelStatus,
    status_seen: bool,
    /// When the last status with a time mapping arrived.
    time_status_at: Option<Instant>,
    /// When the last packet taken into the stream arrived.
    last_data_at: Option<Instant>,
    held: Vec<Held>,
    first_seen: Option<Instant>,
    run: Option<Running>,
    log: RateLimited,
}

/// State of a started channel.
struct Running {
    rate: f64,
    encoding: Encoding,
    reorder: Reorder,
    map: Option<TimeMap>,
    /// A status mapping far from `map`, waiting for a second status to agree.
    candidate: Option<TimeMap>,
    freq: Option<f64>,
    pending_gap: u64,
    rate_due: bool,
    freq_due: bool,
    time_due: bool,
}

impl Channel {
    /// A channel that has seen nothing yet.
    pub fn new(cfg: ChannelConfig) -> Self {
        let log = RateLimited::new(
            format!("rtp_source channel `{}` (ssrc {})", cfg.name, cfg.ssrc),
            Duration::from_secs(10),
        );
        Channel {
            cfg,
            st: ChannelStatus::default(),
            status_seen: false,
            time_status_at: None,
            last_data_at: None,
            held: Vec::new(),
            first_seen: None,
            run: None,
            log,
        }
    }

    /// The format to decode with, if known: status first, then TOML.
    fn format(&self) -> Option<(f64, Encoding)> {
        let rate = self
            .st
            .sample_rate
            .map(f64::from)
            .or(self.cfg.sample_rate)?;
        let enc = match self.st.encoding {
            Some(code) => Encoding::from_ka9q(code)?,
            None => self.cfg.encoding?,
        };
        (rate > 0.0).then_some((rate, enc))
    }

    fn frequency(&self) -> f64 {
        self.st
            .frequency_hz
            .or(self.cfg.frequency_hz)
            .unwrap_or(f64::from(self.cfg.ssrc) * 1000.0)
    }

    /// True once samples flow.
    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    /// Applies a status packet for this channel.
    pub fn on_status(&mut self, s: &ChannelStatus, sh: &Shared, stats: &mut Stats) {
        let merge = |old: &mut ChannelStatus| {
            macro_rules! take {
                ($($f:ident),*) => { $(if s.$f.is_some() { old.$f = s.$f.clone(); })* };
            }
            take!(
                gps_time_ns,
                rtp_timesnap,
                sample_rate,
                channels,
                payload_type,
                encoding,
                frequency_hz,
                description,
                data_dest
            );
        };
        merge(&mut self.st);
        self.status_seen = true;
        if s.gps_time_ns.is_some() && s.rtp_timesnap.is_some() {
            self.time_status_at = Some(Instant::now());
        }
        if let Some(code) = s.encoding.filter(|c| Encoding::from_ka9q(*c).is_none()) {
            self.log.warn(&format!(
                "radiod sends encoding {code}, which flow cannot decode (s16le/be, f32le/be)"
            ));
        }
        if let Some(ch) = s.channels.filter(|c| *c != 2) {
            self.log.warn(&format!(
                "radiod sends {ch} channel(s); rtp_source reads I/Q (2)"
            ));
        }
        let freq = self.frequency();
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if let Some(rate) = s
            .sample_rate
            .map(f64::from)
            .filter(|r| *r != run.rate && *r > 0.0)
        {
            run.rate = rate;
            run.rate_due = true;
            run.time_due = true;
        }
        if run.freq != Some(freq) {
            run.freq = Some(freq);
            run.freq_due = true;
        }
        let (Some(gps), Some(snap)) = (self.st.gps_time_ns, self.st.rtp_timesnap) else {
            return;
        };
        let (Some(anchor), Some(now_ts)) = (run.reorder.stream_ts(snap), run.reorder.next_ts())
        else {
            return;
        };
        let new = TimeMap::from_gps(gps, anchor, run.rate, sh.leap_seconds);
        let step = run.map.map(|old| new.offset_from(&old, now_ts).abs());
        let retime = match run.map {
            None => true,
            Some(old) if old.rate != run.rate => true,
            Some(old) if old.source != TimeSource::Gpsdo => step.is_some_and(|d| d < BIG_STEP_NS),
            Some(_) => step.is_some_and(|d| d > sh.time_step_ns),
        };
        // A step of a second or more is believed only when the next status agrees with it
        // (a stale status of a restarted radiod must not move the stream's time).
        let confirmed = run
            .candidate
            .is_some_and(|c| new.offset_from(&c, now_ts).abs() <= sh.time_step_ns.max(1_000_000));
        run.candidate = None;
        let big = step.is_some_and(|d| d >= BIG_STEP_NS);
        if retime || (big && confirmed) {
            if run.map.is_some_and(|m| m.source == TimeSource::Gpsdo) {
                stats.time_steps += 1;
            }
            run.map = Some(new);
            run.time_due = true;
        } else if big {
            run.candidate = Some(new);
        }
    }

    /// Takes a data packet of this channel that arrived at `arrived` (Unix `unix_ns`).
    pub fn on_packet(
        &mut self,
        h: RtpHeader,
        payload: &[u8],
        arrived: Instant,
        unix_ns: i64,
        sh: &Shared,
        stats: &mut Stats,
    ) {
        if self.run.is_none() {
            let first = *self.first_seen.get_or_insert(arrived);
            if !self.try_start(arrived, sh, stats) {
                // Held only while waiting for status; a format that stays unknown after
                // `status_wait` discards (counted) instead of piling up memory.
                let waited = arrived.saturating_duration_since(first) >= sh.status_wait;
                if self.held.len() < sh.hold_packets && !(waited && self.format().is_none()) {
                    self.held.push((h, payload.to_vec(), arrived, unix_ns));
                } else {
                    stats.no_format += 1;
                    self.log.warn(
                        "format unknown (no status from radiod, and no sample_rate/encoding \
                         in the flowgraph): packets discarded",
                    );
                }
                return;
            }
        }
        self.process(h, payload, arrived, unix_ns, sh, stats);
    }

    /// Starts the channel if it can; replays held packets. Returns true if running.
    pub fn try_start(&mut self, now: Instant, sh: &Shared, stats: &mut Stats) -> bool {
        self.try_start_inner(now, sh, stats, false)
    }

    fn try_start_inner(
        &mut self,
        now: Instant,
        sh: &Shared,
        stats: &mut Stats,
        force: bool,
    ) -> bool {
        if self.run.is_some() {
            return true;
        }
        let Some((rate, encoding)) = self.format() else {
            return false;
        };
        let waited = self
            .first_seen
            .is_some_and(|t| now.saturating_duration_since(t) >= sh.status_wait);
        if !(self.status_seen || waited || force) {
            return false;
        }
        let max_samples = (sh.reorder_time.as_secs_f64() * rate).ceil().max(1.0) as u64;
        self.run = Some(Running {
            rate,
            encoding,
            reorder: Reorder::new(ReorderConfig {
                max_packets: sh.reorder_packets,
                max_samples,
                max_hold: sh.reorder_time,
                max_behind: max_samples.max((10.0 * rate) as u64),
                rate,
            }),
            map: None,
            candidate: None,
            freq: Some(self.frequency()),
            pending_gap: 0,
            rate_due: true,
            freq_due: true,
            time_due: true,
        });
        for (h, payload, arrived, unix_ns) in std::mem::take(&mut self.held) {
            self.process(h, &payload, arrived, unix_ns, sh, stats);
        }
        true
    }

    fn process(
        &mut self,
        h: RtpHeader,
        payload: &[u8],
        arrived: Instant,
        unix_ns: i64,
        sh: &Shared,
        stats: &mut Stats,
    ) {
        let Some(run) = self.run.as_mut() else {
            return;
        };
        if let Some(pt) = self.st.payload_type.filter(|pt| *pt != h.payload_type) {
            stats.malformed += 1;
            self.log.warn(&format!(
                "packet seq {} has payload type {}, status says {pt}: dropped",
                h.sequence, h.payload_type
            ));
            return;
        }
        let mut buf = run.reorder.buffer();
        let rest = run.encoding.decode(payload, &mut buf);
        if rest != 0 || buf.is_empty() {
            stats.malformed += 1;
            self.log.warn(&format!(
                "packet seq {} has a {}-byte payload, not a whole number of {} frames{}",
                h.sequence,
                payload.len(),
                run.encoding.name(),
                if buf.is_empty() {
                    ""
                } else {
                    " (whole frames kept)"
                }
            ));
            if buf.is_empty() {
                return;
            }
        }
        let n = buf.len() as u64;
        let verdict = run.reorder.push(h.timestamp, h.sequence, buf, arrived);
        let ts = run.reorder.stream_ts(h.timestamp).unwrap_or(EXT_ORIGIN);
        if matches!(verdict, Verdict::Resync { .. }) {
            // radiod restarted (or its timestamps jumped). A status that came after the old
            // stream's last packet is the new radiod's (it announces itself before its first
            // packet): time comes from it at once. An older one no longer applies: the system
            // clock holds until the next status.
            let fresh = self
                .time_status_at
                .is_some_and(|t| self.last_data_at.is_none_or(|d| t > d));
            if fresh {
                self.log
                    .warn("RTP timestamps restarted: time from the new status stream");
            } else {
                self.log.warn(
                    "RTP timestamps restarted: time from the system clock until the next status",
                );
                self.st.gps_time_ns = None;
                self.st.rtp_timesnap = None;
            }
            stats.resyncs += 1;
            run.map = None;
        }
        if !matches!(verdict, Verdict::Held | Verdict::Duplicate | Verdict::Late) {
            self.last_data_at = Some(arrived);
        }
        if run.map.is_none() {
            run.time_due = true;
            run.map = Some(match (self.st.gps_time_ns, self.st.rtp_timesnap) {
                (Some(gps), Some(snap)) => TimeMap::from_gps(
                    gps,
                    run.reorder.stream_ts(snap).unwrap_or(ts),
                    run.rate,
                    sh.leap_seconds,
                ),
                // The last sample of the packet was made about when it arrived.
                _ => TimeMap {
                    anchor_ts: ts + n,
                    anchor_ns: unix_ns,
                    rate: run.rate,
                    source: TimeSource::SystemClock,
                },
            });
        }
        match verdict {
            Verdict::Accepted { reordered } => {
                stats.packets += 1;
                stats.samples += n;
                stats.reordered += u64::from(reordered);
            }
            Verdict::Jumped { adopted } | Verdict::Resync { adopted } => {
                stats.packets += 2;
                stats.samples += n + adopted;
            }
            Verdict::Duplicate => stats.duplicate += 1,
            Verdict::Late => stats.late += 1,
            Verdict::Held => {}
        }
        stats.malformed += run.reorder.take_discarded();
    }

    /// Writes what the reorder window releases to `out` (everything when `flush`).
    pub fn emit(
        &mut self,
        out: &mut StreamOutput,
        now: Instant,
        flush: bool,
        sh: &Shared,
        stats: &mut Stats,
    ) {
        if flush && self.run.is_none() && !self.held.is_empty() {
            self.try_start_inner(now, sh, stats, true);
        }
        let ssrc = self.cfg.ssrc;
        let (gps, snap) = (self.st.gps_time_ns, self.st.rtp_timesnap);
        let Some(run) = self.run.as_mut() else {
            return;
        };
        let Running {
            reorder,
            map,
            pending_gap,
            rate,
            freq,
            rate_due,
            freq_due,
            time_due,
            ..
        } = run;
        reorder.release(now, flush, |r| match r {
            Release::Gap(n) => {
                *pending_gap += n;
                stats.lost += n;
            }
            Release::Data { ts, samples } => {
                if out.live_accepts() {
                    if *pending_gap > 0 {
                        out.add_tag(0, Tag::Gap(std::mem::take(pending_gap)));
                    }
                    if std::mem::take(rate_due) {
                        out.add_tag(0, Tag::Rate(*rate));
                    }
                    if std::mem::take(freq_due) {
                        if let Some(f) = *freq {
                            out.add_tag(0, Tag::Freq(f));
                        }
                    }
                    if let Some(m) = (*map).filter(|_| std::mem::take(time_due)) {
                        out.add_tag(
                            0,
                            Tag::Time {
                                ns: m.ns_at(ts),
                                source: m.source,
                            },
                        );
                        out.add_tag(0, Tag::User(TAG_RTP_SSRC.into(), Value::U64(ssrc.into())));
                        out.add_tag(
                            0,
                            Tag::User(TAG_RTP_TIMESTAMP.into(), Value::U64(u64::from(ts as u32))),
                        );
                        if let (TimeSource::Gpsdo, Some(g), Some(s)) = (m.source, gps, snap) {
                            out.add_tag(0, Tag::User(TAG_GPS_TIME.into(), Value::I64(g)));
                            out.add_tag(0, Tag::User(TAG_TIMESNAP.into(), Value::U64(s.into())));
                        }
                    }
                }
                out.write_live(samples);
            }
        });
    }
}
