//! `flow top [URL]`: attaches to the control port of a running flowgraph (`flow run
//! --http`) and redraws a table of its blocks every second, like `top` or `vector top`:
//! state, health, rates, drops, errors, restarts, time in work, input buffer fill and the
//! blocks' own counters. `--once` prints one table and exits (for scripts).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use super::status::si;
use crate::log::group_thousands;

/// Arguments of `flow top`.
#[derive(Args, Debug, Clone)]
pub struct TopArgs {
    /// The control port (`flow run --http ADDR`).
    #[arg(default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// Token of the control port.
    #[arg(long, env = "FLOW_HTTP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Time between refreshes.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Print the table once and exit.
    #[arg(long)]
    pub once: bool,
}

/// The part of `/api/metrics` the table shows.
#[derive(Debug, Deserialize)]
pub struct Metrics {
    /// Seconds since start.
    pub uptime: f64,
    /// Blocks.
    pub blocks: Vec<BlockRow>,
}

/// One block's row.
#[derive(Debug, Deserialize)]
pub struct BlockRow {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// State.
    pub state: String,
    /// Health.
    pub health: String,
    /// Reason for the health.
    #[serde(default)]
    pub health_reason: String,
    /// Items in per second.
    pub rate_in: f64,
    /// Items out per second.
    pub rate_out: f64,
    /// Dropped.
    pub dropped: u64,
    /// Errors.
    pub errors: u64,
    /// Restarts.
    pub restarts: u64,
    /// Share of time in work.
    pub busy: f64,
    /// Input fill by port.
    #[serde(default)]
    pub input_fill: Vec<(String, f64)>,
    /// Own counters.
    #[serde(default)]
    pub counters: Vec<(String, u64)>,
}

/// Fetches `/api/metrics`.
pub fn fetch(url: &str, token: Option<&str>) -> Result<Metrics, String> {
    let url = format!("{}/api/metrics", url.trim_end_matches('/'));
    let mut req = ureq::get(&url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.call().map_err(|e| format!("{url}: {e}"))?;
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{url}: {e}"))?;
    serde_json::from_str(&body).map_err(|e| format!("{url}: unexpected answer: {e}"))
}

/// The table for one reading.
pub fn render(m: &Metrics) -> String {
    let header = [
        "block", "type", "state", "in/s", "out/s", "dropped", "err", "rst", "busy", "fill",
        "counters",
    ];
    let rows: Vec<[String; 11]> = m
        .blocks
        .iter()
        .map(|b| {
            let fill = b
                .input_fill
                .iter()
                .map(|f| f.1)
                .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))));
            let state = match b.health.as_str() {
                "ok" => b.state.clone(),
                h if b.health_reason.is_empty() => format!("{} {h}", b.state),
                h => format!("{} {h}: {}", b.state, b.health_reason),
            };
            [
                b.name.clone(),
                b.type_name.clone(),
                state,
                si(b.rate_in),
                si(b.rate_out),
                group_thousands(b.dropped),
                b.errors.to_string(),
                b.restarts.to_string(),
                format!("{:.0}%", b.busy * 100.0),
                fill.map_or(String::new(), |f| format!("{:.0}%", f * 100.0)),
                b.counters
                    .iter()
                    .map(|(k, v)| format!("{k}={}", group_thousands(*v)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (k, (c, w)) in cells.iter().zip(width).enumerate() {
            let right = (3..10).contains(&k);
            let pad = w.saturating_sub(c.chars().count());
            if k > 0 {
                s.push_str("  ");
            }
            if right {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                if k + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
        }
        s.trim_end().to_string()
    };
    let mut out = format!("up {:.0} s, {} blocks\n", m.uptime, m.blocks.len());
    out.push_str(&line(header.to_vec()));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Runs `flow top`.
pub fn main(args: &TopArgs) -> ExitCode {
    let mut out = std::io::stdout();
    let clear = !args.once && out.is_terminal();
    loop {
        match fetch(&args.url, args.token.as_deref()) {
            Ok(m) => {
                let text = render(&m);
                let _ = if clear {
                    write!(out, "\x1b[H\x1b[2J{text}")
                } else {
                    write!(out, "{text}")
                };
                let _ = out.flush();
            }
            Err(e) => {
                eprintln!("error: {e}");
                if args.once {
                    return ExitCode::from(1);
                }
            }
        }
        if args.once {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(args.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_aligned_table() {
        let m: Metrics = serde_json::from_str(
            r#"{"uptime": 12.3, "blocks": [
              {"name":"src","type":"signal_source","state":"running","health":"ok","rate_in":0,"rate_out":2500000,
               "dropped":0,"errors":0,"restarts":0,"busy":0.25,"input_fill":[],"counters":[]},
              {"name":"sink","type":"file_sink","state":"running","health":"degraded","health_reason":"disk slow",
               "rate_in":2500000,"rate_out":0,"dropped":1234,"errors":2,"restarts":1,"busy":0.5,
               "input_fill":[["in",0.75]],"counters":[["files",3]]}]}"#,
        )
        .unwrap();
        let t = render(&m);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "up 12 s, 2 blocks");
        assert!(lines[1].starts_with("block  type           state"), "{t}");
        assert!(lines[2].starts_with("src    signal_source  running"), "{t}");
        assert!(lines[3].contains("running degraded: disk slow"), "{t}");
        assert!(
            lines[3].contains("1,234") && lines[3].ends_with("75%  files=3"),
            "{t}"
        );
        assert!(lines[2].contains("2.5M"), "{t}");
    }
}
