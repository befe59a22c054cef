//! `digital_rf_sink` (cargo feature `hdf5`): writes one or more synchronous `c32` streams
//! as the subchannels of a Digital RF 2.x channel, plus the Digital Metadata record GRAPE
//! uploads to HamSCI PSWS need.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use crate::util::retention::{Limits, Retention};

use super::drf::attrs::ChannelProps;
use super::drf::metadata::{self, MetaProps, MetaValue};
use super::drf::retention::DrfLayout;
use super::drf::writer::DrfWriter;
use super::stream_clock::StreamClock;

/// Station metadata written to `CHANNEL/metadata` at the first sample.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StationMeta {
    /// Callsign of the station.
    pub callsign: String,
    /// Maidenhead grid square.
    pub grid_square: String,
    /// Receiver name.
    #[serde(default)]
    pub receiver_name: String,
    /// Latitude in degrees.
    pub lat: f32,
    /// Longitude in degrees.
    pub long: f32,
    /// Centre frequency of each subchannel, in MHz.
    pub center_frequencies_mhz: Vec<f64>,
}

fn d_channel() -> String {
    "ch0".into()
}
fn d_subdir() -> u64 {
    86_400
}
fn d_file() -> u64 {
    3_600_000
}
fn d_uuid() -> String {
    "flow".into()
}
fn d_flush() -> f64 {
    10.0
}

/// Parameters of `digital_rf_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DigitalRfSinkParams {
    /// Top directory; the channel is `dir/channel` (relative: to the flowgraph's directory).
    pub dir: PathBuf,
    /// Channel name.
    #[serde(default = "d_channel")]
    pub channel: String,
    /// Sample rate as an integer fraction `[numerator, denominator]` (default: the
    /// stream's `rate` tag, which must then be a whole number of Hz).
    #[serde(default)]
    pub sample_rate: Option<[u64; 2]>,
    /// Seconds per subdirectory (PSWS: 86400).
    #[serde(default = "d_subdir")]
    pub subdir_cadence_secs: u64,
    /// Milliseconds per file (PSWS: 3600000).
    #[serde(default = "d_file")]
    pub file_cadence_ms: u64,
    /// `uuid_str` of the files (PSWS: the station id).
    #[serde(default = "d_uuid")]
    pub uuid: String,
    /// Seconds between flushes.
    #[serde(default = "d_flush")]
    pub flush_seconds: f64,
    /// Station metadata (GRAPE); none: no metadata channel.
    #[serde(default)]
    pub metadata: Option<StationMeta>,
    /// Storage limits of the channel directory (`{ max_bytes, max_age, min_free,
    /// require_confirmation, on_full }`): finished `rf@*.h5` files are deleted oldest first,
    /// never the one being written.
    #[serde(default)]
    pub limits: Option<Limits>,
}

/// The `digital_rf_sink` block.
pub struct DigitalRfSink {
    p: DigitalRfSinkParams,
    clocks: StreamClock,
    writer: Option<DrfWriter>,
    offset: Option<(Option<(u64, i64)>, i128)>,
    rows: Vec<C32>,
    last_flush: Instant,
    c: [Counter; 4],
    warn: RateLimited,
    retention: Retention,
    active: Option<PathBuf>,
}

impl DigitalRfSink {
    fn props(&self) -> Result<ChannelProps, BlockError> {
        let [num, den] = match self.p.sample_rate {
            Some(r) => r,
            None => {
                let r = self.clocks.rate.ok_or_else(|| BlockError::config("digital_rf_sink needs the sample rate: no `rate` tag; set `sample_rate = [num, den]`"))?;
                if r.fract() != 0.0 {
                    return Err(BlockError::config(format!(
                        "rate {r} Hz is not whole: set `sample_rate = [num, den]`"
                    )));
                }
                [r as u64, 1]
            }
        };
        Ok(ChannelProps {
            rate_num: num,
            rate_den: den,
            subdir_cadence_secs: self.p.subdir_cadence_secs,
            file_cadence_ms: self.p.file_cadence_ms,
            num_subchannels: 0,
            uuid: self.p.uuid.clone(),
        })
    }

    fn start_writer(&mut self, nsub: usize, first: u64) -> Result<(), BlockError> {
        let mut props = self.props()?;
        props.num_subchannels = nsub as u32;
        let ch = self.p.dir.join(&self.p.channel);
        let w = DrfWriter::create(&ch, &props).map_err(BlockError::config)?;
        if let Some(m) = &self.p.metadata {
            let mp = MetaProps {
                subdir_cadence_secs: props.subdir_cadence_secs as i64,
                file_cadence_secs: 3600,
                rate_num: props.rate_num as i64,
                rate_den: props.rate_den as i64,
            };
            let fields = [
                ("callsign", MetaValue::Str(m.callsign.clone())),
                ("grid_square", MetaValue::Str(m.grid_square.clone())),
                ("receiver_name", MetaValue::Str(m.receiver_name.clone())),
                ("lat", MetaValue::F32(m.lat)),
                ("long", MetaValue::F32(m.long)),
                (
                    "center_frequencies",
                    MetaValue::F64s(m.center_frequencies_mhz.clone()),
                ),
                ("uuid_str", MetaValue::Str(self.p.uuid.clone())),
            ];
            metadata::write(&ch.join("metadata"), &mp, first, &fields)
                .map_err(BlockError::config)?;
        }
        self.writer = Some(w);
        Ok(())
    }
}

impl DigitalRfSink {
    /// Tells retention which file is being written (the writer moves to a new file per
    /// cadence) and accounts `bytes` written to it.
    fn track_file(&mut self, bytes: u64) {
        let cur = self.writer.as_ref().and_then(DrfWriter::current_path);
        if cur != self.active {
            if let Some(old) = self.active.take() {
                self.retention.finished(&old);
            }
            if let Some(new) = &cur {
                self.retention.begin(new);
            }
            self.active = cur;
        }
        if let Some(a) = self.active.clone() {
            self.retention.admit(&a, bytes);
        }
    }
}

impl Block for DigitalRfSink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.c = ["rows", "failures", "overlapped", "limit_dropped"].map(|n| ctx.counter(n));
        self.retention.start(ctx).map_err(|e| {
            BlockError::io(
                format!("scanning {}", self.p.dir.join(&self.p.channel).display()),
                e,
            )
        })
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let nsub = io.inputs.len();
        let n = io.inputs.iter().map(|i| i.len()).min().unwrap_or(0);
        let start = io.inputs[0].position();
        // Tags of the first input drive time; a tag or gap splits the write.
        let cut = io.inputs[0]
            .tags()
            .iter()
            .map(|t| (t.position - start) as usize)
            .find(|&o| o > 0 && o < n)
            .unwrap_or(n);
        let tags: Vec<Tag> = io.inputs[0]
            .tags()
            .iter()
            .filter(|t| t.position == start)
            .map(|t| t.tag.clone())
            .collect();
        let first = io.inputs[0].sample_index(0);
        for t in &tags {
            self.clocks.apply(first, t);
        }
        if cut == 0 {
            return Ok(Flow::Continue);
        }
        self.clocks.anchor_now_if_unset(first);
        let rate = self.props()?.rate();
        if self
            .offset
            .as_ref()
            .is_none_or(|(a, _)| *a != self.clocks.anchor)
        {
            let (i0, t0) = self.clocks.anchor.unwrap_or((first, 0));
            let d0 = (t0 as f64 * rate / 1e9).round() as i128;
            self.offset = Some((self.clocks.anchor, d0 - i128::from(i0)));
        }
        let drf = (i128::from(first) + self.offset.as_ref().map_or(0, |o| o.1)).max(0) as u64;
        if self.writer.is_none() {
            self.start_writer(nsub, drf)?;
        }
        self.rows.clear();
        for k in 0..cut {
            for i in io.inputs.iter() {
                self.rows.push(i.slice::<C32>()[k]);
            }
        }
        let rows = std::mem::take(&mut self.rows);
        let bytes = (rows.len() * 8) as u64;
        self.retention.poll();
        if !self.retention.room(bytes) {
            self.c[3].add(cut as u64);
            self.rows = rows;
            for i in io.inputs.iter_mut() {
                i.consume(cut);
            }
            return Ok(Flow::Continue);
        }
        if let Some(w) = self.writer.as_mut() {
            let before = w.overlapped;
            match w.write(drf, &rows) {
                Ok(()) => self.c[0].add(cut as u64),
                Err(e) => {
                    self.c[1].inc();
                    self.warn.error(&format!("{e}; continuing in a fresh file"));
                    let _ = w.close();
                }
            }
            self.c[2].add(w.overlapped - before);
            if self.last_flush.elapsed() >= Duration::from_secs_f64(self.p.flush_seconds) {
                self.last_flush = Instant::now();
                if let Err(e) = w.flush() {
                    self.warn.error(&e);
                }
            }
        }
        self.rows = rows;
        self.track_file(bytes);
        for i in io.inputs.iter_mut() {
            i.consume(cut);
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        if let Some(w) = self.writer.as_mut() {
            w.close().map_err(BlockError::config)?;
        }
        if let Some(p) = self.active.take() {
            self.retention.finished(&p);
        }
        Ok(())
    }
}

/// Registration of `digital_rf_sink`.
pub struct DigitalRfSinkDef;

impl BlockDef for DigitalRfSinkDef {
    type Params = DigitalRfSinkParams;
    const NAME: &'static str = "digital_rf_sink";
    const SUMMARY: &'static str =
        "Writes c32 streams as a Digital RF 2.x channel with GRAPE/PSWS metadata (feature `hdf5`).";
    const DOC: &'static str = include_str!("digital_rf_sink.md");
    const EXAMPLE: &'static str = "dir = \"psws\"\nchannel = \"ch0\"\nuuid = \"S000123\"\nmetadata = { callsign = \"AB1CD\", grid_square = \"FN42\", receiver_name = \"flow\", lat = 42.36, long = -71.09, center_frequencies_mhz = [10.0] }";

    fn signature(_: &DigitalRfSinkParams) -> Signature {
        Signature::new()
            .input("in", ItemType::C32)
            .variadic()
            .manual_tags()
            .blocking()
    }

    fn validate(p: &DigitalRfSinkParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if p.sample_rate.is_some_and(|[n, d]| n == 0 || d == 0) {
            e.push(ParamError::new(
                "sample_rate",
                "numerator and denominator must be positive",
            ));
        }
        if p.subdir_cadence_secs == 0
            || p.file_cadence_ms == 0
            || (p.subdir_cadence_secs * 1000) % p.file_cadence_ms != 0
        {
            e.push(ParamError::new(
                "file_cadence_ms",
                "cadences must be positive and a subdirectory must hold whole files",
            ));
        }
        if !(p.flush_seconds.is_finite() && p.flush_seconds > 0.0) {
            e.push(ParamError::new(
                "flush_seconds",
                "must be a positive number of seconds",
            ));
        }
        if let Some(l) = &p.limits {
            e.extend(l.check());
        }
        e
    }

    fn plan(p: &DigitalRfSinkParams, inputs: &PlanInputs) -> PlanInfo {
        let rate: Option<f64> = inputs.rates.iter().copied().sum();
        PlanInfo {
            storage: rate
                .map(|r| Storage {
                    path: p.dir.join(&p.channel),
                    bytes_per_second: r * 8.0,
                    limit_bytes: p.limits.as_ref().and_then(|l| l.max_bytes).map(|b| b.0),
                })
                .into_iter()
                .collect(),
            ..PlanInfo::default()
        }
    }

    fn build(p: &DigitalRfSinkParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let dir = if p.dir.is_relative() {
            ctx.base_dir.join(&p.dir)
        } else {
            p.dir.clone()
        };
        Ok(Box::new(DigitalRfSink {
            clocks: StreamClock::default(),
            writer: None,
            offset: None,
            rows: Vec::new(),
            last_flush: Instant::now(),
            c: Default::default(),
            retention: Retention::new(
                p.limits.clone(),
                Box::new(DrfLayout::new(&dir.join(&p.channel))),
            ),
            active: None,
            p: DigitalRfSinkParams { dir, ..p.clone() },
            warn: RateLimited::new(
                format!("digital_rf_sink {}", ctx.name),
                Duration::from_secs(10),
            ),
        }))
    }
}

register_block!(DigitalRfSinkDef);

#[cfg(test)]
#[path = "digital_rf_sink_tests.rs"]
mod tests;
