//! Frame checksums of binary instrument protocols: the documented set `serial_source`
//! accepts, each with its width and byte order on the wire.
//!
//! | name | width | algorithm | on the wire |
//! |---|---|---|---|
//! | `none` | 0 | no check | — |
//! | `sum8` | 1 | sum of the bytes modulo 256 | 1 byte |
//! | `xor8` | 1 | XOR of the bytes (NMEA-style) | 1 byte |
//! | `crc8` | 1 | CRC-8/SMBUS (poly 0x07, init 0) | 1 byte |
//! | `crc16_modbus` | 2 | CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF) | little-endian (as Modbus RTU) |
//! | `crc16_ccitt` | 2 | CRC-16/XMODEM (poly 0x1021, init 0) | big-endian |
//!
//! The checksum covers the frame's payload: every byte after the start byte and before the
//! checksum.

use flow_framework::prelude::{Deserialize, JsonSchema, Serialize};

/// A frame checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Checksum {
    /// No checksum.
    #[default]
    None,
    /// Sum of the payload bytes modulo 256.
    Sum8,
    /// XOR of the payload bytes.
    Xor8,
    /// CRC-8/SMBUS.
    Crc8,
    /// CRC-16/MODBUS, sent low byte first.
    Crc16Modbus,
    /// CRC-16/XMODEM (CCITT polynomial, init 0), sent high byte first.
    Crc16Ccitt,
}

const CRC8: crc::Crc<u8> = crc::Crc::<u8>::new(&crc::CRC_8_SMBUS);
const CRC16_MODBUS: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_MODBUS);
const CRC16_XMODEM: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

impl Checksum {
    /// Bytes the checksum occupies at the end of a frame.
    pub fn width(self) -> usize {
        match self {
            Checksum::None => 0,
            Checksum::Sum8 | Checksum::Xor8 | Checksum::Crc8 => 1,
            Checksum::Crc16Modbus | Checksum::Crc16Ccitt => 2,
        }
    }

    /// The checksum of `payload` as it appears on the wire (`width()` bytes).
    pub fn compute(self, payload: &[u8]) -> ([u8; 2], usize) {
        match self {
            Checksum::None => ([0, 0], 0),
            Checksum::Sum8 => ([payload.iter().fold(0u8, |a, b| a.wrapping_add(*b)), 0], 1),
            Checksum::Xor8 => ([payload.iter().fold(0u8, |a, b| a ^ b), 0], 1),
            Checksum::Crc8 => ([CRC8.checksum(payload), 0], 1),
            Checksum::Crc16Modbus => (CRC16_MODBUS.checksum(payload).to_le_bytes(), 2),
            Checksum::Crc16Ccitt => (CRC16_XMODEM.checksum(payload).to_be_bytes(), 2),
        }
    }

    /// True if `sent` (the trailing `width()` bytes of a frame) matches `payload`.
    pub fn verify(self, payload: &[u8], sent: &[u8]) -> bool {
        let (sum, n) = self.compute(payload);
        sent == &sum[..n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_match_the_published_catalogue() {
        // The standard check input "123456789" and its catalogued results.
        let x = b"123456789";
        assert_eq!(Checksum::Crc8.compute(x), ([0xF4, 0], 1));
        assert_eq!(Checksum::Crc16Modbus.compute(x), ([0x37, 0x4B], 2)); // 0x4B37, LE
        assert_eq!(Checksum::Crc16Ccitt.compute(x), ([0x31, 0xC3], 2)); // 0x31C3, BE
        assert_eq!(Checksum::Sum8.compute(&[0xFF, 0x02]), ([0x01, 0], 1));
        assert_eq!(Checksum::Xor8.compute(&[0x0F, 0xF0, 0x01]), ([0xFE, 0], 1));
        assert!(Checksum::None.verify(b"anything", &[]));
        assert!(!Checksum::Xor8.verify(&[1, 2], &[0]));
    }
}
