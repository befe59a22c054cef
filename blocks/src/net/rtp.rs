//! RTP (RFC 3550) fixed header: parsing with every length checked, and writing.
//!
//! ka9q-radio sends a 12-byte header with no CSRCs or extension; others may add them, and
//! padding, which are honoured so the payload slice is exact.

use std::fmt;

/// Size of the fixed header.
pub const HEADER_LEN: usize = 12;

/// The fields of an RTP header flow uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// Marker bit (radiod sets it on the first packet after a silence).
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number, +1 per packet.
    pub sequence: u16,
    /// Timestamp of the first sample frame of the payload.
    pub timestamp: u32,
    /// Synchronisation source: identifies the channel.
    pub ssrc: u32,
}

/// Why a packet is not a valid RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpError {
    /// Shorter than its header says.
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// Version field is not 2.
    Version(u8),
    /// Padding count larger than the payload.
    Padding {
        /// Padding byte count.
        pad: usize,
        /// Payload bytes.
        payload: usize,
    },
}

impl fmt::Display for RtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtpError::Truncated { len, need } => {
                write!(
                    f,
                    "{len}-byte packet is shorter than its {need}-byte RTP header"
                )
            }
            RtpError::Version(v) => write!(f, "RTP version {v}, expected 2"),
            RtpError::Padding { pad, payload } => {
                write!(
                    f,
                    "RTP padding of {pad} bytes exceeds the {payload}-byte payload"
                )
            }
        }
    }
}

impl std::error::Error for RtpError {}

impl RtpHeader {
    /// Splits a packet into its header and payload.
    pub fn parse(packet: &[u8]) -> Result<(RtpHeader, &[u8]), RtpError> {
        let len = packet.len();
        if len < HEADER_LEN {
            return Err(RtpError::Truncated {
                len,
                need: HEADER_LEN,
            });
        }
        let version = packet[0] >> 6;
        if version != 2 {
            return Err(RtpError::Version(version));
        }
        let padded = packet[0] & 0x20 != 0;
        let extension = packet[0] & 0x10 != 0;
        let csrcs = usize::from(packet[0] & 0x0f);
        let mut start = HEADER_LEN + 4 * csrcs;
        if extension {
            let ext = packet
                .get(start + 2..start + 4)
                .ok_or(RtpError::Truncated {
                    len,
                    need: start + 4,
                })?;
            start += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
        }
        if len < start {
            return Err(RtpError::Truncated { len, need: start });
        }
        let mut end = len;
        if padded {
            let pad = usize::from(packet[len - 1]);
            if pad == 0 || pad > len - start {
                return Err(RtpError::Padding {
                    pad,
                    payload: len - start,
                });
            }
            end -= pad;
        }
        let h = RtpHeader {
            marker: packet[1] & 0x80 != 0,
            payload_type: packet[1] & 0x7f,
            sequence: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
        };
        Ok((h, &packet[start..end]))
    }

    /// Appends the 12-byte header (version 2, no padding, extension or CSRCs).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(0x80);
        out.push(u8::from(self.marker) << 7 | (self.payload_type & 0x7f));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_parses_the_fixed_header() {
        let h = RtpHeader {
            marker: true,
            payload_type: 97,
            sequence: 65_535,
            timestamp: 0xdead_beef,
            ssrc: 10_000,
        };
        let mut p = Vec::new();
        h.write(&mut p);
        assert_eq!(p.len(), HEADER_LEN);
        p.extend_from_slice(&[1, 2, 3, 4]);
        let (g, payload) = RtpHeader::parse(&p).unwrap();
        assert_eq!(g, h);
        assert_eq!(payload, &[1, 2, 3, 4]);
    }

    #[test]
    fn honours_csrcs_extension_and_padding() {
        let mut p = vec![0x80 | 0x20 | 0x10 | 1, 96, 0, 1, 0, 0, 0, 9, 0, 0, 0, 7];
        p.extend_from_slice(&[0xaa; 4]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // extension of one word
        p.extend_from_slice(&[5, 6, 7, 8]); // payload
        p.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let (h, payload) = RtpHeader::parse(&p).unwrap();
        assert_eq!((h.sequence, h.timestamp, h.ssrc), (1, 9, 7));
        assert_eq!(payload, &[5, 6, 7, 8]);
    }

    #[test]
    fn rejects_bad_packets_without_panicking() {
        assert_eq!(
            RtpHeader::parse(&[0x80; 5]),
            Err(RtpError::Truncated { len: 5, need: 12 })
        );
        assert_eq!(RtpHeader::parse(&[0x40; 12]), Err(RtpError::Version(1)));
        assert_eq!(
            RtpHeader::parse(&[0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(RtpError::Truncated { len: 12, need: 72 })
        );
        let mut pad = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9];
        assert_eq!(
            RtpHeader::parse(&pad),
            Err(RtpError::Padding { pad: 9, payload: 2 })
        );
        pad[13] = 0;
        assert!(RtpHeader::parse(&pad).is_err());
        assert_eq!(
            RtpError::Version(3).to_string(),
            "RTP version 3, expected 2"
        );
        let mut x = 7u32;
        for n in 0..3000usize {
            let p: Vec<u8> = (0..n % 40)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8 | 0x80
                })
                .collect();
            let _ = RtpHeader::parse(&p);
        }
    }
}
