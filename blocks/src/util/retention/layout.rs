//! How a sink's files group into deletable units, and the layout of sinks that rotate files
//! (`<stem>-<UTC stamp><ext>` beside the configured path, with companion files such as
//! SQLite's `-wal`). Units are deleted whole, oldest first.

use std::io;
use std::path::{Path, PathBuf};

use super::space::allocated;

/// One deletable unit of a sink's data: the files of one archive minute, one rotated file
/// and its companions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// Unix seconds of the unit's data (its minute, its file's start): oldest go first.
    pub time: i64,
    /// The directory of its files, whose `.confirmed` marker is consulted.
    pub dir: PathBuf,
    /// The file name a marker lists to confirm the unit.
    pub primary: String,
    /// Its files (all in `dir`).
    pub files: Vec<PathBuf>,
    /// Space they take on disk.
    pub bytes: u64,
}

impl Unit {
    /// The path of its primary file.
    pub fn primary_path(&self) -> PathBuf {
        self.dir.join(&self.primary)
    }

    /// A unit of `files` (those that exist are kept and measured).
    pub fn of(time: i64, dir: &Path, primary: &str, files: Vec<PathBuf>) -> Unit {
        let mut bytes = 0;
        let files: Vec<PathBuf> = files
            .into_iter()
            .filter(|f| match std::fs::symlink_metadata(f) {
                Ok(m) => {
                    bytes += allocated(&m);
                    true
                }
                Err(_) => false,
            })
            .collect();
        Unit {
            time,
            dir: dir.to_path_buf(),
            primary: primary.to_string(),
            files,
            bytes,
        }
    }
}

/// How a sink's files are laid out.
pub trait Layout: Send {
    /// The directory holding all of the sink's files (created at start; its filesystem is
    /// the one whose free space counts).
    fn root(&self) -> &Path;
    /// Every unit of the sink's files on disk.
    fn scan(&self) -> io::Result<Vec<Unit>>;
    /// The unit whose primary file is `primary`, measured now.
    fn unit(&self, primary: &Path) -> Option<Unit>;
    /// False while the unit's files say it is unfinished (a journal of an open minute).
    fn finished(&self, unit: &Unit) -> bool {
        let _ = unit;
        true
    }
}

/// Unix seconds of a `YYYYMMDDTHHMMSS` stamp at the start of `s`.
pub fn parse_stamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 15 || b[8] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYYMMDDTHHMMSSZ` of Unix second `t`.
pub fn stamp(t: i64) -> String {
    let (y, mo, d, h, mi, s) = flow_framework::tag::civil_from_unix(t);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// Files named `<stem>-<stamp><ext>` in one directory (plus the unrotated `<stem><ext>`),
/// each a unit with its companions (`<name><suffix>`, e.g. SQLite's `-wal`).
#[derive(Clone, Debug)]
pub struct Rotated {
    dir: PathBuf,
    stem: String,
    ext: String,
    companions: Vec<&'static str>,
    /// A companion that, when longer than this many bytes, means the unit is unfinished.
    busy: Option<(&'static str, u64)>,
}

impl Rotated {
    /// The rotated files of base path `base` (`dir/stem.ext`).
    pub fn new(base: &Path) -> Rotated {
        let dir = base
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let stem = base
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = base
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        Rotated {
            dir,
            stem,
            ext,
            companions: Vec::new(),
            busy: None,
        }
    }

    /// Files `<name><suffix>` that belong to each unit.
    pub fn with_companions(mut self, suffixes: &[&'static str]) -> Rotated {
        self.companions = suffixes.to_vec();
        self
    }

    /// A unit whose companion `<name><suffix>` holds more than `bytes` is unfinished.
    pub fn busy_when(mut self, suffix: &'static str, bytes: u64) -> Rotated {
        self.busy = Some((suffix, bytes));
        self
    }

    /// The path of the file started at Unix second `t`: `<dir>/<stem>-<stamp><ext>`.
    pub fn path_at(&self, t: i64) -> PathBuf {
        self.dir
            .join(format!("{}-{}{}", self.stem, stamp(t), self.ext))
    }

    /// The path of the file started at Unix millisecond `ms`:
    /// `<dir>/<stem>-<YYYYMMDDTHHMMSSmmmZ><ext>` (names sort in time order).
    pub fn path_at_ms(&self, ms: i64) -> PathBuf {
        let s = stamp(ms.div_euclid(1000));
        self.dir.join(format!(
            "{}-{}{:03}Z{}",
            self.stem,
            &s[..15],
            ms.rem_euclid(1000),
            self.ext
        ))
    }

    /// True if `name` is one of the layout's primary files.
    fn matches(&self, name: &str) -> bool {
        let Some(rest) = name.strip_suffix(self.ext.as_str()) else {
            return false;
        };
        rest == self.stem
            || rest
                .strip_prefix(self.stem.as_str())
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|stamp| parse_stamp(stamp).is_some())
    }

    fn unit_named(&self, name: &str) -> Option<Unit> {
        let path = self.dir.join(name);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let stamp = name
            .strip_prefix(self.stem.as_str())
            .and_then(|r| r.strip_prefix('-'))
            .and_then(parse_stamp);
        let time = stamp.unwrap_or_else(|| {
            meta.modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64)
        });
        let mut files = vec![path.clone()];
        for s in &self.companions {
            files.push(self.dir.join(format!("{name}{s}")));
        }
        Some(Unit::of(time, &self.dir, name, files))
    }
}

impl Layout for Rotated {
    fn root(&self) -> &Path {
        &self.dir
    }

    fn scan(&self) -> io::Result<Vec<Unit>> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                self.matches(&name).then(|| self.unit_named(&name))?
            })
            .collect())
    }

    fn unit(&self, primary: &Path) -> Option<Unit> {
        let name = primary.file_name()?.to_string_lossy().into_owned();
        self.unit_named(&name)
    }

    fn finished(&self, u: &Unit) -> bool {
        match self.busy {
            Some((suffix, bytes)) => {
                std::fs::metadata(u.dir.join(format!("{}{suffix}", u.primary)))
                    .map_or(true, |m| m.len() <= bytes)
            }
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_rotated_files_group_with_companions() {
        assert_eq!(parse_stamp("20231114T221320Z"), Some(1_700_000_000));
        assert_eq!(parse_stamp("20231114T221320123Z"), Some(1_700_000_000));
        assert_eq!(stamp(1_700_000_000), "20231114T221320Z");
        assert_eq!(parse_stamp("2023111xT221320Z"), None);
        assert_eq!(parse_stamp("20231314T221320Z"), None);
        let d = tempfile::tempdir().unwrap();
        let r = Rotated::new(&d.path().join("m.sqlite"))
            .with_companions(&["-wal", ".flowjournal"])
            .busy_when(".flowjournal", 8);
        assert_eq!(
            r.path_at(1_700_000_000),
            d.path().join("m-20231114T221320Z.sqlite")
        );
        assert_eq!(
            r.path_at_ms(1_700_000_000_123),
            d.path().join("m-20231114T221320123Z.sqlite")
        );
        let old = d.path().join("m-20231114T221320123Z.sqlite");
        std::fs::write(&old, [1u8; 5000]).unwrap();
        std::fs::write(d.path().join("m-20231114T221320123Z.sqlite-wal"), [1u8; 10]).unwrap();
        std::fs::write(d.path().join("m.sqlite"), b"x").unwrap();
        std::fs::write(d.path().join("other-20231114T221320Z.sqlite"), b"x").unwrap();
        std::fs::write(d.path().join("m-notastamp.sqlite"), b"x").unwrap();
        let mut units = r.scan().unwrap();
        units.sort_by(|a, b| a.primary.cmp(&b.primary));
        assert_eq!(units.len(), 2, "{units:?}");
        let u = &units[0];
        assert_eq!(u.primary, "m-20231114T221320123Z.sqlite");
        assert_eq!((u.time, u.files.len()), (1_700_000_000, 2));
        assert!(u.bytes >= 5000);
        assert_eq!(units[1].primary, "m.sqlite");
        assert!(r.finished(u));
        std::fs::write(
            d.path().join("m-20231114T221320123Z.sqlite.flowjournal"),
            [0u8; 100],
        )
        .unwrap();
        assert!(!r.finished(u));
        assert_eq!(r.unit(&old).unwrap().files.len(), 3);
    }
}
