//! Messages: structured records (detections, measurements, spectra, status) that travel on
//! message ports, and the [`Value`] type of their fields and of user tags.
//!
//! A message has a `kind` (what it is, e.g. `tone_detection`) and ordered named fields.
//! Storing sinks map fields to columns (SQLite, HDF5 tables, Arrow); file sinks write one
//! JSON object per line. Large payloads ([`Value::F32s`], [`Value::Bytes`]) are shared by
//! reference count, so fanning a spectrum out to several sinks does not copy it.

use std::fmt;
use std::sync::Arc;

/// A field value of a message or user tag.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// Boolean.
    Bool(bool),
    /// Signed integer.
    I64(i64),
    /// Unsigned integer (sequence numbers, sample indices).
    U64(u64),
    /// Float.
    F64(f64),
    /// Text.
    Str(Arc<str>),
    /// Raw bytes.
    Bytes(Arc<[u8]>),
    /// A vector of floats (a spectrum, a frame of power values).
    F32s(Arc<[f32]>),
    /// An absolute time, nanoseconds since the Unix epoch (UTC).
    Time(i64),
}

impl Value {
    /// The value as a float, when it is numeric.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::I64(v) => Some(v as f64),
            Value::U64(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            Value::Time(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The value as text, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A JSON rendering (spectra as arrays, bytes as arrays of numbers, time as integer ns).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::I64(v) | Value::Time(v) => J::from(*v),
            Value::U64(v) => J::from(*v),
            Value::F64(v) => serde_json::Number::from_f64(*v).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.to_string()),
            Value::Bytes(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::F32s(v) => J::Array(
                v.iter()
                    .map(|x| serde_json::Number::from_f64(f64::from(*x)).map_or(J::Null, J::Number))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
            Value::F32s(v) => write!(f, "<{} floats>", v.len()),
            Value::Time(ns) => f.write_str(&crate::tag::format_unix_ns(*ns)),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident $(as $c:ty)?),* $(,)?) => {
        $(impl From<$t> for Value { fn from(x: $t) -> Self { Value::$v(x $(as $c)?) } })*
    };
}
value_from!(bool => Bool, i64 => I64, i32 => I64 as i64, u64 => U64, u32 => U64 as u64,
    usize => U64 as u64, f64 => F64, f32 => F64 as f64);

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s.into())
    }
}
impl From<Arc<str>> for Value {
    fn from(s: Arc<str>) -> Self {
        Value::Str(s)
    }
}
impl From<Vec<f32>> for Value {
    fn from(v: Vec<f32>) -> Self {
        Value::F32s(v.into())
    }
}

/// A structured record on a message port.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// What the record is (`tone_detection`, `measurement`, `spectrum`, ...).
    pub kind: Arc<str>,
    /// Named fields, in a stable order (the column order of table sinks).
    pub fields: Vec<(Arc<str>, Value)>,
}

impl Message {
    /// A message of `kind` with no fields.
    pub fn new(kind: impl Into<Arc<str>>) -> Self {
        Message {
            kind: kind.into(),
            fields: Vec::new(),
        }
    }

    /// Adds a field (builder style).
    pub fn with(mut self, name: impl Into<Arc<str>>, value: impl Into<Value>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// Adds a field.
    pub fn push(&mut self, name: impl Into<Arc<str>>, value: impl Into<Value>) {
        self.fields.push((name.into(), value.into()));
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v)
    }

    /// One JSON object: `{"kind": ..., <fields>...}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::with_capacity(self.fields.len() + 1);
        map.insert(
            "kind".into(),
            serde_json::Value::String(self.kind.to_string()),
        );
        for (k, v) in &self.fields {
            map.insert(k.to_string(), v.to_json());
        }
        serde_json::Value::Object(map)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        for (k, v) in &self.fields {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_displays_and_serializes() {
        let m = Message::new("tone")
            .with("station", "WWV")
            .with("snr_db", 12.5)
            .with("n", 3u32);
        assert_eq!(m.to_string(), "tone station=\"WWV\" snr_db=12.5 n=3");
        assert_eq!(m.get("n"), Some(&Value::U64(3)));
        assert_eq!(
            m.to_json().to_string(),
            r#"{"kind":"tone","station":"WWV","snr_db":12.5,"n":3}"#
        );
    }
}
