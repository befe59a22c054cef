//! A bench meter on a pseudo-terminal, for trying `serial_source` without hardware: opens a
//! pty pair, prints the device path (and links it to `--link PATH`), and writes readings such
//! as `12.345 V` (CR LF ended) at `--rate` lines per second, with an unparseable line every
//! `--bad-every` readings, until Ctrl-C or `--count` readings.
//!
//! ```text
//! cargo run -p flow-blocks --example emulate_meter -- --link /tmp/meter --rate 20
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use flow_blocks::instrument::pty::Pty;

struct Args {
    link: Option<std::path::PathBuf>,
    rate: f64,
    count: Option<u64>,
    bad_every: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        link: None,
        rate: 10.0,
        count: None,
        bad_every: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--link" => a.link = Some(value()?.into()),
            "--rate" => a.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--count" => a.count = Some(value()?.parse().map_err(|e| format!("--count: {e}"))?),
            "--bad-every" => a.bad_every = value()?.parse().map_err(|e| format!("--bad-every: {e}"))?,
            "-h" | "--help" => return Err("usage: emulate_meter [--link PATH] [--rate LINES_PER_S] [--count N] [--bad-every N]".into()),
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    if !(a.rate > 0.0 && a.rate.is_finite()) {
        return Err("--rate must be positive".into());
    }
    Ok(a)
}

fn main() -> std::process::ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    let mut pty = match Pty::open() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot open a pseudo-terminal: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(link) = &args.link {
        let _ = std::fs::remove_file(link);
        if let Err(e) = std::os::unix::fs::symlink(&pty.path, link) {
            eprintln!(
                "cannot link {} to {}: {e}",
                link.display(),
                pty.path.display()
            );
            return std::process::ExitCode::FAILURE;
        }
    }
    println!(
        "meter on {}{}",
        pty.path.display(),
        args.link
            .as_ref()
            .map(|l| format!(" (linked from {})", l.display()))
            .unwrap_or_default()
    );
    let start = Instant::now();
    let mut n = 0u64;
    while args.count.is_none_or(|c| n < c) {
        let line = if args.bad_every > 0 && n % args.bad_every == args.bad_every - 1 {
            "E\u{fffd}RR overload\r\n".to_string()
        } else {
            let v = 12.0 + (n as f64 * 0.1).sin() * 0.5;
            format!("{v:.4} V\r\n")
        };
        if let Err(e) = pty.master.write_all(line.as_bytes()) {
            eprintln!("writing to the pty: {e}");
            return std::process::ExitCode::FAILURE;
        }
        n += 1;
        let due = start + Duration::from_secs_f64(n as f64 / args.rate);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    // Give a reader time to drain what the pty still holds before the pair closes.
    std::thread::sleep(Duration::from_millis(500));
    std::process::ExitCode::SUCCESS
}
