//! The stall watchdog: is every block still doing its job?
//!
//! A block is **stalled** when, after the start-up grace, it is running and
//! - it is a live source whose `work` has not been called for `stall_after` (its thread is
//!   stuck: a live source's `work` returns at least every few hundred milliseconds), or
//! - its work is due (an input edge holds at least the items the block declared it needs,
//!   its `min_items`) and it has consumed, produced, sent and dropped nothing for
//!   `stall_after`.
//!
//! So each block's expected cadence follows from the flowgraph: a block is due as soon as
//! its upstream has delivered a chunk, whatever the rate (a 1024-point FFT of a 10 Hz
//! stream is due every 102 s, a sink of 20 kHz samples many times a second), and is allowed
//! `stall_after` to act on it.
//!
//! A quiet upstream is not a stall: a block with nothing to do is healthy. Nor is a full
//! downstream: a block whose output buffer has no room (its consumer does not read) is
//! held back, and only the consumer is reported. A block that
//! failed (stopped by an error) makes the flowgraph unhealthy too. The verdict drives
//! `flow run --systemd` (no watchdog ping while unhealthy, so systemd restarts the service)
//! and the block's visible health (red while stalled).

use std::time::{Duration, Instant};

use crate::graph::Graph;
use crate::metrics::{BlockState, Health};
use crate::runtime::Flowgraph;

/// What the watchdog concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Within the start-up grace.
    Starting,
    /// Every running block is making progress or has nothing to do.
    Healthy,
    /// These blocks are stalled or failed, with the reason.
    Unhealthy(Vec<(String, String)>),
}

#[derive(Debug, Clone, Copy)]
struct Track {
    calls: u64,
    progress: u64,
    calls_changed: Instant,
    progress_changed: Instant,
    stalled: bool,
    /// This block's stall deadline.
    stall_after: Duration,
}

/// Tracks block progress between checks.
#[derive(Debug)]
pub struct Watchdog {
    grace: Duration,
    started: Instant,
    tracks: Vec<Track>,
}

impl Watchdog {
    /// A watchdog for `fg`, started now.
    pub fn new(fg: &Flowgraph, stall_after: Duration, grace: Duration) -> Self {
        let now = Instant::now();
        let tracks = fg
            .blocks
            .iter()
            .map(|_| Track {
                calls: 0,
                progress: 0,
                calls_changed: now,
                progress_changed: now,
                stalled: false,
                stall_after,
            })
            .collect();
        Watchdog {
            grace,
            started: now,
            tracks,
        }
    }

    /// A watchdog for `fg`, which runs `graph`: `[flowgraph] stall_after` and
    /// `startup_grace`, with each block's own `stall_after` where it sets one (a block
    /// whose single call may legitimately take long, such as a daily conversion).
    pub fn for_graph(graph: &Graph, fg: &Flowgraph) -> Self {
        let mut w = Watchdog::new(fg, graph.settings.stall_after, graph.settings.startup_grace);
        for (t, b) in w.tracks.iter_mut().zip(&fg.blocks) {
            if let Some(d) = graph
                .blocks
                .iter()
                .find(|g| g.name == b.name)
                .and_then(|g| g.stall_after)
            {
                t.stall_after = d;
            }
        }
        w
    }

    /// Samples the flowgraph and returns the verdict (call it every second or so).
    pub fn check(&mut self, fg: &Flowgraph) -> Verdict {
        self.check_at(fg, Instant::now())
    }

    fn check_at(&mut self, fg: &Flowgraph, now: Instant) -> Verdict {
        let mut bad = Vec::new();
        for (b, t) in fg.blocks.iter().zip(&mut self.tracks) {
            let m = &b.metrics;
            let calls = m.work_calls.load(std::sync::atomic::Ordering::Relaxed);
            let progress = m.total_in()
                + m.total_out()
                + m.messages_in.load(std::sync::atomic::Ordering::Relaxed)
                + m.messages_out.load(std::sync::atomic::Ordering::Relaxed)
                + m.dropped.load(std::sync::atomic::Ordering::Relaxed);
            if calls != t.calls {
                t.calls = calls;
                t.calls_changed = now;
            }
            if progress != t.progress {
                t.progress = progress;
                t.progress_changed = now;
            }
            match m.state() {
                BlockState::Failed => {
                    bad.push((b.name.clone(), format!("failed: {}", m.last_error())));
                    continue;
                }
                BlockState::Running => {}
                _ => continue,
            }
            let inputs = || {
                fg.edges
                    .iter()
                    .filter(|e| e.to.split('.').next() == Some(b.name.as_str()))
            };
            let work_due = inputs().any(|e| e.work_due());
            // Waiting for room downstream is backpressure, not a stall of its own (the
            // block downstream that does not read is the one reported).
            let held_back = fg
                .edges
                .iter()
                .filter(|e| e.from.split('.').next() == Some(b.name.as_str()))
                .any(|e| e.holds_producer_back());
            let input_waiting = inputs()
                .map(|e| e.pending() as f64 / e.capacity().max(1) as f64)
                .fold(0.0, f64::max);
            let reason = if b.live && now.duration_since(t.calls_changed) >= t.stall_after {
                Some(format!(
                    "live source not polled for {}",
                    secs(now.duration_since(t.calls_changed))
                ))
            } else if work_due
                && !held_back
                && now.duration_since(t.progress_changed) >= t.stall_after
            {
                Some(format!(
                    "no progress for {} with its input {:.0}% full",
                    secs(now.duration_since(t.progress_changed)),
                    input_waiting * 100.0
                ))
            } else {
                None
            };
            let in_grace = now.duration_since(self.started) < self.grace;
            match reason {
                Some(r) if !in_grace => {
                    if !t.stalled {
                        tracing::error!(block = %b.name, "stalled: {r}");
                    }
                    t.stalled = true;
                    m.set_health(Health::Failed, &format!("stalled: {r}"));
                    bad.push((b.name.clone(), format!("stalled: {r}")));
                }
                _ if t.stalled => {
                    t.stalled = false;
                    tracing::info!(block = %b.name, "making progress again");
                    m.set_health(Health::Ok, "");
                }
                _ => {}
            }
        }
        if !bad.is_empty() {
            Verdict::Unhealthy(bad)
        } else if now.duration_since(self.started) < self.grace {
            Verdict::Starting
        } else {
            Verdict::Healthy
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    fn start(text: &str) -> Flowgraph {
        let g = load_str(text, "wd.toml", std::path::Path::new("."), &[])
            .unwrap_or_else(|d| panic!("{d}"));
        Flowgraph::start(&g).unwrap()
    }

    // `rt_counter` and `rt_check` are the runtime tests' blocks.
    const STUCK: &str = r#"
[flowgraph]
buffer_bytes = 4096
[blocks.src]
type = "rt_counter"
[blocks.stuck]
type = "rt_check"
inputs = ["src"]
hold_after_items = 1024
"#;

    #[test]
    fn a_block_with_input_waiting_and_no_progress_is_stalled_after_the_grace() {
        let fg = start(STUCK);
        let mut wd = Watchdog::new(&fg, Duration::from_secs(2), Duration::from_secs(1));
        let t0 = Instant::now();
        // Within the grace nothing is reported, whatever the blocks do.
        assert_eq!(
            wd.check_at(&fg, t0 + Duration::from_millis(500)),
            Verdict::Starting
        );
        // Wait (bounded) until the stuck block holds (its counters are then frozen for
        // good) with its input full.
        let deadline = Instant::now() + Duration::from_secs(10);
        while fg.blocks[1].metrics.counter("items").get() < 1024 || fg.edges[0].fill() < 1.0 {
            assert!(
                Instant::now() < deadline,
                "the stuck block never filled its input"
            );
            std::thread::yield_now();
        }
        let now = Instant::now().max(t0 + Duration::from_secs(1));
        assert_eq!(wd.check_at(&fg, now), Verdict::Healthy);
        match wd.check_at(&fg, now + Duration::from_millis(2500)) {
            Verdict::Unhealthy(v) => {
                assert_eq!(v.len(), 1, "{v:?}");
                assert_eq!(v[0].0, "stuck");
                let reason = &v[0].1;
                assert!(reason.starts_with("stalled: no progress for "), "{reason}");
                assert!(reason.ends_with(" s with its input 100% full"), "{reason}");
            }
            other => panic!("expected a stall, got {other:?}"),
        }
        assert_eq!(fg.blocks[1].metrics.health().0, Health::Failed);
        assert_eq!(
            fg.blocks[0].metrics.health().0,
            Health::Ok,
            "the source only waits: not stalled"
        );
        fg.stop();
        fg.wait();
    }

    #[test]
    fn an_idle_block_without_input_is_healthy() {
        let fg = start(
            r#"
[blocks.src]
type = "rt_counter"
count = 10
[blocks.sink]
type = "rt_check"
inputs = ["src"]
"#,
        );
        assert!(fg.wait_timeout(Duration::from_secs(10)));
        let mut wd = Watchdog::new(&fg, Duration::from_secs(1), Duration::ZERO);
        assert_eq!(
            wd.check_at(&fg, Instant::now() + Duration::from_secs(5)),
            Verdict::Healthy
        );
        fg.wait();
    }

    #[test]
    fn a_block_holding_part_of_a_chunk_waits_for_its_upstream_and_is_not_stalled() {
        // The source delivers 100 items and goes quiet; the sink needs 1000 per call, so its
        // work is not due however long it waits (a slow stream, not a stuck block).
        let fg = start(
            r#"
[blocks.src]
type = "rt_counter"
chunk = 100
pause_after = 100
[blocks.sink]
type = "rt_check"
inputs = ["src"]
min_items = 1000
"#,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while fg.blocks[0].metrics.total_out() < 100 {
            assert!(
                Instant::now() < deadline,
                "the source never wrote its items"
            );
            std::thread::yield_now();
        }
        assert_eq!(fg.edges[0].pending(), 100);
        assert!(!fg.edges[0].work_due());
        let mut wd = Watchdog::new(&fg, Duration::from_secs(1), Duration::ZERO);
        let now = Instant::now();
        assert_eq!(wd.check_at(&fg, now), Verdict::Healthy);
        assert_eq!(
            wd.check_at(&fg, now + Duration::from_secs(30)),
            Verdict::Healthy
        );
        fg.stop();
        fg.wait();
    }

    #[test]
    fn a_block_with_its_own_stall_after_is_given_that_long() {
        let text = format!(
            "[flowgraph]\nstall_after = \"1s\"\nstartup_grace = \"0s\"\n{}stall_after = \"1h\"\n",
            STUCK.replace("[flowgraph]\n", "")
        );
        let g = load_str(&text, "wd.toml", std::path::Path::new("."), &[])
            .unwrap_or_else(|d| panic!("{d}"));
        let fg = Flowgraph::start(&g).unwrap();
        let mut wd = Watchdog::for_graph(&g, &fg);
        let deadline = Instant::now() + Duration::from_secs(10);
        while fg.blocks[1].metrics.counter("items").get() < 1024 || !fg.edges[0].work_due() {
            assert!(Instant::now() < deadline, "the stuck block never held");
            std::thread::yield_now();
        }
        let now = Instant::now();
        assert_eq!(wd.check_at(&fg, now), Verdict::Healthy);
        // Past the flowgraph's 1 s but within the block's hour: not stalled.
        assert_eq!(
            wd.check_at(&fg, now + Duration::from_secs(30)),
            Verdict::Healthy
        );
        // Past the hour: stalled.
        assert!(matches!(
            wd.check_at(&fg, now + Duration::from_secs(3601)),
            Verdict::Unhealthy(_)
        ));
        fg.stop();
        fg.wait();
    }

    #[test]
    fn only_the_stuck_block_is_reported_not_the_ones_it_holds_back() {
        let fg = start(
            r#"
[flowgraph]
buffer_bytes = 4096
[blocks.src]
type = "rt_counter"
[blocks.mid]
type = "t_copy"
inputs = ["src"]
[blocks.stuck]
type = "rt_check"
inputs = ["mid"]
hold_after_items = 1024
hold_for_ms = 5000    # then it reads again, so that the flowgraph can stop
"#,
        );
        // Wait (bounded) until the backlog reaches the source: every buffer full.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fg.edges.iter().all(|e| e.holds_producer_back()) {
            assert!(Instant::now() < deadline, "the buffers never filled");
            std::thread::yield_now();
        }
        let mut wd = Watchdog::new(&fg, Duration::from_secs(1), Duration::ZERO);
        let now = Instant::now();
        wd.check_at(&fg, now);
        match wd.check_at(&fg, now + Duration::from_secs(5)) {
            Verdict::Unhealthy(v) => {
                let names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(names, ["stuck"], "{v:?}");
            }
            other => panic!("expected a stall, got {other:?}"),
        }
        fg.stop();
        fg.wait();
    }
}
