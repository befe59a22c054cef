//! The table `flow run` prints at the end: per block, items in and out, drops, errors,
//! restarts, its own counters and its final state.

use std::fmt::Write;

use crate::log::group_thousands;
use crate::runtime::{BlockHandle, RunReport};

pub use crate::service::snapshot::state_name;

/// The summary table, then how long the run took and which blocks failed.
pub fn render(blocks: &[BlockHandle], report: &RunReport) -> String {
    let header = [
        "block", "type", "in", "out", "dropped", "errors", "restarts", "state", "counters",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for b in blocks {
        let m = &b.metrics;
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let counters: Vec<String> = m
            .custom_counters()
            .iter()
            .map(|(k, v)| format!("{k}={}", group_thousands(*v)))
            .collect();
        let items_in = m.total_in() + load(&m.messages_in);
        let items_out = m.total_out() + load(&m.messages_out);
        rows.push(vec![
            b.name.clone(),
            b.type_name.to_string(),
            group_thousands(items_in),
            group_thousands(items_out),
            group_thousands(load(&m.dropped)),
            group_thousands(load(&m.errors)),
            group_thousands(load(&m.restarts)),
            state_name(m.state()).to_string(),
            counters.join(" "),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c].saturating_sub(cell.chars().count());
            // Numbers right-aligned, text left-aligned.
            if (2..=6).contains(&c) {
                let _ = write!(line, "{}{cell}  ", " ".repeat(pad));
            } else {
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(
        out,
        "finished in {}",
        humantime::format_duration(round_ms(report.elapsed))
    );
    for (name, error) in &report.failed {
        let _ = writeln!(out, "block `{name}` failed: {error}");
    }
    out
}

fn round_ms(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.as_millis().min(u64::MAX as u128) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{BlockMetrics, BlockState};
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn renders_an_aligned_table_with_counters_and_failures() {
        let src = Arc::new(BlockMetrics::new(0, 1));
        src.items_out[0].store(1_234_567, Ordering::Relaxed);
        src.set_state(BlockState::Done);
        let sink = Arc::new(BlockMetrics::new(1, 0));
        sink.items_in[0].store(1_234_000, Ordering::Relaxed);
        sink.dropped.store(567, Ordering::Relaxed);
        sink.errors.store(2, Ordering::Relaxed);
        sink.restarts.store(1, Ordering::Relaxed);
        sink.counter("files").add(3);
        sink.set_state(BlockState::Failed);
        let blocks = vec![
            BlockHandle {
                name: "src".into(),
                type_name: "t_source",
                metrics: src,
                expected_items: None,
                live: false,
                params: crate::runtime::ParamHandle::detached("src", "t_source"),
            },
            BlockHandle {
                name: "archive".into(),
                type_name: "t_sink",
                metrics: sink,
                expected_items: None,
                live: false,
                params: crate::runtime::ParamHandle::detached("archive", "t_sink"),
            },
        ];
        let report = RunReport {
            elapsed: Duration::from_micros(1_500_400),
            failed: vec![("archive".into(), "disk full".into())],
        };
        assert_eq!(
            render(&blocks, &report),
            "block    type             in        out  dropped  errors  restarts  state   counters
src      t_source          0  1,234,567        0       0         0  done
archive  t_sink    1,234,000          0      567       2         1  failed  files=3
finished in 1s 500ms
block `archive` failed: disk full
"
        );
    }
}
