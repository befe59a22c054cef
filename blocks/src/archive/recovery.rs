//! Start-up recovery of a channel directory: minutes an earlier run left open (their
//! journal is still there, e.g. after kill -9 or a power loss) are finalized: what the
//! journal and sidecar say is on disk is kept, everything else zeroed, and the sidecar and
//! SigMF metadata published in state `recovered`. A minute the new run writes again is
//! then resumed from that sidecar.

use std::fs;
use std::io;
use std::path::Path;

use super::journal::Journal;
use super::minute_file::{MinuteFile, MinutePaths};
use super::sidecar::{MinuteMeta, Sidecar};

/// The day directories (`YYYYMMDD`) of `channel_dir`, oldest first (none if it does not
/// exist yet).
pub fn day_dirs(channel_dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    let mut days: Vec<_> = match fs::read_dir(channel_dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    days.sort();
    Ok(days)
}

/// Finalizes every open minute in the newest `days` day directories of `channel_dir`.
/// Returns the sidecars published.
pub fn recover(channel_dir: &Path, days: usize, channel_name: &str) -> io::Result<Vec<Sidecar>> {
    let day_dirs = day_dirs(channel_dir)?;
    let mut out = Vec::new();
    for day in day_dirs.iter().rev().take(days) {
        let mut journals: Vec<(i64, std::path::PathBuf)> = fs::read_dir(day)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "journal"))
            .filter_map(|p| {
                let stem = p.file_stem()?.to_str()?.parse::<i64>().ok()?;
                (stem % 60 == 0).then_some((stem / 60, p))
            })
            .collect();
        journals.sort();
        for (minute, journal) in journals {
            let spm = Journal::read(&journal)?.map_or(0, |j| j.samples_per_minute);
            let paths = MinutePaths::new(channel_dir, minute);
            let old: Option<Sidecar> = fs::read(&paths.json)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            // The rate: from the journal, else the sidecar; neither means nothing was written.
            let rate = if spm > 0 && spm % 60 == 0 {
                spm / 60
            } else if let Some(s) = &old {
                s.sample_rate
            } else {
                fs::remove_file(&journal)?;
                continue;
            };
            let meta = old.map_or_else(
                || MinuteMeta {
                    channel_name: channel_name.into(),
                    ..MinuteMeta::default()
                },
                |s| MinuteMeta {
                    channel_name: s.channel_name,
                    frequency_hz: s.frequency_hz,
                    time: s.time,
                },
            );
            let (m, _) = MinuteFile::open(channel_dir, minute, rate, meta)?;
            out.push(m.finalize("recovered")?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::prelude::C32;

    #[test]
    fn finalizes_minutes_left_open_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let meta = MinuteMeta {
            channel_name: "C".into(),
            frequency_hz: Some(7e6),
            time: None,
        };
        let (mut done, _) = MinuteFile::open(d.path(), 1, 10, meta.clone()).unwrap();
        done.write(0, &[C32::new(1.0, 0.0); 600]).unwrap();
        done.finalize("complete").unwrap();
        let (mut open, _) = MinuteFile::open(d.path(), 2, 10, meta).unwrap();
        open.write(100, &[C32::new(1.0, 0.0); 50]).unwrap();
        open.flush().unwrap();
        std::mem::forget(open);
        let got = recover(d.path(), 2, "C").unwrap();
        assert_eq!(got.len(), 1);
        let s = &got[0];
        assert_eq!(
            (s.minute_boundary, s.samples_written, s.gap_count),
            (120, 50, 2)
        );
        assert_eq!(s.state, "recovered");
        assert_eq!(s.frequency_hz, Some(7e6));
        assert!(!d.path().join("19700101/120.journal").exists());
        assert!(recover(d.path(), 2, "C").unwrap().is_empty());
        assert!(recover(&d.path().join("none"), 2, "C").unwrap().is_empty());
    }
}
