//! The live status of `flow run` on a terminal: one line per block (items/s in and out,
//! drops, errors, restarts, state and health, fill of its input edges), refreshed twice a
//! second, and a progress bar when every source knows how many items it will produce.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::logging;
use super::summary::state_name;
use crate::graph::Graph;
use crate::log::group_thousands;
use crate::metrics::Health;
use crate::runtime::{BlockHandle, Flowgraph};

/// How often the display is redrawn.
pub const REFRESH: Duration = Duration::from_millis(500);

/// The status display.
pub struct Status {
    multi: MultiProgress,
    lines: Vec<ProgressBar>,
    progress: Option<ProgressBar>,
    sources: Vec<usize>,
    inputs_of: Vec<Vec<usize>>,
    prev: Vec<(u64, u64)>,
    prev_at: Instant,
    name_width: usize,
}

impl Status {
    /// A display for `fg`, started from `graph`.
    pub fn new(graph: &Graph, fg: &Flowgraph) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
        let style = ProgressStyle::with_template("{msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let lines = fg
            .blocks
            .iter()
            .map(|_| multi.add(ProgressBar::new_spinner().with_style(style.clone())))
            .collect();
        let sources: Vec<usize> = (0..fg.blocks.len())
            .filter(|&i| {
                graph
                    .blocks
                    .get(i)
                    .is_some_and(|b| b.signature.inputs.is_empty())
            })
            .collect();
        let expected: Option<u64> = sources.iter().map(|&i| fg.blocks[i].expected_items).sum();
        let progress = expected.filter(|&n| n > 0 && !sources.is_empty()).map(|n| {
            let bar_style = ProgressStyle::with_template(
                "{bar:40} {percent:>3}%  {human_pos}/{human_len} items  eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            multi.add(ProgressBar::new(n).with_style(bar_style))
        });
        let inputs_of = fg
            .blocks
            .iter()
            .map(|b| {
                let prefix = format!("{}.", b.name);
                (0..fg.edges.len())
                    .filter(|&e| fg.edges[e].to.starts_with(&prefix))
                    .collect()
            })
            .collect();
        logging::set_progress(Some(multi.clone()));
        Status {
            multi,
            lines,
            progress,
            sources,
            inputs_of,
            prev: fg.blocks.iter().map(|_| (0, 0)).collect(),
            prev_at: Instant::now(),
            name_width: fg.blocks.iter().map(|b| b.name.len()).max().unwrap_or(0),
        }
    }

    /// Redraws from the current metrics.
    pub fn refresh(&mut self, fg: &Flowgraph) {
        let dt = self.prev_at.elapsed().as_secs_f64().max(1e-3);
        self.prev_at = Instant::now();
        for (i, b) in fg.blocks.iter().enumerate() {
            let (tin, tout) = (b.metrics.total_in(), b.metrics.total_out());
            let (pin, pout) = self.prev[i];
            self.prev[i] = (tin, tout);
            let fills: Vec<(String, f64)> = self.inputs_of[i]
                .iter()
                .map(|&e| {
                    let edge = &fg.edges[e];
                    let port = edge.to.rsplit('.').next().unwrap_or("").to_string();
                    (port, edge.fill())
                })
                .collect();
            let rates = (
                tin.saturating_sub(pin) as f64 / dt,
                tout.saturating_sub(pout) as f64 / dt,
            );
            if let Some(line) = self.lines.get(i) {
                line.set_message(status_line(self.name_width, b, rates, &fills));
            }
        }
        if let Some(p) = &self.progress {
            let done: u64 = self
                .sources
                .iter()
                .map(|&i| fg.blocks[i].metrics.total_out())
                .sum();
            p.set_position(done.min(p.length().unwrap_or(u64::MAX)));
        }
    }

    /// Prints a line above the display.
    pub fn note(&self, msg: &str) {
        let _ = self.multi.println(msg);
    }

    /// Removes the display.
    pub fn finish(self) {
        logging::set_progress(None);
        for l in &self.lines {
            l.finish_and_clear();
        }
        if let Some(p) = &self.progress {
            p.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

/// `1.2k`, `3.4M`: a rate with an SI prefix.
pub fn si(x: f64) -> String {
    let (v, unit) = match x {
        x if x >= 1e9 => (x / 1e9, "G"),
        x if x >= 1e6 => (x / 1e6, "M"),
        x if x >= 1e3 => (x / 1e3, "k"),
        x => (x, ""),
    };
    if unit.is_empty() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}{unit}")
    }
}

/// One block's status line.
pub fn status_line(
    name_width: usize,
    b: &BlockHandle,
    rates: (f64, f64),
    fills: &[(String, f64)],
) -> String {
    let m = &b.metrics;
    let (health, reason) = m.health();
    let health = match health {
        Health::Ok => "ok".to_string(),
        Health::Degraded if reason.is_empty() => "degraded".to_string(),
        Health::Degraded => format!("degraded: {reason}"),
        Health::Failed if reason.is_empty() => "failed".to_string(),
        Health::Failed => format!("failed: {reason}"),
    };
    let mut s = format!(
        "{:name_width$}  in {:>6}/s  out {:>6}/s  drop {}  err {}  rst {}  {} {}",
        b.name,
        si(rates.0),
        si(rates.1),
        group_thousands(m.dropped.load(Ordering::Relaxed)),
        group_thousands(m.errors.load(Ordering::Relaxed)),
        group_thousands(m.restarts.load(Ordering::Relaxed)),
        state_name(m.state()),
        health
    );
    if !fills.is_empty() {
        let f: Vec<String> = fills
            .iter()
            .map(|(p, f)| format!("{p} {:.0}%", f * 100.0))
            .collect();
        s.push_str(&format!("  fill {}", f.join(" ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{BlockMetrics, BlockState};
    use std::sync::Arc;

    #[test]
    fn status_line_shows_rates_counts_state_health_and_fill() {
        let m = Arc::new(BlockMetrics::new(1, 1));
        m.dropped.store(1500, Ordering::Relaxed);
        m.set_state(BlockState::Running);
        m.set_health(Health::Degraded, "dropping");
        let b = BlockHandle {
            name: "fft".into(),
            type_name: "t",
            metrics: m,
            expected_items: None,
            live: false,
            params: crate::runtime::ParamHandle::detached("fft", "t"),
        };
        assert_eq!(
            status_line(5, &b, (2_500_000.0, 999.0), &[("in".into(), 0.125)]),
            "fft    in   2.5M/s  out    999/s  drop 1,500  err 0  rst 0  running degraded: dropping  fill in 12%"
        );
        assert_eq!(si(1234.0), "1.2k");
        assert_eq!(si(3.2e9), "3.2G");
    }
}
