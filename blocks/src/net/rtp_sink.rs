//! `rtp_sink`: sends a `c32` stream as ka9q-radio compatible RTP with radiod's status
//! stream, so flow can stand in for radiod (tests, demos) or relay a stream.

use std::time::{Duration, Instant};

use flow_framework::log::RateLimited;
use flow_framework::metrics::unix_now_ns;
use flow_framework::prelude::*;

use super::encoding::Encoding;
use super::ka9q_status::ChannelStatus;
use super::packetizer::{build_packet, default_packet_samples};
use super::rtp::RtpHeader;
use super::timing::{unix_to_gps_ns, TimeMap, DEFAULT_LEAP_SECONDS, EXT_ORIGIN};
use super::udp::{check_endpoint, parse_endpoint, Interface, Sender};

/// Parameters of `rtp_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RtpSinkParams {
    /// Where the data goes, `host:port` (port 5004 if left out): unicast or a multicast group.
    pub address: String,
    /// Where the status stream goes (default: the data host, port 5006); `""` sends none.
    #[serde(default)]
    pub status: Option<String>,
    /// Interface multicast leaves on: an IPv4 address of it or its name; empty: the kernel's.
    #[serde(default)]
    pub interface: String,
    /// Multicast TTL in hops (1 stays on the LAN).
    #[serde(default = "one")]
    pub ttl: u32,
    /// Deliver multicast to listeners on this host too.
    #[serde(default = "yes")]
    pub loopback: bool,
    /// RTP SSRC of the stream (radiod's convention: the frequency in kHz).
    pub ssrc: u32,
    /// RTP payload type (dynamic; announced in the status stream).
    #[serde(default = "default_pt")]
    pub payload_type: u8,
    /// Payload encoding: s16be (radiod's default), s16le, f32le or f32be.
    #[serde(default = "default_encoding")]
    pub encoding: Encoding,
    /// Sample frames per packet (default: as many as fit 1440 bytes).
    #[serde(default)]
    pub packet_samples: Option<usize>,
    /// Sample rate in Hz, used until the stream's `rate` tag says otherwise.
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Frequency in Hz announced in the status stream, until a `freq` tag says otherwise
    /// (default: SSRC × 1000).
    #[serde(default)]
    pub frequency_hz: Option<f64>,
    /// Pace packets to the sample rate, like a live radiod; false sends as fast as data comes.
    #[serde(default)]
    pub realtime: bool,
    /// With `realtime`, play this many times faster than real time (demos and tests that
    /// want minutes of signal in seconds; the stream's timestamps and times are unchanged).
    #[serde(default = "default_speed")]
    pub speed: f64,
    /// Send a status packet every this many data packets (also before the first packet and
    /// after every time tag); 0: only then.
    #[serde(default = "default_status_every")]
    pub status_every: u64,
    /// RTP timestamp of the first sample.
    #[serde(default)]
    pub first_timestamp: u32,
    /// GPS − UTC in seconds, for GPS_TIME.
    #[serde(default = "default_leap")]
    pub leap_seconds: i32,
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn default_pt() -> u8 {
    97
}
fn default_encoding() -> Encoding {
    Encoding::F32le
}
fn default_speed() -> f64 {
    1.0
}

fn default_status_every() -> u64 {
    50
}
fn default_leap() -> i32 {
    DEFAULT_LEAP_SECONDS
}

/// Sends RTP.
pub struct RtpSink {
    p: RtpSinkParams,
    data: Option<Sender>,
    status: Option<Sender>,
    per_packet: usize,
    rate: Option<f64>,
    freq: f64,
    pending: Vec<C32>,
    /// Extended timestamp of `pending[0]`.
    packet_ts: u64,
    seq: u16,
    map: Option<TimeMap>,
    since_status: u64,
    status_due: bool,
    pace_origin: Option<(Instant, u64)>,
    pkt: Vec<u8>,
    packets: Counter,
    samples: Counter,
    status_sent: Counter,
    send_errors: Counter,
    gaps: Counter,
    send_log: RateLimited,
}

impl RtpSink {
    fn next_ts(&self) -> u64 {
        self.packet_ts + self.pending.len() as u64
    }

    fn rate(&self) -> Result<f64, BlockError> {
        self.rate.ok_or_else(|| {
            BlockError::config(
                "rtp_sink: no sample rate: set `sample_rate` or feed a stream with a rate tag",
            )
        })
    }

    fn send(&mut self, status: bool) {
        let sock = if status {
            self.status.as_mut()
        } else {
            self.data.as_mut()
        };
        if let Some(s) = sock {
            if let Err(e) = s.send(&self.pkt) {
                self.send_errors.inc();
                self.send_log.warn(&e.to_string());
            }
        }
    }

    fn send_status(&mut self, rate: f64) {
        let ts = self.packet_ts;
        let map = *self.map.get_or_insert(TimeMap {
            anchor_ts: ts,
            anchor_ns: unix_now_ns(),
            rate,
            source: TimeSource::SystemClock,
        });
        let st = ChannelStatus {
            ssrc: Some(self.p.ssrc),
            gps_time_ns: Some(unix_to_gps_ns(map.ns_at(ts), self.p.leap_seconds)),
            rtp_timesnap: Some(ts as u32),
            sample_rate: Some(rate.round() as u32),
            channels: Some(2),
            payload_type: Some(self.p.payload_type),
            encoding: Some(self.p.encoding.ka9q_code()),
            frequency_hz: Some(self.freq),
            description: Some("flow rtp_sink".into()),
            data_dest: parse_endpoint(&self.p.address, 5004)
                .ok()
                .map(std::net::SocketAddr::V4),
        };
        self.pkt.clear();
        st.encode(&mut self.pkt);
        self.send(true);
        self.status_sent.inc();
        self.since_status = 0;
        self.status_due = false;
    }

    /// Sends the pending samples as one packet (pacing first when `realtime`).
    fn flush_packet(&mut self) -> Result<(), BlockError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rate = self.rate()?;
        if self.status.is_some()
            && (self.status_due
                || (self.p.status_every > 0 && self.since_status >= self.p.status_every))
        {
            self.send_status(rate);
        }
        if self.p.realtime {
            let (t0, ts0) = *self
                .pace_origin
                .get_or_insert((Instant::now(), self.packet_ts));
            let due =
                t0 + Duration::from_secs_f64((self.packet_ts - ts0) as f64 / (rate * self.p.speed));
            let wait = due.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        let h = RtpHeader {
            marker: false,
            payload_type: self.p.payload_type,
            sequence: self.seq,
            timestamp: self.packet_ts as u32,
            ssrc: self.p.ssrc,
        };
        build_packet(&h, self.p.encoding, &self.pending, &mut self.pkt);
        self.send(false);
        self.seq = self.seq.wrapping_add(1);
        self.since_status += 1;
        self.packets.inc();
        self.samples.add(self.pending.len() as u64);
        self.packet_ts += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    fn append(&mut self, mut items: &[C32]) -> Result<(), BlockError> {
        while !items.is_empty() {
            let n = (self.per_packet - self.pending.len()).min(items.len());
            self.pending.extend_from_slice(&items[..n]);
            items = &items[n..];
            if self.pending.len() == self.per_packet {
                self.flush_packet()?;
            }
        }
        Ok(())
    }

    fn on_tag(&mut self, tag: &Tag) -> Result<(), BlockError> {
        match tag {
            Tag::Gap(n) => {
                // Missing samples stay missing: the timestamp skips them.
                self.flush_packet()?;
                self.packet_ts += n;
                self.gaps.add(*n);
            }
            Tag::Rate(r) if *r > 0.0 && Some(*r) != self.rate => {
                self.flush_packet()?;
                self.rate = Some(*r);
                self.pace_origin = None;
                self.status_due = true;
            }
            Tag::Freq(f) => {
                self.freq = *f;
                self.status_due = true;
            }
            Tag::Time { ns, source } => {
                let rate = self.rate()?;
                self.map = Some(TimeMap {
                    anchor_ts: self.next_ts(),
                    anchor_ns: *ns,
                    rate,
                    source: *source,
                });
                self.status_due = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends the items of input 0 and handles its tags, in stream order.
    fn consume_input(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        let input = &mut io.inputs[0];
        let items = input.slice::<C32>();
        let (pos0, n) = (input.position(), items.len());
        // At one position: the gap before the item first, then its rate, then its time.
        let rank = |t: &Tag| match t {
            Tag::Gap(_) => 0,
            Tag::Rate(_) => 1,
            _ => 2,
        };
        let mut tags: Vec<&ItemTag> = input.tags().iter().collect();
        tags.sort_by_key(|t| (t.position, rank(&t.tag)));
        let mut done = 0usize;
        for t in tags {
            let at = ((t.position - pos0) as usize).min(n);
            self.append(&items[done..at])?;
            done = at;
            self.on_tag(&t.tag)?;
        }
        self.append(&items[done..])?;
        input.consume(n);
        Ok(())
    }
}

impl Block for RtpSink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        let iface = Interface::parse(&self.p.interface);
        let dest = parse_endpoint(&self.p.address, 5004).map_err(BlockError::config)?;
        let open = |a| {
            Sender::open(a, &iface, self.p.ttl, self.p.loopback)
                .map_err(|e| BlockError::io(format!("sending RTP to {a}"), e))
        };
        self.data = Some(open(dest)?);
        self.status = match self.p.status.as_deref() {
            Some("") => None,
            Some(s) => Some(open(parse_endpoint(s, 5006).map_err(BlockError::config)?)?),
            None => Some(open(std::net::SocketAddrV4::new(*dest.ip(), 5006))?),
        };
        self.packets = ctx.counter("packets");
        self.samples = ctx.counter("samples");
        self.status_sent = ctx.counter("status");
        self.send_errors = ctx.counter("send_errors");
        self.gaps = ctx.counter("gaps");
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        self.consume_input(io)?;
        Ok(Flow::Continue)
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        self.consume_input(io)?;
        self.flush_packet()?;
        if self.status.is_some() {
            if let Ok(rate) = self.rate() {
                self.send_status(rate);
            }
        }
        Ok(())
    }
}

/// Registration of `rtp_sink`.
pub struct RtpSinkDef;

impl BlockDef for RtpSinkDef {
    type Params = RtpSinkParams;
    const NAME: &'static str = "rtp_sink";
    const SUMMARY: &'static str =
        "Sends a c32 stream as ka9q-radio compatible RTP, with radiod's status stream.";
    const DOC: &'static str = "Input `in` (c32). Packs samples into RTP packets of \
        `packet_samples` I/Q frames in `encoding` (12-byte header, timestamp counting frames, \
        sequence +1 per packet) to `address`, and sends radiod-style status packets (TLV: \
        OUTPUT_SSRC, OUTPUT_SAMPRATE, OUTPUT_CHANNELS = 2, RTP_PT, OUTPUT_ENCODING, \
        RADIO_FREQUENCY, GPS_TIME and RTP_TIMESNAP) to `status` before the first packet, every \
        `status_every` packets and after each time tag. GPS_TIME/RTP_TIMESNAP come from the \
        stream's `time` tags (the system clock at the first sample if it has none), so an \
        `rtp_source` reproduces the stream's time exactly. A `gap` tag ends the packet and \
        advances the timestamp over the missing samples. `rate` and `freq` tags override \
        `sample_rate` and `frequency_hz`. `realtime` paces packets to the sample rate; \
        otherwise they go as fast as data arrives. Counters: packets, samples, status, \
        send_errors, gaps.";
    const EXAMPLE: &'static str = "address = \"239.1.2.3:5004\"\nssrc = 10000\n\
        encoding = \"f32le\"\nsample_rate = 20000.0\nrealtime = true";

    fn signature(_: &RtpSinkParams) -> Signature {
        Signature::new()
            .input("in", ItemType::C32)
            .blocking()
            .manual_tags()
    }

    fn validate(p: &RtpSinkParams) -> Vec<ParamError> {
        let mut errs = Vec::new();
        if let Err(e) = check_endpoint(&p.address) {
            errs.push(ParamError::new("address", e));
        }
        if let Some(Err(e)) = p
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(check_endpoint)
        {
            errs.push(ParamError::new("status", e));
        }
        if p.payload_type > 127 {
            errs.push(ParamError::new("payload_type", "must be 0 to 127"));
        }
        let max = 65_000 / p.encoding.frame_bytes();
        if p.packet_samples.is_some_and(|n| n == 0 || n > max) {
            errs.push(ParamError::new(
                "packet_samples",
                format!("must be 1 to {max} for {}", p.encoding.name()),
            ));
        }
        if p.sample_rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
            errs.push(ParamError::new("sample_rate", "must be positive"));
        }
        if !(p.speed.is_finite() && p.speed > 0.0) {
            errs.push(ParamError::new(
                "speed",
                "must be a positive factor (1.0 = real time)",
            ));
        }
        errs
    }

    fn plan(p: &RtpSinkParams, _: &PlanInputs) -> PlanInfo {
        PlanInfo {
            paced: p.realtime,
            ..PlanInfo::default()
        }
    }

    fn build(p: &RtpSinkParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let per_packet = p
            .packet_samples
            .unwrap_or_else(|| default_packet_samples(p.encoding));
        Ok(Box::new(RtpSink {
            p: p.clone(),
            data: None,
            status: None,
            per_packet,
            rate: p.sample_rate,
            freq: p.frequency_hz.unwrap_or(f64::from(p.ssrc) * 1000.0),
            pending: Vec::with_capacity(per_packet),
            packet_ts: EXT_ORIGIN + u64::from(p.first_timestamp),
            seq: 0,
            map: None,
            since_status: 0,
            status_due: true,
            pace_origin: None,
            pkt: Vec::with_capacity(12 + per_packet * 8),
            packets: Counter::default(),
            samples: Counter::default(),
            status_sent: Counter::default(),
            send_errors: Counter::default(),
            gaps: Counter::default(),
            send_log: RateLimited::new("rtp_sink: send failed", Duration::from_secs(10)),
        }))
    }
}

register_block!(RtpSinkDef);

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::time::Duration;

    use flow_framework::harness::Harness;
    use flow_framework::prelude::*;

    use super::super::encoding::Encoding;
    use super::super::ka9q_status::ChannelStatus;
    use super::super::rtp::RtpHeader;
    use super::super::timing::unix_to_gps_ns;

    /// A socket to receive on, and its address.
    fn listener() -> (UdpSocket, String) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let a = s.local_addr().unwrap().to_string();
        (s, a)
    }

    #[test]
    fn sends_radiod_packets_and_status_with_the_streams_time() {
        let ((data, da), (status, sa)) = (listener(), listener());
        let mut h = Harness::new(
            "rtp_sink",
            &format!(
                "address = \"{da}\"\nstatus = \"{sa}\"\nssrc = 10000\nencoding = \"s16be\"\n\
                 packet_samples = 100\nfirst_timestamp = 4294967246\nstatus_every = 0"
            ),
            &[ItemType::C32],
        )
        .unwrap();
        let t = 1_765_032_240_000_000_000i64;
        h.push_tag(0, 0, Tag::Rate(20_000.0));
        h.push_tag(
            0,
            0,
            Tag::Time {
                ns: t,
                source: TimeSource::Gpsdo,
            },
        );
        h.push_input(0, &vec![C32::new(0.5, -0.5); 150]);
        h.push_tag(0, 0, Tag::Gap(1000));
        h.push_input(0, &vec![C32::new(0.25, 0.0); 100]);
        h.run_to_end().unwrap();
        assert_eq!(
            (
                h.counter("packets"),
                h.counter("samples"),
                h.counter("gaps")
            ),
            (3, 250, 1000)
        );

        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        for _ in 0..3 {
            let n = data.recv(&mut buf).unwrap();
            let (hd, payload) = RtpHeader::parse(&buf[..n]).unwrap();
            let mut s = Vec::new();
            Encoding::S16be.decode(payload, &mut s);
            got.push((hd.sequence, hd.timestamp, s.len()));
            assert_eq!((hd.ssrc, hd.payload_type), (10_000, 97));
        }
        // 100 + 50 (cut by the gap), then 1000 samples skipped across the 32-bit wrap.
        assert_eq!(got, [(0, 4_294_967_246, 100), (1, 50, 50), (2, 1100, 100)]);
        // The first status (before the first packet) ties timestamp 4294967246 to t.
        let n = status.recv(&mut buf).unwrap();
        let st = ChannelStatus::parse(&buf[..n]).unwrap();
        assert_eq!(st.ssrc, Some(10_000));
        assert_eq!(st.rtp_timesnap, Some(4_294_967_246));
        assert_eq!(st.gps_time_ns, Some(unix_to_gps_ns(t, 18)));
        assert_eq!(st.sample_rate, Some(20_000));
        assert_eq!(st.encoding, Some(Encoding::S16be.ka9q_code()));
        assert_eq!(st.frequency_hz, Some(10e6));
    }

    #[test]
    fn without_a_rate_it_says_what_to_set() {
        let (_data, da) = listener();
        let mut h = Harness::new(
            "rtp_sink",
            &format!("address = \"{da}\"\nstatus = \"\"\nssrc = 1\npacket_samples = 1"),
            &[ItemType::C32],
        )
        .unwrap();
        h.push_input(0, &[C32::new(0.0, 0.0)]);
        h.run_to_end().unwrap();
        assert!(
            h.metrics()
                .last_error()
                .contains("no sample rate: set `sample_rate`"),
            "{}",
            h.metrics().last_error()
        );
    }
}
