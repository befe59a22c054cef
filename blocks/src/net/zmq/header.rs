//! gr-zeromq's tagged message layout: a header before the items when `pass_tags` is on.
//!
//! ```text
//! u16 magic 0x5FF0 | u8 version 1 | u64 offset | u64 tag count      (little-endian)
//! per tag: u64 offset | PMT key | PMT value | PMT srcid
//! items...
//! ```
//!
//! `offset` is the stream position of the first item of the message and tag offsets are
//! absolute stream positions, both counted by the sender. A receiver recognises the header by
//! its magic and version (GNU Radio #6559: a receiver configured differently from the sender
//! should not misread items as a header or the reverse), and checks that the remaining bytes
//! are whole items before trusting it.

use super::pmt::{Pmt, PmtError};

/// The magic number that opens a tagged message.
pub const MAGIC: u16 = 0x5FF0;
/// The header version gr-zeromq writes.
pub const VERSION: u8 = 1;
/// Bytes of the fixed part.
pub const FIXED_LEN: usize = 2 + 1 + 8 + 8;

/// One tag on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct WireTag {
    /// Absolute stream position (sender's count).
    pub offset: u64,
    /// Key (a symbol).
    pub key: Pmt,
    /// Value.
    pub value: Pmt,
    /// Source id (a symbol, or `#f`).
    pub srcid: Pmt,
}

/// A decoded header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Stream position of the message's first item.
    pub offset: u64,
    /// The tags.
    pub tags: Vec<WireTag>,
}

/// A header that announced itself by magic but did not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A tag's PMT is malformed.
    #[error("tag {index}: {error}")]
    Pmt {
        /// Tag number.
        index: u64,
        /// The PMT error.
        error: PmtError,
    },
    /// The header is cut short.
    #[error("header cut short: {0}")]
    Truncated(String),
}

/// Appends a header for items starting at `offset` with `tags` to `out`.
pub fn encode(offset: u64, tags: &[WireTag], out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.push(VERSION);
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&(tags.len() as u64).to_le_bytes());
    for t in tags {
        out.extend_from_slice(&t.offset.to_le_bytes());
        t.key.serialize(out);
        t.value.serialize(out);
        t.srcid.serialize(out);
    }
}

/// True when `msg` opens with the magic and version of a tagged message.
pub fn has_header(msg: &[u8]) -> bool {
    msg.len() >= FIXED_LEN && msg[..2] == MAGIC.to_le_bytes() && msg[2] == VERSION
}

/// Decodes the header at the start of `msg` (which [`has_header`] accepted); returns it
/// and where the items start.
pub fn decode(msg: &[u8]) -> Result<(Header, usize), HeaderError> {
    let u64_at = |at: usize| -> Result<u64, HeaderError> {
        msg.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| HeaderError::Truncated(format!("no 8 bytes at {at}")))
    };
    let offset = u64_at(3)?;
    let count = u64_at(11)?;
    let mut pos = FIXED_LEN;
    // Each tag takes at least 8 + 3 bytes: a count beyond that is corrupt.
    if count > (msg.len() - pos) as u64 / 11 {
        return Err(HeaderError::Truncated(format!(
            "{count} tags cannot fit in {} bytes",
            msg.len() - pos
        )));
    }
    let mut tags = Vec::with_capacity(count as usize);
    for index in 0..count {
        let tag_offset = u64_at(pos)?;
        pos += 8;
        let mut next = || -> Result<Pmt, HeaderError> {
            let (p, n) = Pmt::deserialize(&msg[pos..]).map_err(|mut error| {
                error.at += pos;
                HeaderError::Pmt { index, error }
            })?;
            pos += n;
            Ok(p)
        };
        let key = next()?;
        let value = next()?;
        let srcid = next()?;
        tags.push(WireTag {
            offset: tag_offset,
            key,
            value,
            srcid,
        });
    }
    Ok((Header { offset, tags }, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx_time() -> WireTag {
        WireTag {
            offset: 1005,
            key: Pmt::symbol("rx_time"),
            value: Pmt::Tuple(vec![Pmt::Uint64(1_700_000_000), Pmt::Double(0.25)]),
            srcid: Pmt::symbol("src"),
        }
    }

    #[test]
    fn round_trips_and_matches_the_gnu_radio_layout() {
        let mut msg = Vec::new();
        encode(1000, &[rx_time()], &mut msg);
        // What GNU Radio 3.10's pub_sink sent for this tag at offset 0 (captured), with the
        // offsets changed: f0 5f 01, offset, count 1, tag offset, then the PMTs.
        assert_eq!(&msg[..3], &[0xf0, 0x5f, 0x01]);
        assert_eq!(msg.len(), 19 + 8 + 10 + 23 + 6);
        msg.extend_from_slice(&[1, 2, 3, 4]);
        assert!(has_header(&msg));
        let (h, start) = decode(&msg).unwrap();
        assert_eq!(h.offset, 1000);
        assert_eq!(h.tags, vec![rx_time()]);
        assert_eq!(&msg[start..], &[1, 2, 3, 4]);
    }

    #[test]
    fn raw_items_are_not_mistaken_for_a_header() {
        assert!(!has_header(&[0u8; 64]));
        assert!(!has_header(&1.0f32.to_le_bytes().repeat(8)));
        // Magic without the version byte is not a header either.
        let mut m = vec![0xf0, 0x5f, 0x02];
        m.extend_from_slice(&[0; 16]);
        assert!(!has_header(&m));
    }

    #[test]
    fn corrupt_headers_are_errors() {
        let mut msg = Vec::new();
        encode(0, &[rx_time()], &mut msg);
        for n in FIXED_LEN..msg.len() {
            assert!(decode(&msg[..n]).is_err(), "prefix {n}");
        }
        let mut huge = msg.clone();
        huge[11..19].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(decode(&huge), Err(HeaderError::Truncated(_))));
        let mut bad = msg.clone();
        bad[FIXED_LEN + 8] = 0x42;
        assert_eq!(
            decode(&bad).unwrap_err().to_string(),
            "tag 0: malformed PMT at byte 27: unknown type byte 0x42"
        );
    }
}
