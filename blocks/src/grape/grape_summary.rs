//! `grape_summary`: at the end of a run, a short report of what a GRAPE station recorded and
//! measured: per archive channel the minutes written by this run, their completeness and
//! gaps (from the `binary_archive` sidecars), and per station the D_clock measurements
//! received from `tone_detect`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use flow_framework::prelude::*;

/// Parameters of `grape_summary`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrapeSummaryParams {
    /// The `binary_archive` directory (its `dir`) whose minutes to report; none: only the
    /// tone measurements are reported.
    #[serde(default)]
    pub archive_dir: Option<PathBuf>,
    /// Also write the report to this file (it is always printed).
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// Measurements of one station.
#[derive(Debug, Default, Clone, PartialEq)]
struct Station {
    d_clock_ms: Vec<f64>,
    uncertainty_ms: Vec<f64>,
    snr_db: Vec<f64>,
}

/// Collects tone detections; reports at the end.
pub struct GrapeSummary {
    p: GrapeSummaryParams,
    started: SystemTime,
    stations: Vec<(String, Station)>,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// One archive channel's minutes, from their sidecars.
#[derive(Debug, Default, PartialEq)]
struct Channel {
    minutes: u64,
    complete: u64,
    completeness_sum: f64,
    gaps: u64,
}

/// Reads the sidecars (`<dir>/<CHANNEL>/<YYYYMMDD>/<minute>.json`) modified since `since`.
fn scan_archive(dir: &Path, since: SystemTime) -> Vec<(String, Channel)> {
    let mut out: Vec<(String, Channel)> = Vec::new();
    let Ok(channels) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut channels: Vec<PathBuf> = channels
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    channels.sort();
    for ch in channels {
        let name = ch
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut c = Channel::default();
        for day in std::fs::read_dir(&ch)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
        {
            for f in std::fs::read_dir(day.path())
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
            {
                let path = f.path();
                let fresh = f
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t >= since);
                if path.extension().is_none_or(|x| x != "json") || !fresh {
                    continue;
                }
                let Some(j) = std::fs::read(&path)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                else {
                    continue;
                };
                let pct = j["completeness_pct"].as_f64().unwrap_or(0.0);
                c.minutes += 1;
                c.complete += u64::from(pct >= 100.0);
                c.completeness_sum += pct;
                c.gaps += j["gap_count"].as_u64().unwrap_or(0);
            }
        }
        if c.minutes > 0 {
            out.push((name, c));
        }
    }
    out
}

/// True when some minute this run wrote is still open (its journal exists, written since
/// `since`): the archive has not finalized it yet.
fn minutes_open(dir: &Path, since: SystemTime) -> bool {
    let entries = |p: &Path| {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect::<Vec<_>>()
    };
    entries(dir)
        .iter()
        .filter(|c| c.is_dir())
        .flat_map(|c| entries(c))
        .filter(|d| d.is_dir())
        .flat_map(|d| entries(&d))
        .any(|f| {
            f.extension().is_some_and(|x| x == "journal")
                && std::fs::metadata(&f)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t >= since)
        })
}

/// How long the report waits for the archive to finalize its last minutes.
const FINALIZE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl GrapeSummary {
    fn report(&self) -> String {
        let mut s = String::from("\nGRAPE summary\n");
        if let Some(dir) = &self.p.archive_dir {
            // The archive stops on its own schedule: give it a moment to finalize (and so
            // complete the sidecars of) the minutes it still has open.
            // File times come from a coarse clock: allow a little before the start.
            let since = self.started - std::time::Duration::from_secs(1);
            let deadline = std::time::Instant::now() + FINALIZE_WAIT;
            while minutes_open(dir, since) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let channels = scan_archive(dir, since);
            if channels.is_empty() {
                let _ = writeln!(
                    s,
                    "  archive {}: no minute written by this run",
                    dir.display()
                );
            }
            for (name, c) in channels {
                let _ = writeln!(
                    s,
                    "  channel {name}: {} minutes written ({} complete), mean completeness {:.2} %, {} gaps",
                    c.minutes,
                    c.complete,
                    c.completeness_sum / c.minutes as f64,
                    c.gaps
                );
            }
        }
        if self.stations.is_empty() {
            let _ = writeln!(s, "  no station detected");
            return s;
        }
        let _ = writeln!(
            s,
            "  {:<6} {:>7} {:>14} {:>14} {:>9}",
            "station", "minutes", "D_clock (ms)", "± (ms, mean)", "SNR (dB)"
        );
        for (name, st) in &self.stations {
            let _ = writeln!(
                s,
                "  {:<7} {:>7} {:>14.3} {:>14.3} {:>9.1}",
                name,
                st.d_clock_ms.len(),
                mean(&st.d_clock_ms),
                mean(&st.uncertainty_ms),
                mean(&st.snr_db)
            );
        }
        s
    }
}

impl Block for GrapeSummary {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        while let Some(m) = io.msg_in[0].recv() {
            let Some(station) = m.get("station").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let f = |k: &str| m.get(k).and_then(Value::as_f64);
            let Some(d) = f("d_clock_ms") else { continue };
            let idx = match self.stations.iter().position(|(s, _)| *s == station) {
                Some(i) => i,
                None => {
                    self.stations.push((station, Station::default()));
                    self.stations.len() - 1
                }
            };
            let st = &mut self.stations[idx].1;
            st.d_clock_ms.push(d);
            st.uncertainty_ms
                .push(f("uncertainty_ms").unwrap_or(f64::NAN));
            st.snr_db.push(f("snr_db").unwrap_or(f64::NAN));
        }
        Ok(Flow::Continue)
    }

    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        self.work(io)?;
        let text = self.report();
        print!("{text}");
        let _ = std::io::stdout().flush();
        if let Some(path) = &self.p.path {
            std::fs::write(path, &text)
                .map_err(|e| BlockError::io(format!("writing {}", path.display()), e))?;
        }
        Ok(())
    }
}

/// Registration of `grape_summary`.
pub struct GrapeSummaryDef;

impl BlockDef for GrapeSummaryDef {
    type Params = GrapeSummaryParams;
    const NAME: &'static str = "grape_summary";
    const SUMMARY: &'static str =
        "End-of-run GRAPE report: archive minutes, completeness, gaps, D_clock per station.";
    const DOC: &'static str =
        "Message input `in`: `tone_detection` messages from `tone_detect`. At \
        the end of the run prints (and optionally writes to `path`) a report: for each channel \
        of the `binary_archive` at `archive_dir`, the minutes this run wrote, how many are \
        complete, their mean completeness and their gaps (read from the sidecars); and for \
        each station, the minutes measured with the mean D_clock, uncertainty and SNR.";
    const EXAMPLE: &'static str = "archive_dir = \"grape-data/raw\"";

    fn signature(_: &GrapeSummaryParams) -> Signature {
        Signature::new().message_input("in").blocking()
    }

    fn build(p: &GrapeSummaryParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(GrapeSummary {
            p: p.clone(),
            started: SystemTime::now(),
            stations: Vec::new(),
        }))
    }
}

register_block!(GrapeSummaryDef);

#[cfg(test)]
mod tests {
    use super::*;
    use flow_framework::harness::Harness;
    use std::path::{Path, PathBuf};

    /// A temporary archive with one channel-day directory, and where the report goes.
    fn archive() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("WWV_10_MHz/20251206");
        std::fs::create_dir_all(&day).unwrap();
        let report = dir.path().join("report.txt");
        (dir, day, report)
    }

    /// A summary of `dir` written to `report`.
    fn summary(dir: &tempfile::TempDir, report: &Path) -> Harness {
        let p = GrapeSummaryParams {
            archive_dir: Some(dir.path().to_path_buf()),
            path: Some(report.to_path_buf()),
        };
        Harness::of::<GrapeSummaryDef>(p, &[]).unwrap()
    }

    #[test]
    fn reports_archive_minutes_and_station_means() {
        let (dir, day, report) = archive();
        let mut h = summary(&dir, &report);
        // Sidecars written after the block started count.
        std::fs::write(
            day.join("1765032240.json"),
            r#"{"completeness_pct": 100.0, "gap_count": 0}"#,
        )
        .unwrap();
        std::fs::write(
            day.join("1765032300.json"),
            r#"{"completeness_pct": 99.5, "gap_count": 2}"#,
        )
        .unwrap();
        std::fs::write(day.join("1765032300.bin"), b"").unwrap();
        for (station, d) in [("WWV", 6.5), ("WWV", 6.7), ("WWVH", 22.2)] {
            h.push_message(
                0,
                Message::new("tone_detection")
                    .with("station", station)
                    .with("d_clock_ms", d)
                    .with("uncertainty_ms", 0.01)
                    .with("snr_db", 12.0),
            );
        }
        h.run_to_end().unwrap();
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(text.contains("channel WWV_10_MHz: 2 minutes written (1 complete), mean completeness 99.75 %, 2 gaps"), "{text}");
        assert!(text.contains("  WWV           2          6.600"), "{text}");
        assert!(text.contains("  WWVH          1         22.200"), "{text}");
    }

    #[test]
    fn waits_for_the_archive_to_finalize_its_open_minutes() {
        let (dir, day, report) = archive();
        let mut h = summary(&dir, &report);
        // The last minute is still open when the summary stops: its sidecar says little.
        let json = day.join("1765032240.json");
        std::fs::write(&json, r#"{"completeness_pct": 0.0, "gap_count": 1}"#).unwrap();
        let journal = day.join("1765032240.journal");
        std::fs::write(&journal, b"").unwrap();
        // The archive finalizes it a moment later: sidecar first, then the journal goes.
        let archive = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            std::fs::write(&json, r#"{"completeness_pct": 100.0, "gap_count": 0}"#).unwrap();
            std::fs::remove_file(&journal).unwrap();
        });
        h.run_to_end().unwrap();
        archive.join().unwrap();
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(
            text.contains("1 minutes written (1 complete), mean completeness 100.00 %, 0 gaps"),
            "{text}"
        );
    }
}
