//! Serial line settings as TOML names them (baud, data bits, parity, stop bits, flow
//! control, read timeout, exclusive access) and opening a port with them through the
//! `serialport` crate (built without libudev).

use std::time::Duration;

use flow_framework::prelude::{Deserialize, JsonSchema, Serialize};
use serialport::SerialPort;

/// Parity of a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Parity {
    /// No parity bit.
    #[default]
    None,
    /// Odd parity.
    Odd,
    /// Even parity.
    Even,
}

/// Flow control of a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlowControl {
    /// None.
    #[default]
    None,
    /// XON/XOFF in band.
    Software,
    /// RTS/CTS lines.
    Hardware,
}

/// Everything needed to open the port.
#[derive(Debug, Clone, PartialEq)]
pub struct PortSettings {
    /// Device path (`/dev/ttyUSB0`, `/dev/serial/by-id/...`, a pty).
    pub path: String,
    /// Bits per second.
    pub baud: u32,
    /// 5 to 8.
    pub data_bits: u8,
    /// Parity.
    pub parity: Parity,
    /// 1 or 2.
    pub stop_bits: u8,
    /// Flow control.
    pub flow_control: FlowControl,
    /// Longest wait of one read.
    pub read_timeout: Duration,
    /// Open with TIOCEXCL + an exclusive lock (see [`open`]).
    pub exclusive: bool,
}

/// Problems with the numeric settings (pure; for `validate`).
pub fn check(data_bits: u8, stop_bits: u8, baud: u32) -> Vec<(&'static str, String)> {
    let mut errs = Vec::new();
    if !(5..=8).contains(&data_bits) {
        errs.push((
            "data_bits",
            format!("must be 5, 6, 7 or 8, not {data_bits}"),
        ));
    }
    if !(1..=2).contains(&stop_bits) {
        errs.push(("stop_bits", format!("must be 1 or 2, not {stop_bits}")));
    }
    if baud == 0 {
        errs.push(("baud", "must be positive".to_string()));
    }
    errs
}

/// Opens the port.
///
/// With `exclusive`, the port is opened the way `serialport` does by default: TIOCEXCL plus
/// an exclusive `flock`, so no other program can open it. On a real device the kernel clears
/// TIOCEXCL when the port is closed, also after a kill -9. On a pseudo-terminal the flag
/// belongs to the pty pair and outlives a reader killed with -9, so the restarted reader's
/// open fails with EBUSY (not for root) until the pair is recreated; `exclusive = false`
/// takes only a shared lock and never sets the flag, which avoids that.
pub fn open(s: &PortSettings) -> Result<Box<dyn SerialPort>, serialport::Error> {
    let data_bits = match s.data_bits {
        5 => serialport::DataBits::Five,
        6 => serialport::DataBits::Six,
        7 => serialport::DataBits::Seven,
        _ => serialport::DataBits::Eight,
    };
    let parity = match s.parity {
        Parity::None => serialport::Parity::None,
        Parity::Odd => serialport::Parity::Odd,
        Parity::Even => serialport::Parity::Even,
    };
    let flow = match s.flow_control {
        FlowControl::None => serialport::FlowControl::None,
        FlowControl::Software => serialport::FlowControl::Software,
        FlowControl::Hardware => serialport::FlowControl::Hardware,
    };
    let stop = if s.stop_bits == 2 {
        serialport::StopBits::Two
    } else {
        serialport::StopBits::One
    };
    serialport::new(&s.path, s.baud)
        .data_bits(data_bits)
        .parity(parity)
        .stop_bits(stop)
        .flow_control(flow)
        .timeout(s.read_timeout)
        .exclusive(s.exclusive)
        .open()
}
