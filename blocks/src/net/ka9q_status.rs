//! ka9q-radio status packets (radiod's metadata on port 5006): the TLV wire format and the
//! fields flow uses to learn a channel's format and time (SSRC, sample rate, channels,
//! encoding, payload type, frequency, GPS_TIME and RTP_TIMESNAP).
//!
//! Wire format: one packet-type byte (0 status, 1 command), then fields until an EOL type
//! byte (0) or the end of the packet. A field is a type byte, a length (one byte below 0x80;
//! otherwise `0x80 | n` followed by an `n`-byte big-endian length) and the value. Integers
//! are big-endian with leading zero bytes left out (zero has length 0); floats and doubles
//! are their IEEE bit patterns encoded the same way. Unknown fields are skipped.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// First byte of a status packet.
pub const PKT_STATUS: u8 = 0;
/// First byte of a command packet.
pub const PKT_COMMAND: u8 = 1;

/// Field type numbers (radiod's `enum status_type`) that flow reads or writes.
pub mod field {
    /// End of the field list.
    pub const EOL: u8 = 0;
    /// Echo of a command's tag.
    pub const COMMAND_TAG: u8 = 1;
    /// Nanoseconds since the GPS epoch (1980-01-06) when the packet was made.
    pub const GPS_TIME: u8 = 3;
    /// Free text describing the front end.
    pub const DESCRIPTION: u8 = 4;
    /// The RTP timestamp current at GPS_TIME (links timestamps to clock time).
    pub const RTP_TIMESNAP: u8 = 8;
    /// Where the channel's RTP data goes.
    pub const OUTPUT_DATA_DEST_SOCKET: u8 = 17;
    /// The channel's RTP SSRC (its identity).
    pub const OUTPUT_SSRC: u8 = 18;
    /// Output sample rate in Hz.
    pub const OUTPUT_SAMPRATE: u8 = 20;
    /// Tuned frequency in Hz (double).
    pub const RADIO_FREQUENCY: u8 = 33;
    /// 1 (real) or 2 (I/Q).
    pub const OUTPUT_CHANNELS: u8 = 49;
    /// RTP payload type of the data.
    pub const RTP_PT: u8 = 105;
    /// Sample encoding (radiod's `enum encoding`).
    pub const OUTPUT_ENCODING: u8 = 107;
}

/// Why a status packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusError {
    /// The packet is empty.
    Empty,
    /// The first byte is not the status packet type.
    NotStatus(u8),
    /// A field's length or value runs past the end of the packet.
    Truncated {
        /// Byte offset of the field.
        offset: usize,
        /// Its type.
        kind: u8,
    },
    /// A long-form length of 0 or more than 4 bytes.
    BadLength {
        /// Byte offset of the field.
        offset: usize,
        /// Its type.
        kind: u8,
    },
    /// A value too long for its type (an integer over 8 bytes, a socket not 6 or 18).
    BadValue {
        /// The field type.
        kind: u8,
        /// Its length.
        len: usize,
    },
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusError::Empty => f.write_str("empty status packet"),
            StatusError::NotStatus(t) => write!(f, "packet type {t} is not a status packet (0)"),
            StatusError::Truncated { offset, kind } => {
                write!(f, "field type {kind} at byte {offset} runs past the end")
            }
            StatusError::BadLength { offset, kind } => {
                write!(
                    f,
                    "field type {kind} at byte {offset} has a bad long-form length"
                )
            }
            StatusError::BadValue { kind, len } => {
                write!(f, "field type {kind} has an invalid length of {len} bytes")
            }
        }
    }
}

impl std::error::Error for StatusError {}

/// Splits a TLV list into `(type, value)` fields, stopping at EOL or the end.
pub fn fields(body: &[u8], base: usize) -> Result<Vec<(u8, &[u8])>, StatusError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let (offset, kind) = (base + i, body[i]);
        if kind == field::EOL {
            break;
        }
        let first = *body
            .get(i + 1)
            .ok_or(StatusError::Truncated { offset, kind })?;
        i += 2;
        let len = if first & 0x80 == 0 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 {
                return Err(StatusError::BadLength { offset, kind });
            }
            let bytes = body
                .get(i..i + n)
                .ok_or(StatusError::Truncated { offset, kind })?;
            i += n;
            bytes.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b))
        };
        let value = body
            .get(i..i.saturating_add(len))
            .ok_or(StatusError::Truncated { offset, kind })?;
        i += len;
        out.push((kind, value));
    }
    Ok(out)
}

/// A big-endian integer with leading zeros left out (at most 8 bytes).
pub fn decode_int(kind: u8, v: &[u8]) -> Result<u64, StatusError> {
    if v.len() > 8 {
        return Err(StatusError::BadValue { kind, len: v.len() });
    }
    Ok(v.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b)))
}

/// A float field: up to 4 bytes is an `f32` bit pattern, 5 to 8 bytes an `f64` one.
pub fn decode_float(kind: u8, v: &[u8]) -> Result<f64, StatusError> {
    let bits = decode_int(kind, v)?;
    Ok(if v.len() <= 4 {
        f64::from(f32::from_bits(bits as u32))
    } else {
        f64::from_bits(bits)
    })
}

/// A double field (always an `f64` bit pattern, leading zeros left out).
pub fn decode_double(kind: u8, v: &[u8]) -> Result<f64, StatusError> {
    Ok(f64::from_bits(decode_int(kind, v)?))
}

/// What a status packet says about one channel (absent fields are `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelStatus {
    /// OUTPUT_SSRC.
    pub ssrc: Option<u32>,
    /// GPS_TIME, ns since 1980-01-06 00:00:00 (GPS time scale).
    pub gps_time_ns: Option<i64>,
    /// RTP_TIMESNAP: the RTP timestamp current at `gps_time_ns`.
    pub rtp_timesnap: Option<u32>,
    /// OUTPUT_SAMPRATE in Hz.
    pub sample_rate: Option<u32>,
    /// OUTPUT_CHANNELS (2 for I/Q).
    pub channels: Option<u32>,
    /// RTP_PT.
    pub payload_type: Option<u8>,
    /// OUTPUT_ENCODING (radiod's code, see [`super::encoding::Encoding::from_ka9q`]).
    pub encoding: Option<u32>,
    /// RADIO_FREQUENCY in Hz.
    pub frequency_hz: Option<f64>,
    /// DESCRIPTION.
    pub description: Option<String>,
    /// OUTPUT_DATA_DEST_SOCKET (IPv4 only).
    pub data_dest: Option<SocketAddr>,
}

impl ChannelStatus {
    /// Reads a status packet (first byte 0).
    pub fn parse(packet: &[u8]) -> Result<Self, StatusError> {
        let (&kind, body) = packet.split_first().ok_or(StatusError::Empty)?;
        if kind != PKT_STATUS {
            return Err(StatusError::NotStatus(kind));
        }
        let mut s = ChannelStatus::default();
        for (kind, v) in fields(body, 1)? {
            match kind {
                field::OUTPUT_SSRC => s.ssrc = Some(decode_int(kind, v)? as u32),
                field::GPS_TIME => s.gps_time_ns = Some(decode_int(kind, v)? as i64),
                field::RTP_TIMESNAP => s.rtp_timesnap = Some(decode_int(kind, v)? as u32),
                field::OUTPUT_SAMPRATE => s.sample_rate = Some(decode_int(kind, v)? as u32),
                field::OUTPUT_CHANNELS => s.channels = Some(decode_int(kind, v)? as u32),
                field::RTP_PT => s.payload_type = Some(decode_int(kind, v)? as u8),
                field::OUTPUT_ENCODING => s.encoding = Some(decode_int(kind, v)? as u32),
                field::RADIO_FREQUENCY => s.frequency_hz = Some(decode_double(kind, v)?),
                field::DESCRIPTION => s.description = Some(String::from_utf8_lossy(v).into()),
                field::OUTPUT_DATA_DEST_SOCKET => {
                    if v.len() == 6 {
                        let ip = Ipv4Addr::new(v[0], v[1], v[2], v[3]);
                        let port = u16::from_be_bytes([v[4], v[5]]);
                        s.data_dest = Some(SocketAddr::V4(SocketAddrV4::new(ip, port)));
                    } else if v.len() != 18 {
                        return Err(StatusError::BadValue { kind, len: v.len() });
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// Encodes the present fields as a status packet (ending with EOL).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(PKT_STATUS);
        if let Some(v) = self.ssrc {
            put_int(out, field::OUTPUT_SSRC, v.into());
        }
        if let Some(v) = &self.description {
            put_bytes(out, field::DESCRIPTION, v.as_bytes());
        }
        if let Some(v) = self.gps_time_ns {
            put_int(out, field::GPS_TIME, v as u64);
        }
        if let Some(v) = self.frequency_hz {
            put_int(out, field::RADIO_FREQUENCY, v.to_bits());
        }
        if let Some(v) = self.sample_rate {
            put_int(out, field::OUTPUT_SAMPRATE, v.into());
        }
        if let Some(v) = self.channels {
            put_int(out, field::OUTPUT_CHANNELS, v.into());
        }
        if let Some(v) = self.rtp_timesnap {
            put_int(out, field::RTP_TIMESNAP, v.into());
        }
        if let Some(SocketAddr::V4(a)) = self.data_dest {
            let mut v = a.ip().octets().to_vec();
            v.extend_from_slice(&a.port().to_be_bytes());
            put_bytes(out, field::OUTPUT_DATA_DEST_SOCKET, &v);
        }
        if let Some(v) = self.payload_type {
            put_int(out, field::RTP_PT, v.into());
        }
        if let Some(v) = self.encoding {
            put_int(out, field::OUTPUT_ENCODING, v.into());
        }
        out.push(field::EOL);
    }
}

/// Appends an integer field, big-endian with leading zero bytes left out.
pub fn put_int(out: &mut Vec<u8>, kind: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(kind);
    out.push((8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends a byte-string field (long-form length from 128 bytes on).
pub fn put_bytes(out: &mut Vec<u8>, kind: u8, v: &[u8]) {
    out.push(kind);
    let len = v.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let b = (len as u32).to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&b[skip..]);
    }
    out.extend_from_slice(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_drop_leading_zeros_and_zero_is_empty() {
        let mut b = Vec::new();
        put_int(&mut b, field::OUTPUT_SSRC, 10_000);
        assert_eq!(b, [18, 2, 0x27, 0x10]);
        b.clear();
        put_int(&mut b, field::OUTPUT_SAMPRATE, 0);
        assert_eq!(b, [20, 0]);
        assert_eq!(decode_int(1, &[]).unwrap(), 0);
        assert_eq!(decode_int(1, &[1, 0, 0, 0, 0, 0, 0, 0]).unwrap(), 1 << 56);
        assert!(decode_int(1, &[0; 9]).is_err());
    }

    #[test]
    fn floats_of_four_bytes_are_f32_and_longer_are_f64() {
        let f = 1.5f32.to_bits().to_be_bytes();
        assert_eq!(decode_float(0, &f).unwrap(), 1.5);
        let d = 10e6f64.to_bits().to_be_bytes();
        assert_eq!(decode_float(0, &d).unwrap(), 10e6);
        assert_eq!(decode_double(0, &d).unwrap(), 10e6);
        // 0.0 compresses to nothing.
        assert_eq!(decode_double(0, &[]).unwrap(), 0.0);
    }

    #[test]
    fn long_form_lengths_are_read() {
        let text = vec![b'x'; 300];
        let mut b = vec![PKT_STATUS];
        put_bytes(&mut b, field::DESCRIPTION, &text);
        assert_eq!(&b[1..5], &[4, 0x82, 0x01, 0x2c]);
        b.push(field::EOL);
        let s = ChannelStatus::parse(&b).unwrap();
        assert_eq!(s.description.unwrap().len(), 300);
    }

    /// A packet laid out by hand as radiod sends it (values from its encoders).
    #[test]
    fn parses_a_radiod_style_packet() {
        let mut p = vec![PKT_STATUS];
        p.extend_from_slice(&[18, 2, 0x27, 0x10]); // OUTPUT_SSRC 10000
        p.extend_from_slice(&[1, 1, 7]); // COMMAND_TAG (ignored)
        p.extend_from_slice(&[3, 8]);
        p.extend_from_slice(&1_450_000_000_000_000_000u64.to_be_bytes()); // GPS_TIME
        p.extend_from_slice(&[33, 8]);
        p.extend_from_slice(&10e6f64.to_bits().to_be_bytes()); // RADIO_FREQUENCY
        p.extend_from_slice(&[20, 2, 0x4e, 0x20]); // OUTPUT_SAMPRATE 20000
        p.extend_from_slice(&[49, 1, 2]); // OUTPUT_CHANNELS 2
        p.extend_from_slice(&[8, 4, 0xff, 0xff, 0xff, 0xf0]); // RTP_TIMESNAP
        p.extend_from_slice(&[17, 6, 239, 1, 2, 3, 0x13, 0x8c]); // data dest 239.1.2.3:5004
        p.extend_from_slice(&[105, 1, 97]); // RTP_PT
        p.extend_from_slice(&[107, 1, 4]); // OUTPUT_ENCODING F32LE
        p.push(0);
        p.extend_from_slice(&[99, 99]); // after EOL: ignored
        let s = ChannelStatus::parse(&p).unwrap();
        assert_eq!(s.ssrc, Some(10_000));
        assert_eq!(s.gps_time_ns, Some(1_450_000_000_000_000_000));
        assert_eq!(s.frequency_hz, Some(10e6));
        assert_eq!(s.sample_rate, Some(20_000));
        assert_eq!(s.channels, Some(2));
        assert_eq!(s.rtp_timesnap, Some(0xffff_fff0));
        assert_eq!(s.data_dest, Some("239.1.2.3:5004".parse().unwrap()));
        assert_eq!(s.payload_type, Some(97));
        assert_eq!(s.encoding, Some(4));
    }

    #[test]
    fn encode_then_parse_round_trips() {
        let s = ChannelStatus {
            ssrc: Some(5000),
            gps_time_ns: Some(1_400_000_000_123_456_789),
            rtp_timesnap: Some(0),
            sample_rate: Some(24_000),
            channels: Some(2),
            payload_type: Some(122),
            encoding: Some(2),
            frequency_hz: Some(5e6),
            description: Some("flow rtp_sink".into()),
            data_dest: Some("127.0.0.1:5004".parse().unwrap()),
        };
        let mut b = Vec::new();
        s.encode(&mut b);
        assert_eq!(ChannelStatus::parse(&b).unwrap(), s);
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        assert_eq!(ChannelStatus::parse(&[]), Err(StatusError::Empty));
        assert_eq!(
            ChannelStatus::parse(&[1, 0]),
            Err(StatusError::NotStatus(1))
        );
        assert_eq!(
            ChannelStatus::parse(&[0, 18]),
            Err(StatusError::Truncated {
                offset: 1,
                kind: 18
            })
        );
        assert_eq!(
            ChannelStatus::parse(&[0, 18, 4, 1, 2]),
            Err(StatusError::Truncated {
                offset: 1,
                kind: 18
            })
        );
        assert_eq!(
            ChannelStatus::parse(&[0, 4, 0x85, 1, 1, 1, 1, 1]),
            Err(StatusError::BadLength { offset: 1, kind: 4 })
        );
        assert_eq!(
            ChannelStatus::parse(&[0, 4, 0x84, 0xff, 0xff, 0xff, 0xff]),
            Err(StatusError::Truncated { offset: 1, kind: 4 })
        );
        assert_eq!(
            ChannelStatus::parse(&[0, 17, 3, 1, 2, 3]),
            Err(StatusError::BadValue { kind: 17, len: 3 })
        );
        assert_eq!(
            StatusError::Truncated { offset: 9, kind: 3 }.to_string(),
            "field type 3 at byte 9 runs past the end"
        );
        // Every prefix of a valid packet and random bytes: never a panic.
        let mut b = Vec::new();
        ChannelStatus {
            ssrc: Some(1),
            description: Some("y".repeat(200)),
            ..Default::default()
        }
        .encode(&mut b);
        for n in 0..b.len() {
            let _ = ChannelStatus::parse(&b[..n]);
        }
        let mut x = 0x1234_5678u32;
        for _ in 0..2000 {
            let mut pkt: Vec<u8> = (0..(x % 64))
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
            if let Some(first) = pkt.first_mut() {
                *first = PKT_STATUS;
            }
            let _ = ChannelStatus::parse(&pkt);
        }
    }
}
