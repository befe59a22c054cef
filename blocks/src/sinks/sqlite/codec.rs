//! The binary encoding of a journal record's body: the record number, session, receive
//! time and the message with typed fields, so a replay restores exactly what arrived.
//!
//! Layout (little-endian): `rec u64, session i64, time_ns i64, kind str, n u16,
//! n × (name str, tag u8, value)`, where `str` is `u16 length + UTF-8` and values are
//! 0 null, 1 bool u8, 2 i64, 3 u64, 4 f64, 5 str (u32 length), 6 bytes (u32 length),
//! 7 f32s (u32 count + f32s), 8 time i64.

use std::sync::Arc;

use flow_framework::message::{Message, Value};

/// One stored message and its bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Record number: unique in the database, the row's `_rec` key.
    pub rec: u64,
    /// The session that received it.
    pub session: i64,
    /// When the sink received it (Unix ns).
    pub time_ns: i64,
    /// The message.
    pub msg: Message,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_blob(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Appends the encoding of `r` to `out`.
pub fn encode(r: &Record, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.rec.to_le_bytes());
    out.extend_from_slice(&r.session.to_le_bytes());
    out.extend_from_slice(&r.time_ns.to_le_bytes());
    put_str(out, &r.msg.kind);
    let n = r.msg.fields.len().min(u16::MAX as usize);
    out.extend_from_slice(&(n as u16).to_le_bytes());
    for (name, v) in r.msg.fields.iter().take(n) {
        put_str(out, name);
        match v {
            Value::Null => out.push(0),
            Value::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
            Value::I64(x) => {
                out.push(2);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::U64(x) => {
                out.push(3);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::F64(x) => {
                out.push(4);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::Str(s) => {
                out.push(5);
                put_blob(out, s.as_bytes());
            }
            Value::Bytes(b) => {
                out.push(6);
                put_blob(out, b);
            }
            Value::F32s(v) => {
                out.push(7);
                put_blob(out, bytemuck::cast_slice(v));
            }
            Value::Time(t) => {
                out.push(8);
                out.extend_from_slice(&t.to_le_bytes());
            }
        }
    }
}

/// A reader over a record body that never reads out of bounds.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!(
                "truncated: wanted {n} bytes, {} left",
                self.0.len()
            ));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, String> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_le_bytes([b[0], b[1]])))
    }
    fn u32(&mut self) -> Result<usize, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn text(&mut self, n: usize) -> Result<Arc<str>, String> {
        std::str::from_utf8(self.take(n)?)
            .map(Arc::from)
            .map_err(|e| format!("bad UTF-8: {e}"))
    }
}

/// Decodes a record body; errors say what was wrong.
pub fn decode(body: &[u8]) -> Result<Record, String> {
    let mut c = Cursor(body);
    let rec = c.u64()?;
    let session = c.u64()? as i64;
    let time_ns = c.u64()? as i64;
    let n = c.u16()?;
    let mut msg = Message::new(c.text(n)?);
    let count = c.u16()?;
    msg.fields.reserve(count);
    for _ in 0..count {
        let n = c.u16()?;
        let name = c.text(n)?;
        let v = match c.u8()? {
            0 => Value::Null,
            1 => Value::Bool(c.u8()? != 0),
            2 => Value::I64(c.u64()? as i64),
            3 => Value::U64(c.u64()?),
            4 => Value::F64(f64::from_bits(c.u64()?)),
            5 => {
                let n = c.u32()?;
                Value::Str(c.text(n)?)
            }
            6 => {
                let n = c.u32()?;
                Value::Bytes(c.take(n)?.into())
            }
            7 => {
                let n = c.u32()?;
                let floats: Vec<f32> = c
                    .take(n)?
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                Value::F32s(floats.into())
            }
            8 => Value::Time(c.u64()? as i64),
            t => return Err(format!("unknown value tag {t}")),
        };
        msg.fields.push((name, v));
    }
    if !c.0.is_empty() {
        return Err(format!("{} trailing bytes", c.0.len()));
    }
    Ok(Record {
        rec,
        session,
        time_ns,
        msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_type_round_trips_and_garbage_is_an_error() {
        let msg = Message::new("m")
            .with("n", Value::Null)
            .with("b", true)
            .with("i", -5i64)
            .with("u", u64::MAX)
            .with("f", 1.5)
            .with("s", "volts")
            .with("y", Value::Bytes(vec![0u8, 255].into()))
            .with("p", vec![1.0f32, -2.0])
            .with("t", Value::Time(1_700_000_000_000_000_000));
        let r = Record {
            rec: 7,
            session: 2,
            time_ns: 99,
            msg,
        };
        let mut buf = Vec::new();
        encode(&r, &mut buf);
        assert_eq!(decode(&buf).unwrap(), r);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "prefix {cut} decoded");
        }
        let mut bad = buf.clone();
        bad[24 + 2 + 1 + 2 + 2 + 1] = 99; // tag of the first field
        assert_eq!(decode(&bad).unwrap_err(), "unknown value tag 99");
    }

    /// The stable stand-in for `cargo fuzz run sqlite_journal`: mutated journals are split
    /// and decoded without a panic.
    #[test]
    fn mutated_journals_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut journal = super::super::journal::MAGIC.to_vec();
        for k in 0..20u64 {
            let r = Record {
                rec: k,
                session: 1,
                time_ns: 2,
                msg: Message::new("m").with("seq", k).with("s", "x"),
            };
            let mut body = Vec::new();
            encode(&r, &mut body);
            journal.extend_from_slice(&(body.len() as u32).to_le_bytes());
            journal.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
            journal.extend_from_slice(&body);
        }
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..5_000 {
            let mut j = journal.clone();
            for _ in 0..rng.random_range(1..6) {
                let at = rng.random_range(8..j.len());
                j[at] = rng.random();
            }
            j.truncate(rng.random_range(8..=j.len()));
            let (bodies, scan) = super::super::journal::bodies(&j);
            assert_eq!(bodies.len() as u64, scan.records);
            for b in bodies {
                let _ = decode(b);
            }
            for cut in [0usize, 3, 30] {
                let _ = decode(&j[8..][..cut.min(j.len() - 8)]);
            }
        }
    }
}
