//! Sample formats of I/Q recordings and their conversion to `c32`: unsigned 8-bit (rtl-sdr,
//! 127.5 = 0), signed 8-bit (HackRF), signed 16-bit little-endian, 32-bit float little-endian.

use flow_framework::item::C32;
use serde::{Deserialize, Serialize};

/// An interleaved I/Q sample format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IqFormat {
    /// Unsigned 8-bit, (x − 127.5) / 127.5.
    Cu8,
    /// Signed 8-bit, x / 128.
    Cs8,
    /// Signed 16-bit little-endian, x / 32768.
    Cs16,
    /// 32-bit float little-endian, as is.
    Cf32,
}

impl IqFormat {
    /// Bytes per complex sample.
    pub fn sample_bytes(self) -> usize {
        match self {
            IqFormat::Cu8 | IqFormat::Cs8 => 2,
            IqFormat::Cs16 => 4,
            IqFormat::Cf32 => 8,
        }
    }

    /// The format of a SigMF `core:datatype`, if it is one of these.
    pub fn from_sigmf(datatype: &str) -> Option<IqFormat> {
        match datatype {
            "cu8" => Some(IqFormat::Cu8),
            "ci8" => Some(IqFormat::Cs8),
            "ci16_le" => Some(IqFormat::Cs16),
            "cf32_le" => Some(IqFormat::Cf32),
            _ => None,
        }
    }

    /// Converts whole samples of `bytes` into `out` (as many as both hold); returns the count.
    pub fn convert(self, bytes: &[u8], out: &mut [C32]) -> usize {
        let n = (bytes.len() / self.sample_bytes()).min(out.len());
        let out = &mut out[..n];
        match self {
            IqFormat::Cu8 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = C32::new(
                        (f32::from(b[0]) - 127.5) / 127.5,
                        (f32::from(b[1]) - 127.5) / 127.5,
                    );
                }
            }
            IqFormat::Cs8 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = C32::new(f32::from(b[0] as i8) / 128.0, f32::from(b[1] as i8) / 128.0);
                }
            }
            IqFormat::Cs16 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    let i = i16::from_le_bytes([b[0], b[1]]);
                    let q = i16::from_le_bytes([b[2], b[3]]);
                    *o = C32::new(f32::from(i) / 32768.0, f32::from(q) / 32768.0);
                }
            }
            IqFormat::Cf32 => {
                for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
                    let i = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    let q = f32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                    *o = C32::new(i, q);
                }
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_every_format() {
        let mut out = [C32::default(); 2];
        assert_eq!(IqFormat::Cu8.convert(&[0, 255, 255, 0, 7], &mut out), 2);
        assert_eq!(out, [C32::new(-1.0, 1.0), C32::new(1.0, -1.0)]);
        IqFormat::Cs8.convert(&[0x80, 0x40], &mut out);
        assert_eq!(out[0], C32::new(-1.0, 0.5));
        let mut b = Vec::new();
        b.extend_from_slice(&(-16384i16).to_le_bytes());
        b.extend_from_slice(&32767i16.to_le_bytes());
        IqFormat::Cs16.convert(&b, &mut out);
        assert_eq!(out[0], C32::new(-0.5, 32767.0 / 32768.0));
        let mut b = Vec::new();
        b.extend_from_slice(&1.5f32.to_le_bytes());
        b.extend_from_slice(&(-2.0f32).to_le_bytes());
        IqFormat::Cf32.convert(&b, &mut out);
        assert_eq!(out[0], C32::new(1.5, -2.0));
        assert_eq!(IqFormat::from_sigmf("ci16_le"), Some(IqFormat::Cs16));
        assert_eq!(IqFormat::from_sigmf("cf32_be"), None);
    }
}
