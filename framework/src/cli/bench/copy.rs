//! `flow bench copy STAGES ITEMS`: the copy workload of the peer benchmarks. Every copy
//! block really copies each item into its output buffer.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;

use crate::config::load_str;
use crate::runtime::Flowgraph;

/// Arguments of `flow bench copy`.
#[derive(Args, Debug)]
pub struct CopyArgs {
    /// Number of copy blocks in the chain.
    pub stages: usize,
    /// Items to push through (accepts `2e9`).
    pub items: String,
    /// Edge buffer size in bytes (default: the flowgraph default).
    #[arg(long)]
    pub buffer_bytes: Option<usize>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
}

/// The flowgraph text of the workload.
pub fn flowgraph(
    stages: usize,
    items: u64,
    buffer_bytes: Option<usize>,
    workers: Option<usize>,
) -> String {
    let mut s = String::from("[flowgraph]\nname = \"bench-copy\"\n");
    if let Some(b) = buffer_bytes {
        s += &format!("buffer_bytes = {b}\n");
    }
    if let Some(w) = workers {
        s += &format!("workers = {w}\n");
    }
    s += "\n[blocks.src]\ntype = \"null_source\"\nitem = \"f32\"\n";
    s += &format!("\n[blocks.head]\ntype = \"head\"\ninputs = [\"src\"]\nitems = {items}\n");
    let mut prev = "head".to_string();
    for k in 0..stages {
        s += &format!("\n[blocks.copy{k}]\ntype = \"copy\"\ninputs = [\"{prev}\"]\n");
        prev = format!("copy{k}");
    }
    s += &format!("\n[blocks.sink]\ntype = \"null_sink\"\ninputs = [\"{prev}\"]\n");
    s
}

/// Parses an item count such as `2e9` or `1000000`.
pub fn parse_count(s: &str) -> Option<u64> {
    s.parse::<u64>().ok().or_else(|| {
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .map(|x| x as u64)
    })
}

/// Runs the workload and prints one result line.
pub fn execute(a: &CopyArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let Some(items) = parse_count(&a.items) else {
        let _ = writeln!(
            err,
            "error: ITEMS must be a number such as 2e9, not `{}`",
            a.items
        );
        return ExitCode::from(2);
    };
    let text = flowgraph(a.stages, items, a.buffer_bytes, a.workers);
    let graph = match load_str(&text, "bench-copy.toml", Path::new("."), &[]) {
        Ok(g) => g,
        Err(d) => {
            let _ = write!(err, "{d}");
            return ExitCode::from(1);
        }
    };
    let t0 = Instant::now();
    let fg = match Flowgraph::start(&graph) {
        Ok(fg) => fg,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return ExitCode::from(1);
        }
    };
    let sink = fg.blocks.last().map(|b| b.metrics.clone());
    let report = fg.wait();
    let seconds = t0.elapsed().as_secs_f64();
    let moved = sink.map_or(0, |m| m.total_in());
    if moved != items || !report.failed.is_empty() {
        let _ = writeln!(
            err,
            "error: {moved} of {items} items arrived; failed: {:?}",
            report.failed
        );
        return ExitCode::from(1);
    }
    let _ = super::report(out, &format!("flow_copy{}", a.stages), items, seconds);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_in_both_notations() {
        assert_eq!(parse_count("2e9"), Some(2_000_000_000));
        assert_eq!(parse_count("1234"), Some(1234));
        assert_eq!(parse_count("-1"), None);
        assert_eq!(parse_count("lots"), None);
    }

    #[test]
    fn the_workload_is_a_chain_of_copies() {
        let t = flowgraph(2, 10, Some(4096), None);
        assert!(t.contains("[blocks.copy1]\ntype = \"copy\"\ninputs = [\"copy0\"]"));
        assert!(t.contains("[blocks.sink]\ntype = \"null_sink\"\ninputs = [\"copy1\"]"));
        assert!(t.contains("buffer_bytes = 4096"));
    }
}
