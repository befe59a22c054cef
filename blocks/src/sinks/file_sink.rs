//! `file_sink`: writes a stream to a raw file of items (GNU Radio / numpy compatible).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use flow_framework::prelude::*;

use crate::util::fsync::{FsyncPolicy, SyncClock};

/// What `file_sink` does with an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileMode {
    /// Truncate it.
    #[default]
    Overwrite,
    /// Append to it.
    Append,
    /// Refuse to start if it exists.
    CreateNew,
}

/// Parameters of `file_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileSinkParams {
    /// File to write (missing parent directories are created).
    pub path: PathBuf,
    /// What to do when the file exists at start. After a restart (`on_error = "restart"`)
    /// the sink always appends, so nothing written before the error is lost.
    #[serde(default)]
    pub mode: FileMode,
    /// When to force data to disk: `always`, `never` (at close only) or an interval.
    #[serde(default)]
    pub fsync: FsyncPolicy,
}

/// Writes items to a file.
pub struct FileSink {
    p: FileSinkParams,
    file: Option<File>,
    clock: SyncClock,
    bytes: Counter,
}

impl FileSink {
    fn sync(&mut self) -> Result<(), BlockError> {
        if let Some(f) = &self.file {
            f.sync_data()
                .map_err(|e| BlockError::io(format!("syncing {}", self.p.path.display()), e))?;
        }
        self.clock.synced();
        Ok(())
    }
}

impl Block for FileSink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        let restarted = ctx
            .metrics()
            .restarts
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0;
        let mut o = OpenOptions::new();
        o.write(true);
        match (self.p.mode, restarted) {
            (FileMode::Append, _) | (_, true) => o.append(true).create(true),
            (FileMode::Overwrite, false) => o.truncate(true).create(true),
            (FileMode::CreateNew, false) => o.create_new(true),
        };
        if let Some(dir) = self.p.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| BlockError::io(format!("creating {}", dir.display()), e))?;
        }
        let f = o
            .open(&self.p.path)
            .map_err(|e| BlockError::io(format!("opening {}", self.p.path.display()), e))?;
        self.file = Some(f);
        self.bytes = ctx.counter("bytes");
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let input = &mut io.inputs[0];
        let n = input.len();
        let bytes = dispatch_item_type!(input.item_type(), T => bytemuck::cast_slice::<T, u8>(input.slice::<T>()));
        if let Some(f) = self.file.as_mut() {
            f.write_all(bytes)
                .map_err(|e| BlockError::io(format!("writing {}", self.p.path.display()), e))?;
        }
        self.bytes.add(bytes.len() as u64);
        input.consume(n);
        if self.clock.wrote() {
            self.sync()?;
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        self.sync()?;
        self.file = None;
        Ok(())
    }
}

/// Registration of `file_sink`.
pub struct FileSinkDef;

impl BlockDef for FileSinkDef {
    type Params = FileSinkParams;
    const NAME: &'static str = "file_sink";
    const SUMMARY: &'static str =
        "Writes a stream to a raw file of items (numpy/GNU Radio compatible).";
    const DOC: &'static str = "Input `in` (T). Appends items to `path` as raw little-endian data \
        with no header, readable with `numpy.fromfile(path, dtype)` or GNU Radio's file source. \
        Durability: every item consumed has been handed to the kernel (survives kill -9); `fsync` \
        bounds what a power loss can take (see docs/durability.md). On stop the file is synced.";
    const EXAMPLE: &'static str = "path = \"out.c32\"\nmode = \"overwrite\"\nfsync = \"1s\"";

    fn signature(_: &FileSinkParams) -> Signature {
        Signature::new()
            .input("in", TypeSpec::Generic)
            .blocking()
            .manual_tags()
    }

    fn plan(p: &FileSinkParams, inputs: &PlanInputs) -> PlanInfo {
        let size = inputs.types.first().map_or(0, |t| t.size()) as f64;
        let storage = inputs.first_rate().map(|r| Storage {
            path: p.path.clone(),
            bytes_per_second: r * size,
            limit_bytes: None,
        });
        PlanInfo {
            storage: storage.into_iter().collect(),
            ..PlanInfo::default()
        }
    }

    fn build(p: &FileSinkParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(FileSink {
            p: p.clone(),
            file: None,
            clock: SyncClock::new(p.fsync),
            bytes: Counter::default(),
        }))
    }
}

register_block!(FileSinkDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    fn params(path: &std::path::Path, extra: &str) -> FileSinkParams {
        toml::from_str(&format!("path = {:?}\n{extra}", path.to_str().unwrap())).unwrap()
    }

    #[test]
    fn writes_raw_items_and_appends_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.c16");
        let data: Vec<C16> = (0..50_000)
            .map(|i| C16::new(i as i16, (i as i16).wrapping_neg()))
            .collect();
        let mut h =
            Harness::of::<FileSinkDef>(params(&path, "fsync = \"always\""), &[ItemType::C16])
                .unwrap();
        h.push_input(0, &data);
        h.run_to_end().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytemuck::cast_slice::<C16, u8>(&data)
        );
        assert_eq!(h.counter("bytes"), 200_000);

        let mut h =
            Harness::of::<FileSinkDef>(params(&path, "mode = \"append\""), &[ItemType::C16])
                .unwrap();
        h.push_input(0, &data[..10]);
        h.run_to_end().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 200_040);
    }

    #[test]
    fn creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.f32");
        let mut h = Harness::of::<FileSinkDef>(params(&path, ""), &[ItemType::F32]).unwrap();
        h.push_input(0, &[1.0f32, 2.0]);
        h.run_to_end().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8);
    }

    #[test]
    fn create_new_refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exists.f32");
        std::fs::write(&path, b"keep").unwrap();
        let mut h =
            Harness::of::<FileSinkDef>(params(&path, "mode = \"create_new\""), &[ItemType::F32])
                .unwrap();
        h.push_input(0, &[1.0f32]);
        h.run_to_end().unwrap();
        assert!(
            h.metrics().last_error().contains("File exists"),
            "{}",
            h.metrics().last_error()
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"keep");
    }
}
