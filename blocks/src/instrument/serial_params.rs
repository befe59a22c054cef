//! Parameters of `serial_source`: the serial line, framing and parsing settings as TOML
//! names them, their defaults, and their pure validation.

use std::time::Duration;

use flow_framework::prelude::*;

use super::checksum::Checksum;
use super::framing::FramingKind;
use super::parse::{self, FieldSpec, ParseKind};
use super::port_config::{self, FlowControl, Parity, PortSettings};

/// Parameters of `serial_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SerialSourceParams {
    /// Serial device (`/dev/ttyUSB0`, a stable `/dev/serial/by-id/...` link, a pty).
    pub port: String,
    /// Bits per second.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Data bits: 5, 6, 7 or 8.
    #[serde(default = "default_data_bits")]
    pub data_bits: u8,
    /// Parity: `none`, `odd`, `even`.
    #[serde(default)]
    pub parity: Parity,
    /// Stop bits: 1 or 2.
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
    /// Flow control: `none`, `software` (XON/XOFF), `hardware` (RTS/CTS).
    #[serde(default)]
    pub flow_control: FlowControl,
    /// Longest wait of one read; also how fast a stop request is noticed.
    #[serde(default = "default_read_timeout", with = "crate::util::duration::text")]
    #[schemars(with = "String")]
    pub read_timeout: Duration,
    /// Exclusive access (TIOCEXCL + lock). Set `false` for pseudo-terminals, where the flag
    /// outlives a reader killed with -9 and blocks the next open with EBUSY.
    #[serde(default = "yes")]
    pub exclusive: bool,
    /// Longest wait between attempts to reopen a lost or missing port (backoff doubles from
    /// 100 ms up to this).
    #[serde(default = "default_reconnect", with = "crate::util::duration::text")]
    #[schemars(with = "String")]
    pub reconnect_max: Duration,
    /// Framing: `line`, `binary` or `raw` (a `u8` stream instead of messages).
    #[serde(default)]
    pub framing: FramingKind,
    /// Line framing: the line terminator (TOML escapes work: `"\r\n"`).
    #[serde(default = "default_terminator")]
    pub terminator: String,
    /// Line framing: longest line accepted, in bytes; longer ones are malformed.
    #[serde(default = "default_max_line")]
    pub max_line: usize,
    /// Binary framing: the start byte of every frame.
    #[serde(default)]
    pub frame_start: Option<u8>,
    /// Binary framing: bytes per frame, start byte and checksum included.
    #[serde(default)]
    pub frame_length: Option<usize>,
    /// Binary framing: `none`, `sum8`, `xor8`, `crc8`, `crc16_modbus`, `crc16_ccitt`.
    #[serde(default)]
    pub checksum: Checksum,
    /// Parsing: `none` (the line or payload as one field), `csv`, `regex`, `binary`.
    #[serde(default)]
    pub parse: ParseKind,
    /// CSV: the column delimiter (one character).
    #[serde(default = "default_delimiter")]
    pub delimiter: String,
    /// Regex: a pattern with one named group per field, e.g. `V=(?P<volts>[-0-9.]+)`.
    #[serde(default)]
    pub pattern: String,
    /// The schema: `[{ name = "volts", type = "f64" }, ...]`.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// The `kind` of the emitted messages.
    #[serde(default = "default_kind")]
    pub kind: String,
}

fn default_baud() -> u32 {
    9600
}
fn default_data_bits() -> u8 {
    8
}
fn default_stop_bits() -> u8 {
    1
}
fn default_read_timeout() -> Duration {
    Duration::from_millis(100)
}
fn default_reconnect() -> Duration {
    Duration::from_secs(5)
}
fn yes() -> bool {
    true
}
fn default_terminator() -> String {
    "\n".into()
}
fn default_max_line() -> usize {
    4096
}
fn default_delimiter() -> String {
    ",".into()
}
fn default_kind() -> String {
    "measurement".into()
}

impl SerialSourceParams {
    /// The settings the port is opened with.
    pub fn port_settings(&self) -> PortSettings {
        PortSettings {
            path: self.port.clone(),
            baud: self.baud,
            data_bits: self.data_bits,
            parity: self.parity,
            stop_bits: self.stop_bits,
            flow_control: self.flow_control,
            read_timeout: self.read_timeout,
            exclusive: self.exclusive,
        }
    }
}

/// Checks the parameters together (pure); each problem names its key.
pub fn check(p: &SerialSourceParams) -> Vec<ParamError> {
    let mut errs: Vec<(&str, String)> = port_config::check(p.data_bits, p.stop_bits, p.baud);
    if p.port.is_empty() {
        errs.push(("port", "must name a device".into()));
    }
    if p.delimiter.len() != 1 {
        errs.push(("delimiter", "must be one ASCII character".into()));
    }
    let mut payload = None;
    match p.framing {
        FramingKind::Line if p.terminator.is_empty() => {
            errs.push(("terminator", "must not be empty".into()))
        }
        FramingKind::Binary => match (p.frame_start, p.frame_length) {
            (Some(_), Some(n)) if n > 1 + p.checksum.width() => {
                payload = Some(n - 1 - p.checksum.width())
            }
            (Some(_), Some(_)) => errs.push((
                "frame_length",
                "must leave room for a payload after the start byte and checksum".into(),
            )),
            _ => errs.push((
                "framing",
                "binary framing needs `frame_start` and `frame_length`".into(),
            )),
        },
        _ => {}
    }
    let fits = match p.parse {
        ParseKind::None => true,
        ParseKind::Binary => p.framing == FramingKind::Binary,
        ParseKind::Csv | ParseKind::Regex => p.framing == FramingKind::Line,
    };
    if !fits {
        errs.push((
            "parse",
            format!(
                "`{:?}` parsing does not go with `{:?}` framing",
                p.parse, p.framing
            )
            .to_lowercase(),
        ));
    }
    errs.extend(parse::check(p.parse, &p.fields, &p.pattern, payload));
    errs.into_iter()
        .map(|(k, m)| ParamError::new(k, m))
        .collect()
}
