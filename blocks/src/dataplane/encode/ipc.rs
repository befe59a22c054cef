//! Arrow IPC encoding with reused buffers: the schema message for the ring header, and one
//! encapsulated record batch message (continuation marker, metadata length, flatbuffer,
//! padding, body) per record, which `pyarrow.ipc.read_message` reads.

use arrow_array::RecordBatch;
use arrow_ipc::writer::{
    write_message, DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions,
};
use arrow_schema::{ArrowError, Schema};

/// Encodes record batches of one schema into IPC messages.
pub struct IpcEncoder {
    generator: IpcDataGenerator,
    tracker: DictionaryTracker,
    options: IpcWriteOptions,
    context: IpcWriteContext,
    buf: Vec<u8>,
}

impl Default for IpcEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl IpcEncoder {
    /// An encoder with 64-byte alignment (the default).
    pub fn new() -> Self {
        IpcEncoder {
            generator: IpcDataGenerator::default(),
            tracker: DictionaryTracker::new(false),
            options: IpcWriteOptions::default(),
            context: IpcWriteContext::default(),
            buf: Vec::with_capacity(4096),
        }
    }

    /// The encapsulated schema message.
    pub fn schema(&mut self, schema: &Schema) -> Result<Vec<u8>, ArrowError> {
        let enc = self.generator.schema_to_bytes_with_dictionary_tracker(
            schema,
            &mut self.tracker,
            &self.options,
        );
        let mut out = Vec::new();
        write_message(&mut out, enc, &self.options)?;
        Ok(out)
    }

    /// The encapsulated record batch message (valid until the next call).
    pub fn batch(&mut self, batch: &RecordBatch) -> Result<&[u8], ArrowError> {
        let (dicts, enc) =
            self.generator
                .encode(batch, &mut self.tracker, &self.options, &mut self.context)?;
        if !dicts.is_empty() {
            return Err(ArrowError::InvalidArgumentError(
                "dictionary columns are not supported in ring records".into(),
            ));
        }
        self.buf.clear();
        write_message(&mut self.buf, enc, &self.options)?;
        Ok(&self.buf)
    }
}
