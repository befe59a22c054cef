//! `flow bench`: built-in benchmark workloads, printed in the same one-line format as the
//! peer benchmarks of `bench/` (`<name> items=<n> seconds=<s> msps=<m>`) so a script can run
//! flow and its peers side by side and compare ratios.

pub mod copy;

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Arguments of `flow bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The workload.
    #[command(subcommand)]
    pub workload: Workload,
}

/// Benchmark workloads.
#[derive(Subcommand, Debug)]
pub enum Workload {
    /// null_source → head(ITEMS) → STAGES × copy → null_sink, f32 items.
    Copy(copy::CopyArgs),
}

/// Runs `flow bench`.
pub fn execute(args: &BenchArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    match &args.workload {
        Workload::Copy(a) => copy::execute(a, out, err),
    }
}

/// Prints a result line in the peers' format.
pub fn report(out: &mut dyn Write, name: &str, items: u64, seconds: f64) -> std::io::Result<()> {
    writeln!(
        out,
        "{name} items={items} seconds={seconds:.3} msps={:.1}",
        items as f64 / seconds / 1e6
    )
}
