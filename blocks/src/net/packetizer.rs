//! Building ka9q-compatible RTP data packets: header plus encoded I/Q payload. Shared by
//! `rtp_sink`, the tests and the benchmark sender.

use flow_framework::prelude::C32;

use super::encoding::Encoding;
use super::rtp::RtpHeader;

/// Payload bytes radiod keeps its packets under (fits a 1500-byte Ethernet MTU).
pub const DEFAULT_PAYLOAD_BYTES: usize = 1440;

/// Sample frames per packet that fit [`DEFAULT_PAYLOAD_BYTES`] for `encoding`.
pub fn default_packet_samples(encoding: Encoding) -> usize {
    DEFAULT_PAYLOAD_BYTES / encoding.frame_bytes()
}

/// Writes one RTP packet (header then `samples` encoded) into `out`, replacing its contents.
pub fn build_packet(header: &RtpHeader, encoding: Encoding, samples: &[C32], out: &mut Vec<u8>) {
    out.clear();
    header.write(out);
    encoding.encode(samples, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_parse_back() {
        let h = RtpHeader {
            payload_type: 122,
            sequence: 9,
            timestamp: 123_456,
            ssrc: 5000,
            marker: false,
        };
        let s = [C32::new(0.25, -0.5); 180];
        let mut p = Vec::new();
        build_packet(&h, Encoding::F32le, &s, &mut p);
        assert_eq!(p.len(), 12 + 1440);
        let (g, payload) = RtpHeader::parse(&p).unwrap();
        assert_eq!(g, h);
        let mut back = Vec::new();
        assert_eq!(Encoding::F32le.decode(payload, &mut back), 0);
        assert_eq!(back, s);
        assert_eq!(default_packet_samples(Encoding::S16be), 360);
    }
}
