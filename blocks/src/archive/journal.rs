//! The written-ranges journal of an open minute file (`<minute>.journal`): after every
//! batch of positional writes to the `.bin` file, one append of `(start, length)` records
//! (u32 little-endian each) says which samples are now on disk. It exists only while the
//! minute is open; after a crash it is what recovery trusts.
//!
//! Data is written before its record, so a crash between the two leaves data on disk that
//! the journal does not claim (recovery zeroes it: gaps stay zero), never a claim of data
//! that is not there. A torn trailing record (power loss) is ignored.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// First 8 bytes of a journal.
const MAGIC: &[u8; 8] = b"FLOWJRN1";
/// Header: magic and the minute's sample count (u64 LE).
const HEADER: usize = 16;

/// An open journal.
pub struct Journal {
    file: File,
    pending: Vec<u8>,
}

/// What a journal on disk says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalContents {
    /// Samples per minute it was written for.
    pub samples_per_minute: u64,
    /// The `(start, length)` records, in order.
    pub records: Vec<(u64, u64)>,
}

impl Journal {
    /// Opens (creating with a header if new) the journal at `path` for appending.
    pub fn open(path: &Path, samples_per_minute: u64) -> io::Result<Journal> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let len = file.metadata()?.len();
        let mut magic = [0u8; 8];
        let valid = len >= HEADER as u64 && {
            let mut r = &file;
            r.read_exact(&mut magic).is_ok() && &magic == MAGIC
        };
        if !valid {
            // New, garbage, or torn before its header was whole: start it again.
            file.set_len(0)?;
            let mut h = MAGIC.to_vec();
            h.extend_from_slice(&samples_per_minute.to_le_bytes());
            file.write_all(&h)?;
        } else if (len - HEADER as u64) % 8 != 0 {
            // A torn record at the end: cut it so new records stay aligned.
            file.set_len(len - (len - HEADER as u64) % 8)?;
        }
        Ok(Journal {
            file,
            pending: Vec::new(),
        })
    }

    /// Queues a record of samples `[start, start + len)` (written by [`Journal::flush`]).
    pub fn record(&mut self, start: u64, len: u64) {
        self.pending
            .extend_from_slice(&(start as u32).to_le_bytes());
        self.pending.extend_from_slice(&(len as u32).to_le_bytes());
    }

    /// Appends the queued records in one write.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.file.write_all(&self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Forces the journal to disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Reads a journal; `Ok(None)` if there is none.
    pub fn read(path: &Path) -> io::Result<Option<JournalContents>> {
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut f) => f.read_to_end(&mut bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if bytes.len() < HEADER || &bytes[..8] != MAGIC {
            return Ok(Some(JournalContents {
                samples_per_minute: 0,
                records: Vec::new(),
            }));
        }
        let mut spm = [0u8; 8];
        spm.copy_from_slice(&bytes[8..16]);
        let records = bytes[HEADER..]
            .chunks_exact(8)
            .map(|r| {
                let start = u32::from_le_bytes([r[0], r[1], r[2], r[3]]);
                let len = u32::from_le_bytes([r[4], r[5], r[6], r[7]]);
                (u64::from(start), u64::from(len))
            })
            .collect();
        Ok(Some(JournalContents {
            samples_per_minute: u64::from_le_bytes(spm),
            records,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_torn_tails_are_ignored() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("1.journal");
        assert_eq!(Journal::read(&p).unwrap(), None);
        let mut j = Journal::open(&p, 1_200_000).unwrap();
        j.record(0, 100);
        j.record(500, 20);
        j.flush().unwrap();
        drop(j);
        let mut j = Journal::open(&p, 1_200_000).unwrap();
        j.record(100, 1);
        j.flush().unwrap();
        drop(j);
        // A torn record at the end (3 of 8 bytes).
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[9, 9, 9]).unwrap();
        let c = Journal::read(&p).unwrap().unwrap();
        assert_eq!(c.samples_per_minute, 1_200_000);
        assert_eq!(c.records, [(0, 100), (500, 20), (100, 1)]);
        // Reopened after the tear: new records stay aligned.
        let mut j = Journal::open(&p, 1_200_000).unwrap();
        j.record(7, 3);
        j.flush().unwrap();
        let c = Journal::read(&p).unwrap().unwrap();
        assert_eq!(c.records, [(0, 100), (500, 20), (100, 1), (7, 3)]);
        // Garbage instead of a journal: no claims.
        std::fs::write(&p, b"nonsense").unwrap();
        assert_eq!(Journal::read(&p).unwrap().unwrap().records, []);
    }
}
