//! `file_source`: plays back a raw file of items (`c32`, `f32`, `c16`, `cu8`, ...),
//! optionally repeating and optionally paced to real time.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use flow_framework::prelude::*;

/// Parameters of `file_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSourceParams {
    /// File to read (raw items, native little-endian layout, no header).
    pub path: PathBuf,
    /// Item type of the file.
    #[serde(default = "default_item")]
    pub item: ItemType,
    /// Start again from the beginning at the end of the file, forever.
    #[serde(default)]
    pub repeat: bool,
    /// Pace the output to `sample_rate` items per second (real-time playback).
    #[serde(default)]
    pub throttle: bool,
    /// Sample rate in Hz: tagged on the first item, and the pace when `throttle` is on.
    #[serde(default)]
    pub sample_rate: Option<f64>,
}

fn default_item() -> ItemType {
    ItemType::C32
}

/// Reads items from a file.
pub struct FileSource {
    p: FileSourceParams,
    file: Option<File>,
    item_size: usize,
    total_items: u64,
    produced: u64,
    started: Option<Instant>,
}

impl Block for FileSource {
    fn start(&mut self, _: &BlockContext) -> Result<(), BlockError> {
        let f = File::open(&self.p.path)
            .map_err(|e| BlockError::io(format!("opening {}", self.p.path.display()), e))?;
        let len = f
            .metadata()
            .map_err(|e| BlockError::io(format!("reading size of {}", self.p.path.display()), e))?
            .len();
        self.total_items = len / self.item_size as u64;
        if len % self.item_size as u64 != 0 {
            tracing::warn!(path = %self.p.path.display(), bytes = len % self.item_size as u64,
                "file ends with a partial {} item, which is ignored", self.p.item);
        }
        if self.p.repeat && self.total_items == 0 {
            return Err(BlockError::config(format!(
                "{} holds no complete item to repeat",
                self.p.path.display()
            )));
        }
        self.file = Some(f);
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let out = &mut io.outputs[0];
        if self.produced == 0 && out.produced() == 0 {
            if let Some(rate) = self.p.sample_rate {
                out.add_tag(0, Tag::Rate(rate));
            }
        }
        let mut n = out.space();
        if self.p.throttle {
            let rate = self.p.sample_rate.unwrap_or(1.0);
            let start = *self.started.get_or_insert_with(Instant::now);
            let mut due = (start.elapsed().as_secs_f64() * rate) as u64;
            if due <= self.produced {
                // Sleep until 10 ms worth of items is due, then produce them.
                let next = self.produced + ((rate * 0.01) as u64).max(1);
                std::thread::sleep(
                    (start + Duration::from_secs_f64(next as f64 / rate))
                        .saturating_duration_since(Instant::now()),
                );
                due = (start.elapsed().as_secs_f64() * rate) as u64;
            }
            n = n.min(usize::try_from(due.saturating_sub(self.produced)).unwrap_or(usize::MAX));
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(Flow::Done);
        };
        let bytes = dispatch_item_type!(out.item_type(), T => {
            bytemuck::cast_slice_mut::<T, u8>(&mut out.slice_mut::<T>()[..n])
        });
        let mut filled = 0;
        while filled < bytes.len() {
            match file.read(&mut bytes[filled..]) {
                Ok(0) if self.p.repeat => {
                    file.seek(SeekFrom::Start(0)).map_err(|e| {
                        BlockError::io(format!("rewinding {}", self.p.path.display()), e)
                    })?;
                    // Drop a trailing partial item so items stay aligned across the restart.
                    filled -= filled % self.item_size;
                }
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(BlockError::io(
                        format!("reading {}", self.p.path.display()),
                        e,
                    ))
                }
            }
        }
        let items = filled / self.item_size;
        out.produce(items);
        self.produced += items as u64;
        if items < n {
            return Ok(Flow::Done);
        }
        Ok(Flow::Continue)
    }

    fn expected_items(&self) -> Option<u64> {
        if self.p.repeat {
            None
        } else {
            std::fs::metadata(&self.p.path)
                .ok()
                .map(|m| m.len() / self.item_size as u64)
        }
    }
}

/// Registration of `file_source`.
pub struct FileSourceDef;

impl BlockDef for FileSourceDef {
    type Params = FileSourceParams;
    const NAME: &'static str = "file_source";
    const SUMMARY: &'static str =
        "Plays back a raw file of items, optionally repeating and real-time.";
    const DOC: &'static str = "Output `out` (`item`). Reads the file as consecutive items with no \
        header (GNU Radio's file format; numpy's `tofile`). A trailing partial item is ignored with \
        a warning. `repeat` loops forever; `throttle` paces the output at `sample_rate` items per \
        second. Relative paths are relative to the working directory.";
    const EXAMPLE: &'static str =
        "path = \"recording.c32\"\nitem = \"c32\"\nsample_rate = 20000.0\nthrottle = false";

    fn signature(p: &FileSourceParams) -> Signature {
        Signature::new().output("out", p.item).blocking()
    }

    fn validate(p: &FileSourceParams) -> Vec<ParamError> {
        let mut e = Vec::new();
        if p.throttle && p.sample_rate.is_none() {
            e.push(ParamError::new(
                "throttle",
                "needs `sample_rate` to know the pace",
            ));
        }
        if p.sample_rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            e.push(ParamError::new(
                "sample_rate",
                "must be a positive number of samples per second",
            ));
        }
        e
    }

    fn plan(p: &FileSourceParams, _: &PlanInputs) -> PlanInfo {
        PlanInfo {
            output_rates: Some(vec![p.sample_rate]),
            paced: p.throttle,
            ..PlanInfo::default()
        }
    }

    fn build(p: &FileSourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(FileSource {
            p: p.clone(),
            file: None,
            item_size: p.item.size(),
            total_items: 0,
            produced: 0,
            started: None,
        }))
    }
}

register_block!(FileSourceDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    fn params(path: &std::path::Path, extra: &str) -> FileSourceParams {
        toml::from_str(&format!("path = {:?}\n{extra}", path.to_str().unwrap())).unwrap()
    }

    #[test]
    fn reads_items_ignoring_a_partial_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.f32");
        let data: Vec<f32> = (0..100_000).map(|i| i as f32).collect();
        let mut bytes = bytemuck::cast_slice::<f32, u8>(&data).to_vec();
        bytes.extend_from_slice(&[1, 2]);
        std::fs::write(&path, bytes).unwrap();
        let mut h =
            Harness::of::<FileSourceDef>(params(&path, "item = \"f32\"\nsample_rate = 10.0"), &[])
                .unwrap();
        assert!(h.run());
        assert_eq!(h.output::<f32>(0), data);
        assert_eq!(
            h.output_tags(0)[0],
            ItemTag {
                position: 0,
                tag: Tag::Rate(10.0)
            }
        );
    }

    #[test]
    fn repeats_whole_items() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.cu8");
        std::fs::write(&path, [1u8, 2, 3, 4, 5]).unwrap();
        let mut h =
            Harness::of::<FileSourceDef>(params(&path, "item = \"cu8\"\nrepeat = true"), &[])
                .unwrap();
        h.run_for(Duration::from_millis(20));
        let out = h.output::<Cu8>(0);
        assert!(out.len() > 10);
        for (i, x) in out.iter().enumerate() {
            let want = if i % 2 == 0 {
                Cu8::new(1, 2)
            } else {
                Cu8::new(3, 4)
            };
            assert_eq!(*x, want, "item {i}");
        }
    }

    #[test]
    fn missing_file_is_an_error_naming_the_path() {
        let mut h = Harness::of::<FileSourceDef>(
            params(std::path::Path::new("/nonexistent/x.c32"), ""),
            &[],
        )
        .unwrap();
        assert!(h.run());
        assert!(
            h.metrics()
                .last_error()
                .starts_with("opening /nonexistent/x.c32:"),
            "{}",
            h.metrics().last_error()
        );
    }
}
