//! `rtl_tcp_source`: a client of an rtl_tcp server. Tunes it, converts its `cu8` stream to
//! `c32`, tags rate, frequency and time, and reconnects with backoff when the server goes
//! away, tagging the time it was away as a gap.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use flow_framework::prelude::*;

use super::rtl_tcp_connect::{connect, setting};
use super::rtl_tcp_protocol::{Command, Cu8Converter};

/// Parameters of `rtl_tcp_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RtlTcpSourceParams {
    /// Server address, `host:port`.
    #[serde(default = "default_address")]
    pub address: String,
    /// Centre frequency in Hz.
    pub frequency: f64,
    /// Sample rate in Hz (rtl-sdr: 225001–300000 or 900001–3200000).
    #[serde(default = "default_rate")]
    pub sample_rate: f64,
    /// Tuner gain in dB (manual gain mode); absent: the tuner's automatic gain.
    #[serde(default)]
    pub gain_db: Option<f64>,
    /// Frequency correction in ppm.
    #[serde(default)]
    pub ppm: i32,
    /// The RTL2832's digital AGC.
    #[serde(default)]
    pub agc: bool,
    /// Direct sampling: 0 off, 1 I branch, 2 Q branch (HF reception); absent: not sent.
    #[serde(default)]
    pub direct_sampling: Option<u32>,
    /// Offset tuning (E4000).
    #[serde(default)]
    pub offset_tuning: bool,
    /// Bias tee power on the antenna input; absent: not sent.
    #[serde(default)]
    pub bias_tee: Option<bool>,
    /// First wait before reconnecting, in seconds (doubles up to `reconnect_max`).
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min: f64,
    /// Longest wait between reconnection attempts, in seconds.
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max: f64,
    /// Seconds without data after which the connection is taken as dead.
    #[serde(default = "default_stall")]
    pub stall_timeout: f64,
}

/// Bytes read from the socket at most per work call.
const READ_BYTES: usize = 1 << 15;

fn default_address() -> String {
    "127.0.0.1:1234".into()
}
fn default_rate() -> f64 {
    2_048_000.0
}
fn default_reconnect_min() -> f64 {
    0.5
}
fn default_reconnect_max() -> f64 {
    10.0
}
fn default_stall() -> f64 {
    3.0
}

/// Connection state.
enum Link {
    /// Not connected; try again at the instant.
    Down {
        retry_at: Instant,
        since: Option<Instant>,
    },
    /// Connected.
    Up {
        stream: TcpStream,
        last_data: Instant,
    },
}

/// The rtl_tcp client.
pub struct RtlTcpSource {
    p: RtlTcpSourceParams,
    link: Link,
    backoff: Duration,
    buf: Vec<u8>,
    carry: Option<u8>,
    samples: Vec<C32>,
    conv: Cu8Converter,
    first: bool,
    pending_gap: u64,
    /// The frequency was changed while running: tag it on the next samples.
    retag_freq: bool,
    health: Option<HealthHandle>,
    c_samples: Counter,
    c_disconnects: Counter,
    c_lost: Counter,
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

impl RtlTcpSource {
    fn go_down(&mut self, why: &str) {
        self.c_disconnects.inc();
        let since = Some(Instant::now());
        self.schedule_retry(since, why);
    }

    fn schedule_retry(&mut self, since: Option<Instant>, why: &str) {
        let retry_at = Instant::now() + self.backoff;
        if let Some(h) = &self.health {
            h.degraded(&format!(
                "{why}; retrying in {:.1} s",
                self.backoff.as_secs_f64()
            ));
        }
        tracing::warn!(address = %self.p.address, retry_s = self.backoff.as_secs_f64(), "rtl_tcp: {why}");
        self.backoff = (self.backoff * 2).min(Duration::from_secs_f64(self.p.reconnect_max));
        self.carry = None;
        self.link = Link::Down { retry_at, since };
    }
}

impl Block for RtlTcpSource {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.health = Some(ctx.health());
        self.c_samples = ctx.counter("samples");
        self.c_disconnects = ctx.counter("disconnects");
        self.c_lost = ctx.counter("samples_lost");
        Ok(())
    }

    /// `frequency`, `gain_db` and `ppm` change while running: the command goes to the
    /// server at once (or at the next connection while it is away), and a new `freq` tag
    /// marks the first samples read after a frequency change.
    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        let number = || {
            value
                .as_float()
                .or_else(|| value.as_integer().map(|i| i as f64))
                .ok_or_else(|| BlockError::config(format!("`{name}` must be a number")))
        };
        let mut p = self.p.clone();
        match name {
            "frequency" => p.frequency = number()?,
            "gain_db" => p.gain_db = Some(number()?),
            "ppm" => {
                p.ppm = value
                    .as_integer()
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| BlockError::config("`ppm` must be an integer"))?
            }
            _ => {
                return Err(BlockError::config(format!(
                    "`{name}` is not settable at run time"
                )))
            }
        }
        let bytes: Vec<u8> = setting(name, &p).iter().flat_map(Command::encode).collect();
        self.p = p;
        self.retag_freq |= name == "frequency";
        if let Link::Up { stream, .. } = &mut self.link {
            if let Err(e) = stream.write_all(&bytes) {
                // The next connection sends every setting, this one included.
                self.go_down(&format!("sending the new {name}: {e}"));
            }
        }
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let out = &mut io.outputs[0];
        match &mut self.link {
            Link::Down { retry_at, since } => {
                let (retry_at, since) = (*retry_at, *since);
                let wait = retry_at.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    std::thread::sleep(wait.min(Duration::from_millis(50)));
                    return Ok(Flow::Continue);
                }
                match connect(&self.p) {
                    Ok((stream, g)) => {
                        tracing::info!(address = %self.p.address, tuner = g.tuner_name(), gains = g.gain_count, "rtl_tcp: connected");
                        if let Some(t) = since {
                            let lost =
                                (t.elapsed().as_secs_f64() * self.p.sample_rate).round() as u64;
                            self.pending_gap += lost.max(1);
                            self.c_lost.add(lost.max(1));
                        }
                        self.backoff = Duration::from_secs_f64(self.p.reconnect_min);
                        self.first = true;
                        if let Some(h) = &self.health {
                            h.ok();
                        }
                        self.link = Link::Up {
                            stream,
                            last_data: Instant::now(),
                        };
                    }
                    Err(e) => self.schedule_retry(since, &e),
                }
                Ok(Flow::Continue)
            }
            Link::Up { stream, last_data } => {
                let r = stream.read(&mut self.buf);
                match r {
                    Ok(0) => {
                        self.go_down("the server closed the connection");
                        return Ok(Flow::Continue);
                    }
                    Ok(n) => {
                        *last_data = Instant::now();
                        self.samples.clear();
                        let mut bytes = &self.buf[..n];
                        if let Some(c) = self.carry.take() {
                            self.samples.push(C32::new(
                                (f32::from(c) - 127.5) / 127.5,
                                (f32::from(bytes[0]) - 127.5) / 127.5,
                            ));
                            bytes = &bytes[1..];
                        }
                        self.conv.convert(bytes, &mut self.samples);
                        if bytes.len() % 2 == 1 {
                            self.carry = bytes.last().copied();
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        if last_data.elapsed().as_secs_f64() > self.p.stall_timeout {
                            self.go_down("no data from the server");
                        }
                        return Ok(Flow::Continue);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                        return Ok(Flow::Continue)
                    }
                    Err(e) => {
                        self.go_down(&format!("reading: {e}"));
                        return Ok(Flow::Continue);
                    }
                }
                if self.samples.is_empty() {
                    return Ok(Flow::Continue);
                }
                if self.first {
                    if self.pending_gap > 0 {
                        out.add_tag(0, Tag::Gap(std::mem::take(&mut self.pending_gap)));
                    } else {
                        out.add_tag(0, Tag::Rate(self.p.sample_rate));
                        out.add_tag(0, Tag::Freq(self.p.frequency));
                    }
                    out.add_tag(
                        0,
                        Tag::Time {
                            ns: now_ns(),
                            source: TimeSource::SystemClock,
                        },
                    );
                    self.first = false;
                }
                if std::mem::take(&mut self.retag_freq) {
                    out.add_tag(0, Tag::Freq(self.p.frequency));
                }
                out.write_live(&self.samples);
                self.c_samples.add(self.samples.len() as u64);
                Ok(Flow::Continue)
            }
        }
    }
}

/// Registration of `rtl_tcp_source`.
pub struct RtlTcpSourceDef;

impl BlockDef for RtlTcpSourceDef {
    type Params = RtlTcpSourceParams;
    const NAME: &'static str = "rtl_tcp_source";
    const SUMMARY: &'static str = "Receives I/Q from an rtl_tcp server (RTL-SDR over the network).";
    const DOC: &'static str = "Output `out` (c32, live). Connects to `address`, checks the \
        12-byte greeting (\"RTL0\", tuner type, gain count), sends the 5-byte commands for \
        sample rate, frequency, ppm correction, gain mode (and gain), AGC, and the optional \
        direct sampling, offset tuning and bias tee, then converts the server's unsigned \
        8-bit I/Q to c32 as (x − 127.5)/127.5. Tags `rate` and `freq` on the first sample and \
        `time` (system clock at the arrival of the first data, so it includes network and \
        USB buffering) at every (re)connection. A live source: when downstream is full it \
        drops with hysteresis, counted and tagged as a gap. When the server goes away (closed, \
        error, or no data for `stall_timeout`), health turns degraded and it reconnects with \
        backoff (`reconnect_min` doubling to `reconnect_max`); the first sample after a \
        reconnection carries a `gap` of (time away × sample rate) samples and a new `time` \
        tag. Counters: `samples`, `disconnects`, `samples_lost` (gap samples while away).\n\n\
        Settable while running (`flow run --http`, the web view): `frequency`, `gain_db` and \
        `ppm`, sent to the server at once; after a frequency change a `freq` tag marks the \
        first samples read (samples still buffered in the server and the network were taken \
        at the old frequency).";
    const SETTABLE: &'static [&'static str] = &["frequency", "gain_db", "ppm"];
    const EXAMPLE: &'static str = "address = \"127.0.0.1:1234\"\nfrequency = 100e6\nsample_rate = 2.048e6\ngain_db = 29.7\nppm = 0";

    fn signature(_: &RtlTcpSourceParams) -> Signature {
        // Room for several reads, so a burst from the socket never overflows one call.
        Signature::new()
            .output("out", ItemType::C32)
            .min_items(READ_BYTES / 2)
            .live()
    }

    fn validate(p: &RtlTcpSourceParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if !(p.frequency > 0.0 && p.frequency <= f64::from(u32::MAX)) {
            e.push(ParamError::new(
                "frequency",
                "must be between 0 and 4294967295 Hz",
            ));
        }
        if !(p.sample_rate > 0.0 && p.sample_rate <= f64::from(u32::MAX)) {
            e.push(ParamError::new(
                "sample_rate",
                "must be a positive rate below 2^32 Hz",
            ));
        }
        if p.gain_db
            .is_some_and(|g| !(g.is_finite() && g.abs() < 1000.0))
        {
            e.push(ParamError::new("gain_db", "must be a gain in dB"));
        }
        if p.direct_sampling.is_some_and(|d| d > 2) {
            e.push(ParamError::new("direct_sampling", "must be 0, 1 or 2"));
        }
        if !(p.reconnect_min > 0.0
            && p.reconnect_max >= p.reconnect_min
            && p.reconnect_max.is_finite())
        {
            e.push(ParamError::new(
                "reconnect_max",
                "reconnect_min must be positive and reconnect_max at least reconnect_min",
            ));
        }
        if !(p.stall_timeout > 0.0 && p.stall_timeout.is_finite()) {
            e.push(ParamError::new(
                "stall_timeout",
                "must be a positive number of seconds",
            ));
        }
        if p.address.trim().is_empty() {
            e.push(ParamError::new("address", "must be host:port"));
        }
        e
    }

    fn build(p: &RtlTcpSourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(RtlTcpSource {
            link: Link::Down {
                retry_at: Instant::now(),
                since: None,
            },
            backoff: Duration::from_secs_f64(p.reconnect_min),
            buf: vec![0; READ_BYTES],
            carry: None,
            samples: Vec::with_capacity(1 << 15),
            conv: Cu8Converter::default(),
            first: true,
            pending_gap: 0,
            retag_freq: false,
            health: None,
            c_samples: Counter::default(),
            c_disconnects: Counter::default(),
            c_lost: Counter::default(),
            p: p.clone(),
        }))
    }
}

register_block!(RtlTcpSourceDef);

#[cfg(test)]
#[path = "rtl_tcp_tests.rs"]
mod tests;
