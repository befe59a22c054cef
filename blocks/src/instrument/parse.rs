//! Turning a frame into typed fields: CSV/delimited text, a regex with named captures, or a
//! binary layout, all against a schema declared in TOML (`fields = [{ name, type }]`).

use flow_framework::prelude::{Deserialize, JsonSchema, Message, Serialize, Value};
use regex::Regex;

/// How frames become fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParseKind {
    /// No parsing: the line (`line`, text) or the frame payload (`frame`, bytes) as one field.
    #[default]
    None,
    /// Delimited text: the `fields` in order, one per column (`_` skips a column).
    Csv,
    /// A regular expression whose named captures fill the `fields` of the same name.
    Regex,
    /// Binary payload: the `fields` decoded one after another with their binary types.
    Binary,
}

/// The type of a parsed field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// A float (text).
    F64,
    /// A signed integer (text).
    I64,
    /// Text as is.
    Str,
    /// Binary: unsigned byte.
    U8,
    /// Binary: signed byte.
    I8,
    /// Binary: u16 little-endian.
    U16Le,
    /// Binary: u16 big-endian.
    U16Be,
    /// Binary: i16 little-endian.
    I16Le,
    /// Binary: i16 big-endian.
    I16Be,
    /// Binary: u32 little-endian.
    U32Le,
    /// Binary: u32 big-endian.
    U32Be,
    /// Binary: i32 little-endian.
    I32Le,
    /// Binary: i32 big-endian.
    I32Be,
    /// Binary: f32 little-endian.
    F32Le,
    /// Binary: f32 big-endian.
    F32Be,
}

impl FieldType {
    /// Bytes this type takes in a binary payload (0 for text types).
    pub fn binary_size(self) -> usize {
        use FieldType::*;
        match self {
            F64 | I64 | Str => 0,
            U8 | I8 => 1,
            U16Le | U16Be | I16Le | I16Be => 2,
            U32Le | U32Be | I32Le | I32Be | F32Le | F32Be => 4,
        }
    }
}

/// One declared field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Field name in the message (and column name in table sinks); `_` skips a CSV column.
    pub name: String,
    /// Field type: `f64`, `i64`, `str` for text; `u8`, `i16_le`, `f32_be`, ... for binary.
    #[serde(rename = "type")]
    pub ty: FieldType,
}

/// Names the source adds itself.
pub const RESERVED: [&str; 2] = ["time", "seq"];

/// Checks a schema against a parse kind (pure). Returns the problems, each with its key.
pub fn check(
    kind: ParseKind,
    fields: &[FieldSpec],
    pattern: &str,
    payload_len: Option<usize>,
) -> Vec<(&'static str, String)> {
    let mut errs = Vec::new();
    let mut seen = Vec::new();
    for f in fields.iter().filter(|f| f.name != "_") {
        if RESERVED.contains(&f.name.as_str()) {
            errs.push((
                "fields",
                format!(
                    "`{}` is added by the source itself; rename the field",
                    f.name
                ),
            ));
        }
        if seen.contains(&&f.name) {
            errs.push(("fields", format!("field `{}` is declared twice", f.name)));
        }
        seen.push(&f.name);
        let binary = f.ty.binary_size() > 0;
        if kind == ParseKind::Binary && !binary {
            errs.push((
                "fields",
                format!(
                    "field `{}`: binary parsing needs a binary type such as `u16_le`",
                    f.name
                ),
            ));
        }
        if matches!(kind, ParseKind::Csv | ParseKind::Regex) && binary {
            errs.push((
                "fields",
                format!(
                    "field `{}`: text parsing takes `f64`, `i64` or `str`",
                    f.name
                ),
            ));
        }
    }
    if kind != ParseKind::None && fields.is_empty() {
        errs.push((
            "fields",
            "declare the fields to parse, e.g. fields = [{ name = \"value\", type = \"f64\" }]"
                .into(),
        ));
    }
    if kind == ParseKind::Regex {
        match Regex::new(pattern) {
            Ok(re) => {
                for f in fields {
                    if !re.capture_names().flatten().any(|n| n == f.name) {
                        errs.push((
                            "pattern",
                            format!(
                                "has no named group `(?P<{}>...)` for field `{}`",
                                f.name, f.name
                            ),
                        ));
                    }
                }
            }
            Err(e) => errs.push(("pattern", format!("is not a valid regular expression: {e}"))),
        }
    }
    if let (ParseKind::Binary, Some(n)) = (kind, payload_len) {
        let need: usize = fields.iter().map(|f| f.ty.binary_size()).sum();
        if need > n {
            errs.push((
                "fields",
                format!("need {need} payload bytes but frames carry {n}"),
            ));
        }
    }
    errs
}

/// A compiled parser.
#[derive(Debug, Clone)]
pub struct Parser {
    kind: ParseKind,
    fields: Vec<FieldSpec>,
    delimiter: u8,
    regex: Option<Regex>,
    binary_frames: bool,
}

impl Parser {
    /// Compiles a parser; `binary_frames` says whether frames are binary payloads.
    pub fn new(
        kind: ParseKind,
        fields: &[FieldSpec],
        delimiter: u8,
        pattern: &str,
        binary_frames: bool,
    ) -> Result<Self, String> {
        let regex = match kind {
            ParseKind::Regex => Some(Regex::new(pattern).map_err(|e| e.to_string())?),
            _ => None,
        };
        Ok(Parser {
            kind,
            fields: fields.to_vec(),
            delimiter,
            regex,
            binary_frames,
        })
    }

    /// Parses `frame` into fields appended to `msg`; on error says what and where.
    pub fn parse(&self, frame: &[u8], msg: &mut Message) -> Result<(), String> {
        match self.kind {
            ParseKind::None if self.binary_frames => msg.push("frame", Value::Bytes(frame.into())),
            ParseKind::None => msg.push("line", String::from_utf8_lossy(frame).into_owned()),
            ParseKind::Binary => self.binary(frame, msg)?,
            ParseKind::Csv => {
                let text = utf8(frame)?.trim();
                let mut cols = text.split(self.delimiter as char);
                for (k, f) in self.fields.iter().enumerate() {
                    let col = cols.next().ok_or_else(|| {
                        format!("expected {} columns, found {k}", self.fields.len())
                    })?;
                    if f.name != "_" {
                        msg.push(f.name.as_str(), text_value(f, col.trim())?);
                    }
                }
            }
            ParseKind::Regex => {
                let text = utf8(frame)?.trim();
                let re = self.regex.as_ref().ok_or("no pattern")?;
                let caps = re.captures(text).ok_or("does not match the pattern")?;
                for f in &self.fields {
                    let v = match caps.name(&f.name) {
                        Some(m) => text_value(f, m.as_str().trim())?,
                        None => Value::Null,
                    };
                    msg.push(f.name.as_str(), v);
                }
            }
        }
        Ok(())
    }

    fn binary(&self, frame: &[u8], msg: &mut Message) -> Result<(), String> {
        let mut at = 0;
        for f in &self.fields {
            let n = f.ty.binary_size();
            let b = frame.get(at..at + n).ok_or_else(|| {
                format!(
                    "payload of {} bytes is too short for field `{}`",
                    frame.len(),
                    f.name
                )
            })?;
            at += n;
            let v = decode(f.ty, b);
            if f.name != "_" {
                msg.push(f.name.as_str(), v);
            }
        }
        Ok(())
    }
}

fn utf8(frame: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(frame).map_err(|e| format!("not UTF-8 text ({e})"))
}

fn text_value(f: &FieldSpec, s: &str) -> Result<Value, String> {
    match f.ty {
        FieldType::F64 => s
            .parse::<f64>()
            .map(Value::F64)
            .map_err(|_| format!("field `{}`: `{s}` is not a number", f.name)),
        FieldType::I64 => s
            .parse::<i64>()
            .map(Value::I64)
            .map_err(|_| format!("field `{}`: `{s}` is not an integer", f.name)),
        _ => Ok(Value::from(s)),
    }
}

fn decode(ty: FieldType, b: &[u8]) -> Value {
    use FieldType::*;
    let a2 = |b: &[u8]| [b[0], b[1]];
    let a4 = |b: &[u8]| [b[0], b[1], b[2], b[3]];
    match ty {
        U8 => Value::I64(i64::from(b[0])),
        I8 => Value::I64(i64::from(b[0] as i8)),
        U16Le => Value::I64(i64::from(u16::from_le_bytes(a2(b)))),
        U16Be => Value::I64(i64::from(u16::from_be_bytes(a2(b)))),
        I16Le => Value::I64(i64::from(i16::from_le_bytes(a2(b)))),
        I16Be => Value::I64(i64::from(i16::from_be_bytes(a2(b)))),
        U32Le => Value::I64(i64::from(u32::from_le_bytes(a4(b)))),
        U32Be => Value::I64(i64::from(u32::from_be_bytes(a4(b)))),
        I32Le => Value::I64(i64::from(i32::from_le_bytes(a4(b)))),
        I32Be => Value::I64(i64::from(i32::from_be_bytes(a4(b)))),
        F32Le => Value::F64(f64::from(f32::from_le_bytes(a4(b)))),
        F32Be => Value::F64(f64::from(f32::from_be_bytes(a4(b)))),
        F64 | I64 | Str => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, ty: FieldType) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            ty,
        }
    }

    #[test]
    fn csv_regex_and_binary_fill_typed_fields() {
        let mut m = Message::new("measurement");
        let csv = Parser::new(
            ParseKind::Csv,
            &[
                f("v", FieldType::F64),
                f("_", FieldType::Str),
                f("n", FieldType::I64),
            ],
            b',',
            "",
            false,
        )
        .unwrap();
        csv.parse(b" 1.5 ,x, -3", &mut m).unwrap();
        assert_eq!(m.get("v"), Some(&Value::F64(1.5)));
        assert_eq!(m.get("n"), Some(&Value::I64(-3)));
        assert_eq!(
            csv.parse(b"1.5", &mut m).unwrap_err(),
            "expected 3 columns, found 1"
        );
        assert_eq!(
            csv.parse(b"abc,x,1", &mut m).unwrap_err(),
            "field `v`: `abc` is not a number"
        );

        let re = Parser::new(
            ParseKind::Regex,
            &[f("volts", FieldType::F64), f("unit", FieldType::Str)],
            b',',
            r"^V=(?P<volts>[-0-9.]+)\s*(?P<unit>\w+)$",
            false,
        )
        .unwrap();
        let mut m = Message::new("measurement");
        re.parse(b"V=12.25 mV", &mut m).unwrap();
        assert_eq!(m.to_string(), "measurement volts=12.25 unit=\"mV\"");
        assert_eq!(
            re.parse(b"garbage", &mut m).unwrap_err(),
            "does not match the pattern"
        );
        assert!(re
            .parse(b"V=\xff", &mut m)
            .unwrap_err()
            .starts_with("not UTF-8 text"));

        let bin = Parser::new(
            ParseKind::Binary,
            &[
                f("a", FieldType::U16Be),
                f("b", FieldType::I8),
                f("c", FieldType::F32Le),
            ],
            0,
            "",
            true,
        )
        .unwrap();
        let mut m = Message::new("measurement");
        let mut p = vec![0x01, 0x02, 0xFF];
        p.extend(2.5f32.to_le_bytes());
        bin.parse(&p, &mut m).unwrap();
        assert_eq!(m.to_string(), "measurement a=258 b=-1 c=2.5");
        assert!(bin
            .parse(&p[..3], &mut m)
            .unwrap_err()
            .contains("too short for field `c`"));
    }

    #[test]
    fn schema_problems_are_reported_by_key() {
        let e = check(
            ParseKind::Regex,
            &[f("x", FieldType::F64), f("seq", FieldType::I64)],
            "(?P<x>.*)",
            None,
        );
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].1.contains("`seq` is added by the source"));
        assert!(e[1].1.contains("no named group `(?P<seq>...)`"));
        let e = check(ParseKind::Binary, &[f("x", FieldType::F64)], "", Some(1));
        assert!(e[0].1.contains("needs a binary type"), "{e:?}");
        let e = check(ParseKind::Binary, &[f("x", FieldType::U32Le)], "", Some(2));
        assert_eq!(e[0].1, "need 4 payload bytes but frames carry 2");
        assert!(
            check(ParseKind::Regex, &[f("x", FieldType::F64)], "(", None)[0]
                .1
                .contains("not a valid regular expression")
        );
    }
}
