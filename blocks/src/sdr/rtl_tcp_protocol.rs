//! The rtl_tcp wire protocol (as `rtl_tcp` from rtl-sdr speaks it): the 12-byte greeting
//! the server sends on connect ("RTL0", tuner type, gain count, big-endian), the 5-byte
//! commands a client sends (one code byte, one big-endian 32-bit parameter), and the
//! conversion of its unsigned 8-bit I/Q samples to `c32`.

use flow_framework::item::C32;

/// The greeting's magic.
pub const MAGIC: &[u8; 4] = b"RTL0";

/// What the server says about its dongle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// librtlsdr's tuner type (1 E4000, 2 FC0012, 3 FC0013, 4 FC2580, 5 R820T, 6 R828D).
    pub tuner_type: u32,
    /// Number of discrete gain steps the tuner has.
    pub gain_count: u32,
}

impl Greeting {
    /// Parses the 12 greeting bytes; the error quotes what arrived instead.
    pub fn parse(b: &[u8; 12]) -> Result<Greeting, String> {
        if &b[..4] != MAGIC {
            return Err(format!(
                "not an rtl_tcp server: greeting starts with {:?}, expected \"RTL0\"",
                flow_framework::log::escape_bytes(&b[..4])
            ));
        }
        Ok(Greeting {
            tuner_type: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            gain_count: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        })
    }

    /// The 12 bytes of this greeting (for test servers).
    pub fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&self.tuner_type.to_be_bytes());
        b[8..].copy_from_slice(&self.gain_count.to_be_bytes());
        b
    }

    /// The tuner's name.
    pub fn tuner_name(&self) -> &'static str {
        match self.tuner_type {
            1 => "E4000",
            2 => "FC0012",
            3 => "FC0013",
            4 => "FC2580",
            5 => "R820T",
            6 => "R828D",
            _ => "unknown",
        }
    }
}

/// A client command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// 0x01: centre frequency in Hz.
    Frequency(u32),
    /// 0x02: sample rate in Hz.
    SampleRate(u32),
    /// 0x03: tuner gain mode, true = manual (false: the tuner's automatic gain).
    ManualGain(bool),
    /// 0x04: tuner gain in tenths of a dB.
    Gain(i32),
    /// 0x05: frequency correction in ppm.
    FreqCorrection(i32),
    /// 0x08: the RTL2832's digital AGC.
    Agc(bool),
    /// 0x09: direct sampling (0 off, 1 I branch, 2 Q branch).
    DirectSampling(u32),
    /// 0x0a: offset tuning.
    OffsetTuning(bool),
    /// 0x0e: bias tee.
    BiasTee(bool),
}

impl Command {
    /// The command code.
    pub fn code(&self) -> u8 {
        match self {
            Command::Frequency(_) => 0x01,
            Command::SampleRate(_) => 0x02,
            Command::ManualGain(_) => 0x03,
            Command::Gain(_) => 0x04,
            Command::FreqCorrection(_) => 0x05,
            Command::Agc(_) => 0x08,
            Command::DirectSampling(_) => 0x09,
            Command::OffsetTuning(_) => 0x0a,
            Command::BiasTee(_) => 0x0e,
        }
    }

    /// The 32-bit parameter as sent (signed values in two's complement).
    pub fn param(&self) -> u32 {
        match *self {
            Command::Frequency(v) | Command::SampleRate(v) | Command::DirectSampling(v) => v,
            Command::Gain(v) | Command::FreqCorrection(v) => v as u32,
            Command::ManualGain(b)
            | Command::Agc(b)
            | Command::OffsetTuning(b)
            | Command::BiasTee(b) => u32::from(b),
        }
    }

    /// The 5 bytes on the wire.
    pub fn encode(&self) -> [u8; 5] {
        let p = self.param().to_be_bytes();
        [self.code(), p[0], p[1], p[2], p[3]]
    }
}

/// cu8 → c32 lookup: (x − 127.5) / 127.5.
pub struct Cu8Converter {
    lut: [f32; 256],
}

impl Default for Cu8Converter {
    fn default() -> Self {
        let mut lut = [0.0; 256];
        for (i, v) in lut.iter_mut().enumerate() {
            *v = (i as f32 - 127.5) / 127.5;
        }
        Cu8Converter { lut }
    }
}

impl Cu8Converter {
    /// Converts I/Q byte pairs to samples, appending to `out`; a trailing odd byte is
    /// ignored (the caller carries it over).
    pub fn convert(&self, bytes: &[u8], out: &mut Vec<C32>) {
        out.extend(
            bytes
                .chunks_exact(2)
                .map(|iq| C32::new(self.lut[iq[0] as usize], self.lut[iq[1] as usize])),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_round_trips_and_rejects_other_servers() {
        let g = Greeting {
            tuner_type: 5,
            gain_count: 29,
        };
        let b = g.encode();
        assert_eq!(&b, b"RTL0\0\0\0\x05\0\0\0\x1d");
        assert_eq!(Greeting::parse(&b), Ok(g));
        assert_eq!(g.tuner_name(), "R820T");
        assert_eq!(
            Greeting::parse(b"HTTP/1.1 200").unwrap_err(),
            "not an rtl_tcp server: greeting starts with \"HTTP\", expected \"RTL0\""
        );
    }

    #[test]
    fn commands_are_code_and_big_endian_parameter() {
        assert_eq!(
            Command::Frequency(100_000_000).encode(),
            [0x01, 0x05, 0xf5, 0xe1, 0x00]
        );
        assert_eq!(
            Command::SampleRate(2_048_000).encode(),
            [0x02, 0x00, 0x1f, 0x40, 0x00]
        );
        assert_eq!(
            Command::FreqCorrection(-3).encode(),
            [0x05, 0xff, 0xff, 0xff, 0xfd]
        );
        assert_eq!(Command::Gain(496).encode(), [0x04, 0, 0, 0x01, 0xf0]);
        assert_eq!(Command::ManualGain(true).encode(), [0x03, 0, 0, 0, 1]);
        assert_eq!(Command::Agc(false).encode(), [0x08, 0, 0, 0, 0]);
        assert_eq!(Command::BiasTee(true).encode(), [0x0e, 0, 0, 0, 1]);
    }

    #[test]
    fn converts_offset_binary_to_unit_scale() {
        let mut out = Vec::new();
        Cu8Converter::default().convert(&[0, 255, 127, 128, 9], &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], C32::new(-1.0, 1.0));
        assert!((out[1].re + 0.5 / 127.5).abs() < 1e-7);
        assert!((out[1].im - 0.5 / 127.5).abs() < 1e-7);
    }
}
