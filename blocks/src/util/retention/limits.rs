//! The `limits` parameter of storing sinks (`limits = { max_bytes = "20 GiB", max_age = "30d",
//! min_free = "5%", require_confirmation = true, on_full = "stop" }`) and its value types:
//! byte sizes written as text or integers, and free-space watermarks in bytes or percent.

use std::fmt;
use std::time::Duration;

use flow_framework::prelude::*;

/// A number of bytes: an integer, or text such as `"20 GiB"`, `"500MB"`, `"4096"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 13] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("k", 1 << 10),
    ("m", 1 << 20),
    ("g", 1 << 30),
    ("t", 1 << 40),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (t[..split].trim(), t[split..].trim().to_ascii_lowercase());
        let bad = || format!("`{s}` is not a size; write it like \"20 GiB\", \"500 MB\" or 4096");
        let n: f64 = num.parse().map_err(|_| bad())?;
        let mult = if unit.is_empty() {
            1
        } else {
            UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, m)| *m)
                .ok_or_else(bad)?
        };
        let v = n * mult as f64;
        if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
            return Err(bad());
        }
        Ok(ByteSize(v.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_bytes(self.0, f)
    }
}

/// Writes `n` bytes with a binary unit (`1.5 GiB`), exact below 1 KiB.
pub fn fmt_bytes(n: u64, f: &mut impl fmt::Write) -> fmt::Result {
    let units = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (u, shift) in units {
        if n >= 1 << shift {
            let v = n as f64 / (1u64 << shift) as f64;
            return if v.fract() == 0.0 {
                write!(f, "{v:.0} {u}")
            } else {
                write!(f, "{v:.1} {u}")
            };
        }
    }
    write!(f, "{n} B")
}

/// `n` bytes as text (`1.5 GiB`).
pub fn bytes_text(n: u64) -> String {
    let mut s = String::new();
    let _ = fmt_bytes(n, &mut s);
    s
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "integer"],
            "description": "bytes: an integer or text such as \"20 GiB\" or \"500 MB\"",
            "examples": ["20 GiB", "500 MB"]
        })
    }
}

/// A free-space watermark: bytes, or a share of the filesystem (`"5%"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FreeSpace {
    /// Keep at least this many bytes free.
    Bytes(u64),
    /// Keep at least this percentage of the filesystem free.
    Percent(f64),
}

impl FreeSpace {
    /// The watermark in bytes on a filesystem of `total` bytes.
    pub fn bytes(&self, total: u64) -> u64 {
        match *self {
            FreeSpace::Bytes(b) => b,
            FreeSpace::Percent(p) => (total as f64 * p / 100.0).ceil() as u64,
        }
    }
}

impl std::str::FromStr for FreeSpace {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=100.0).contains(p))
                .map(FreeSpace::Percent)
                .ok_or_else(|| format!("`{s}` is not a percentage between 0% and 100%")),
            None => s.parse::<ByteSize>().map(|b| FreeSpace::Bytes(b.0)),
        }
    }
}

impl fmt::Display for FreeSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FreeSpace::Bytes(b) => fmt_bytes(*b, f),
            FreeSpace::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl Serialize for FreeSpace {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FreeSpace {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(FreeSpace::Bytes(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl JsonSchema for FreeSpace {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FreeSpace".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "integer"],
            "description": "bytes (\"2 GiB\") or a share of the filesystem (\"5%\")",
            "examples": ["5%", "2 GiB"]
        })
    }
}

/// What a sink does when a limit can be kept only by deleting unconfirmed files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFull {
    /// Stop writing (new data is dropped and counted, health failed) until room is made:
    /// a consumer confirms files, or someone deletes some. Nothing unconfirmed is deleted.
    #[default]
    Stop,
    /// Delete the oldest unconfirmed files (counted in `evicted_unconfirmed`, health
    /// degraded) and keep recording.
    DropOldestUnconfirmed,
}

/// Storage limits of a sink.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most bytes the sink's files may take on disk (allocated size, as `du` counts), e.g.
    /// `"20 GiB"`. The oldest finished files are deleted to stay under it.
    #[serde(default)]
    pub max_bytes: Option<ByteSize>,
    /// Finished files older than this are deleted (e.g. `"30d"`).
    #[serde(default, with = "crate::util::duration::opt_text")]
    #[schemars(with = "Option<String>")]
    pub max_age: Option<Duration>,
    /// Free space to keep on the sink's filesystem (bytes such as `"2 GiB"`, or `"5%"`):
    /// the oldest finished files are deleted to keep it (RAM-backed directories such as
    /// `/dev/shm` included).
    #[serde(default)]
    pub min_free: Option<FreeSpace>,
    /// Delete only files a downstream consumer has confirmed (listed in the `.confirmed`
    /// file of their directory, as `flow daily` and `flow upload` write after a verified
    /// upload).
    #[serde(default)]
    pub require_confirmation: bool,
    /// When a limit can be kept only by deleting unconfirmed files: `stop` writing, or
    /// `drop_oldest_unconfirmed`.
    #[serde(default)]
    pub on_full: OnFull,
}

impl Limits {
    /// Pure validation, for `flow check` (parameter names prefixed with `limits.`).
    pub fn check(&self) -> Vec<ParamError> {
        let mut errs = Vec::new();
        if self.max_bytes == Some(ByteSize(0)) {
            errs.push(ParamError::new("limits.max_bytes", "must be more than 0"));
        }
        if self.max_age == Some(Duration::ZERO) {
            errs.push(ParamError::new("limits.max_age", "must be more than 0"));
        }
        if self.max_bytes.is_none() && self.max_age.is_none() && self.min_free.is_none() {
            errs.push(ParamError::new(
                "limits",
                "sets no limit: give max_bytes, max_age or min_free",
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_watermarks_parse_from_text_and_integers() {
        assert_eq!("20 GiB".parse::<ByteSize>(), Ok(ByteSize(20 << 30)));
        assert_eq!("500MB".parse::<ByteSize>(), Ok(ByteSize(500_000_000)));
        assert_eq!("1.5k".parse::<ByteSize>(), Ok(ByteSize(1536)));
        assert_eq!("4096".parse::<ByteSize>(), Ok(ByteSize(4096)));
        let e = "lots".parse::<ByteSize>().unwrap_err();
        assert_eq!(
            e,
            "`lots` is not a size; write it like \"20 GiB\", \"500 MB\" or 4096"
        );
        assert!("3 parsecs".parse::<ByteSize>().is_err());
        assert_eq!("5%".parse::<FreeSpace>(), Ok(FreeSpace::Percent(5.0)));
        assert_eq!("2 GiB".parse::<FreeSpace>(), Ok(FreeSpace::Bytes(2 << 30)));
        assert!("120%".parse::<FreeSpace>().is_err());
        assert_eq!(FreeSpace::Percent(5.0).bytes(1000), 50);
        assert_eq!(bytes_text(1536), "1.5 KiB");
        assert_eq!(bytes_text(20 << 30), "20 GiB");
        assert_eq!(bytes_text(12), "12 B");

        let l: Limits = toml::from_str(
            "max_bytes = 1000\nmax_age = \"2d\"\nmin_free = \"10%\"\nrequire_confirmation = true\non_full = \"drop_oldest_unconfirmed\"",
        )
        .unwrap();
        assert_eq!(l.max_bytes, Some(ByteSize(1000)));
        assert_eq!(l.max_age, Some(Duration::from_secs(2 * 86_400)));
        assert_eq!(l.on_full, OnFull::DropOldestUnconfirmed);
        assert!(l.check().is_empty());
        let back: Limits = toml::from_str(&toml::to_string(&l).unwrap()).unwrap();
        assert_eq!(back, l);
        assert!(toml::from_str::<Limits>("max_bytz = 3").is_err());
        let none: Limits = toml::from_str("require_confirmation = true").unwrap();
        let e = &none.check()[0];
        assert_eq!(
            (e.param.as_str(), e.message.as_str()),
            (
                "limits",
                "sets no limit: give max_bytes, max_age or min_free"
            )
        );
    }
}
