//! Message tables: one extendable, chunked compound dataset per message kind, with one
//! field per message field (types from the first message; strings and arrays fixed-size,
//! sized from the first message). Rows are packed by hand and written with `H5Dwrite`.

use flow_framework::prelude::*;
use hdf5::types::{CompoundField, CompoundType, FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataset, Datatype, Group};

/// Length reserved for a string field when the first value is shorter.
const MIN_STR: usize = 64;

enum Kind {
    Bool,
    I64,
    U64,
    F64,
    Str(usize),
    F32s(usize),
    Bytes(usize),
}

/// A compound table of one message kind.
pub struct Table {
    ds: Dataset,
    dtype: Datatype,
    fields: Vec<(String, Kind, usize)>,
    size: usize,
    rows: u64,
    row: Vec<u8>,
    /// Values that did not fit (wrong type, truncated string or array).
    pub misfits: u64,
}

fn kind_of(v: &Value) -> Option<(Kind, TypeDescriptor, usize)> {
    Some(match v {
        Value::Bool(_) => (Kind::Bool, TypeDescriptor::Boolean, 1),
        Value::I64(_) | Value::Time(_) => (Kind::I64, TypeDescriptor::Integer(IntSize::U8), 8),
        Value::U64(_) => (Kind::U64, TypeDescriptor::Unsigned(IntSize::U8), 8),
        Value::F64(_) => (Kind::F64, TypeDescriptor::Float(FloatSize::U8), 8),
        Value::Str(s) => {
            let n = s.len().max(MIN_STR);
            (Kind::Str(n), TypeDescriptor::FixedAscii(n), n)
        }
        Value::F32s(x) => {
            let n = x.len().max(1);
            (
                Kind::F32s(n),
                TypeDescriptor::FixedArray(Box::new(TypeDescriptor::Float(FloatSize::U4)), n),
                4 * n,
            )
        }
        Value::Bytes(x) => {
            let n = x.len().max(1);
            (
                Kind::Bytes(n),
                TypeDescriptor::FixedArray(Box::new(TypeDescriptor::Unsigned(IntSize::U1)), n),
                n,
            )
        }
        Value::Null => return None,
    })
}

impl Table {
    /// Creates the table `name` in `group` with the fields of `first`.
    pub fn create(group: &Group, name: &str, first: &Message) -> hdf5::Result<Table> {
        let mut fields = Vec::new();
        let mut cf = Vec::new();
        let mut off = 0;
        for (k, v) in &first.fields {
            if fields
                .iter()
                .any(|(n, _, _): &(String, Kind, usize)| n == &**k)
            {
                continue;
            }
            if let Some((kind, td, size)) = kind_of(v) {
                cf.push(CompoundField::new(k, td, off, cf.len()));
                fields.push((k.to_string(), kind, off));
                off += size;
            }
        }
        let td = TypeDescriptor::Compound(CompoundType {
            fields: cf,
            size: off.max(1),
        });
        let dtype = Datatype::from_descriptor(&td)?;
        let chunk = (65536 / off.max(1)).clamp(16, 4096);
        let ds = group
            .new_dataset_builder()
            .empty_as(&td)
            .chunk(chunk)
            .shape(0..)
            .create(name)?;
        ds.new_attr::<hdf5::types::VarLenUnicode>()
            .create("message_kind")?
            .write_scalar(
                &first
                    .kind
                    .parse::<hdf5::types::VarLenUnicode>()
                    .unwrap_or_default(),
            )?;
        Ok(Table {
            ds,
            dtype,
            fields,
            size: off.max(1),
            rows: 0,
            row: Vec::new(),
            misfits: 0,
        })
    }

    fn pack(&mut self, m: &Message, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + self.size, 0);
        let row = &mut out[start..];
        for (name, kind, off) in &self.fields {
            let v = m.get(name);
            let ok = match (kind, v) {
                (Kind::Bool, Some(Value::Bool(b))) => {
                    row[*off] = u8::from(*b);
                    true
                }
                (Kind::I64, Some(Value::I64(x) | Value::Time(x))) => {
                    row[*off..*off + 8].copy_from_slice(&x.to_le_bytes());
                    true
                }
                (Kind::U64, Some(Value::U64(x))) => {
                    row[*off..*off + 8].copy_from_slice(&x.to_le_bytes());
                    true
                }
                (Kind::F64, Some(v @ (Value::F64(_) | Value::I64(_) | Value::U64(_)))) => {
                    row[*off..*off + 8]
                        .copy_from_slice(&v.as_f64().unwrap_or(f64::NAN).to_le_bytes());
                    true
                }
                (Kind::Str(n), Some(Value::Str(s))) => {
                    let b = s.as_bytes();
                    let k = b.len().min(*n);
                    row[*off..*off + k].copy_from_slice(&b[..k]);
                    k == b.len()
                }
                (Kind::F32s(n), Some(Value::F32s(x))) => {
                    for (i, d) in row[*off..*off + 4 * n].chunks_exact_mut(4).enumerate() {
                        d.copy_from_slice(&x.get(i).copied().unwrap_or(f32::NAN).to_le_bytes());
                    }
                    x.len() == *n
                }
                (Kind::Bytes(n), Some(Value::Bytes(x))) => {
                    let k = x.len().min(*n);
                    row[*off..*off + k].copy_from_slice(&x[..k]);
                    x.len() == *n
                }
                (Kind::F64 | Kind::F32s(_), None) => {
                    // Missing floats read as NaN rather than 0.
                    let w = if let Kind::F32s(n) = kind { 4 * n } else { 8 };
                    let nan = if matches!(kind, Kind::F64) {
                        f64::NAN.to_le_bytes().to_vec()
                    } else {
                        f32::NAN.to_le_bytes().to_vec()
                    };
                    for d in row[*off..*off + w].chunks_exact_mut(nan.len()) {
                        d.copy_from_slice(&nan);
                    }
                    false
                }
                _ => false,
            };
            self.misfits += u64::from(!ok);
        }
    }

    /// Appends messages as rows.
    pub fn append(&mut self, msgs: &[&Message]) -> hdf5::Result<()> {
        if msgs.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.row);
        buf.clear();
        for m in msgs {
            self.pack(m, &mut buf);
        }
        let n = msgs.len() as u64;
        self.ds.resize((self.rows + n) as usize)?;
        super::raw::write_rows(&self.ds, &self.dtype, self.rows, n, &buf)?;
        self.rows += n;
        self.row = buf;
        Ok(())
    }

    /// Rows written.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}
