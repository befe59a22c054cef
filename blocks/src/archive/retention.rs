//! The archive's files as retention units: one unit per minute (`<minute>.bin` or its
//! compressed `<minute>.bin.zst`, with its `.json` and `.sigmf-meta`, in its day directory), plus minutes moved aside as
//! `<name>.conflict-<ns>`. A minute with a journal is open (or awaits recovery) and is never
//! deleted. The primary file a `.confirmed` marker lists is `<minute>.bin`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::util::retention::{Layout, Unit};

/// The layout of one channel directory.
pub struct MinuteLayout {
    channel_dir: PathBuf,
}

impl MinuteLayout {
    /// The minutes under `channel_dir`.
    pub fn new(channel_dir: &Path) -> Self {
        MinuteLayout {
            channel_dir: channel_dir.to_path_buf(),
        }
    }
}

const EXTS: [&str; 4] = ["bin", "bin.zst", "json", "sigmf-meta"];

/// (minute seconds, conflict suffix) of an archive file name, if it is one.
fn parse(name: &str) -> Option<(i64, String)> {
    let (stem, rest) = name.split_once('.')?;
    let secs: i64 = stem.parse().ok().filter(|s: &i64| s % 60 == 0)?;
    let (ext, suffix) = match rest.split_once(".conflict-") {
        Some((e, s)) => (e, format!(".conflict-{s}")),
        None => (rest, String::new()),
    };
    (EXTS.contains(&ext) || (ext == "journal" && !suffix.is_empty())).then_some((secs, suffix))
}

fn is_day(name: &str) -> bool {
    name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit())
}

impl Layout for MinuteLayout {
    fn root(&self) -> &Path {
        &self.channel_dir
    }

    fn scan(&self) -> io::Result<Vec<Unit>> {
        let days = match std::fs::read_dir(&self.channel_dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut units = Vec::new();
        for day in days.flatten() {
            if !day.file_name().to_str().is_some_and(is_day) || !day.path().is_dir() {
                continue;
            }
            let mut groups: BTreeMap<(i64, String), Vec<PathBuf>> = BTreeMap::new();
            for f in std::fs::read_dir(day.path())?.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if let Some(key) = parse(&name) {
                    groups.entry(key).or_default().push(f.path());
                }
            }
            for ((secs, suffix), mut files) in groups {
                files.sort_by_key(|f| {
                    EXTS.iter()
                        .position(|e| f.to_string_lossy().contains(&format!(".{e}")))
                });
                let primary = format!("{secs}.bin{suffix}");
                units.push(Unit::of(secs, &day.path(), &primary, files));
            }
        }
        Ok(units)
    }

    fn unit(&self, primary: &Path) -> Option<Unit> {
        let dir = primary.parent()?;
        let name = primary.file_name()?.to_str()?;
        let (secs, suffix) = parse(name)?;
        let files = EXTS
            .iter()
            .map(|e| dir.join(format!("{secs}.{e}{suffix}")))
            .collect();
        Some(Unit::of(secs, dir, name, files))
    }

    fn finished(&self, u: &Unit) -> bool {
        u.primary.contains(".conflict-") || !u.dir.join(format!("{}.journal", u.time)).exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_group_their_files_and_open_minutes_are_unfinished() {
        let d = tempfile::tempdir().unwrap();
        let day = d.path().join("20231114");
        std::fs::create_dir_all(&day).unwrap();
        for n in [
            "1700000040.bin",
            "1700000040.json",
            "1700000040.sigmf-meta",
            "1700000100.bin",
            "1700000100.json",
            "1700000100.journal",
            "1700000040.bin.conflict-12",
            ".1700000040.json.tmp",
            ".confirmed",
            "1700000041.bin",
            "1700000160.bin.zst",
            "1700000160.json",
        ] {
            std::fs::write(day.join(n), b"x").unwrap();
        }
        std::fs::create_dir_all(d.path().join("notaday")).unwrap();
        let l = MinuteLayout::new(d.path());
        let mut u = l.scan().unwrap();
        u.sort_by(|a, b| a.primary.cmp(&b.primary));
        let names: Vec<(&str, usize, bool)> = u
            .iter()
            .map(|u| (u.primary.as_str(), u.files.len(), l.finished(u)))
            .collect();
        assert_eq!(
            names,
            [
                ("1700000040.bin", 3, true),
                ("1700000040.bin.conflict-12", 1, true),
                ("1700000100.bin", 2, false),
                ("1700000160.bin", 2, true),
            ]
        );
        assert_eq!(u[0].time, 1_700_000_040);
        let one = l.unit(&day.join("1700000040.bin")).unwrap();
        assert_eq!(one, u[0]);
        let compressed = l.unit(&day.join("1700000160.bin")).unwrap();
        assert_eq!(compressed, u[3]);
    }
}
