//! `iq_file_source`: plays back I/Q recordings (raw `cu8`, `cs8`, `cs16`, `cf32`, or SigMF
//! with its metadata) as `c32`, tagged with rate, frequency and start time, optionally paced
//! to real time and looping.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use flow_framework::prelude::*;

use super::iq_format::IqFormat;
use super::sigmf_meta::{self, is_sigmf};

/// Parameters of `iq_file_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IqFileSourceParams {
    /// The recording: a raw file, or a SigMF recording named by its `.sigmf-meta` or
    /// `.sigmf-data` file. Relative paths are relative to the working directory.
    pub path: PathBuf,
    /// Sample format of a raw file (`cu8`, `cs8`, `cs16`, `cf32`); SigMF says it itself.
    #[serde(default)]
    pub format: Option<IqFormat>,
    /// Sample rate in Hz (overrides SigMF's `core:sample_rate`).
    #[serde(default)]
    pub sample_rate: Option<f64>,
    /// Centre frequency in Hz (overrides SigMF's `core:frequency`).
    #[serde(default)]
    pub center_hz: Option<f64>,
    /// Pace the output to the sample rate (real-time playback).
    #[serde(default)]
    pub throttle: bool,
    /// Start again at the end, forever.
    #[serde(default)]
    pub repeat: bool,
}

/// Samples read per work call at most.
const CHUNK: usize = 1 << 16;

/// Plays a recording.
pub struct IqFileSource {
    p: IqFileSourceParams,
    data_path: PathBuf,
    file: Option<File>,
    format: IqFormat,
    rate: Option<f64>,
    tags: Vec<(u64, Tag)>,
    produced: u64,
    started: Option<Instant>,
    bytes: Vec<u8>,
    meta_path: PathBuf,
}

impl IqFileSource {
    fn open(&mut self) -> Result<(), BlockError> {
        self.tags.clear();
        if is_sigmf(&self.meta_path) {
            let (meta_path, _) = sigmf_meta::recording_paths(&self.meta_path);
            let text = std::fs::read_to_string(&meta_path)
                .map_err(|e| BlockError::io(format!("reading {}", meta_path.display()), e))?;
            let m = sigmf_meta::parse(&text, &meta_path).map_err(BlockError::config)?;
            if let Some(f) = self.p.format.filter(|f| *f != m.format) {
                return Err(BlockError::config(format!(
                    "format = {f:?} contradicts {}'s core:datatype",
                    meta_path.display()
                )));
            }
            self.format = m.format;
            self.rate = self.p.sample_rate.or(m.sample_rate);
            if self.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
                return Err(BlockError::config(format!(
                    "{}: core:sample_rate {:?} is not a positive rate",
                    meta_path.display(),
                    self.rate.unwrap_or_default()
                )));
            }
            self.data_path = m.data_path;
            for c in &m.captures {
                if let (Some(f), None) = (c.frequency, self.p.center_hz) {
                    self.tags.push((c.sample_start, Tag::Freq(f)));
                }
                if let Some(ns) = c.time_ns {
                    let source = TimeSource::FileMetadata;
                    self.tags.push((c.sample_start, Tag::Time { ns, source }));
                }
            }
        }
        if let Some(r) = self.rate {
            self.tags.insert(0, (0, Tag::Rate(r)));
        }
        if let Some(f) = self.p.center_hz {
            self.tags.insert(0, (0, Tag::Freq(f)));
        }
        self.tags.sort_by_key(|t| t.0);
        let f = File::open(&self.data_path)
            .map_err(|e| BlockError::io(format!("opening {}", self.data_path.display()), e))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let size = self.format.sample_bytes() as u64;
        if len % size != 0 {
            tracing::warn!(path = %self.data_path.display(), bytes = len % size,
                "recording ends with a partial sample, which is ignored");
        }
        if self.p.repeat && len < size {
            return Err(BlockError::config(format!(
                "{} holds no complete sample to repeat",
                self.data_path.display()
            )));
        }
        self.file = Some(f);
        Ok(())
    }

    /// Samples due now when throttled (sleeping up to 10 ms for some to become due).
    fn due(&mut self, want: usize) -> usize {
        let Some(rate) = self.rate.filter(|_| self.p.throttle) else {
            return want;
        };
        let start = *self.started.get_or_insert_with(Instant::now);
        let mut due = (start.elapsed().as_secs_f64() * rate) as u64;
        if due <= self.produced {
            let next = self.produced + ((rate * 0.01) as u64).max(1);
            std::thread::sleep(
                (start + Duration::from_secs_f64(next as f64 / rate))
                    .saturating_duration_since(Instant::now()),
            );
            due = (start.elapsed().as_secs_f64() * rate) as u64;
        }
        want.min(usize::try_from(due.saturating_sub(self.produced)).unwrap_or(usize::MAX))
    }
}

impl Block for IqFileSource {
    fn start(&mut self, _: &BlockContext) -> Result<(), BlockError> {
        self.open()
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let out = &mut io.outputs[0];
        let want = out.space().min(CHUNK);
        let n = self.due(want);
        let size = self.format.sample_bytes();
        let Some(file) = self.file.as_mut() else {
            return Ok(Flow::Done);
        };
        self.bytes.resize(n * size, 0);
        let mut filled = 0;
        while filled < self.bytes.len() {
            match file.read(&mut self.bytes[filled..]) {
                Ok(0) if self.p.repeat => {
                    file.seek(SeekFrom::Start(0)).map_err(|e| {
                        BlockError::io(format!("rewinding {}", self.data_path.display()), e)
                    })?;
                    filled -= filled % size;
                }
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(BlockError::io(
                        format!("reading {}", self.data_path.display()),
                        e,
                    ))
                }
            }
        }
        let k = self
            .format
            .convert(&self.bytes[..filled], out.slice_mut::<C32>());
        let end = self.produced + k as u64;
        while self.tags.first().is_some_and(|(pos, _)| *pos < end) {
            let (pos, tag) = self.tags.remove(0);
            out.add_tag(pos.saturating_sub(self.produced) as usize, tag);
        }
        out.produce(k);
        self.produced = end;
        Ok(if k < n { Flow::Done } else { Flow::Continue })
    }

    fn expected_items(&self) -> Option<u64> {
        if self.p.repeat {
            return None;
        }
        std::fs::metadata(&self.data_path)
            .ok()
            .map(|m| m.len() / self.format.sample_bytes() as u64)
    }
}

/// Registration of `iq_file_source`.
pub struct IqFileSourceDef;

impl BlockDef for IqFileSourceDef {
    type Params = IqFileSourceParams;
    const NAME: &'static str = "iq_file_source";
    const SUMMARY: &'static str = "Plays back I/Q recordings (cu8, cs8, cs16, cf32, SigMF) as c32.";
    const DOC: &'static str = "Output `out` (c32). Reads a raw interleaved I/Q file in `format` \
        (cu8: (x − 127.5)/127.5; cs8: x/128; cs16 little-endian: x/32768; cf32 little-endian: as \
        is), or a SigMF recording, whose `.sigmf-meta` gives the format (`core:datatype` cu8, \
        ci8, ci16_le or cf32_le), `core:sample_rate` and per capture `core:frequency` and \
        `core:datetime`. Tags `rate` on the first sample, `freq` and `time` (source \
        `file_metadata`) at each capture's start, or `freq` from `center_hz`. `throttle` paces \
        the output to the sample rate; `repeat` loops (tags are not repeated: time \
        extrapolates). A trailing partial sample is ignored with a warning.";
    const EXAMPLE: &'static str =
        "path = \"recording.sigmf-meta\"\nthrottle = false\nrepeat = false";

    fn signature(_: &IqFileSourceParams) -> Signature {
        Signature::new().output("out", ItemType::C32).blocking()
    }

    fn validate(p: &IqFileSourceParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if !is_sigmf(&p.path) && p.format.is_none() {
            e.push(ParamError::new(
                "format",
                "is required for a raw file (cu8, cs8, cs16 or cf32); SigMF recordings end in .sigmf-meta or .sigmf-data",
            ));
        }
        if p.sample_rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            e.push(ParamError::new(
                "sample_rate",
                "must be a positive number of samples per second",
            ));
        }
        if p.throttle && p.sample_rate.is_none() && !is_sigmf(&p.path) {
            e.push(ParamError::new(
                "throttle",
                "needs `sample_rate` to know the pace",
            ));
        }
        e
    }

    fn build(p: &IqFileSourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        let path = p.path.clone();
        Ok(Box::new(IqFileSource {
            data_path: path.clone(),
            meta_path: path,
            file: None,
            format: p.format.unwrap_or(IqFormat::Cf32),
            rate: p.sample_rate,
            tags: Vec::new(),
            produced: 0,
            started: None,
            bytes: Vec::new(),
            p: p.clone(),
        }))
    }
}

register_block!(IqFileSourceDef);

#[cfg(test)]
#[path = "iq_file_tests.rs"]
mod tests;
