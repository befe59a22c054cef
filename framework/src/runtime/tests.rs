//! Runtime tests: whole flowgraphs of small test blocks run on the real scheduler. The
//! blocks count: a source writes the sample index as the item value, so a sink can check
//! every item against `sample_index`, which proves that losses are always reported as gaps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Flowgraph;
use crate::config::load_str;
use crate::metrics::BlockState;
use crate::prelude::*;

/// Parameters of `rt_counter`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterParams {
    /// A live source: writes with `write_live` and never waits for space.
    #[serde(default)]
    pub live: bool,
    /// Items to produce, then end (default endless).
    #[serde(default)]
    pub count: Option<u64>,
    /// Items per work call.
    #[serde(default = "chunk")]
    pub chunk: usize,
    /// Produce this many items, then nothing more without ending (a quiet upstream).
    #[serde(default)]
    pub pause_after: Option<u64>,
}
fn chunk() -> usize {
    4096
}

/// Writes 0, 1, 2, ... as i32 (the sample index of each item).
struct Counter {
    p: CounterParams,
    next: u64,
    scratch: Vec<i32>,
}

impl Block for Counter {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let left = self.p.count.map_or(u64::MAX, |c| c - self.next);
        let left = left.min(self.p.pause_after.map_or(u64::MAX, |p| p - self.next));
        if left == 0 {
            std::thread::sleep(Duration::from_millis(1));
            return Ok(Flow::Continue);
        }
        let n = (self.p.chunk as u64).min(left) as usize;
        if self.p.live {
            self.scratch.clear();
            self.scratch
                .extend((0..n).map(|k| (self.next + k as u64) as i32));
            io.outputs[0].write_live(&self.scratch);
            std::thread::sleep(Duration::from_micros(50));
        } else {
            let out = io.outputs[0].slice_mut::<i32>();
            let n = n.min(out.len());
            for (k, x) in out[..n].iter_mut().enumerate() {
                *x = (self.next + k as u64) as i32;
            }
            io.outputs[0].produce(n);
            self.next += n as u64;
            return Ok(if Some(self.next) == self.p.count {
                Flow::Done
            } else {
                Flow::Continue
            });
        }
        self.next += n as u64;
        Ok(if Some(self.next) == self.p.count {
            Flow::Done
        } else {
            Flow::Continue
        })
    }
}

struct CounterDef;
impl BlockDef for CounterDef {
    type Params = CounterParams;
    const NAME: &'static str = "rt_counter";
    const SUMMARY: &'static str = "test: counts";
    const DOC: &'static str = "test";
    const EXAMPLE: &'static str = "";
    fn signature(p: &CounterParams) -> Signature {
        let s = Signature::new().output("out", ItemType::I32);
        if p.live {
            s.live()
        } else {
            s
        }
    }
    fn build(p: &CounterParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Counter {
            p: p.clone(),
            next: 0,
            scratch: Vec::new(),
        }))
    }
}
crate::register_block!(CounterDef);

/// Parameters of `rt_check`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {
    /// Sleep this many microseconds per work call (a slow sink).
    #[serde(default)]
    pub delay_us: u64,
    /// Fail on this work call (1-based; 0 = never); not again after a restart.
    #[serde(default)]
    pub fail_on_call: u64,
    /// Panic instead of returning an error.
    #[serde(default)]
    pub panic: bool,
    /// Stop consuming once this many items have arrived, until the input ends (a hung
    /// block whose progress counters freeze).
    #[serde(default)]
    pub hold_after_items: Option<u64>,
    /// End the hold after this many milliseconds of wall time (so that a test whose
    /// upstream can no longer drain can still stop).
    #[serde(default)]
    pub hold_for_ms: Option<u64>,
    /// Sleep this long in `start` (a slow device).
    #[serde(default)]
    pub start_delay_ms: u64,
    /// Needs this many items per call.
    #[serde(default = "one")]
    pub min_items: usize,
    /// Ask to be called this many milliseconds after the last items (`Block::wake_at`);
    /// such a call with no input counts in `timer_calls`.
    #[serde(default)]
    pub wake_after_ms: Option<u64>,
}
fn one() -> usize {
    1
}

/// Checks that every item equals its sample index; counts items, gaps and mismatches.
struct Check {
    p: CheckParams,
    /// When the hold began.
    held_since: Option<Instant>,
    calls: u64,
    restarted: bool,
    items: crate::metrics::Counter,
    lost: crate::metrics::Counter,
    bad: crate::metrics::Counter,
    wake_at: Option<Instant>,
    timer_calls: crate::metrics::Counter,
}

impl Block for Check {
    fn wake_at(&self) -> Option<Instant> {
        self.wake_at
    }
    fn start(&mut self, ctx: &BlockContext) -> Result<(), BlockError> {
        self.items = ctx.counter("items");
        self.lost = ctx.counter("lost");
        self.bad = ctx.counter("bad");
        self.timer_calls = ctx.counter("timer_calls");
        self.restarted = ctx.metrics().restarts.load(Ordering::Relaxed) > 0;
        std::thread::sleep(Duration::from_millis(self.p.start_delay_ms));
        Ok(())
    }
    fn stop(&mut self, io: &mut WorkIo) -> Result<(), BlockError> {
        // A loss at the very end is reported on the end-of-stream position.
        for t in io.inputs[0].tags() {
            if let Tag::Gap(n) = t.tag {
                self.lost.add(n);
            }
        }
        Ok(())
    }
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        self.calls += 1;
        if self.calls == self.p.fail_on_call && !self.restarted {
            if self.p.panic {
                panic!("told to panic on call {}", self.calls);
            }
            return Err(BlockError::data(format!(
                "told to fail on call {}",
                self.calls
            )));
        }
        let input = &mut io.inputs[0];
        let held = self
            .p
            .hold_after_items
            .is_some_and(|h| self.items.get() >= h);
        let expired = held && {
            let since = *self.held_since.get_or_insert_with(Instant::now);
            self.p
                .hold_for_ms
                .is_some_and(|ms| since.elapsed() >= Duration::from_millis(ms))
        };
        if held && !expired && !input.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
            return Ok(Flow::Continue);
        }
        for t in input.tags() {
            if let Tag::Gap(n) = t.tag {
                self.lost.add(n);
            }
        }
        let items = input.slice::<i32>();
        let mut expected = input.sample_index(0);
        let mut gaps = input
            .tags()
            .iter()
            .filter(|t| matches!(t.tag, Tag::Gap(_)))
            .peekable();
        for (k, x) in items.iter().enumerate() {
            while let Some(g) = gaps.peek() {
                if g.position > input.position() + k as u64 {
                    break;
                }
                if g.position == input.position() + k as u64 && k > 0 {
                    if let Tag::Gap(n) = g.tag {
                        expected += n;
                    }
                }
                gaps.next();
            }
            if i64::from(*x) != expected as i64 {
                self.bad.inc();
            }
            expected += 1;
        }
        let n = items.len();
        input.consume(n);
        self.items.add(n as u64);
        if n > 0 {
            self.wake_at = self
                .p
                .wake_after_ms
                .map(|ms| Instant::now() + Duration::from_millis(ms));
        } else if self.wake_at.is_some_and(|t| Instant::now() >= t) {
            self.timer_calls.inc();
            self.wake_at = None;
        }
        if self.p.delay_us > 0 {
            std::thread::sleep(Duration::from_micros(self.p.delay_us));
        }
        Ok(Flow::Continue)
    }
    fn set_param(&mut self, name: &str, value: &toml::Value) -> Result<(), BlockError> {
        match (name, value.as_integer()) {
            ("delay_us", Some(v)) if v > 1_000_000 => {
                Err(BlockError::config("longer than a second"))
            }
            ("delay_us", Some(v)) => {
                self.p.delay_us = v as u64;
                Ok(())
            }
            _ => Err(BlockError::config("unexpected")),
        }
    }
}

struct CheckDef;
impl BlockDef for CheckDef {
    type Params = CheckParams;
    const NAME: &'static str = "rt_check";
    const SUMMARY: &'static str = "test: checks";
    const SETTABLE: &'static [&'static str] = &["delay_us"];
    const DOC: &'static str = "test";
    const EXAMPLE: &'static str = "";
    fn signature(p: &CheckParams) -> Signature {
        let s = Signature::new()
            .input("in", ItemType::I32)
            .min_items(p.min_items)
            .manual_tags();
        if p.delay_us > 0 || p.hold_after_items.is_some() {
            s.blocking()
        } else {
            s
        }
    }
    fn build(p: &CheckParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(Check {
            p: p.clone(),
            held_since: None,
            calls: 0,
            restarted: false,
            items: Default::default(),
            lost: Default::default(),
            bad: Default::default(),
            wake_at: None,
            timer_calls: Default::default(),
        }))
    }
}
crate::register_block!(CheckDef);

fn start(text: &str) -> Flowgraph {
    let g =
        load_str(text, "rt.toml", std::path::Path::new("."), &[]).unwrap_or_else(|d| panic!("{d}"));
    Flowgraph::start(&g).expect("starts")
}

fn counter(fg: &Flowgraph, block: &str, name: &str) -> u64 {
    fg.blocks
        .iter()
        .find(|b| b.name == block)
        .expect("block")
        .metrics
        .counter(name)
        .get()
}

fn run_to_end(fg: Flowgraph) -> (Vec<(String, u64, u64, u64)>, super::RunReport) {
    assert!(
        fg.wait_timeout(Duration::from_secs(60)),
        "flowgraph did not finish"
    );
    let stats = fg
        .blocks
        .iter()
        .map(|b| {
            (
                b.name.clone(),
                b.metrics.counter("items").get(),
                b.metrics.counter("lost").get(),
                b.metrics.counter("bad").get(),
            )
        })
        .collect();
    (stats, fg.wait())
}

#[test]
fn end_of_stream_reaches_every_sink_with_every_item() {
    let fg = start(
        r#"
[blocks.src]
type = "rt_counter"
count = 1000003
[blocks.a]
type = "rt_check"
inputs = ["src"]
[blocks.b]
type = "rt_check"
inputs = ["src"]
min_items = 1000
"#,
    );
    let (stats, report) = run_to_end(fg);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(stats[1], ("a".into(), 1_000_003, 0, 0));
    // `b` needs 1000 items per call, but once its input has ended it is called with the
    // remaining 3 too.
    assert_eq!(stats[2].1, 1_000_003);
}

#[test]
fn a_block_needing_more_than_the_default_buffer_gets_a_bigger_one() {
    let fg = start(
        r#"
[flowgraph]
buffer_bytes = 4096
[blocks.src]
type = "rt_counter"
count = 3000000
[blocks.big]
type = "rt_check"
inputs = ["src"]
min_items = 1000000
"#,
    );
    assert!(fg.edges[0].capacity() >= 2_000_000);
    let (stats, _) = run_to_end(fg);
    assert_eq!(stats[1].1, 3_000_000);
}

#[test]
fn a_slow_lossy_consumer_never_costs_its_lossless_sibling_an_item() {
    for policy in ["drop_oldest", "drop_newest"] {
        let fg = start(&format!(
            r#"
[flowgraph]
buffer_bytes = 16384
[blocks.src]
type = "rt_counter"
count = 2000000
[blocks.keep]
type = "rt_check"
inputs = ["src"]
[blocks.slow]
type = "rt_check"
inputs = ["src"]
policy = "{policy}"
delay_us = 2000
"#
        ));
        let t0 = Instant::now();
        let (stats, _) = run_to_end(fg);
        assert_eq!(stats[1], ("keep".into(), 2_000_000, 0, 0), "{policy}");
        let (_, items, lost, bad) = &stats[2];
        assert_eq!(
            items + lost,
            2_000_000,
            "{policy}: every item is either delivered or reported lost"
        );
        assert!(
            *lost > 0,
            "{policy}: the slow consumer must have lost something"
        );
        assert_eq!(*bad, 0, "{policy}: sample indices stay exact across losses");
        // The lossless path did not wait for the slow one (2 ms per call would take far longer).
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{policy}: {:?}",
            t0.elapsed()
        );
    }
}

#[test]
fn a_live_source_drops_with_gaps_instead_of_blocking() {
    let fg = start(
        r#"
[flowgraph]
buffer_bytes = 16384
[blocks.src]
type = "rt_counter"
live = true
chunk = 1000
count = 400000
[blocks.slow]
type = "rt_check"
inputs = ["src"]
delay_us = 5000
"#,
    );
    let (stats, _) = run_to_end(fg);
    let (_, items, lost, bad) = &stats[1];
    assert!(*lost > 0, "the slow sink must have caused drops");
    assert_eq!(
        items + lost,
        400_000,
        "every item is delivered or reported as a gap"
    );
    assert_eq!(*bad, 0);
}

#[test]
fn restart_rebuilds_a_failed_block_and_stop_contains_the_failure() {
    let fg = start(
        r#"
[blocks.src]
type = "rt_counter"
count = 500000
chunk = 1000
[blocks.flaky]
type = "rt_check"
inputs = ["src"]
fail_on_call = 3
on_error = "restart"
[blocks.dies]
type = "rt_check"
inputs = ["src"]
fail_on_call = 2
panic = true
[blocks.steady]
type = "rt_check"
inputs = ["src"]
"#,
    );
    let flaky = fg
        .blocks
        .iter()
        .find(|b| b.name == "flaky")
        .unwrap()
        .metrics
        .clone();
    let dies = fg
        .blocks
        .iter()
        .find(|b| b.name == "dies")
        .unwrap()
        .metrics
        .clone();
    let (stats, report) = run_to_end(fg);
    assert_eq!(stats[3].1, 500_000, "the healthy sibling gets everything");
    assert!(flaky.restarts.load(Ordering::Relaxed) >= 1);
    assert_eq!(flaky.state(), BlockState::Done);
    assert_eq!(dies.state(), BlockState::Failed);
    assert_eq!(dies.last_error(), "panicked: told to panic on call 2");
    assert_eq!(
        report.failed,
        vec![(
            "dies".to_string(),
            "panicked: told to panic on call 2".to_string()
        )]
    );
}

#[test]
fn stop_drains_an_endless_source() {
    let fg = start(
        r#"
[blocks.src]
type = "rt_counter"
[blocks.sink]
type = "rt_check"
inputs = ["src"]
"#,
    );
    let seen = Arc::new(AtomicU64::new(0));
    while counter(&fg, "sink", "items") < 100_000 {
        std::thread::yield_now();
    }
    fg.stop();
    let sink = fg.blocks[1].metrics.clone();
    let (stats, report) = run_to_end(fg);
    seen.store(stats[1].1, Ordering::Relaxed);
    assert!(report.failed.is_empty());
    assert_eq!(sink.state(), BlockState::Done);
    assert_eq!(sink.total_in(), stats[1].1);
    assert_eq!(stats[1].3, 0);
}

#[test]
fn parameters_change_at_run_time_after_the_same_checks_as_toml() {
    use super::SetParamError;
    let fg = start(
        r#"
[blocks.src]
type = "rt_counter"
[blocks.a]
type = "rt_check"
inputs = ["src"]
delay_us = 1
"#,
    );
    let t = Duration::from_secs(10);
    assert_eq!(
        fg.set_param("a", "delay_us", toml::Value::Integer(5), t),
        Ok(toml::Value::Integer(5))
    );
    let current = fg.block("a").unwrap().params.current().unwrap();
    assert_eq!(current["delay_us"], toml::Value::Integer(5));
    assert_eq!(current["min_items"], toml::Value::Integer(1));
    let err = |r: super::SetParamResult| r.unwrap_err().to_string();
    assert_eq!(
        err(fg.set_param("a", "min_items", toml::Value::Integer(5), t)),
        "parameter `min_items` of block `a` cannot be changed while running (settable: delay_us)"
    );
    assert_eq!(
        err(fg.set_param("a", "delay", toml::Value::Integer(5), t)),
        "block `a` (rt_check) has no parameter `delay` (did you mean `delay_us`?)"
    );
    assert!(
        err(fg.set_param("a", "delay_us", toml::Value::Integer(-1), t))
            .starts_with("invalid value for parameter `delay_us` of block `a`: invalid value")
    );
    assert_eq!(
        err(fg.set_param("a", "delay_us", toml::Value::Integer(2_000_000), t)),
        "block `a` refused `delay_us`: longer than a second"
    );
    // A refused change leaves the old value.
    let current = fg.block("a").unwrap().params.current().unwrap();
    assert_eq!(current["delay_us"], toml::Value::Integer(5));
    assert_eq!(
        fg.set_param("b", "delay_us", toml::Value::Integer(5), t),
        Err(SetParamError::UnknownBlock("b".into()))
    );
    assert!(matches!(
        fg.set_param("src", "count", toml::Value::Integer(5), t),
        Err(SetParamError::NotSettable { .. })
    ));
    let handle = fg.block("a").unwrap().params.clone();
    fg.stop();
    let report = fg.wait();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        handle.set("delay_us", toml::Value::Integer(3), t),
        Err(SetParamError::NotRunning("a".into()))
    );
}

#[test]
fn start_returns_once_every_block_has_started() {
    let fg = start(
        r#"
[blocks.src]
type = "rt_counter"
[blocks.slow]
type = "rt_check"
inputs = ["src"]
start_delay_ms = 300
delay_us = 1
"#,
    );
    // No waiting here: `start` has returned, so the slow block's `start` has too.
    assert_eq!(fg.blocks[1].metrics.state(), BlockState::Running);
    fg.stop();
    let (_, report) = run_to_end(fg);
    assert!(report.failed.is_empty());
}

#[test]
fn an_output_read_only_through_a_lossy_edge_is_not_closed() {
    // The shared buffer of `src` has no lossless reader; the source must still run.
    let fg = start(
        r#"
[blocks.src]
type = "rt_counter"
count = 100000
[blocks.only]
type = "rt_check"
inputs = ["src"]
policy = "drop_oldest"
"#,
    );
    let (stats, _) = run_to_end(fg);
    let only = stats.iter().find(|s| s.0 == "only").expect("only");
    assert_eq!(only.1 + only.2, 100_000, "{stats:?}");
    assert!(only.1 > 0, "{stats:?}");
}

#[test]
fn a_block_is_called_at_its_wake_time_without_input() {
    let fg = start(
        r#"
[blocks.src]
type = "rt_counter"
pause_after = 100
[blocks.check]
type = "rt_check"
inputs = ["src"]
wake_after_ms = 50
"#,
    );
    let end = Instant::now() + Duration::from_secs(10);
    while counter(&fg, "check", "timer_calls") == 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        counter(&fg, "check", "timer_calls"),
        1,
        "not called at its wake time"
    );
    assert_eq!(counter(&fg, "check", "items"), 100);
    fg.stop();
    let (_, report) = run_to_end(fg);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
}
