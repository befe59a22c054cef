//! The shared-memory ring buffer behind the `ring_buffer` sink: a file (e.g. under
//! `/dev/shm`) that other processes map read-only and read without copies.
//!
//! # Protocol
//!
//! The writer keeps two monotonic counters in the header: `head_seq` (records published)
//! and `tail_seq` (the oldest record still intact). To append record `s` it
//!
//! 1. picks its byte position (records are contiguous; one that would cross the end of the
//!    data region starts at offset 0 instead);
//! 2. raises `tail_seq` past every record the new one will overwrite (and past the record
//!    whose index slot it reuses), then issues a release fence;
//! 3. writes the record header, the Arrow body and the index entry;
//! 4. publishes with a release store of `head_seq = s + 1`.
//!
//! A reader takes `head_seq` (acquire), reads index entry and record `s`, issues an acquire
//! fence and loads `tail_seq` again: if it is still `<= s` nothing of record `s` changed
//! while it was read (a seqlock whose version is the tail). A reader whose next record is
//! below `tail_seq` missed `tail_seq - next` records and is told so.
//!
//! # Crash consistency
//!
//! A writer killed mid-record has not published it: `head_seq` still excludes it, and the
//! tail was raised before any old byte changed, so every record in `tail_seq..head_seq` is
//! intact and readable. The next writer with the same layout and schema resumes the file
//! (checks every index entry and record header, recomputes the head, counts a recovery);
//! any mismatch or damage makes it build a new file and rename it over the old one.

pub mod layout;
pub mod reader;
pub mod sizing;
pub mod writer;

pub use reader::{Next, RingReader};
pub use writer::{Opened, RecordMeta, RingSpec, RingWriter};

/// Why a ring buffer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// A file operation failed.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The file is not a ring buffer this code can use.
    #[error("ring buffer layout: {0}")]
    Layout(String),
    /// A record does not fit in the buffer at all.
    #[error("record of {len} bytes is larger than the buffer (at most {max} bytes)")]
    TooLarge {
        /// Body length.
        len: usize,
        /// Largest body the buffer takes.
        max: usize,
    },
}

#[cfg(test)]
mod tests;
