//! Opening an rtl_tcp session: connect with a timeout, check the greeting, send the tuning
//! commands for the source's parameters.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::rtl_tcp_protocol::{Command, Greeting};
use super::rtl_tcp_source::RtlTcpSourceParams;

/// The commands that set parameter `name` of `p` (`frequency`, `ppm`, `gain_db`): what
/// the connection sends for it, and what a change while running sends.
pub fn setting(name: &str, p: &RtlTcpSourceParams) -> Vec<Command> {
    match name {
        "frequency" => vec![Command::Frequency(p.frequency.round() as u32)],
        "ppm" => vec![Command::FreqCorrection(p.ppm)],
        "gain_db" => {
            let mut c = vec![Command::ManualGain(p.gain_db.is_some())];
            if let Some(g) = p.gain_db {
                c.push(Command::Gain((g * 10.0).round() as i32));
            }
            c
        }
        _ => Vec::new(),
    }
}

/// The commands that tune a server to `p`, in the order they are sent.
pub fn commands(p: &RtlTcpSourceParams) -> Vec<Command> {
    let mut c = vec![Command::SampleRate(p.sample_rate.round() as u32)];
    for name in ["frequency", "ppm", "gain_db"] {
        c.extend(setting(name, p));
    }
    c.push(Command::Agc(p.agc));
    if let Some(d) = p.direct_sampling {
        c.push(Command::DirectSampling(d));
    }
    if p.offset_tuning {
        c.push(Command::OffsetTuning(true));
    }
    if let Some(b) = p.bias_tee {
        c.push(Command::BiasTee(b));
    }
    c
}

/// Connects, checks the greeting and tunes the server.
pub fn connect(p: &RtlTcpSourceParams) -> Result<(TcpStream, Greeting), String> {
    let addr = p
        .address
        .to_socket_addrs()
        .map_err(|e| format!("resolving {}: {e}", p.address))?
        .next()
        .ok_or_else(|| format!("{} resolves to no address", p.address))?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .and_then(|_| s.set_nodelay(true))
        .map_err(|e| format!("configuring the socket: {e}"))?;
    let mut hello = [0u8; 12];
    s.read_exact(&mut hello)
        .map_err(|e| format!("reading the greeting from {addr}: {e}"))?;
    let g = Greeting::parse(&hello)?;
    let bytes: Vec<u8> = commands(p).iter().flat_map(|c| c.encode()).collect();
    s.write_all(&bytes)
        .map_err(|e| format!("sending commands to {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| format!("configuring the socket: {e}"))?;
    Ok((s, g))
}
