//! `peaks`: groups the CFAR hits of each spectrum into detections (interpolated centre,
//! peak power, SNR, bandwidth) and follows them across spectra for first/last seen times.

use std::time::Duration;

use flow_framework::log::RateLimited;
use flow_framework::prelude::*;

use super::peak_group::{find_peaks, GroupConfig, Peak, REACH};
use super::peak_interp::to_db;
use super::peak_track::{Detection, Tracker};
use super::spectrum::Spectrum;

/// When `peaks` posts detections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Emit {
    /// One message per detection per spectrum (live monitoring).
    #[default]
    Every,
    /// One message per track when it ends (or at the end of the stream): the mean
    /// frequency, bandwidth and SNR of its observations, the strongest power and the most
    /// bins, with the first and last time it was seen.
    Track,
}

/// Parameters of `peaks`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeaksParams {
    /// Runs of hits separated by at most this many bins below threshold form one region.
    #[serde(default = "default_merge")]
    pub merge_bins: usize,
    /// A region splits into two detections at a valley at least this many dB below the
    /// peaks on both sides (deep enough that the ±1 dB ripple of an averaged wideband
    /// signal does not split it; two tones a few bins apart have valleys of 20 dB and more).
    #[serde(default = "default_split")]
    pub split_db: f64,
    /// Bandwidth is measured between the outermost crossings of (peak − this) dB.
    #[serde(default = "default_bw")]
    pub bandwidth_db: f64,
    /// Detections wider than this many bins are centred between their band edges, narrower
    /// ones at their interpolated maximum.
    #[serde(default = "default_wide")]
    pub wide_bins: f64,
    /// Detections in consecutive spectra within this many bins (or half their bandwidth)
    /// belong to the same signal.
    #[serde(default = "default_match")]
    pub match_bins: f64,
    /// Spectra a signal may be missing from before its track ends.
    #[serde(default = "default_hold")]
    pub hold: u32,
    /// `every` (a message per detection per spectrum) or `track` (one per signal, at its end).
    #[serde(default)]
    pub emit: Emit,
}

fn default_merge() -> usize {
    1
}
fn default_split() -> f64 {
    10.0
}
fn default_bw() -> f64 {
    3.0
}
fn default_wide() -> f64 {
    4.0
}
fn default_match() -> f64 {
    2.0
}
fn default_hold() -> u32 {
    1
}

/// Turns thresholded spectra into detections.
pub struct Peaks {
    p: PeaksParams,
    cfg: GroupConfig,
    tracker: Tracker,
    db: Vec<f64>,
    hit: Vec<bool>,
    found: Vec<Peak>,
    dets: Vec<Detection>,
    ended: Vec<Detection>,
    detections: Counter,
    bad: Counter,
    log: RateLimited,
}

impl Peaks {
    fn process(&mut self, m: &Message, out: &mut MessageOutput) -> Result<(), String> {
        let s = Spectrum::from_message(m)?;
        let (Some(noise), Some(thr)) = (&s.noise, &s.threshold) else {
            return Err(
                "spectrum has no `noise`/`threshold` fields (put `cfar` before `peaks`)".into(),
            );
        };
        // Hits in the spectrum's own units; dB only where peaks can reach (log10 of every
        // bin would cost more than the rest of the chain).
        self.hit.clear();
        self.hit
            .extend(s.power.iter().zip(thr.iter()).map(|(p, t)| p > t));
        self.db.clear();
        self.db.resize(s.power.len(), f64::NEG_INFINITY);
        let n = s.power.len();
        let mut done = 0;
        for i in (0..n).filter(|i| self.hit[*i]) {
            let (a, b) = (
                i.saturating_sub(REACH + 1).max(done),
                (i + REACH + 2).min(n),
            );
            for j in a..b {
                let v = f64::from(s.power[j]);
                self.db[j] = if s.db { v } else { to_db(v) };
            }
            done = done.max(b);
        }
        let db_units = s.db;
        let noise_db = |k: usize| {
            let v = f64::from(noise[k]);
            if db_units {
                v
            } else {
                to_db(v)
            }
        };
        find_peaks(&self.db, &noise_db, &self.hit, &self.cfg, &mut self.found);
        let rate = s.bin_hz * s.power.len() as f64;
        let end_ns = s
            .time_ns
            .saturating_add(s.span.map_or(0, |n| (n as f64 * 1e9 / rate).round() as i64));
        self.dets.clear();
        self.dets.extend(self.found.iter().map(|pk| Detection {
            time_ns: s.time_ns,
            index: s.index,
            freq_hz: s.freq_of_bin(pk.centre),
            power_db: pk.power_db,
            snr_db: pk.snr_db,
            bandwidth_hz: (pk.hi - pk.lo) * s.bin_hz,
            first_seen_ns: s.time_ns,
            last_seen_ns: end_ns,
            bins: pk.bins as u64,
        }));
        let tol = self.p.match_bins * s.bin_hz;
        self.tracker.update(&mut self.dets, tol, &mut self.ended);
        match self.p.emit {
            Emit::Every => {
                self.ended.clear();
                for d in &self.dets {
                    out.post(d.to_message());
                }
                self.detections.add(self.dets.len() as u64);
            }
            Emit::Track => self.post_ended(out),
        }
        Ok(())
    }

    fn post_ended(&mut self, out: &mut MessageOutput) {
        self.ended.sort_by_key(|d| d.first_seen_ns);
        for d in self.ended.drain(..) {
            out.post(d.to_message());
            self.detections.inc();
        }
    }
}

impl Block for Peaks {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.detections = ctx.counter("detections");
        self.bad = ctx.counter("bad_messages");
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        while let Some(m) = io.msg_in[0].recv() {
            if let Err(e) = self.process(&m, &mut io.msg_out[0]) {
                self.bad.inc();
                self.log.warn(&e);
            }
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        self.tracker.finish(&mut self.ended);
        if self.p.emit == Emit::Track {
            self.post_ended(&mut io.msg_out[0]);
        }
        Ok(())
    }
}

/// Registration of `peaks`.
pub struct PeaksDef;

impl BlockDef for PeaksDef {
    type Params = PeaksParams;
    const NAME: &'static str = "peaks";
    const SUMMARY: &'static str =
        "Groups CFAR hits into detections with frequency, power, SNR and bandwidth.";
    const DOC: &'static str = "Message input `in` (`spectrum` with `noise` and `threshold`, as \
        `cfar` posts them); message output `out` (`detection` messages: `time_ns`, `freq_hz`, \
        `power_db`, `snr_db`, `bandwidth_hz`, `first_seen_ns`, `last_seen_ns`, `bins`, and \
        `index`). Bins over threshold form regions (holes up to `merge_bins` bridged); a region \
        splits at valleys `split_db` deep on both sides. Each detection's power is the \
        parabolic vertex through its maximum (dB), its frequency that vertex (narrow) or the \
        middle of its band edges (wider than `wide_bins`), its bandwidth the distance between \
        the outermost crossings of peak − `bandwidth_db`, its SNR the peak over the CFAR noise \
        estimate. Detections in successive spectra within `match_bins` (or half a bandwidth) \
        form a track, which gives `first_seen_ns`; a track ends after `hold` spectra without \
        it. `emit = \"every\"` posts every detection of every spectrum, `\"track\"` one \
        message per track when it ends (mean frequency, bandwidth and SNR; peak power).";
    const EXAMPLE: &'static str = "split_db = 10.0\nbandwidth_db = 3.0\nhold = 1\nemit = \"every\"";

    fn signature(_: &PeaksParams) -> Signature {
        Signature::new().message_input("in").message_output("out")
    }

    fn validate(p: &PeaksParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        for (name, v) in [
            ("split_db", p.split_db),
            ("bandwidth_db", p.bandwidth_db),
            ("wide_bins", p.wide_bins),
            ("match_bins", p.match_bins),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                e.push(ParamError::new(name, "must be a positive number"));
            }
        }
        e
    }

    fn build(p: &PeaksParams, ctx: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Peaks {
            cfg: GroupConfig {
                merge_bins: p.merge_bins,
                split_db: p.split_db,
                bw_db: p.bandwidth_db,
                wide_bins: p.wide_bins,
            },
            tracker: Tracker::new(p.hold),
            db: Vec::new(),
            hit: Vec::new(),
            found: Vec::new(),
            dets: Vec::new(),
            ended: Vec::new(),
            detections: Counter::default(),
            bad: Counter::default(),
            log: RateLimited::new(
                format!("block `{}`: bad spectrum message", ctx.name),
                Duration::from_secs(10),
            ),
            p: p.clone(),
        }))
    }
}

register_block!(PeaksDef);

#[cfg(test)]
#[path = "peaks_tests.rs"]
mod tests;
