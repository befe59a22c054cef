//! `flow bench ring`: ring buffer throughput (small records per second, raw and with Arrow
//! encoding) against a naive `write(2)` per record, and writer→reader latency with a
//! reader spinning on the ring (percentiles of publication-to-observation time).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use flow_framework::prelude::*;

use super::encode::{batch, ipc::IpcEncoder, schema};
use super::ring::writer::monotonic_ns;
use super::ring::{layout, Next, RecordMeta, RingReader, RingSpec, RingWriter};

/// Arguments of `flow bench ring`.
#[derive(Parser, Debug)]
#[command(
    name = "flow bench ring",
    about = "Ring buffer throughput and latency."
)]
struct Args {
    /// Records written per throughput run.
    #[arg(long, default_value_t = 2_000_000)]
    records: u64,
    /// Samples (f32) per small record.
    #[arg(long, default_value_t = 16)]
    rows: usize,
    /// Records per second written during the latency run.
    #[arg(long, default_value_t = 10_000)]
    latency_rate: u64,
    /// Records in the latency run.
    #[arg(long, default_value_t = 200_000)]
    latency_records: u64,
    /// The latency reader spins without yielding its core (needs an idle core to be fair).
    #[arg(long)]
    spin: bool,
    /// Directory of the ring and baseline files.
    #[arg(long, default_value = "/dev/shm")]
    dir: PathBuf,
}

fn spec(dir: &std::path::Path, schema: Vec<u8>) -> RingSpec {
    RingSpec {
        path: dir.join(format!("flow-bench-{}.ring", std::process::id())),
        capacity_bytes: 64 << 20,
        index_entries: 1 << 18,
        schema,
        kind: layout::KIND_STREAM,
        item_size: 4,
        span_ns: 0,
    }
}

fn per_sec(n: u64, t: Instant) -> f64 {
    n as f64 / t.elapsed().as_secs_f64()
}

fn run(a: &Args) -> Result<(), String> {
    let sch = schema::stream_schema(ItemType::F32, "bench").ok_or("schema")?;
    let mut enc = IpcEncoder::new();
    let sp = spec(&a.dir, enc.schema(&sch).map_err(|e| e.to_string())?);
    let samples: Vec<f32> = (0..a.rows).map(|i| i as f32).collect();
    let bytes = bytemuck::cast_slice::<f32, u8>(&samples);
    let b = batch::stream_batch(&sch, ItemType::F32, bytes).map_err(|e| e.to_string())?;
    let body = enc.batch(&b).map_err(|e| e.to_string())?.to_vec();
    let meta = |i: u64| RecordMeta {
        rows: a.rows as u32,
        time_ns: i as i64,
        end_time_ns: i as i64,
        first_index: i,
        rate_hz: 1.0,
        freq_hz: 0.0,
    };
    let (mut w, _) = RingWriter::open(&sp).map_err(|e| e.to_string())?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average: {} (cores: {})",
        load.split(' ').take(3).collect::<Vec<_>>().join(" "),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("ring: {} MiB data, {} index entries, records of {} f32 samples ({} bytes of Arrow IPC + 64 header)", w.capacity() >> 20, w.index_entries(), a.rows, body.len());

    let t = Instant::now();
    for i in 0..a.records {
        w.append(&meta(i), &body).map_err(|e| e.to_string())?;
    }
    let raw = per_sec(a.records, t);
    let t = Instant::now();
    for i in 0..a.records {
        let b = batch::stream_batch(&sch, ItemType::F32, bytes).map_err(|e| e.to_string())?;
        let body = enc.batch(&b).map_err(|e| e.to_string())?;
        w.append(&meta(i), body).map_err(|e| e.to_string())?;
    }
    let encoded = per_sec(a.records, t);
    let base_path = a
        .dir
        .join(format!("flow-bench-{}.write", std::process::id()));
    let mut f = std::fs::File::create(&base_path).map_err(|e| e.to_string())?;
    let n = a.records.min(500_000);
    let t = Instant::now();
    for _ in 0..n {
        f.write_all(&body).map_err(|e| e.to_string())?;
    }
    let naive = per_sec(n, t);
    drop(f);
    let _ = std::fs::remove_file(&base_path);
    println!("throughput  ring append (pre-encoded):  {raw:>12.0} records/s");
    println!("throughput  ring append + Arrow encode: {encoded:>12.0} records/s");
    println!(
        "baseline    write(2) per record ({}):  {naive:>12.0} records/s",
        a.dir.display()
    );
    println!(
        "ratio       ring+encode / write(2): {:.1}x; / seed target 10k/s: {:.0}x",
        encoded / naive,
        encoded / 10_000.0
    );

    // Latency: a reader thread polls the ring; the writer sleeps between records.
    let path = Arc::new(sp.path.clone());
    let total = a.latency_records;
    let p2 = path.clone();
    let spin = a.spin;
    let reader = std::thread::spawn(move || -> Result<(Vec<u64>, u64), String> {
        let mut r = RingReader::attach(&p2).map_err(|e| e.to_string())?;
        r.seek_to_head();
        let (mut lat, mut missed, mut buf) = (Vec::with_capacity(total as usize), 0, Vec::new());
        while (lat.len() as u64) + missed < total {
            match r.next(&mut buf) {
                Next::Record(h) => lat.push(monotonic_ns().saturating_sub(h.written_mono_ns)),
                Next::Missed(n) => missed += n,
                Next::Empty if spin => std::hint::spin_loop(),
                Next::Empty => std::thread::yield_now(),
            }
        }
        Ok((lat, missed))
    });
    std::thread::sleep(std::time::Duration::from_millis(50)); // let the reader attach
    let gap = 1_000_000_000 / a.latency_rate.max(1);
    let start = monotonic_ns();
    for i in 0..total {
        let due = start + i * gap;
        let now = monotonic_ns();
        if due > now {
            std::thread::sleep(std::time::Duration::from_nanos(due - now));
        }
        w.append(&meta(i), &body).map_err(|e| e.to_string())?;
    }
    let (mut lat, missed) = reader.join().map_err(|_| "reader panicked")??;
    drop(w);
    let _ = std::fs::remove_file(&*path);
    lat.sort_unstable();
    let q = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!("latency     {} records at {}/s, writer sleeping between records, reader thread {}: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs, missed {missed}", lat.len(), a.latency_rate, if a.spin { "spinning" } else { "polling (yields when idle)" }, q(0.5), q(0.99), q(0.999), q(1.0));
    Ok(())
}

fn main(args: &[OsString]) -> ExitCode {
    let a = match Args::try_parse_from(
        std::iter::once(OsString::from("flow bench ring")).chain(args.iter().cloned()),
    ) {
        Ok(a) => a,
        Err(e) => e.exit(),
    };
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

flow_framework::register_command!(
    "bench ring",
    "Ring buffer throughput and writer→reader latency.",
    main
);
