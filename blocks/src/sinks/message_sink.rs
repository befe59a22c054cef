//! `message_sink`: writes messages as JSON lines to a file or to standard output.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use flow_framework::prelude::*;

use crate::util::fsync::{FsyncPolicy, SyncClock};

/// Parameters of `message_sink`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSinkParams {
    /// File to append JSON lines to (missing parent directories are created); standard
    /// output when absent.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// When to force data to disk: `always`, `never` (at close only) or an interval.
    #[serde(default)]
    pub fsync: FsyncPolicy,
}

/// Appends one JSON object per message.
pub struct MessageSink {
    p: MessageSinkParams,
    out: Option<BufWriter<File>>,
    clock: SyncClock,
    count: Counter,
    line: Vec<u8>,
}

impl MessageSink {
    fn flush(&mut self, sync: bool) -> Result<(), BlockError> {
        let path = self.p.path.clone().unwrap_or_default();
        if let Some(w) = self.out.as_mut() {
            w.flush()
                .map_err(|e| BlockError::io(format!("writing {}", path.display()), e))?;
            if sync {
                w.get_ref()
                    .sync_data()
                    .map_err(|e| BlockError::io(format!("syncing {}", path.display()), e))?;
                self.clock.synced();
            }
        } else {
            std::io::stdout()
                .flush()
                .map_err(|e| BlockError::io("writing standard output", e))?;
        }
        Ok(())
    }
}

impl Block for MessageSink {
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        if let Some(path) = &self.p.path {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| BlockError::io(format!("creating {}", dir.display()), e))?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| BlockError::io(format!("opening {}", path.display()), e))?;
            self.out = Some(BufWriter::new(f));
        }
        self.count = ctx.counter("messages");
        Ok(())
    }

    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let mut wrote = false;
        while let Some(m) = io.msg_in[0].recv() {
            self.line.clear();
            serde_json::to_writer(&mut self.line, &m.to_json())
                .map_err(|e| BlockError::data(format!("encoding a message: {e}")))?;
            self.line.push(b'\n');
            match self.out.as_mut() {
                Some(w) => w.write_all(&self.line),
                None => std::io::stdout().lock().write_all(&self.line),
            }
            .map_err(|e| BlockError::io("writing a message", e))?;
            self.count.inc();
            wrote = true;
        }
        if wrote {
            let sync = self.clock.wrote();
            self.flush(sync)?;
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, _: &mut WorkIo) -> Result<(), BlockError> {
        self.flush(self.out.is_some())
    }
}

/// Registration of `message_sink`.
pub struct MessageSinkDef;

impl BlockDef for MessageSinkDef {
    type Params = MessageSinkParams;
    const NAME: &'static str = "message_sink";
    const SUMMARY: &'static str = "Writes messages as JSON lines to a file or standard output.";
    const DOC: &'static str = "Message input `in`. Each message becomes one JSON object \
        `{\"kind\": ..., <fields>}` on its own line, appended to `path` (or printed). Lines are \
        flushed to the kernel after every batch; `fsync` bounds what a power loss can take.";
    const EXAMPLE: &'static str = "path = \"detections.jsonl\"\nfsync = \"1s\"";

    fn signature(_: &MessageSinkParams) -> Signature {
        Signature::new().message_input("in").blocking()
    }

    fn build(p: &MessageSinkParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(MessageSink {
            p: p.clone(),
            out: None,
            clock: SyncClock::new(p.fsync),
            count: Counter::default(),
            line: Vec::new(),
        }))
    }
}

register_block!(MessageSinkDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;

    #[test]
    fn appends_one_json_object_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let p = MessageSinkParams {
            path: Some(path.clone()),
            fsync: FsyncPolicy::Always,
        };
        let mut h = Harness::of::<MessageSinkDef>(p, &[]).unwrap();
        h.push_message(
            0,
            Message::new("tone")
                .with("station", "WWV")
                .with("d_clock_ms", 0.25),
        );
        h.push_message(
            0,
            Message::new("tone").with("station", "CHU").with("n", 3u64),
        );
        h.run_to_end().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"kind\":\"tone\",\"station\":\"WWV\",\"d_clock_ms\":0.25}\n{\"kind\":\"tone\",\"station\":\"CHU\",\"n\":3}\n"
        );
        assert_eq!(h.counter("messages"), 2);
    }
}
