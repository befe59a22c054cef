//! Rotation for sinks that write one growing file (`file_sink`, `message_sink`, `sqlite`):
//! with `rotate_every` and/or `rotate_bytes` the sink writes `<stem>-<UTC stamp><ext>` beside
//! its configured `path` and starts a new file when the period ends or the file is full, so
//! finished files can be uploaded and deleted by their limits. With `rotate_every` the stamp
//! is the period's start (aligned to the Unix epoch: `"1d"` gives one file per UTC day), so
//! a restart within the period continues its file; with `rotate_bytes` alone it is the
//! time the file was opened, to the millisecond (`YYYYMMDDTHHMMSSmmmZ`). A rotated file is
//! never overwritten: a name in use gets a `-N` suffix when the sink must not append to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::layout::Rotated;

/// When a new file starts.
#[derive(Clone, Debug)]
pub struct Rotator {
    layout: Rotated,
    every: Option<Duration>,
    bytes: Option<u64>,
    /// Period start (or opening time) and bytes of the current file.
    current: Option<(i64, u64)>,
    /// The millisecond stamp of the last file named by time (names only grow).
    last_ms: i64,
}

impl Rotator {
    /// Rotation of the files of base path `base`.
    pub fn new(base: &Path, every: Option<Duration>, bytes: Option<u64>) -> Rotator {
        Rotator {
            layout: Rotated::new(base),
            every: every.filter(|d| !d.is_zero()),
            bytes: bytes.filter(|b| *b > 0),
            current: None,
            last_ms: i64::MIN,
        }
    }

    /// True when the sink rotates at all.
    pub fn enabled(&self) -> bool {
        self.every.is_some() || self.bytes.is_some()
    }

    fn period_start(&self, now_s: i64) -> i64 {
        match self.every {
            Some(d) => {
                let p = d.as_secs().max(1) as i64;
                now_s.div_euclid(p) * p
            }
            None => now_s,
        }
    }

    /// The file to open at Unix millisecond `now_ms`: the period's file (`append`:
    /// continue it when it exists) or a fresh name.
    pub fn open_path(&mut self, now_ms: i64, append: bool) -> PathBuf {
        let now_s = now_ms.div_euclid(1000);
        let start = self.period_start(now_s);
        let base = match self.every {
            Some(_) => self.layout.path_at(start),
            None => {
                // Two files opened within a millisecond still get names in time order.
                self.last_ms = now_ms.max(self.last_ms.saturating_add(1));
                self.layout.path_at_ms(self.last_ms)
            }
        };
        let path = if append || !base.exists() {
            base
        } else {
            unique(&base)
        };
        let existing = std::fs::metadata(&path).map_or(0, |m| m.len());
        self.current = Some((start, existing));
        path
    }

    /// Sets the size of the current file (measured by the sink).
    pub fn set_bytes(&mut self, n: u64) {
        if let Some((_, b)) = self.current.as_mut() {
            *b = n;
        }
    }

    /// Notes `n` bytes written to the current file.
    pub fn wrote(&mut self, n: u64) {
        if let Some((_, b)) = self.current.as_mut() {
            *b += n;
        }
    }

    /// True when the current file must be closed before `n` more bytes are written at
    /// Unix second `now_s` (a file never stays empty for the size limit's sake).
    pub fn due(&self, now_s: i64, n: u64) -> bool {
        let Some((start, bytes)) = self.current else {
            return false;
        };
        let period_over = self
            .every
            .is_some_and(|d| now_s >= start + d.as_secs().max(1) as i64);
        let full = self.bytes.is_some_and(|max| bytes > 0 && bytes + n > max);
        period_over || full
    }

    /// The layout of the rotated files (for retention).
    pub fn layout(&self) -> Rotated {
        self.layout.clone()
    }
}

/// `path` with `-N` before its extension, the first N not in use.
fn unique(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..)
        .map(|n| path.with_file_name(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_align_to_the_epoch_and_sizes_rotate_without_overwriting() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("10hz/WWV.c32");
        let mut r = Rotator::new(&base, Some(Duration::from_secs(86_400)), None);
        assert!(r.enabled());
        let t = 1_700_000_000; // 2023-11-14T22:13:20Z
        let p = r.open_path(t * 1000 + 5, true);
        assert_eq!(p, d.path().join("10hz/WWV-20231114T000000Z.c32"));
        assert!(!r.due(t + 3600, 8));
        assert!(r.due(1_700_006_400, 8), "the next UTC day starts a file");

        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"x").unwrap();
        let mut s = Rotator::new(&base, None, Some(100));
        assert_eq!(
            s.open_path(t * 1000 + 5, true),
            d.path().join("10hz/WWV-20231114T221320005Z.c32")
        );
        let mut again = Rotator::new(&base, Some(Duration::from_secs(86_400)), None);
        assert_eq!(
            again.open_path(t * 1000, false),
            d.path().join("10hz/WWV-20231114T000000Z-1.c32"),
            "never overwritten"
        );
        assert_eq!(
            s.clone().open_path(t * 1000 + 5, false),
            d.path().join("10hz/WWV-20231114T221320006Z.c32"),
            "names grow even within a millisecond"
        );
        s.wrote(90);
        assert!(!s.due(t, 10));
        assert!(s.due(t, 11));
        assert!(!Rotator::new(&base, None, None).enabled());
    }
}
