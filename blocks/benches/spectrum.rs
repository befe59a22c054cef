//! Spectrum benchmarks, run on the real flow runtime (see bench/spectrum.sh and
//! docs/performance.md, "Spectrum"):
//!
//! ```text
//! cargo bench -p flow-blocks --bench spectrum -- fft 1024 2e8 [WORKERS] # the peers' fft workload
//! cargo bench -p flow-blocks --bench spectrum -- chain 2e8 16        # PSD+CFAR+peaks, one core
//! cargo bench -p flow-blocks --bench spectrum -- latency 10e6 5 16   # psd→detection latency
//! ```
//!
//! Each prints one line `<name> items=<n> seconds=<s> msps=<m> ...` like the peer programs.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use flow_framework::config::load_str;
use flow_framework::prelude::*;
use flow_framework::runtime::Flowgraph;

/// Parameters of `bench_source`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BenchSourceParams {
    /// Items to produce.
    items: u64,
    /// Pace to this many samples per second, as a live source (latency); absent: as fast as
    /// downstream takes them.
    #[serde(default)]
    pace: Option<f64>,
    /// Samples per write when paced.
    #[serde(default = "chunk")]
    chunk: usize,
}
fn chunk() -> usize {
    16384
}

/// When each paced chunk was written: (sample index of its first sample, instant).
static TIMELINE: Mutex<Vec<(u64, Instant)>> = Mutex::new(Vec::new());
/// CPU seconds of the last run.
static CPU: Mutex<Option<f64>> = Mutex::new(None);
fn last_cpu() -> f64 {
    CPU.lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(f64::NAN)
}
/// Latencies measured by the sink, seconds.
static LATENCIES: Mutex<Vec<f64>> = Mutex::new(Vec::new());

/// A repeating recording: complex noise with three tones, 2^16 samples (it stays in the
/// L2 cache, so the source costs little of the one core; tone frequencies are whole cycles
/// per repetition, so the tones are continuous across it).
fn signal() -> &'static [C32] {
    static S: OnceLock<Vec<C32>> = OnceLock::new();
    S.get_or_init(|| {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        const N: usize = 1 << 16;
        (0..N)
            .map(|k| {
                let mut v = C32::new(next(), next()) * 0.1;
                for (cycles, a) in [(6554usize, 0.05f32), (6874, 0.05), (N - 19661, 0.02)] {
                    let ph = (cycles * k % N) as f32 / N as f32;
                    v += C32::from_polar(a, std::f32::consts::TAU * ph);
                }
                v
            })
            .collect()
    })
}

struct BenchSource {
    p: BenchSourceParams,
    sent: u64,
    t0: Option<Instant>,
}

impl Block for BenchSource {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        let sig = signal();
        let out = &mut io.outputs[0];
        if self.sent == 0 && out.produced() == 0 {
            out.add_tag(0, Tag::Rate(self.p.pace.unwrap_or(1e7)));
        }
        let at = (self.sent % sig.len() as u64) as usize;
        let left = (self.p.items - self.sent) as usize;
        let n = match self.p.pace {
            None => {
                let o = out.slice_mut::<C32>();
                let n = o.len().min(sig.len() - at).min(left);
                o[..n].copy_from_slice(&sig[at..at + n]);
                out.produce(n);
                n
            }
            Some(rate) => {
                let t0 = *self.t0.get_or_insert_with(Instant::now);
                let n = self.p.chunk.min(sig.len() - at).min(left);
                let due = t0 + Duration::from_secs_f64((self.sent + n as u64) as f64 / rate);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                TIMELINE
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((self.sent, Instant::now()));
                out.write_live(&sig[at..at + n]);
                n
            }
        };
        self.sent += n as u64;
        Ok(if self.sent >= self.p.items {
            Flow::Done
        } else {
            Flow::Continue
        })
    }
}

struct BenchSourceDef;
impl BlockDef for BenchSourceDef {
    type Params = BenchSourceParams;
    const NAME: &'static str = "bench_source";
    const SUMMARY: &'static str = "bench: repeats noise with tones";
    const DOC: &'static str = "bench only";
    const EXAMPLE: &'static str = "items = 1000";
    fn signature(p: &BenchSourceParams) -> Signature {
        let s = Signature::new()
            .output("out", ItemType::C32)
            .min_items(1 << 16);
        if p.pace.is_some() {
            s.live()
        } else {
            s
        }
    }
    fn build(p: &BenchSourceParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(BenchSource {
            p: p.clone(),
            sent: 0,
            t0: None,
        }))
    }
}
register_block!(BenchSourceDef);

/// Parameters of `bench_sink`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BenchSinkParams {
    /// Sample rate, to turn a detection's period end back into a sample index.
    rate: f64,
}

/// Counts detections; for paced runs measures latency from the arrival of the last sample
/// of a detection's spectrum period to the detection's arrival here.
struct BenchSink {
    rate: f64,
}

impl Block for BenchSink {
    fn work(&mut self, io: &mut WorkIo) -> Result<Flow, BlockError> {
        while let Some(m) = io.msg_in[0].recv() {
            let now = Instant::now();
            let Some(Value::Time(end_ns)) = m.get("last_seen_ns").cloned() else {
                continue;
            };
            let last = ((end_ns as f64 * self.rate / 1e9).round() as u64).saturating_sub(1);
            let tl = TIMELINE.lock().unwrap_or_else(|e| e.into_inner());
            let k = tl.partition_point(|(i, _)| *i <= last);
            if k > 0 {
                let lat = now.duration_since(tl[k - 1].1).as_secs_f64();
                LATENCIES
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(lat);
            }
        }
        Ok(Flow::Continue)
    }
}

struct BenchSinkDef;
impl BlockDef for BenchSinkDef {
    type Params = BenchSinkParams;
    const NAME: &'static str = "bench_sink";
    const SUMMARY: &'static str = "bench: counts detections, measures latency";
    const DOC: &'static str = "bench only";
    const EXAMPLE: &'static str = "rate = 1e6";
    fn signature(_: &BenchSinkParams) -> Signature {
        Signature::new().message_input("in")
    }
    fn build(p: &BenchSinkParams, _: &BuildContext) -> Result<Box<dyn Block>, BlockError> {
        Ok(Box::new(BenchSink { rate: p.rate }))
    }
}
register_block!(BenchSinkDef);

fn run(text: &str) -> (f64, Flowgraph) {
    let g = load_str(text, "bench.toml", std::path::Path::new("."), &[])
        .unwrap_or_else(|d| panic!("{d}"));
    let t0 = Instant::now();
    let c0 = process_cpu();
    let fg = Flowgraph::start(&g).unwrap_or_else(|e| panic!("{e}"));
    while !fg.wait_timeout(Duration::from_secs(600)) {}
    let wall = t0.elapsed().as_secs_f64();
    CPU.lock()
        .unwrap_or_else(|e| e.into_inner())
        .replace(process_cpu() - c0);
    (wall, fg)
}

/// CPU time (user + system) of this process so far, in seconds, from /proc/self/stat: a
/// figure that other processes on a shared machine disturb less than wall time.
fn process_cpu() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn block_cpu(fg: &Flowgraph, name: &str) -> f64 {
    fg.blocks.iter().find(|b| b.name == name).map_or(0.0, |b| {
        b.metrics.work_ns.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
    })
}

fn counter(fg: &Flowgraph, name: &str, c: &str) -> u64 {
    fg.blocks
        .iter()
        .find(|b| b.name == name)
        .map_or(0, |b| b.metrics.counter(c).get())
}

const CHAIN: &str = r#"
[blocks.psd]
type = "psd"
inputs = ["src"]
fft_size = 1024
overlap = 0.5
averages = AVERAGES
window = "blackman_harris"

[blocks.cfar]
type = "cfar"
inputs = ["psd"]
method = "ca"
guard = 2
train = 16
pfa = 1e-6

[blocks.peaks]
type = "peaks"
inputs = ["cfar"]
emit = "every"

[blocks.sink]
type = "bench_sink"
inputs = ["peaks"]
rate = RATE
"#;

fn main() {
    flow_blocks::link();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let num = |i: usize, d: f64| args.get(i).and_then(|a| a.parse::<f64>().ok()).unwrap_or(d);
    match args.first().map(String::as_str) {
        Some("fft") => {
            let (size, items) = (num(1, 1024.0) as usize, num(2, 2e8) as u64);
            let workers = args
                .get(3)
                .map_or(String::new(), |w| format!("[flowgraph]\nworkers = {w}\n\n"));
            let suffix = args.get(3).map_or(String::new(), |w| format!("_w{w}"));
            let text = format!(
                "{workers}[blocks.src]\ntype = \"null_source\"\nitem = \"c32\"\n\n\
                 [blocks.head]\ntype = \"head\"\ninputs = [\"src\"]\nitems = {items}\n\n\
                 [blocks.fft]\ntype = \"fft\"\ninputs = [\"head\"]\nsize = {size}\n\
                 window = \"blackman_harris\"\nshift = true\noutput = \"power\"\n\n\
                 [blocks.sink]\ntype = \"null_sink\"\ninputs = [\"fft\"]\n"
            );
            let (s, _) = run(&text);
            println!(
                "flow_fft{size}{suffix} items={items} seconds={s:.3} msps={:.1} cpu_s={:.2} cpu_msps={:.1}",
                items as f64 / s / 1e6,
                last_cpu(),
                items as f64 / last_cpu() / 1e6
            );
        }
        Some("chain") => {
            let (items, averages) = (num(1, 2e8) as u64, num(2, 16.0) as u64);
            let text = format!(
                "[flowgraph]\nworkers = 1\n\n[blocks.src]\ntype = \"bench_source\"\nitems = {items}\n{}",
                CHAIN
                    .replace("AVERAGES", &averages.to_string())
                    .replace("RATE", "1e7")
            );
            let (s, fg) = run(&text);
            let cpu: f64 = ["psd", "cfar", "peaks"]
                .iter()
                .map(|b| block_cpu(&fg, b))
                .sum();
            println!(
                "flow_chain_k{averages} items={items} seconds={s:.3} msps={:.1} cpu_msps={:.1} dsp_cpu_s={cpu:.3} dsp_msps={:.1} cpu_psd={:.3} cpu_cfar={:.3} cpu_peaks={:.3} cpu_src={:.3} spectra={} detections={}",
                items as f64 / s / 1e6,
                items as f64 / last_cpu() / 1e6,
                items as f64 / cpu / 1e6,
                block_cpu(&fg, "psd"),
                block_cpu(&fg, "cfar"),
                block_cpu(&fg, "peaks"),
                block_cpu(&fg, "src"),
                counter(&fg, "psd", "spectra"),
                counter(&fg, "peaks", "detections"),
            );
        }
        Some("latency") => {
            let (rate, secs, averages) = (num(1, 1e7), num(2, 5.0), num(3, 16.0) as u64);
            let items = (rate * secs) as u64;
            let text = format!(
                "[blocks.src]\ntype = \"bench_source\"\nitems = {items}\npace = {rate}\n{}",
                CHAIN
                    .replace("AVERAGES", &averages.to_string())
                    .replace("RATE", &rate.to_string())
            );
            run(&text);
            let mut l = LATENCIES.lock().unwrap_or_else(|e| e.into_inner()).clone();
            l.sort_by(f64::total_cmp);
            let q = |p: f64| {
                l.get(((l.len() as f64 - 1.0) * p).round() as usize)
                    .copied()
                    .unwrap_or(f64::NAN)
                    * 1e3
            };
            println!(
                "flow_latency_k{averages} rate={rate} detections={} p50_ms={:.3} p99_ms={:.3} max_ms={:.3}",
                l.len(),
                q(0.5),
                q(0.99),
                q(1.0)
            );
        }
        _ => {
            eprintln!("usage: spectrum fft SIZE ITEMS [WORKERS] | chain ITEMS AVERAGES | latency RATE SECONDS AVERAGES");
            std::process::exit(2);
        }
    }
}
