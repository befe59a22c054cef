//! Splitting a serial byte stream into frames: terminated text lines, fixed-length binary
//! frames with a start byte and a checksum, or raw chunks. Incomplete input is kept for the
//! next read; bad input is reported to the caller with its bytes and never stops the framer.

use flow_framework::prelude::{Deserialize, JsonSchema, Serialize};

use super::checksum::Checksum;

/// How `serial_source` splits bytes into frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FramingKind {
    /// Text lines ended by `terminator`.
    #[default]
    Line,
    /// Fixed-length binary frames: `frame_start`, payload, checksum.
    Binary,
    /// No framing: bytes go out as a `u8` stream.
    Raw,
}

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameEvent<'a> {
    /// A complete frame: a line without its terminator, or a binary frame's payload
    /// (without start byte and checksum), or a raw chunk.
    Frame(&'a [u8]),
    /// Bytes that do not form a valid frame, with the reason.
    Malformed {
        /// Why.
        reason: &'static str,
        /// The offending bytes (at most a bounded prefix for overlong lines).
        bytes: &'a [u8],
    },
}

/// Incremental framer.
#[derive(Debug)]
pub struct Framer {
    kind: FramingKind,
    terminator: Vec<u8>,
    max_len: usize,
    start: u8,
    frame_len: usize,
    checksum: Checksum,
    buf: Vec<u8>,
    /// Line mode: bytes already searched for a terminator.
    scanned: usize,
    /// Line mode: inside an overlong line, dropping until the next terminator.
    discarding: bool,
}

impl Framer {
    /// A line framer (`terminator` non-empty; lines longer than `max_len` are malformed).
    pub fn line(terminator: &[u8], max_len: usize) -> Self {
        Self::new(
            FramingKind::Line,
            terminator.to_vec(),
            max_len,
            0,
            0,
            Checksum::None,
        )
    }

    /// A binary framer: frames of `frame_len` bytes in all, starting with `start` and ending
    /// with the checksum.
    pub fn binary(start: u8, frame_len: usize, checksum: Checksum) -> Self {
        Self::new(
            FramingKind::Binary,
            Vec::new(),
            0,
            start,
            frame_len,
            checksum,
        )
    }

    /// Raw: every chunk is a frame.
    pub fn raw() -> Self {
        Self::new(FramingKind::Raw, Vec::new(), 0, 0, 0, Checksum::None)
    }

    fn new(
        kind: FramingKind,
        terminator: Vec<u8>,
        max_len: usize,
        start: u8,
        frame_len: usize,
        checksum: Checksum,
    ) -> Self {
        Framer {
            kind,
            terminator,
            max_len: max_len.max(1),
            start,
            frame_len,
            checksum,
            buf: Vec::new(),
            scanned: 0,
            discarding: false,
        }
    }

    /// Forgets buffered partial input (after the port was reopened).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.scanned = 0;
        self.discarding = false;
    }

    /// Bytes held back waiting for the rest of a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Feeds bytes; calls `on` for every frame and every malformed run found.
    pub fn push(&mut self, data: &[u8], mut on: impl FnMut(FrameEvent<'_>)) {
        match self.kind {
            FramingKind::Raw => {
                if !data.is_empty() {
                    on(FrameEvent::Frame(data));
                }
            }
            FramingKind::Line => {
                self.buf.extend_from_slice(data);
                self.lines(&mut on);
            }
            FramingKind::Binary => {
                self.buf.extend_from_slice(data);
                self.frames(&mut on);
            }
        }
    }

    fn lines(&mut self, on: &mut impl FnMut(FrameEvent<'_>)) {
        let t = self.terminator.len().max(1);
        let mut begin = 0;
        let mut i = self.scanned.max(t - 1);
        while i < self.buf.len() {
            if i + 1 >= begin + t && self.buf[i + 1 - t..=i] == self.terminator[..] {
                let line = &self.buf[begin..i + 1 - t];
                if self.discarding {
                    self.discarding = false;
                } else if line.len() > self.max_len {
                    on(FrameEvent::Malformed {
                        reason: "line longer than max_line",
                        bytes: &line[..self.max_len.min(64)],
                    });
                } else {
                    on(FrameEvent::Frame(line));
                }
                begin = i + 1;
            }
            i += 1;
        }
        if !self.discarding && self.buf.len() - begin > self.max_len {
            on(FrameEvent::Malformed {
                reason: "line longer than max_line",
                bytes: &self.buf[begin..begin + self.max_len.min(64)],
            });
            self.discarding = true;
        }
        if self.discarding {
            // Keep only what could be the start of a terminator.
            begin = self.buf.len().saturating_sub(t - 1).max(begin);
        }
        self.buf.drain(..begin);
        self.scanned = self.buf.len();
    }

    fn frames(&mut self, on: &mut impl FnMut(FrameEvent<'_>)) {
        let (len, w) = (self.frame_len, self.checksum.width());
        let mut at = 0;
        loop {
            let Some(s) = self.buf[at..].iter().position(|b| *b == self.start) else {
                if at < self.buf.len() {
                    on(FrameEvent::Malformed {
                        reason: "bytes outside a frame",
                        bytes: &self.buf[at..],
                    });
                }
                at = self.buf.len();
                break;
            };
            if s > 0 {
                on(FrameEvent::Malformed {
                    reason: "bytes outside a frame",
                    bytes: &self.buf[at..at + s],
                });
                at += s;
            }
            if self.buf.len() - at < len {
                break;
            }
            let frame = &self.buf[at..at + len];
            let payload = &frame[1..len - w];
            if self.checksum.verify(payload, &frame[len - w..]) {
                on(FrameEvent::Frame(payload));
                at += len;
            } else {
                on(FrameEvent::Malformed {
                    reason: "checksum mismatch",
                    bytes: frame,
                });
                // Resynchronise on the next start byte.
                at += 1;
            }
        }
        self.buf.drain(..at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Found = Result<Vec<u8>, (String, Vec<u8>)>;

    fn collect(f: &mut Framer, chunks: &[&[u8]]) -> Vec<Found> {
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, |e| match e {
                FrameEvent::Frame(b) => out.push(Ok(b.to_vec())),
                FrameEvent::Malformed { reason, bytes } => {
                    out.push(Err((reason.to_string(), bytes.to_vec())))
                }
            });
        }
        out
    }

    #[test]
    fn lines_split_across_reads_and_multibyte_terminators() {
        let mut f = Framer::line(b"\r\n", 16);
        let got = collect(&mut f, &[b"12.5,V\r", b"\n13", b".0,V\r\n\r\n"]);
        assert_eq!(
            got,
            vec![Ok(b"12.5,V".to_vec()), Ok(b"13.0,V".to_vec()), Ok(vec![])]
        );
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn overlong_lines_are_reported_once_and_skipped() {
        let mut f = Framer::line(b"\n", 4);
        let got = collect(&mut f, &[b"abcdefgh", b"ijkl", b"mn\nok\n"]);
        assert_eq!(
            got,
            vec![
                Err(("line longer than max_line".into(), b"abcd".to_vec())),
                Ok(b"ok".to_vec())
            ]
        );
    }

    #[test]
    fn binary_frames_resync_after_bad_checksums_and_garbage() {
        let good = |p: &[u8]| {
            let mut v = vec![0xAA];
            v.extend_from_slice(p);
            v.push(Checksum::Xor8.compute(p).0[0]);
            v
        };
        let mut stream = vec![0x01, 0x02];
        stream.extend(good(&[1, 2, 3]));
        stream.extend([0xAA, 9, 9, 9, 0x00]); // bad checksum
        stream.extend(good(&[4, 5, 6]));
        let mut f = Framer::binary(0xAA, 5, Checksum::Xor8);
        let (a, b) = stream.split_at(7);
        let got = collect(&mut f, &[a, b]);
        assert_eq!(got[0], Err(("bytes outside a frame".into(), vec![1, 2])));
        assert_eq!(got[1], Ok(vec![1, 2, 3]));
        assert_eq!(
            got[2],
            Err(("checksum mismatch".into(), vec![0xAA, 9, 9, 9, 0]))
        );
        assert_eq!(got.last(), Some(&Ok(vec![4, 5, 6])));
        assert_eq!(f.pending(), 0);
    }
}
