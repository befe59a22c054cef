//! `/metrics` in the Prometheus text exposition format: one family per quantity, labelled by
//! `block` (and `type`) or by edge (`from`, `to`), so a scrape needs no knowledge of the
//! flowgraph.

use std::fmt::Write;

use super::snapshot::Sample;
use crate::metrics::{BlockState, Health};

/// Escapes a label value (backslash, quote, newline).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The exposition text for a reading.
pub fn render(s: &Sample, flowgraph: &str) -> String {
    let mut out = String::with_capacity(256 * (s.blocks.len() + s.edges.len()) + 512);
    let fg = esc(flowgraph);
    family(
        &mut out,
        "flow_uptime_seconds",
        "gauge",
        "Seconds since the flowgraph started.",
    );
    let _ = writeln!(
        out,
        "flow_uptime_seconds{{flowgraph=\"{fg}\"}} {}",
        s.uptime
    );

    type Get = fn(&super::snapshot::BlockSample) -> f64;
    let per_block: [(&str, &str, &str, Get); 11] = [
        (
            "flow_block_items_in_total",
            "counter",
            "Items consumed over all stream inputs.",
            |b| b.items_in as f64,
        ),
        (
            "flow_block_items_out_total",
            "counter",
            "Items produced over all stream outputs.",
            |b| b.items_out as f64,
        ),
        (
            "flow_block_messages_in_total",
            "counter",
            "Messages received.",
            |b| b.messages_in as f64,
        ),
        (
            "flow_block_messages_out_total",
            "counter",
            "Messages sent.",
            |b| b.messages_out as f64,
        ),
        (
            "flow_block_dropped_total",
            "counter",
            "Items or messages the block dropped.",
            |b| b.dropped as f64,
        ),
        (
            "flow_block_errors_total",
            "counter",
            "Errors returned or panics caught.",
            |b| b.errors as f64,
        ),
        (
            "flow_block_restarts_total",
            "counter",
            "Restarts after errors.",
            |b| b.restarts as f64,
        ),
        (
            "flow_block_work_calls_total",
            "counter",
            "Work calls.",
            |b| b.work_calls as f64,
        ),
        (
            "flow_block_work_seconds_total",
            "counter",
            "Seconds spent in work.",
            |b| b.work_seconds,
        ),
        (
            "flow_block_health",
            "gauge",
            "Health: 0 ok, 1 degraded, 2 failed.",
            |b| match b.health {
                Health::Ok => 0.0,
                Health::Degraded => 1.0,
                Health::Failed => 2.0,
            },
        ),
        (
            "flow_block_running",
            "gauge",
            "1 while the block runs (or restarts), 0 once it ended.",
            |b| {
                f64::from(matches!(
                    b.state,
                    BlockState::Running | BlockState::Restarting | BlockState::Idle
                ))
            },
        ),
    ];
    for (name, kind, help, get) in per_block {
        family(&mut out, name, kind, help);
        for b in &s.blocks {
            let _ = writeln!(
                out,
                "{name}{{flowgraph=\"{fg}\",block=\"{}\",type=\"{}\"}} {}",
                esc(&b.name),
                b.type_name,
                get(b)
            );
        }
    }
    family(
        &mut out,
        "flow_block_counter_total",
        "counter",
        "Counters a block keeps for itself, by name.",
    );
    for b in &s.blocks {
        for (c, v) in &b.counters {
            let _ = writeln!(
                out,
                "flow_block_counter_total{{flowgraph=\"{fg}\",block=\"{}\",type=\"{}\",counter=\"{}\"}} {v}",
                esc(&b.name),
                b.type_name,
                esc(c)
            );
        }
    }
    type EdgeGet = fn(&super::snapshot::EdgeSample) -> f64;
    let per_edge: [(&str, &str, &str, EdgeGet); 3] = [
        (
            "flow_edge_fill_ratio",
            "gauge",
            "Fill of the edge's buffer, 0 to 1.",
            |e| e.fill,
        ),
        (
            "flow_edge_capacity_items",
            "gauge",
            "Capacity of the edge's buffer in items.",
            |e| e.capacity as f64,
        ),
        (
            "flow_edge_dropped_total",
            "counter",
            "Items discarded on the edge (lossy policies).",
            |e| e.dropped as f64,
        ),
    ];
    for (name, kind, help, get) in per_edge {
        family(&mut out, name, kind, help);
        for e in &s.edges {
            let _ = writeln!(
                out,
                "{name}{{flowgraph=\"{fg}\",from=\"{}\",to=\"{}\",policy=\"{}\"}} {}",
                esc(&e.from),
                esc(&e.to),
                e.policy,
                get(e)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
