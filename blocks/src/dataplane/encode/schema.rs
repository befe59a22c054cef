//! Arrow schemas of ring buffer records.
//!
//! - Streams: one row per sample; `c32` is column `iq` of `FixedSizeList<Float32, 2>` (its
//!   values buffer is the interleaved I/Q floats, which numpy views as `complex64`), `f32`
//!   is column `value` of `Float32`. Time is per record (first sample, rate) in the record
//!   header, since a per-sample time column would double the data.
//! - Messages: one row per message, one nullable column per field of the first message
//!   (`Time` → `Timestamp(ns, UTC)`, `F32s` → `List<Float32>`, ...); if the message has no
//!   time field, a leading `time_ns` column holds the time it reached the sink.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use flow_framework::prelude::*;

/// Schema metadata keys (all values are strings).
pub mod meta {
    /// `stream` or `messages`.
    pub const KIND: &str = "flow.kind";
    /// Stream item type (`c32`, `f32`).
    pub const ITEM_TYPE: &str = "flow.item_type";
    /// Message kind of the first message (`spectrum`).
    pub const MESSAGE_KIND: &str = "flow.message_kind";
    /// Name of the column holding each row's time (messages).
    pub const TIME_COLUMN: &str = "flow.time_column";
    /// `true` when the sink added the arrival-time column (the messages had no time).
    pub const ARRIVAL: &str = "flow.arrival_time";
    /// Block name in the flowgraph.
    pub const BLOCK: &str = "flow.block";
    /// flow's version.
    pub const VERSION: &str = "flow.version";
}

/// The column added when messages carry no time of their own.
pub const ARRIVAL_TIME: &str = "time_ns";

fn base_meta(kind: &str, block: &str) -> HashMap<String, String> {
    HashMap::from([
        (meta::KIND.to_string(), kind.to_string()),
        (meta::BLOCK.to_string(), block.to_string()),
        (
            meta::VERSION.to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ])
}

/// The schema of stream records of `item` (`c32` or `f32`), or None for other types.
pub fn stream_schema(item: ItemType, block: &str) -> Option<SchemaRef> {
    let field = match item {
        ItemType::C32 => Field::new(
            "iq",
            DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, false)), 2),
            false,
        ),
        ItemType::F32 => Field::new("value", DataType::Float32, false),
        _ => return None,
    };
    let mut m = base_meta("stream", block);
    m.insert(meta::ITEM_TYPE.into(), item.to_string());
    Some(Arc::new(Schema::new_with_metadata(vec![field], m)))
}

/// The Arrow type a message field value maps to.
pub fn value_type(v: &Value) -> DataType {
    match v {
        Value::Null => DataType::Null,
        Value::Bool(_) => DataType::Boolean,
        Value::I64(_) => DataType::Int64,
        Value::U64(_) => DataType::UInt64,
        Value::F64(_) => DataType::Float64,
        Value::Str(_) => DataType::Utf8,
        Value::Bytes(_) => DataType::Binary,
        Value::F32s(_) => DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true))),
        Value::Time(_) => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
    }
}

/// The schema of message records, from the first message.
pub fn message_schema(first: &Message, block: &str) -> SchemaRef {
    let mut fields = Vec::with_capacity(first.fields.len() + 1);
    let time_col = first
        .fields
        .iter()
        .find(|(_, v)| matches!(v, Value::Time(_)))
        .map(|(k, _)| k.to_string());
    if time_col.is_none() {
        fields.push(Field::new(ARRIVAL_TIME, value_type(&Value::Time(0)), false));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, v) in &first.fields {
        if seen.insert(k.clone()) && (time_col.is_some() || &**k != ARRIVAL_TIME) {
            fields.push(Field::new(k.to_string(), value_type(v), true));
        }
    }
    let mut m = base_meta("messages", block);
    m.insert(meta::MESSAGE_KIND.into(), first.kind.to_string());
    m.insert(meta::ARRIVAL.into(), time_col.is_none().to_string());
    m.insert(
        meta::TIME_COLUMN.into(),
        time_col.unwrap_or_else(|| ARRIVAL_TIME.to_string()),
    );
    Arc::new(Schema::new_with_metadata(fields, m))
}
