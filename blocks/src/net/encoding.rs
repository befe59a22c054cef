//! Sample encodings of ka9q-radio RTP payloads (I/Q interleaved): decoding to `c32` and
//! encoding from it, and radiod's numeric codes for them (`enum encoding` in its `rtp.h`).

use flow_framework::prelude::*;

/// How an I/Q sample frame is encoded in an RTP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    /// 16-bit signed integers, big-endian (radiod's default), full scale ±32767 = ±1.0.
    S16be,
    /// 16-bit signed integers, little-endian.
    S16le,
    /// 32-bit IEEE floats, little-endian.
    F32le,
    /// 32-bit IEEE floats, big-endian.
    F32be,
}

/// Full scale of the 16-bit encodings (radiod scales by 32767).
const SCALE16: f32 = 32767.0;

impl Encoding {
    /// radiod's code for the encoding (OUTPUT_ENCODING).
    pub fn ka9q_code(self) -> u32 {
        match self {
            Encoding::S16le => 1,
            Encoding::S16be => 2,
            Encoding::F32le => 4,
            Encoding::F32be => 8,
        }
    }

    /// The encoding of a radiod code, if flow can read it (not Opus, F16, μ-law...).
    pub fn from_ka9q(code: u32) -> Option<Self> {
        match code {
            1 => Some(Encoding::S16le),
            2 => Some(Encoding::S16be),
            4 => Some(Encoding::F32le),
            8 => Some(Encoding::F32be),
            _ => None,
        }
    }

    /// Bytes of one I/Q frame.
    pub fn frame_bytes(self) -> usize {
        match self {
            Encoding::S16be | Encoding::S16le => 4,
            Encoding::F32le | Encoding::F32be => 8,
        }
    }

    /// The TOML name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::S16be => "s16be",
            Encoding::S16le => "s16le",
            Encoding::F32le => "f32le",
            Encoding::F32be => "f32be",
        }
    }

    /// Appends the I/Q frames of `payload` to `out`. Returns the number of trailing bytes
    /// that did not form a whole frame (0 for a well-formed payload); those are ignored.
    pub fn decode(self, payload: &[u8], out: &mut Vec<C32>) -> usize {
        let fb = self.frame_bytes();
        let frames = payload.chunks_exact(fb);
        let rest = frames.remainder().len();
        out.reserve(payload.len() / fb);
        match self {
            Encoding::S16be => out.extend(frames.map(|f| {
                C32::new(
                    f32::from(i16::from_be_bytes([f[0], f[1]])) / SCALE16,
                    f32::from(i16::from_be_bytes([f[2], f[3]])) / SCALE16,
                )
            })),
            Encoding::S16le => out.extend(frames.map(|f| {
                C32::new(
                    f32::from(i16::from_le_bytes([f[0], f[1]])) / SCALE16,
                    f32::from(i16::from_le_bytes([f[2], f[3]])) / SCALE16,
                )
            })),
            Encoding::F32le => out.extend(frames.map(|f| {
                C32::new(
                    f32::from_le_bytes([f[0], f[1], f[2], f[3]]),
                    f32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                )
            })),
            Encoding::F32be => out.extend(frames.map(|f| {
                C32::new(
                    f32::from_be_bytes([f[0], f[1], f[2], f[3]]),
                    f32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                )
            })),
        }
        rest
    }

    /// Appends `samples` encoded to `out` (16-bit encodings round and clip to ±32767).
    pub fn encode(self, samples: &[C32], out: &mut Vec<u8>) {
        out.reserve(samples.len() * self.frame_bytes());
        let q = |x: f32| (x * SCALE16).round().clamp(-SCALE16, SCALE16) as i16;
        for s in samples {
            match self {
                Encoding::S16be => {
                    out.extend_from_slice(&q(s.re).to_be_bytes());
                    out.extend_from_slice(&q(s.im).to_be_bytes());
                }
                Encoding::S16le => {
                    out.extend_from_slice(&q(s.re).to_le_bytes());
                    out.extend_from_slice(&q(s.im).to_le_bytes());
                }
                Encoding::F32le => {
                    out.extend_from_slice(&s.re.to_le_bytes());
                    out.extend_from_slice(&s.im.to_le_bytes());
                }
                Encoding::F32be => {
                    out.extend_from_slice(&s.re.to_be_bytes());
                    out.extend_from_slice(&s.im.to_be_bytes());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Encoding; 4] = [
        Encoding::S16be,
        Encoding::S16le,
        Encoding::F32le,
        Encoding::F32be,
    ];

    #[test]
    fn byte_layouts_are_as_radiod_sends_them() {
        let x = [C32::new(0.5, -1.0)];
        let mut b = Vec::new();
        Encoding::S16be.encode(&x, &mut b);
        assert_eq!(b, [0x40, 0x00, 0x80, 0x01]); // 16384 (0.5 rounds up), -32767
        b.clear();
        Encoding::S16le.encode(&x, &mut b);
        assert_eq!(b, [0x00, 0x40, 0x01, 0x80]);
        b.clear();
        Encoding::F32le.encode(&x, &mut b);
        assert_eq!(b, [0, 0, 0, 0x3f, 0, 0, 0x80, 0xbf]);
        b.clear();
        Encoding::F32be.encode(&x, &mut b);
        assert_eq!(b, [0x3f, 0, 0, 0, 0xbf, 0x80, 0, 0]);
    }

    #[test]
    fn round_trips_and_reports_partial_frames() {
        let x: Vec<C32> = (0..100)
            .map(|k| C32::new(k as f32 / 32767.0, -(k as f32) / 32767.0))
            .collect();
        for e in ALL {
            let mut b = Vec::new();
            e.encode(&x, &mut b);
            assert_eq!(b.len(), 100 * e.frame_bytes());
            b.push(0xff);
            let mut y = Vec::new();
            assert_eq!(e.decode(&b, &mut y), 1, "{e:?}");
            assert_eq!(y, x, "{e:?}");
            assert_eq!(Encoding::from_ka9q(e.ka9q_code()), Some(e));
        }
        assert_eq!(Encoding::from_ka9q(3), None); // Opus
    }

    #[test]
    fn sixteen_bit_clips_at_full_scale() {
        let mut b = Vec::new();
        Encoding::S16be.encode(&[C32::new(2.0, -2.0)], &mut b);
        let mut y = Vec::new();
        Encoding::S16be.decode(&b, &mut y);
        assert_eq!(y, [C32::new(1.0, -1.0)]);
    }
}
