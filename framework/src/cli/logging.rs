//! Logging for the `flow` command: `tracing` to stderr, level from `-v` (warn, info, debug,
//! trace) unless `RUST_LOG` says otherwise. While the live status display is on, log lines
//! are printed above it instead of through it.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};

use indicatif::MultiProgress;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The status display currently on screen, if any.
static PROGRESS: OnceLock<Mutex<Option<MultiProgress>>> = OnceLock::new();

/// The filter for `-v` given `verbose` times (`RUST_LOG`, when set, wins).
pub fn filter(verbose: u8, rust_log: Option<&str>) -> EnvFilter {
    if let Some(f) = rust_log
        .filter(|s| !s.trim().is_empty())
        .and_then(|s| EnvFilter::try_new(s).ok())
    {
        return f;
    }
    EnvFilter::new(match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    })
}

/// Installs the subscriber (once per process; later calls do nothing).
pub fn init(verbose: u8) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(verbose, rust_log.as_deref()))
        .with_writer(StderrAboveProgress)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Routes log lines above `progress` while it is shown (`None` when it is gone).
pub fn set_progress(progress: Option<MultiProgress>) {
    let slot = PROGRESS.get_or_init(|| Mutex::new(None));
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = progress;
}

/// A `MakeWriter` for stderr that suspends the status display while a line is written.
struct StderrAboveProgress;

/// One log line, written out when dropped.
struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let write = || {
            let _ = std::io::stderr().lock().write_all(&buf);
        };
        let progress = PROGRESS
            .get()
            .and_then(|m| m.lock().ok().and_then(|p| p.clone()));
        match progress {
            Some(p) => p.suspend(write),
            None => write(),
        }
    }
}

impl<'a> MakeWriter<'a> for StderrAboveProgress {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_levels_and_rust_log_wins() {
        assert_eq!(filter(0, None).to_string(), "warn");
        assert_eq!(filter(1, None).to_string(), "info");
        assert_eq!(filter(2, Some("")).to_string(), "debug");
        assert_eq!(filter(7, None).to_string(), "trace");
        assert_eq!(
            filter(0, Some("flow_framework=debug")).to_string(),
            "flow_framework=debug"
        );
    }
}
