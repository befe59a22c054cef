//! `flow run FILE`: loads the flowgraph, starts it, shows its live status on a terminal,
//! stops it on Ctrl-C / SIGTERM or after `--duration` (drain, flush, finalize; a second
//! Ctrl-C exits at once with 130), and prints a summary per block at the end.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use super::overrides::SetArgs;
use super::signals::Interrupts;
use super::status::{Status, REFRESH};
use super::summary;
use crate::config;
use crate::runtime::Flowgraph;
use crate::service::notify::{self, Notifier};
use crate::service::snapshot::{self, SharedStatus, Snapshot, StatusFile};
use crate::service::watchdog::{Verdict, Watchdog};

/// Arguments of `flow run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The flowgraph file.
    pub file: PathBuf,
    /// `--set KEY=VALUE` overrides.
    #[command(flatten)]
    pub set: SetArgs,
    /// Stop after this long (`30s`, `10min`, `2h 30m`); overrides `[flowgraph] duration`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// No live status and no summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// Control port.
    #[command(flatten)]
    pub http: super::http::HttpArgs,
    /// Run under systemd: notify READY once every block has started, and send watchdog
    /// pings (WatchdogSec) only while no block is stalled or failed.
    #[arg(long)]
    pub systemd: bool,
    /// Where to keep the status `flow status` reads (default:
    /// `$XDG_RUNTIME_DIR/flow/NAME.status.json`, else in the temporary directory).
    #[arg(long, value_name = "PATH")]
    pub status_file: Option<PathBuf>,
}

/// What `flow run` needs from its surroundings (so tests can run it).
pub struct RunEnv<'a> {
    /// Where the summary goes.
    pub out: &'a mut dyn Write,
    /// Where problems go.
    pub err: &'a mut dyn Write,
    /// Whether to show the live status (stderr is a terminal).
    pub live_status: bool,
    /// Ctrl-C / SIGTERM, if installed.
    pub interrupts: Option<Interrupts>,
}

/// Runs `flow run` in the real process: signal handlers, stdout, stderr.
pub fn main(args: &RunArgs) -> ExitCode {
    let interrupts = match Interrupts::install() {
        Ok(i) => Some(i),
        Err(e) => {
            tracing::warn!("cannot install the Ctrl-C handler: {e}");
            None
        }
    };
    let live_status = !args.quiet && std::io::stderr().is_terminal();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    execute(
        args,
        RunEnv {
            out: &mut out,
            err: &mut err,
            live_status,
            interrupts,
        },
    )
}

/// Runs `flow run`: exit 0 when every block finished, 1 when one failed (or the flowgraph
/// could not start), 2 when the file has problems.
pub fn execute(args: &RunArgs, env: RunEnv<'_>) -> ExitCode {
    let file = args.file.display().to_string();
    let graph = match config::load_file(&args.file, &args.set.set) {
        Ok(g) => g,
        Err(d) => {
            let _ = writeln!(env.err, "{d}\n\nerror: {}", d.summary(&file));
            return ExitCode::from(2);
        }
    };
    if let Err(e) = args.http.check() {
        let _ = writeln!(env.err, "error: {e}");
        return ExitCode::from(2);
    }
    let duration = args.duration.or(graph.settings.duration);
    tracing::info!(flowgraph = %graph.settings.name, blocks = graph.blocks.len(), edges = graph.edges.len(), "starting");
    let fg = match Flowgraph::start(&graph) {
        Ok(fg) => fg,
        Err(e) => {
            let _ = writeln!(
                env.err,
                "error: cannot start `{}`: {e}",
                graph.settings.name
            );
            return ExitCode::from(1);
        }
    };
    let control = match args.http.start(&graph, &fg) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(env.err, "error: {e}");
            fg.stop();
            fg.wait();
            return ExitCode::from(1);
        }
    };
    if let Some(c) = &control {
        if !args.quiet {
            let _ = writeln!(env.err, "control port: http://{}/", c.addr());
        }
    }
    let mut service = Service::new(args, &graph, &fg);
    service.board = control.as_ref().map(crate::control::ControlServer::status);
    let mut status = (env.live_status && !args.quiet).then(|| Status::new(&graph, &fg));
    let started = Instant::now();
    let mut stopping = false;
    loop {
        if fg.wait_timeout(service.tick_interval()) {
            break;
        }
        let interrupted = env.interrupts.as_ref().is_some_and(Interrupts::requested);
        let timed_out = duration.is_some_and(|d| started.elapsed() >= d);
        if !stopping && (interrupted || timed_out) {
            stopping = true;
            let why = if interrupted {
                "interrupted"
            } else {
                "duration reached"
            };
            tracing::info!("{why}: stopping (draining, flushing, finalizing)");
            if let Some(s) = &status {
                let again = if interrupted {
                    "; Ctrl-C again to exit now"
                } else {
                    ""
                };
                s.note(&format!("{why}: stopping, draining and finalizing{again}"));
            }
            fg.stop();
        }
        service.tick(&fg, stopping);
        if let Some(s) = &mut status {
            s.refresh(&fg);
        }
    }
    service.stopping();
    if let Some(s) = status.take() {
        s.finish();
    }
    let blocks = fg.blocks.clone();
    let report = fg.wait();
    service.finish();
    drop(control);
    if !args.quiet {
        let _ = env
            .out
            .write_all(summary::render(&blocks, &report).as_bytes());
    }
    if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        for (name, error) in &report.failed {
            tracing::error!(block = %name, "failed: {error}");
        }
        if args.quiet {
            for (name, error) in &report.failed {
                let _ = writeln!(env.err, "error: block `{name}` failed: {error}");
            }
        }
        ExitCode::from(1)
    }
}

/// The stall watchdog and, under `--systemd`, the service manager notifications.
struct Service {
    name: String,
    status_file: Option<StatusFile>,
    watchdog: Watchdog,
    notifier: Option<Notifier>,
    ping_every: Option<Duration>,
    last_ping: Option<Instant>,
    last_verdict: Verdict,
    /// The control port's copy of the latest snapshot, when it runs.
    board: Option<SharedStatus>,
}

impl Service {
    fn new(args: &RunArgs, graph: &crate::graph::Graph, fg: &Flowgraph) -> Self {
        let path = args
            .status_file
            .clone()
            .unwrap_or_else(|| snapshot::default_path(&graph.settings.name));
        let status_file = match StatusFile::new(path.clone()) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot keep a status file, so `flow status` will not see this run: {e}");
                None
            }
        };
        let notifier = if args.systemd {
            match Notifier::from_env() {
                Ok(Some(n)) => Some(n),
                Ok(None) => {
                    tracing::warn!("--systemd: $NOTIFY_SOCKET is not set, so there is no service manager to notify");
                    None
                }
                Err(e) => {
                    tracing::error!("--systemd: cannot open the notification socket: {e}");
                    None
                }
            }
        } else {
            None
        };
        if let Some(n) = &notifier {
            let _ = n.ready(&format!("{} blocks running", fg.blocks.len()));
        }
        Service {
            name: graph.settings.name.clone(),
            status_file,
            watchdog: Watchdog::for_graph(graph, fg),
            ping_every: notifier
                .as_ref()
                .and(notify::watchdog_interval())
                .map(|d| d / 2),
            notifier,
            last_ping: None,
            last_verdict: Verdict::Starting,
            board: None,
        }
    }

    /// Checks progress; pings the watchdog when due and everything is healthy.
    fn tick(&mut self, fg: &Flowgraph, stopping: bool) {
        let verdict = self.watchdog.check(fg);
        if let Some(n) = &self.notifier {
            if verdict != self.last_verdict {
                let _ = n.status(&match &verdict {
                    Verdict::Starting => "starting".to_string(),
                    Verdict::Healthy => format!("{} blocks healthy", fg.blocks.len()),
                    Verdict::Unhealthy(v) => {
                        let list: Vec<String> =
                            v.iter().map(|(b, r)| format!("{b}: {r}")).collect();
                        format!("unhealthy: {}", list.join("; "))
                    }
                });
            }
            let due = self
                .ping_every
                .is_some_and(|every| self.last_ping.is_none_or(|t| t.elapsed() >= every));
            // Draining after a stop is progress too: keep pinging while healthy.
            if due
                && (matches!(verdict, Verdict::Healthy | Verdict::Starting)
                    || (stopping && !matches!(verdict, Verdict::Unhealthy(_))))
            {
                let _ = n.watchdog();
                self.last_ping = Some(Instant::now());
            }
        }
        self.last_verdict = verdict;
        if self.status_file.is_none() && self.board.is_none() {
            return;
        }
        let snap = self.snapshot(fg);
        if let Some(f) = &self.status_file {
            if let Err(e) = f.write(&snap) {
                tracing::debug!(path = %f.path().display(), "status file: {e}");
            }
        }
        if let Some(b) = &self.board {
            b.set(snap);
        }
    }

    /// The current status.
    fn snapshot(&self, fg: &Flowgraph) -> Snapshot {
        Snapshot::capture(&self.name, fg, &self.last_verdict)
    }

    /// The run is over: the status file goes (a stale one would claim a run that is not).
    fn finish(&self) {
        if let Some(f) = &self.status_file {
            f.remove();
        }
    }

    /// How often the run loop should call [`Service::tick`].
    fn tick_interval(&self) -> Duration {
        self.ping_every.map_or(REFRESH, |p| p.min(REFRESH))
    }

    fn stopping(&self) {
        if let Some(n) = &self.notifier {
            let _ = n.stopping();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, extra: &[&str]) -> (ExitCode, String, String, Duration) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fg.toml");
        std::fs::write(&path, text).unwrap();
        let mut argv = vec!["run".to_string(), path.display().to_string()];
        argv.extend(extra.iter().map(|s| s.to_string()));
        let cli = <super::super::Cli as clap::Parser>::try_parse_from(
            std::iter::once("flow".to_string()).chain(argv),
        )
        .unwrap();
        let super::super::Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let t = Instant::now();
        let code = execute(
            &args,
            RunEnv {
                out: &mut out,
                err: &mut err,
                live_status: false,
                interrupts: None,
            },
        );
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
            t.elapsed(),
        )
    }

    const FG: &str = "[blocks.src]\ntype = \"t_source\"\nfrequency = 1.0\nitem = \"f32\"\ncount = 5000\n[blocks.c]\ntype = \"t_copy\"\ninputs = [\"src\"]\n[blocks.k]\ntype = \"t_sink\"\npath = \"x\"\ninputs = [\"c\"]\n";

    #[test]
    fn runs_to_the_end_and_prints_the_summary() {
        let (code, out, err, _) = run(FG, &[]);
        assert_eq!(code, ExitCode::SUCCESS, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("block  type"), "{out}");
        assert!(
            lines[1].starts_with("src    t_source")
                && lines[1].contains("5,000")
                && lines[1].ends_with("done"),
            "{out}"
        );
        assert!(
            lines[3].starts_with("k      t_sink") && lines[3].contains("5,000"),
            "{out}"
        );
        assert!(lines[4].starts_with("finished in"), "{out}");
    }

    #[test]
    fn duration_stops_an_endless_source_and_quiet_prints_nothing() {
        let endless = FG.replace("count = 5000", "count = 9223372036854775807");
        let (code, out, err, took) = run(&endless, &["--duration", "300ms", "--quiet"]);
        assert_eq!(code, ExitCode::SUCCESS, "{err}");
        assert_eq!((out.as_str(), err.as_str()), ("", ""));
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(10),
            "{took:?}"
        );
    }

    #[test]
    fn a_failed_block_makes_the_exit_code_non_zero() {
        let failing = FG.replace("path = \"x\"", "path = \"x\"\nfail = true");
        let (code, out, _, _) = run(&failing, &[]);
        assert_eq!(code, ExitCode::from(1));
        assert!(out.contains("block `k` failed: told to fail"), "{out}");
    }

    #[test]
    fn config_problems_exit_2_with_diagnostics() {
        let (code, _, err, _) = run("[blocks.a]\ntype = \"nope\"\n", &["--set", "blocks.a.x=1"]);
        assert_eq!(code, ExitCode::from(2));
        assert!(
            err.contains(":2:8: error: unknown block type `nope` for block `a`"),
            "{err}"
        );
        assert!(
            err.ends_with("error: 1 error in ") || err.contains("error: 1 error in "),
            "{err}"
        );
    }
}
