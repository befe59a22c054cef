//! Record batches from flow data: a chunk of stream samples, or a run of messages matched
//! to the message schema by field name (missing fields and mistyped values become nulls
//! and are counted; fields the schema does not have are dropped and counted).

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int64Builder, ListBuilder,
    NullBuilder, StringBuilder, TimestampNanosecondBuilder, UInt64Builder,
};
use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, SchemaRef};
use flow_framework::prelude::*;

use super::schema::{meta, ARRIVAL_TIME};

/// A batch of stream samples (`c32` or `f32`, as raw little-endian bytes of whole items).
pub fn stream_batch(
    schema: &SchemaRef,
    item: ItemType,
    bytes: &[u8],
) -> Result<RecordBatch, ArrowError> {
    let floats: Vec<f32> = bytemuck::pod_collect_to_vec(bytes);
    let values = Float32Array::from(floats);
    let col: ArrayRef = match item {
        ItemType::C32 => Arc::new(FixedSizeListArray::try_new(
            Arc::new(Field::new("item", DataType::Float32, false)),
            2,
            Arc::new(values),
            None,
        )?),
        _ => Arc::new(values),
    };
    RecordBatch::try_new(schema.clone(), vec![col])
}

enum Col {
    Null(NullBuilder),
    Bool(BooleanBuilder),
    I64(Int64Builder),
    U64(UInt64Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Bytes(BinaryBuilder),
    F32s(ListBuilder<Float32Builder>),
    Time(TimestampNanosecondBuilder),
}

impl Col {
    fn new(t: &DataType) -> Col {
        match t {
            DataType::Boolean => Col::Bool(BooleanBuilder::new()),
            DataType::Int64 => Col::I64(Int64Builder::new()),
            DataType::UInt64 => Col::U64(UInt64Builder::new()),
            DataType::Float64 => Col::F64(Float64Builder::new()),
            DataType::Utf8 => Col::Str(StringBuilder::new()),
            DataType::Binary => Col::Bytes(BinaryBuilder::new()),
            DataType::List(_) => Col::F32s(ListBuilder::new(Float32Builder::new())),
            DataType::Timestamp(..) => {
                Col::Time(TimestampNanosecondBuilder::new().with_timezone("UTC"))
            }
            _ => Col::Null(NullBuilder::new()),
        }
    }

    /// Appends `v`; returns false (and appends a null) if its type does not fit.
    fn push(&mut self, v: Option<&Value>) -> bool {
        match (self, v) {
            (Col::Bool(b), Some(Value::Bool(x))) => b.append_value(*x),
            (Col::I64(b), Some(Value::I64(x))) => b.append_value(*x),
            (Col::U64(b), Some(Value::U64(x))) => b.append_value(*x),
            (Col::F64(b), Some(Value::F64(x))) => b.append_value(*x),
            (Col::Str(b), Some(Value::Str(x))) => b.append_value(&**x),
            (Col::Bytes(b), Some(Value::Bytes(x))) => b.append_value(&**x),
            (Col::F32s(b), Some(Value::F32s(x))) => {
                b.values().append_slice(x);
                b.append(true);
            }
            (Col::Time(b), Some(Value::Time(x))) => b.append_value(*x),
            (c, v) => {
                c.append_null();
                return matches!(v, None | Some(Value::Null));
            }
        }
        true
    }

    fn append_null(&mut self) {
        match self {
            Col::Null(b) => b.append_null(),
            Col::Bool(b) => b.append_null(),
            Col::I64(b) => b.append_null(),
            Col::U64(b) => b.append_null(),
            Col::F64(b) => b.append_null(),
            Col::Str(b) => b.append_null(),
            Col::Bytes(b) => b.append_null(),
            Col::F32s(b) => b.append(false),
            Col::Time(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Null(b) => Arc::new(b.finish()),
            Col::Bool(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::U64(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Str(b) => Arc::new(b.finish()),
            Col::Bytes(b) => Arc::new(b.finish()),
            Col::F32s(b) => Arc::new(b.finish()),
            Col::Time(b) => Arc::new(b.finish()),
        }
    }
}

/// Accumulates messages into a record batch of a message schema.
pub struct MessageBatcher {
    schema: SchemaRef,
    names: Vec<String>,
    cols: Vec<Col>,
    arrival: bool,
    time_field: String,
    rows: usize,
    mismatched: u64,
}

impl MessageBatcher {
    /// A batcher for `schema` (from [`super::schema::message_schema`]).
    pub fn new(schema: SchemaRef) -> Self {
        let arrival = schema.metadata().get(meta::ARRIVAL).map(String::as_str) == Some("true");
        let time_field = schema
            .metadata()
            .get(meta::TIME_COLUMN)
            .cloned()
            .unwrap_or_else(|| ARRIVAL_TIME.to_string());
        MessageBatcher {
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            cols: schema
                .fields()
                .iter()
                .map(|f| Col::new(f.data_type()))
                .collect(),
            schema,
            arrival,
            time_field,
            rows: 0,
            mismatched: 0,
        }
    }

    /// Adds a message; returns its time (its time field, or `arrival_ns`).
    pub fn push(&mut self, m: &Message, arrival_ns: i64) -> i64 {
        let skip = usize::from(self.arrival);
        if self.arrival {
            if let Col::Time(b) = &mut self.cols[0] {
                b.append_value(arrival_ns);
            }
        }
        let mut matched = 0;
        for (name, col) in self.names[skip..].iter().zip(&mut self.cols[skip..]) {
            let v = m.get(name);
            matched += usize::from(v.is_some());
            if !col.push(v) {
                self.mismatched += 1;
            }
        }
        // Fields the schema lacks (duplicates count too).
        self.mismatched += (m.fields.len() - matched) as u64;
        self.rows += 1;
        if self.arrival {
            arrival_ns
        } else {
            match m.get(&self.time_field) {
                Some(Value::Time(t)) => *t,
                _ => arrival_ns,
            }
        }
    }

    /// Rows added since the last [`MessageBatcher::finish`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Fields dropped or nulled because they did not fit the schema, since creation.
    pub fn mismatched(&self) -> u64 {
        self.mismatched
    }

    /// The batch of the rows added so far; starts a new one.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        self.rows = 0;
        let cols = self.cols.iter_mut().map(Col::finish).collect();
        RecordBatch::try_new(self.schema.clone(), cols)
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{message_schema, stream_schema};
    use super::*;
    use arrow_array::Array;

    #[test]
    fn c32_samples_become_interleaved_fixed_size_lists() {
        let s = stream_schema(ItemType::C32, "r").unwrap();
        let x = [C32::new(1.0, -1.0), C32::new(2.5, 3.0)];
        let b = stream_batch(&s, ItemType::C32, bytemuck::cast_slice(&x)).unwrap();
        assert_eq!(b.num_rows(), 2);
        let l = b
            .column(0)
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .unwrap();
        let v = l.values().as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(v.values(), &[1.0, -1.0, 2.5, 3.0]);
    }

    #[test]
    fn messages_fill_columns_by_name_and_count_misfits() {
        let first = Message::new("spectrum")
            .with("time_ns", Value::Time(5))
            .with("center_hz", 1e6)
            .with("power", vec![1.0f32, 2.0]);
        let s = message_schema(&first, "r");
        assert_eq!(s.fields().len(), 3);
        let mut b = MessageBatcher::new(s);
        assert_eq!(b.push(&first, 99), 5);
        let odd = Message::new("spectrum")
            .with("center_hz", "x")
            .with("extra", 1u64);
        assert_eq!(b.push(&odd, 7), 7);
        assert_eq!(b.mismatched(), 2);
        let batch = b.finish().unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(1).null_count(), 1);
        assert_eq!(batch.column(2).null_count(), 1);
    }

    #[test]
    fn messages_without_time_get_an_arrival_column() {
        let m = Message::new("status").with("ok", true);
        let s = message_schema(&m, "r");
        assert_eq!(s.field(0).name(), ARRIVAL_TIME);
        let mut b = MessageBatcher::new(s);
        assert_eq!(b.push(&m, 42), 42);
        assert_eq!(b.finish().unwrap().num_columns(), 2);
    }
}
