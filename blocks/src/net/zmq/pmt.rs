//! GNU Radio's PMT ("polymorphic type") values and their portable byte serialization, as
//! `pmt::serialize` / `pmt::deserialize` write and read them: the encoding of stream tags in
//! gr-zeromq's tagged messages.
//!
//! Format: one type byte, then big-endian data. Symbols carry a u16 length; integers are
//! written as int32 when they fit and int64 otherwise; pairs are written as `PAIR car cdr`
//! with a list's cells chained through their cdr; dictionaries the same with `DICT` cells
//! whose cars are `(key . value)` pairs; tuples and vectors carry a u32 count; uniform vectors
//! a kind byte, a u32 count, a pad count and pad bytes, then the elements. Decoding never
//! panics: malformed, truncated or too deeply nested input is an error saying where.

use std::fmt;

const TRUE: u8 = 0x00;
const FALSE: u8 = 0x01;
const SYMBOL: u8 = 0x02;
const INT32: u8 = 0x03;
const DOUBLE: u8 = 0x04;
const COMPLEX: u8 = 0x05;
const NULL: u8 = 0x06;
const PAIR: u8 = 0x07;
const VECTOR: u8 = 0x08;
const DICT: u8 = 0x09;
const UNIFORM: u8 = 0x0a;
const UINT64: u8 = 0x0b;
const TUPLE: u8 = 0x0c;
const INT64: u8 = 0x0d;

/// Element kinds of uniform vectors (the byte after the `UNIFORM` tag) and their sizes.
const UNIFORM_SIZES: [(u8, usize); 12] = [
    (0x00, 1),  // u8
    (0x01, 1),  // s8
    (0x02, 2),  // u16
    (0x03, 2),  // s16
    (0x04, 4),  // u32
    (0x05, 4),  // s32
    (0x06, 8),  // u64
    (0x07, 8),  // s64
    (0x08, 4),  // f32
    (0x09, 8),  // f64
    (0x0a, 8),  // c32 (two f32)
    (0x0b, 16), // c64 (two f64)
];
/// Uniform vector kind of `u8` elements.
pub const UNIFORM_U8: u8 = 0x00;
/// Uniform vector kind of `f32` elements.
pub const UNIFORM_F32: u8 = 0x08;

/// Deepest nesting accepted when decoding (a guard against hostile input).
const MAX_DEPTH: usize = 32;
/// Longest symbol GNU Radio reads.
const MAX_SYMBOL: usize = 1024;

/// A PMT value.
#[derive(Clone, Debug, PartialEq)]
pub enum Pmt {
    /// `#t`.
    True,
    /// `#f`.
    False,
    /// The empty list, `()`.
    Null,
    /// An interned string (GNU Radio also uses symbols for strings).
    Symbol(String),
    /// A signed integer (`pmt::from_long`).
    Int(i64),
    /// An unsigned 64-bit integer (`pmt::from_uint64`).
    Uint64(u64),
    /// A double.
    Double(f64),
    /// A complex double.
    Complex(f64, f64),
    /// A cons cell.
    Pair(Box<Pmt>, Box<Pmt>),
    /// A dictionary, in order.
    Dict(Vec<(Pmt, Pmt)>),
    /// A vector of PMTs.
    Vector(Vec<Pmt>),
    /// A tuple.
    Tuple(Vec<Pmt>),
    /// A uniform vector: element kind and the elements' bytes, big-endian as on the wire.
    Uniform(u8, Vec<u8>),
}

/// A malformed PMT.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed PMT at byte {at}: {what}")]
pub struct PmtError {
    /// Offset in the input.
    pub at: usize,
    /// What is wrong.
    pub what: String,
}

impl Pmt {
    /// A symbol.
    pub fn symbol(s: &str) -> Pmt {
        Pmt::Symbol(s.to_string())
    }

    /// A uniform vector of `f32`.
    pub fn f32s(v: &[f32]) -> Pmt {
        Pmt::Uniform(
            UNIFORM_F32,
            v.iter().flat_map(|x| x.to_be_bytes()).collect(),
        )
    }

    /// The `f32` elements of an `f32` uniform vector.
    pub fn as_f32s(&self) -> Option<Vec<f32>> {
        match self {
            Pmt::Uniform(UNIFORM_F32, b) => Some(
                b.chunks_exact(4)
                    .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Appends the serialized form to `out`.
    pub fn serialize(&self, out: &mut Vec<u8>) {
        match self {
            Pmt::True => out.push(TRUE),
            Pmt::False => out.push(FALSE),
            Pmt::Null => out.push(NULL),
            Pmt::Symbol(s) => {
                // Longer symbols cannot be represented; GNU Radio truncates the length too.
                let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
                out.push(SYMBOL);
                out.extend_from_slice(&(b.len() as u16).to_be_bytes());
                out.extend_from_slice(b);
            }
            Pmt::Int(i) => match i32::try_from(*i) {
                Ok(small) => {
                    out.push(INT32);
                    out.extend_from_slice(&small.to_be_bytes());
                }
                Err(_) => {
                    out.push(INT64);
                    out.extend_from_slice(&i.to_be_bytes());
                }
            },
            Pmt::Uint64(u) => {
                out.push(UINT64);
                out.extend_from_slice(&u.to_be_bytes());
            }
            Pmt::Double(d) => {
                out.push(DOUBLE);
                out.extend_from_slice(&d.to_be_bytes());
            }
            Pmt::Complex(re, im) => {
                out.push(COMPLEX);
                out.extend_from_slice(&re.to_be_bytes());
                out.extend_from_slice(&im.to_be_bytes());
            }
            Pmt::Pair(car, cdr) => {
                out.push(PAIR);
                car.serialize(out);
                cdr.serialize(out);
            }
            Pmt::Dict(entries) => {
                for (k, v) in entries {
                    out.push(DICT);
                    out.push(PAIR);
                    k.serialize(out);
                    v.serialize(out);
                }
                out.push(NULL);
            }
            Pmt::Vector(items) | Pmt::Tuple(items) => {
                out.push(if matches!(self, Pmt::Vector(_)) {
                    VECTOR
                } else {
                    TUPLE
                });
                out.extend_from_slice(&(items.len() as u32).to_be_bytes());
                for x in items {
                    x.serialize(out);
                }
            }
            Pmt::Uniform(kind, bytes) => {
                let size = uniform_size(*kind).unwrap_or(1);
                out.push(UNIFORM);
                out.push(*kind);
                out.extend_from_slice(&((bytes.len() / size) as u32).to_be_bytes());
                out.push(1); // one pad byte, as GNU Radio writes
                out.push(0);
                out.extend_from_slice(bytes);
            }
        }
    }

    /// The serialized form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.serialize(&mut v);
        v
    }

    /// Decodes one PMT from the start of `buf`; returns it and the bytes it used.
    pub fn deserialize(buf: &[u8]) -> Result<(Pmt, usize), PmtError> {
        let mut r = Reader { buf, pos: 0 };
        let p = r.value(0)?;
        Ok((p, r.pos))
    }
}

fn uniform_size(kind: u8) -> Option<usize> {
    UNIFORM_SIZES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| *s)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn err(&self, what: impl Into<String>) -> PmtError {
        PmtError {
            at: self.pos,
            what: what.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PmtError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                self.err(format!(
                    "needs {n} more bytes, {} left",
                    self.buf.len() - self.pos
                ))
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PmtError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PmtError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn value(&mut self, depth: usize) -> Result<Pmt, PmtError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("nested deeper than {MAX_DEPTH}")));
        }
        let at = self.pos;
        let tag = self.u8()?;
        Ok(match tag {
            TRUE => Pmt::True,
            FALSE => Pmt::False,
            NULL => Pmt::Null,
            SYMBOL => {
                let n = u16::from_be_bytes(self.array()?) as usize;
                if n > MAX_SYMBOL {
                    return Err(self.err(format!("symbol of {n} bytes (most is {MAX_SYMBOL})")));
                }
                Pmt::Symbol(String::from_utf8_lossy(self.take(n)?).into_owned())
            }
            INT32 => Pmt::Int(i64::from(i32::from_be_bytes(self.array()?))),
            INT64 => Pmt::Int(i64::from_be_bytes(self.array()?)),
            UINT64 => Pmt::Uint64(u64::from_be_bytes(self.array()?)),
            DOUBLE => Pmt::Double(f64::from_be_bytes(self.array()?)),
            COMPLEX => Pmt::Complex(
                f64::from_be_bytes(self.array()?),
                f64::from_be_bytes(self.array()?),
            ),
            PAIR => {
                let car = self.value(depth + 1)?;
                let cdr = self.value(depth + 1)?;
                Pmt::Pair(Box::new(car), Box::new(cdr))
            }
            DICT => self.dict(depth)?,
            VECTOR | TUPLE => {
                let n = u32::from_be_bytes(self.array()?) as usize;
                // Every element takes at least one byte: a count beyond the input is a lie.
                if n > self.buf.len() - self.pos {
                    return Err(self.err(format!("{n} elements cannot fit in the input")));
                }
                let items = (0..n)
                    .map(|_| self.value(depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                if tag == VECTOR {
                    Pmt::Vector(items)
                } else {
                    Pmt::Tuple(items)
                }
            }
            UNIFORM => {
                let kind = self.u8()?;
                let size = uniform_size(kind)
                    .ok_or_else(|| self.err(format!("unknown uniform vector kind {kind}")))?;
                let n = u32::from_be_bytes(self.array()?) as usize;
                let pad = self.u8()? as usize;
                self.take(pad)?;
                let bytes = self.take(n.saturating_mul(size))?.to_vec();
                Pmt::Uniform(kind, bytes)
            }
            other => {
                self.pos = at;
                return Err(self.err(format!("unknown type byte 0x{other:02x}")));
            }
        })
    }

    /// A dictionary: `DICT (k . v)` cells chained through their cdr, ending in `NULL`.
    fn dict(&mut self, depth: usize) -> Result<Pmt, PmtError> {
        let mut entries = Vec::new();
        loop {
            match self.value(depth + 1)? {
                Pmt::Pair(k, v) => entries.push((*k, *v)),
                other => return Err(self.err(format!("dictionary entry is not a pair: {other}"))),
            }
            match self.u8()? {
                DICT => continue,
                NULL => return Ok(Pmt::Dict(entries)),
                t => return Err(self.err(format!("dictionary continues with type byte 0x{t:02x}"))),
            }
        }
    }
}

impl fmt::Display for Pmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, items: &[Pmt]| -> fmt::Result {
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{x}")?;
            }
            Ok(())
        };
        match self {
            Pmt::True => f.write_str("#t"),
            Pmt::False => f.write_str("#f"),
            Pmt::Null => f.write_str("()"),
            Pmt::Symbol(s) => f.write_str(s),
            Pmt::Int(i) => write!(f, "{i}"),
            Pmt::Uint64(u) => write!(f, "{u}"),
            Pmt::Double(d) => write!(f, "{d}"),
            Pmt::Complex(re, im) => write!(f, "{re}+{im}j"),
            Pmt::Pair(a, b) => write!(f, "({a} . {b})"),
            Pmt::Dict(e) => {
                f.write_str("(")?;
                for (i, (k, v)) in e.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "({k} . {v})")?;
                }
                f.write_str(")")
            }
            Pmt::Vector(v) => {
                f.write_str("#[")?;
                list(f, v)?;
                f.write_str("]")
            }
            Pmt::Tuple(v) => {
                f.write_str("{")?;
                list(f, v)?;
                f.write_str("}")
            }
            Pmt::Uniform(kind, b) => write!(f, "#<uniform vector kind {kind}, {} bytes>", b.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(p: &Pmt) {
        let b = p.to_bytes();
        assert_eq!(Pmt::deserialize(&b), Ok((p.clone(), b.len())), "{p}");
    }

    #[test]
    fn encodes_the_gnu_radio_byte_layout() {
        // rx_time = (uint64 1700000000, double 0.25), as gr-zeromq sends it.
        let t = Pmt::Tuple(vec![Pmt::Uint64(1_700_000_000), Pmt::Double(0.25)]);
        let mut want = vec![0x0c, 0, 0, 0, 2, 0x0b];
        want.extend_from_slice(&1_700_000_000u64.to_be_bytes());
        want.push(0x04);
        want.extend_from_slice(&0.25f64.to_be_bytes());
        assert_eq!(t.to_bytes(), want);
        assert_eq!(
            Pmt::symbol("rx_time").to_bytes(),
            b"\x02\x00\x07rx_time".to_vec()
        );
        assert_eq!(Pmt::Int(-2).to_bytes(), vec![0x03, 0xff, 0xff, 0xff, 0xfe]);
        assert_eq!(Pmt::Int(1 << 40).to_bytes()[0], 0x0d);
        assert_eq!(
            Pmt::Pair(Box::new(Pmt::True), Box::new(Pmt::Null)).to_bytes(),
            vec![0x07, 0x00, 0x06]
        );
        assert_eq!(
            Pmt::Dict(vec![(Pmt::symbol("a"), Pmt::Int(1))]).to_bytes(),
            vec![0x09, 0x07, 0x02, 0, 1, b'a', 0x03, 0, 0, 0, 1, 0x06]
        );
        assert_eq!(
            Pmt::f32s(&[1.0]).to_bytes(),
            vec![0x0a, 0x08, 0, 0, 0, 1, 1, 0, 0x3f, 0x80, 0, 0]
        );
    }

    #[test]
    fn every_kind_round_trips() {
        for p in [
            Pmt::True,
            Pmt::False,
            Pmt::Null,
            Pmt::symbol("rx_freq"),
            Pmt::Int(7),
            Pmt::Int(-(1 << 40)),
            Pmt::Uint64(u64::MAX),
            Pmt::Double(-1.5e9),
            Pmt::Complex(1.0, -2.0),
            Pmt::Pair(Box::new(Pmt::symbol("k")), Box::new(Pmt::Double(2.0))),
            Pmt::Dict(vec![
                (Pmt::symbol("a"), Pmt::Int(1)),
                (Pmt::symbol("b"), Pmt::Tuple(vec![Pmt::Null])),
            ]),
            Pmt::Vector(vec![Pmt::Int(1), Pmt::symbol("x")]),
            Pmt::Tuple(vec![Pmt::Uint64(3), Pmt::Double(0.5)]),
            Pmt::f32s(&[1.0, -2.5]),
            Pmt::Uniform(UNIFORM_U8, vec![1, 2, 3]),
        ] {
            round_trip(&p);
        }
        assert_eq!(Pmt::f32s(&[1.0, -2.5]).as_f32s(), Some(vec![1.0, -2.5]));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert_eq!(
            Pmt::deserialize(&[0x02, 0x00, 0x05, b'a'])
                .unwrap_err()
                .to_string(),
            "malformed PMT at byte 3: needs 5 more bytes, 1 left"
        );
        assert_eq!(
            Pmt::deserialize(&[0x42]).unwrap_err().to_string(),
            "malformed PMT at byte 0: unknown type byte 0x42"
        );
        assert!(Pmt::deserialize(&[0x0c, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Pmt::deserialize(&[]).is_err());
        let deep = vec![0x07; 10_000];
        assert!(Pmt::deserialize(&deep)
            .unwrap_err()
            .what
            .contains("nested deeper"));
        // Every prefix and every single-byte corruption of a valid value decodes or errors.
        let good = Pmt::Dict(vec![(
            Pmt::symbol("rx_time"),
            Pmt::Tuple(vec![Pmt::Uint64(5), Pmt::Double(0.1), Pmt::f32s(&[1.0])]),
        )])
        .to_bytes();
        for n in 0..good.len() {
            let _ = Pmt::deserialize(&good[..n]);
            for b in [0u8, 0x07, 0x09, 0xff] {
                let mut bad = good.clone();
                bad[n] = b;
                let _ = Pmt::deserialize(&bad);
            }
        }
    }
}
