//! The append-only journal in front of the SQLite tables: every message is appended here
//! (and synced per the fsync policy) before it is inserted, so a crash at any moment loses
//! nothing that was appended.
//!
//! File layout: the 8-byte magic `FLOWJNL1`, then records of `len u32 LE`, `crc32 u32 LE`
//! (IEEE, over the body) and `len` body bytes ([`super::codec`]). A crash can leave a torn
//! last record (short, or failing its CRC): [`Journal::open`] cuts the file back to the last
//! whole record and reports what it cut. The file is created atomically (temporary name,
//! fsync, rename, fsync of the directory) and locked with `flock` while open, so a second
//! writer is refused and a killed one leaves no lock behind.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::codec::{self, Record};

/// The journal's magic header.
pub const MAGIC: &[u8; 8] = b"FLOWJNL1";
const HEADER: u64 = MAGIC.len() as u64;

/// What reading a journal found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scan {
    /// Whole records.
    pub records: u64,
    /// Bytes up to the end of the last whole record.
    pub valid_len: u64,
    /// Bytes after it (a torn tail), cut off by `open`.
    pub torn_bytes: u64,
}

/// An open, locked journal.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    len: u64,
    buf: Vec<u8>,
}

/// Splits journal bytes into record bodies; stops at the first torn or corrupt record.
pub fn bodies(bytes: &[u8]) -> (Vec<&[u8]>, Scan) {
    let mut out = Vec::new();
    let mut at = HEADER as usize;
    while bytes.len() - at >= 8 {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        let Some(body) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32fast::hash(body) != crc {
            break;
        }
        out.push(body);
        at += 8 + len;
    }
    let scan = Scan {
        records: out.len() as u64,
        valid_len: at as u64,
        torn_bytes: (bytes.len() - at) as u64,
    };
    (out, scan)
}

/// Decodes record bodies (a body that passed its CRC but does not decode is an error).
pub fn decode_all<'a>(bodies: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<Record>, String> {
    bodies.into_iter().map(codec::decode).collect()
}

fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

impl Journal {
    /// Opens the journal at `path` (creating it atomically), locks it, reads it, and cuts a
    /// torn tail. Returns the journal, its whole contents and what the scan found.
    pub fn open(path: &Path) -> io::Result<(Journal, Vec<u8>, Scan)> {
        if !path.exists() {
            let tmp = path.with_extension("flowjournal-tmp");
            let mut f = File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            sync_dir(path)?;
        }
        let mut file = OpenOptions::new().read(true).append(true).open(path)?;
        // SAFETY: flock(2) on a descriptor we own; the lock lives as long as the file.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        (if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        })
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is in use by another flowgraph ({e})", path.display()),
            )
        })?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a flow journal (bad header)", path.display()),
            ));
        }
        let (_, scan) = bodies(&bytes);
        if scan.torn_bytes > 0 {
            file.set_len(scan.valid_len)?;
            file.sync_all()?;
            bytes.truncate(scan.valid_len as usize);
        }
        let j = Journal {
            file,
            path: path.to_path_buf(),
            len: scan.valid_len,
            buf: Vec::new(),
        };
        Ok((j, bytes, scan))
    }

    /// Appends records with one write; when it returns, the kernel has them.
    pub fn append(&mut self, records: &[Record]) -> io::Result<()> {
        self.buf.clear();
        for r in records {
            let at = self.buf.len();
            self.buf.extend_from_slice(&[0; 8]);
            codec::encode(r, &mut self.buf);
            let body = &self.buf[at + 8..];
            let (len, crc) = (body.len() as u32, crc32fast::hash(body));
            self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
            self.buf[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            // Leave no partial record behind: the next append must start on a boundary.
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += self.buf.len() as u64;
        Ok(())
    }

    /// Forces appended records to stable storage.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Drops every record (call only when all of them are safely in SQLite).
    pub fn compact(&mut self, sync: bool) -> io::Result<()> {
        self.file.set_len(HEADER)?;
        if sync {
            self.file.sync_all()?;
        }
        self.len = HEADER;
        Ok(())
    }

    /// Bytes in the file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when it holds no record.
    pub fn is_empty(&self) -> bool {
        self.len <= HEADER
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::message::Message;

    fn rec(n: u64) -> Record {
        Record {
            rec: n,
            session: 1,
            time_ns: 5,
            msg: Message::new("m").with("seq", n),
        }
    }

    #[test]
    fn torn_tails_are_cut_at_every_possible_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.flowjournal");
        let (mut j, _, _) = Journal::open(&path).unwrap();
        j.append(&[rec(0), rec(1), rec(2)]).unwrap();
        drop(j);
        let full = std::fs::read(&path).unwrap();
        let one = (full.len() - MAGIC.len()) / 3;
        for cut in MAGIC.len()..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (j, bytes, scan) = Journal::open(&path).unwrap();
            let whole = (cut - MAGIC.len()) / one;
            assert_eq!(scan.records, whole as u64, "cut at {cut}");
            assert_eq!(scan.torn_bytes as usize, cut - MAGIC.len() - whole * one);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), j.len());
            let recs = decode_all(bodies(&bytes).0).unwrap();
            assert_eq!(recs, (0..whole as u64).map(rec).collect::<Vec<_>>());
        }
        // A flipped bit in the last record fails its CRC and is cut too.
        let mut bad = full.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        let (_, _, scan) = Journal::open(&path).unwrap();
        assert_eq!((scan.records, scan.torn_bytes as usize), (2, one));
    }

    #[test]
    fn a_second_writer_is_refused_and_foreign_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.flowjournal");
        let (_held, _, _) = Journal::open(&path).unwrap();
        let e = Journal::open(&path).unwrap_err();
        assert!(e.to_string().contains("in use by another flowgraph"), "{e}");
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, b"my notes").unwrap();
        assert!(Journal::open(&other)
            .unwrap_err()
            .to_string()
            .contains("not a flow journal"));
        assert_eq!(std::fs::read(&other).unwrap(), b"my notes");
    }
}
