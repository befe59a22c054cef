//! `rtp_source`: receives ka9q-radio (radiod) RTP I/Q streams over UDP, unicast or IPv4
//! multicast, one output per channel (SSRC), with the format and GPS time learned from
//! radiod's status stream, reordering, gap tags and loss counters.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use flow_framework::log::RateLimited;
use flow_framework::metrics::unix_now_ns;
use flow_framework::prelude::*;

use super::ka9q_status::ChannelStatus;
use super::rtp::RtpHeader;
use super::rtp_channel::{Channel, ChannelConfig, Shared, Stats};
pub use super::rtp_source_params::{validate, ChannelParams, RtpSourceParams};
use super::udp::{parse_endpoint, wait_readable, Interface, Receiver};
use super::upstream::{Action, Upstream};

/// How long one work call collects packets before handing them downstream.
const BATCH: Duration = Duration::from_millis(50);
/// How long reading waits for a full output to drain before it reads and drops.
const DEFER: Duration = Duration::from_millis(100);
/// Largest datagram.
const MAX_DATAGRAM: usize = 65_536;

/// The block's counters.
#[derive(Default)]
struct Counters {
    packets: Counter,
    samples: Counter,
    lost: Counter,
    reordered: Counter,
    duplicate: Counter,
    malformed: Counter,
    late: Counter,
    no_format: Counter,
    time_steps: Counter,
    resyncs: Counter,
    ignored: Counter,
    status: Counter,
    kernel_drops: Counter,
}

/// Receives RTP.
pub struct RtpSource {
    p: RtpSourceParams,
    shared: Shared,
    data: Option<Receiver>,
    status: Option<Receiver>,
    channels: Vec<Channel>,
    by_ssrc: HashMap<u32, usize>,
    buf: Vec<u8>,
    stats: Stats,
    c: Counters,
    /// Largest free space seen per output (its capacity).
    capacity: Vec<usize>,
    starving_since: Option<Instant>,
    /// When the last data packet arrived (for `idle_end`).
    last_data: Option<Instant>,
    bad_packet: RateLimited,
    bad_status: RateLimited,
    upstream: Upstream,
    rejoin_log: RateLimited,
}

impl RtpSource {
    fn status_address(&self) -> Result<Option<std::net::SocketAddrV4>, BlockError> {
        match self.p.status.as_deref() {
            Some("") => Ok(None),
            Some(s) => parse_endpoint(s, 5006)
                .map(Some)
                .map_err(BlockError::config),
            None => {
                let data = parse_endpoint(&self.p.address, 5004).map_err(BlockError::config)?;
                Ok(Some(std::net::SocketAddrV4::new(*data.ip(), 5006)))
            }
        }
    }

    /// Handles one datagram; returns the channel a data packet went to.
    fn on_datagram(&mut self, len: usize, status: bool) -> Option<usize> {
        let (now, unix) = (Instant::now(), unix_now_ns());
        let pkt = &self.buf[..len];
        if status {
            match ChannelStatus::parse(pkt) {
                Ok(s) => {
                    let ch = s.ssrc.and_then(|x| self.by_ssrc.get(&x).copied());
                    if let Some(k) = ch {
                        self.c.status.inc();
                        self.channels[k].on_status(&s, &self.shared, &mut self.stats);
                    }
                }
                Err(e) => self.bad_status.warn(&e.to_string()),
            }
            return None;
        }
        match RtpHeader::parse(pkt) {
            Ok((h, payload)) => match self.by_ssrc.get(&h.ssrc) {
                Some(&k) => {
                    self.channels[k].on_packet(
                        h,
                        payload,
                        now,
                        unix,
                        &self.shared,
                        &mut self.stats,
                    );
                    Some(k)
                }
                None => {
                    self.c.ignored.inc();
                    None
                }
            },
            Err(e) => {
                self.stats.malformed += 1;
                self.bad_packet.warn(&e.to_string());
                None
            }
        }
    }

    /// Receives what is queued on a socket (at most `limit` datagrams). Data packets are
    /// released to their output at once; reading stops early when that output runs low on
    /// space, so the work call returns and downstream can drain (the rest waits in the
    /// kernel's buffer). Returns true if datagrams may be left.
    fn drain(&mut self, io: &mut WorkIo, status: bool, limit: usize) -> bool {
        for _ in 0..limit {
            let sock = if status {
                self.status.as_mut()
            } else {
                self.data.as_mut()
            };
            let Some(sock) = sock else { return false };
            match sock.recv(&mut self.buf) {
                Ok(Some(n)) => {
                    if !status {
                        let now = Instant::now();
                        self.last_data = Some(now);
                        self.upstream.on_data(now);
                    }
                    if let Some(k) = self.on_datagram(n, status) {
                        let out = &mut io.outputs[k];
                        self.channels[k].emit(
                            out,
                            Instant::now(),
                            false,
                            &self.shared,
                            &mut self.stats,
                        );
                        if out.space() < self.capacity[k] / 8 {
                            return true;
                        }
                    }
                }
                Ok(None) => return false,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    self.stats.malformed += 1;
                    self.bad_packet.warn(&e.to_string());
                }
                Err(e) => {
                    self.bad_packet.warn(&format!("receiving: {e}"));
                    return false;
                }
            }
        }
        true
    }

    fn emit_all(&mut self, io: &mut WorkIo, flush: bool) {
        let now = Instant::now();
        for (ch, out) in self.channels.iter_mut().zip(io.outputs.iter_mut()) {
            if !flush {
                ch.try_start(now, &self.shared, &mut self.stats);
            }
            ch.emit(out, now, flush, &self.shared, &mut self.stats);
        }
        self.publish();
    }

    fn publish(&mut self) {
        let s = std::mem::take(&mut self.stats);
        let c = &self.c;
        for (counter, v) in [
            (&c.packets, s.packets),
            (&c.samples, s.samples),
            (&c.lost, s.lost),
            (&c.reordered, s.reordered),
            (&c.duplicate, s.duplicate),
            (&c.malformed, s.malformed),
            (&c.late, s.late),
            (&c.no_format, s.no_format),
            (&c.time_steps, s.time_steps),
            (&c.resyncs, s.resyncs),
        ] {
            if v > 0 {
                counter.add(v);
            }
        }
        if let Some(d) = self.data.as_ref().and_then(Receiver::kernel_drops) {
            c.kernel_drops.set(d.into());
        }
    }
}

impl RtpSource {
    /// Reports silences and rejoins the multicast groups while one lasts.
    fn watch_upstream(&mut self, now: Instant) {
        let multicast = self.data.as_ref().is_some_and(Receiver::is_multicast);
        if self.upstream.tick(now, self.last_data, multicast) == Action::Rejoin {
            for r in [self.data.as_ref(), self.status.as_ref()]
                .into_iter()
                .flatten()
            {
                if let Err(e) = r.rejoin() {
                    self.rejoin_log.warn(&format!(
                        "rejoining the multicast group on `{}`: {e}",
                        self.p.interface
                    ));
                }
            }
        }
    }
}

impl Block for RtpSource {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        let iface = Interface::parse(&self.p.interface);
        let data_addr = parse_endpoint(&self.p.address, 5004).map_err(BlockError::config)?;
        let data = Receiver::open(data_addr, &iface, self.p.recv_buffer)
            .map_err(|e| BlockError::io(format!("receiving RTP on {data_addr}"), e))?;
        if data.recv_buffer < self.p.recv_buffer {
            tracing::warn!(block = ctx.name(), granted = data.recv_buffer, asked = self.p.recv_buffer,
                "socket receive buffer capped by net.core.rmem_max (raise it with sysctl to avoid drops)");
        }
        self.data = Some(data);
        self.status = match self.status_address()? {
            Some(a) => Some(
                Receiver::open(a, &iface, 1 << 20)
                    .map_err(|e| BlockError::io(format!("receiving radiod status on {a}"), e))?,
            ),
            None => None,
        };
        let c = |n| ctx.counter(n);
        self.c = Counters {
            packets: c("packets"),
            samples: c("samples"),
            lost: c("lost"),
            reordered: c("reordered"),
            duplicate: c("duplicate"),
            malformed: c("malformed"),
            late: c("late"),
            no_format: c("no_format"),
            time_steps: c("time_steps"),
            resyncs: c("resyncs"),
            ignored: c("ignored"),
            status: c("status"),
            kernel_drops: c("kernel_drops"),
        };
        self.upstream.start(ctx);
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let now = Instant::now();
        // Ending on idle comes first: a stream meant to end when its sender finishes is not
        // reported silent on the way (`idle_end` at or below `stale_after`).
        if let (Some(idle), Some(last)) = (self.p.idle_end, self.last_data) {
            if now.duration_since(last) >= idle {
                tracing::info!(after = ?idle, "no RTP data for the idle_end time: ending the stream");
                return Ok(Flow::Done);
            }
        }
        self.watch_upstream(now);
        // An output short of space (downstream behind): leave packets in the kernel's
        // (large) socket buffer for up to DEFER, rather than read them only to drop them.
        // Past that, read on and let the full output drop (counted, tagged as a gap).
        let mut starving = false;
        for (cap, out) in self.capacity.iter_mut().zip(io.outputs.iter()) {
            *cap = (*cap).max(out.space());
            starving |= out.space() < *cap / 4;
        }
        let defer = starving && now.duration_since(*self.starving_since.get_or_insert(now)) < DEFER;
        if !starving {
            self.starving_since = None;
        }
        let deadline = now
            + if defer {
                Duration::from_millis(5)
            } else {
                BATCH
            };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ready = {
                let mut fds = Vec::with_capacity(2);
                if let Some(s) = &self.status {
                    fds.push(s.fd());
                }
                if let Some(d) = self.data.as_ref().filter(|_| !defer) {
                    fds.push(d.fd());
                }
                wait_readable(&fds, left.max(Duration::from_millis(1)))
                    .map_err(|e| BlockError::io("waiting for RTP packets", e))?
            };
            let status_ready = self.status.is_some() && ready.first().copied().unwrap_or(false);
            let data_ready = !defer && ready.last().copied().unwrap_or(false);
            if status_ready {
                self.drain(io, true, 1024);
            }
            let more = data_ready && self.drain(io, false, 1024);
            self.emit_all(io, false);
            if more || defer || Instant::now() >= deadline {
                return Ok(Flow::Continue);
            }
        }
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        // Whatever is queued in the sockets still counts; then the windows are flushed.
        self.drain(io, true, usize::MAX);
        while self.drain(io, false, usize::MAX) {}
        self.emit_all(io, true);
        Ok(())
    }
}

/// Registration of `rtp_source`.
pub struct RtpSourceDef;

impl BlockDef for RtpSourceDef {
    type Params = RtpSourceParams;
    const NAME: &'static str = "rtp_source";
    const SUMMARY: &'static str =
        "Receives ka9q-radio RTP I/Q channels (unicast or multicast), one c32 output per SSRC.";
    const DOC: &'static str = "No inputs. One `c32` output per entry of `channels`, named by its \
        `name`; each entry is `{ ssrc, name, frequency_hz?, sample_rate?, encoding? }` (the last \
        three override the block's defaults when radiod's status does not say). One socket \
        receives every channel of a group (several channels, one block, one thread); packets of \
        other SSRCs are counted as `ignored`.\n\n\
        Format: sample rate, encoding (s16be/s16le/f32le/f32be, I/Q interleaved) and frequency \
        come from radiod's status stream (TLV on port 5006) when it arrives, else from the \
        parameters. Time: the first sample of each channel is tagged `time` from radiod's \
        GPS_TIME and RTP_TIMESNAP (source `gpsdo`) or, if no status came within `status_wait`, \
        from the system clock at the first packet's arrival (source `system_clock`); also `rate`, \
        `freq`, and user tags `rtp_ssrc`, `rtp_timestamp` (and `rtp_gps_time_ns`, `rtp_timesnap`). \
        32-bit RTP timestamps are extended across wraps; the sample index never wraps.\n\n\
        Loss and order: packets are placed by timestamp within a reorder window \
        (`reorder_packets`, `reorder_time`); missing samples become `gap` tags (never silent), \
        duplicates are dropped, packets after their window closed are counted as `late`. \
        Counters: packets, samples, lost (samples), reordered, duplicate, malformed, late, \
        no_format, time_steps, resyncs (restarts of radiod's timestamps), ignored, status, \
        kernel_drops (the socket's SO_RXQ_OVFL).\n\n\
        A live source: never waits on downstream. When a channel's queue is nearly full, packets \
        wait in the kernel's socket buffer for up to 100 ms; after that the full channel drops \
        with hysteresis (counted in `dropped`, tagged as a gap). Give the outputs a few seconds \
        of queue with the block's `buffer` setting. On stop the queued packets are read and the \
        reorder windows flushed.\n\n\
        Upstream resets: a radiod restart (the same SSRC returning with new sequence numbers and \
        timestamps, even behind the old ones after a silence of a second or more) is logged once \
        per channel, counted in `resyncs`, and the stream continues after a `gap` of the wall \
        time that passed, its time learned again from the new status stream. No data for \
        `stale_after` is a silence: logged once, health degraded, counted in `silences`; while it \
        lasts the multicast groups are left and joined again every `rejoin_every` (`rejoins`), \
        the interface resolved anew (it may have been removed and created again). See \
        docs/grape.md.";
    const EXAMPLE: &'static str = "address = \"239.1.2.3:5004\"\ninterface = \"\"\n\
        channels = [\n  { ssrc = 10000, name = \"WWV_10\" },\n  { ssrc = 15000, name = \"WWV_15\" },\n]\n\
        sample_rate = 20000.0\nencoding = \"s16be\"";

    fn signature(p: &RtpSourceParams) -> Signature {
        let mut s = Signature::new();
        for ch in &p.channels {
            s = s.output(ch.name.clone(), ItemType::C32);
        }
        s.live().manual_tags()
    }

    fn validate(p: &RtpSourceParams) -> Vec<ParamError> {
        validate(p)
    }

    fn plan(p: &RtpSourceParams, _: &PlanInputs) -> PlanInfo {
        PlanInfo {
            output_rates: Some(
                p.channels
                    .iter()
                    .map(|c| c.sample_rate.or(p.sample_rate))
                    .collect(),
            ),
            paced: true,
            ..PlanInfo::default()
        }
    }

    fn build(p: &RtpSourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let channels: Vec<Channel> = p
            .channels
            .iter()
            .map(|c| {
                Channel::new(ChannelConfig {
                    ssrc: c.ssrc,
                    name: c.name.clone(),
                    frequency_hz: c.frequency_hz,
                    sample_rate: c.sample_rate.or(p.sample_rate),
                    encoding: c.encoding.or(p.encoding),
                })
            })
            .collect();
        let by_ssrc = p
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| (c.ssrc, i))
            .collect();
        let limited = |what: &str| RateLimited::new(what.to_string(), Duration::from_secs(10));
        Ok(Box::new(RtpSource {
            shared: Shared {
                leap_seconds: p.leap_seconds,
                status_wait: p.status_wait,
                time_step_ns: (p.time_step_ms * 1e6) as i64,
                reorder_packets: p.reorder_packets,
                reorder_time: p.reorder_time,
                hold_packets: 4096,
            },
            p: p.clone(),
            data: None,
            status: None,
            channels,
            by_ssrc,
            buf: vec![0; MAX_DATAGRAM],
            stats: Stats::default(),
            c: Counters::default(),
            capacity: vec![0; p.channels.len()],
            starving_since: None,
            last_data: None,
            bad_packet: limited("rtp_source: malformed packet"),
            bad_status: limited("rtp_source: malformed status packet"),
            upstream: Upstream::new(p.stale_after, p.rejoin_every),
            rejoin_log: RateLimited::new("rtp_source", Duration::from_secs(60)),
        }))
    }
}

register_block!(RtpSourceDef);

#[cfg(test)]
#[path = "rtp_source_tests.rs"]
mod tests;
