//! Instrument blocks: `serial_source` (serial meters and data loggers) and its parts, split
//! by concern: [`port_config`] (line settings, opening), [`framing`] (lines, binary frames,
//! raw), [`checksum`] (the documented checksum set), [`parse`] (CSV, regex, binary layouts
//! into typed fields), and [`pty`] (a pseudo-terminal pair for tests and emulation).

pub mod checksum;
pub mod exercise;
pub mod framing;
pub mod parse;
pub mod port_config;
pub mod pty;
pub mod serial_params;
pub mod serial_source;

#[cfg(test)]
mod tests;
