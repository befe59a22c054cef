//! One minute file of a channel: `<dir>/<CHANNEL>/<YYYYMMDD>/<minute_unix>.bin`, a full
//! minute of complex64 (written as a sparse file of its final size, so `np.memmap` always
//! sees the whole minute and missing samples read as zero), filled by positional writes.
//!
//! Opening resumes whatever is there: the samples a sidecar or journal of an earlier run
//! says are on disk are kept, and after a crash (a journal is present) every sample not
//! recorded is zeroed, so the gap list is exact. Files that cannot be resumed (another
//! sample rate) are moved aside, never overwritten. See docs/durability.md.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use flow_framework::prelude::C32;

use super::journal::Journal;
use super::ranges::RangeSet;
use super::sidecar::{MinuteMeta, Sidecar};
use super::sigmf;
use crate::util::atomic::{publish, sync_dir};

/// Bytes per complex64 sample.
const SAMPLE_BYTES: u64 = 8;

/// The files of one minute.
#[derive(Debug, Clone)]
pub struct MinutePaths {
    /// Day directory.
    pub dir: PathBuf,
    /// Samples.
    pub bin: PathBuf,
    /// JSON sidecar.
    pub json: PathBuf,
    /// SigMF metadata.
    pub sigmf: PathBuf,
    /// Written-ranges journal (while open).
    pub journal: PathBuf,
}

impl MinutePaths {
    /// The paths of Unix minute `minute` under `channel_dir`.
    pub fn new(channel_dir: &Path, minute: i64) -> Self {
        let (y, m, d, ..) = flow_framework::tag::civil_from_unix(minute * 60);
        let dir = channel_dir.join(format!("{y:04}{m:02}{d:02}"));
        let stem = (minute * 60).to_string();
        MinutePaths {
            bin: dir.join(format!("{stem}.bin")),
            json: dir.join(format!("{stem}.json")),
            sigmf: dir.join(format!("{stem}.sigmf-meta")),
            journal: dir.join(format!("{stem}.journal")),
            dir,
        }
    }
}

/// An open minute file.
pub struct MinuteFile {
    /// Unix minute number.
    pub minute: i64,
    /// Its files.
    pub paths: MinutePaths,
    rate: u64,
    file: File,
    journal: Journal,
    written: RangeSet,
    /// Metadata for its sidecar.
    pub meta: MinuteMeta,
    meta_dirty: bool,
}

/// What opening a minute found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Samples already on disk from an earlier run.
    pub resumed: u64,
    /// A journal was found: the earlier run did not finish the minute.
    pub recovered: bool,
    /// Earlier files could not be resumed and were moved aside under this suffix.
    pub moved_aside: Option<String>,
}

impl MinuteFile {
    /// Opens (creating or resuming) minute `minute` at `rate` samples/s.
    pub fn open(
        channel_dir: &Path,
        minute: i64,
        rate: u64,
        meta: MinuteMeta,
    ) -> io::Result<(MinuteFile, OpenReport)> {
        let spm = 60 * rate;
        let paths = MinutePaths::new(channel_dir, minute);
        if !paths.dir.is_dir() {
            fs::create_dir_all(&paths.dir)?;
            sync_dir(channel_dir)?;
        }
        // A compressed minute (`compress = "zstd"`) is made a plain file again first.
        super::compress::restore(&paths)?;
        let mut report = OpenReport::default();
        let (written, recovered) = match prior(&paths, spm) {
            Ok(p) => p,
            Err(why) => {
                report.moved_aside = Some(move_aside(&paths, &why)?);
                (RangeSet::new(), false)
            }
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&paths.bin)?;
        if file.metadata()?.len() != spm * SAMPLE_BYTES {
            file.set_len(spm * SAMPLE_BYTES)?;
        }
        if recovered {
            // Data written after its last journal record may be on disk: gaps stay zero.
            let zeros = vec![0u8; 1 << 16];
            for (start, len) in written.gaps(spm) {
                let (mut at, end) = (start * SAMPLE_BYTES, (start + len) * SAMPLE_BYTES);
                while at < end {
                    let n = ((end - at) as usize).min(zeros.len());
                    file.write_all_at(&zeros[..n], at)?;
                    at += n as u64;
                }
            }
            file.sync_data()?;
        }
        report.resumed = written.len();
        report.recovered = recovered;
        let journal = Journal::open(&paths.journal, spm)?;
        let mf = MinuteFile {
            minute,
            paths,
            rate,
            file,
            journal,
            written,
            meta,
            meta_dirty: false,
        };
        // The sidecar exists (state `open`) from the start, so a crash keeps the metadata.
        mf.publish("open")?;
        Ok((mf, report))
    }

    /// Samples on disk.
    pub fn written(&self) -> &RangeSet {
        &self.written
    }

    /// Writes `samples` at sample `offset` of the minute; returns how many were new.
    pub fn write(&mut self, offset: u64, samples: &[C32]) -> io::Result<u64> {
        let end = offset + samples.len() as u64;
        if end > 60 * self.rate {
            return Err(io::Error::other(format!(
                "write past the end of minute {}",
                self.minute * 60
            )));
        }
        #[cfg(target_endian = "little")]
        let bytes: &[u8] = bytemuck::cast_slice(samples);
        #[cfg(target_endian = "big")]
        let owned: Vec<u8> = samples
            .iter()
            .flat_map(|s| [s.re.to_le_bytes(), s.im.to_le_bytes()].concat())
            .collect();
        #[cfg(target_endian = "big")]
        let bytes: &[u8] = &owned;
        self.file.write_all_at(bytes, offset * SAMPLE_BYTES)?;
        self.journal.record(offset, samples.len() as u64);
        Ok(self.written.insert(offset, end))
    }

    /// Notes a metadata change (time mapping, frequency) for the open sidecar.
    pub fn set_meta(&mut self, meta: MinuteMeta) {
        if meta != self.meta {
            self.meta = meta;
            self.meta_dirty = true;
        }
    }

    /// Appends the journal records of the writes so far (after the data writes).
    pub fn flush(&mut self) -> io::Result<()> {
        self.journal.flush()?;
        if std::mem::take(&mut self.meta_dirty) {
            self.publish("open")?;
        }
        Ok(())
    }

    /// Forces data and journal to disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.journal.flush()?;
        self.file.sync_data()?;
        self.journal.sync()
    }

    fn publish(&self, state: &str) -> io::Result<Sidecar> {
        let s = Sidecar::new(self.minute, self.rate, &self.written, &self.meta, state);
        publish(&self.paths.json, &s.to_json())?;
        publish(&self.paths.sigmf, &sigmf::meta_bytes(&s))?;
        Ok(s)
    }

    /// Syncs the data, publishes the sidecar and SigMF metadata in state `state`, and
    /// removes the journal (the sidecar now says everything it did).
    pub fn finalize(mut self, state: &str) -> io::Result<Sidecar> {
        self.sync()?;
        let s = self.publish(state)?;
        fs::remove_file(&self.paths.journal)?;
        Ok(s)
    }
}

/// What earlier runs left: the samples on disk and whether a journal (unfinished minute)
/// was there. `Err` says why the files cannot be resumed.
fn prior(paths: &MinutePaths, spm: u64) -> Result<(RangeSet, bool), String> {
    let mut written = RangeSet::new();
    match fs::read(&paths.json) {
        Ok(bytes) => {
            let s: Sidecar =
                serde_json::from_slice(&bytes).map_err(|e| format!("unreadable sidecar ({e})"))?;
            if s.samples_expected != spm {
                return Err(format!(
                    "sidecar is for {} samples per minute, not {spm}",
                    s.samples_expected
                ));
            }
            for (a, b) in s.written().ranges() {
                written.insert(a, b);
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("sidecar unreadable ({e})")),
    }
    let journal = Journal::read(&paths.journal).map_err(|e| format!("journal unreadable ({e})"))?;
    let recovered = journal.is_some();
    if let Some(j) = journal {
        if !j.records.is_empty() && j.samples_per_minute != spm {
            return Err(format!(
                "journal is for {} samples per minute, not {spm}",
                j.samples_per_minute
            ));
        }
        for (start, len) in j.records {
            written.insert(start.min(spm), (start + len).min(spm));
        }
    }
    match fs::metadata(&paths.bin) {
        Ok(m) if m.len() > spm * SAMPLE_BYTES => Err(format!(
            "data file holds {} bytes, more than a minute of {spm} samples",
            m.len()
        )),
        Ok(_) => Ok((written, recovered)),
        // Sidecar or journal without data: nothing of it is on disk.
        Err(_) => Ok((RangeSet::new(), recovered)),
    }
}

/// Renames the minute's files to `<name>.conflict-<unix ns>`; returns the suffix.
fn move_aside(paths: &MinutePaths, why: &str) -> io::Result<String> {
    let suffix = format!("conflict-{}", flow_framework::metrics::unix_now_ns());
    tracing::warn!(file = %paths.bin.display(), reason = why, suffix = %suffix,
        "binary_archive: existing minute files cannot be resumed; moved aside");
    for p in [&paths.bin, &paths.json, &paths.sigmf, &paths.journal] {
        if p.exists() {
            let mut aside = p.clone().into_os_string();
            aside.push(format!(".{suffix}"));
            fs::rename(p, aside)?;
        }
    }
    sync_dir(&paths.dir)?;
    Ok(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> MinuteMeta {
        MinuteMeta {
            channel_name: "T".into(),
            frequency_hz: Some(1e6),
            time: None,
        }
    }

    fn read(p: &Path) -> Vec<C32> {
        bytemuck::pod_collect_to_vec(&fs::read(p).unwrap())
    }

    #[test]
    fn writes_by_position_and_publishes_exact_gaps() {
        let d = tempfile::tempdir().unwrap();
        let (mut m, r) = MinuteFile::open(d.path(), 100, 10, meta()).unwrap();
        assert_eq!(r, OpenReport::default());
        assert_eq!(m.paths.bin, d.path().join("19700101/6000.bin"));
        let s = Sidecar::new(100, 10, &RangeSet::new(), &meta(), "open");
        assert_eq!(
            serde_json::from_slice::<Sidecar>(&fs::read(&m.paths.json).unwrap()).unwrap(),
            s
        );
        assert_eq!(m.write(500, &[C32::new(5.0, 0.0); 100]).unwrap(), 100);
        assert_eq!(m.write(0, &[C32::new(1.0, 0.0); 10]).unwrap(), 10);
        assert_eq!(m.write(550, &[C32::new(6.0, 0.0); 10]).unwrap(), 0);
        assert!(m.write(595, &[C32::new(1.0, 0.0); 10]).is_err());
        m.flush().unwrap();
        let s = m.finalize("complete").unwrap();
        assert_eq!(s.samples_written, 110);
        assert_eq!(s.gaps.len(), 1);
        assert_eq!((s.gaps[0].start, s.gaps[0].length), (10, 490));
        let data = read(&d.path().join("19700101/6000.bin"));
        assert_eq!(data.len(), 600);
        assert_eq!(data[0], C32::new(1.0, 0.0));
        assert_eq!(data[10], C32::new(0.0, 0.0));
        assert_eq!(data[555], C32::new(6.0, 0.0));
        assert!(!d.path().join("19700101/6000.journal").exists());
    }

    #[test]
    fn a_crashed_minute_is_resumed_from_its_journal_with_unrecorded_data_zeroed() {
        let d = tempfile::tempdir().unwrap();
        let (mut m, _) = MinuteFile::open(d.path(), 7, 10, meta()).unwrap();
        m.write(0, &[C32::new(1.0, 1.0); 100]).unwrap();
        m.flush().unwrap();
        // Written but never journaled (a crash between the two): must not survive.
        m.write(300, &[C32::new(9.0, 9.0); 50]).unwrap();
        let bin = m.paths.bin.clone();
        std::mem::forget(m); // no finalize, as after kill -9
        let (m, r) = MinuteFile::open(d.path(), 7, 10, meta()).unwrap();
        assert_eq!(r.resumed, 100);
        assert!(r.recovered);
        let data = read(&bin);
        assert_eq!(data[99], C32::new(1.0, 1.0));
        assert_eq!(data[300], C32::new(0.0, 0.0));
        let s = m.finalize("recovered").unwrap();
        assert_eq!(s.samples_written, 100);
        // A clean restart in the same minute resumes from the sidecar alone.
        let (mut m, r) = MinuteFile::open(d.path(), 7, 10, meta()).unwrap();
        assert_eq!((r.resumed, r.recovered), (100, false));
        m.write(100, &[C32::new(2.0, 0.0); 500]).unwrap();
        let s = m.finalize("complete").unwrap();
        assert_eq!((s.samples_written, s.gap_count), (600, 0));
        assert_eq!(read(&bin)[0], C32::new(1.0, 1.0));
    }

    #[test]
    fn files_of_another_rate_are_moved_aside_not_overwritten() {
        let d = tempfile::tempdir().unwrap();
        let (mut m, _) = MinuteFile::open(d.path(), 7, 10, meta()).unwrap();
        m.write(0, &[C32::new(3.0, 0.0); 600]).unwrap();
        m.finalize("stopped").unwrap();
        let (m, r) = MinuteFile::open(d.path(), 7, 20, meta()).unwrap();
        let suffix = r.moved_aside.expect("moved aside");
        assert_eq!(r.resumed, 0);
        let old = d.path().join(format!("19700101/420.bin.{suffix}"));
        assert_eq!(read(&old).len(), 600);
        assert_eq!(m.finalize("stopped").unwrap().samples_written, 0);
    }
}
