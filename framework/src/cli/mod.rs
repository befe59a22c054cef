//! The `flow` command line: `run`, `check`, `blocks`, `graph` (and the hidden `docs`), one
//! file per subcommand; [`main`] is what the `flow` binary calls.
//!
//! Exit codes: 0 success; 1 `check` found problems, a block failed, or an unknown block
//! type was asked for; 2 a flowgraph file has problems (`run`, `graph`) or the command line
//! is wrong; 130 a second Ctrl-C.

pub mod bench;
pub mod blocks;
pub mod check;
pub mod docs;
pub mod extension;
pub mod graph;
pub mod http;
pub mod logging;
pub mod overrides;
pub mod plan;
pub mod render;
pub mod run;
pub mod signals;
pub mod status;
pub mod status_command;
pub mod summary;
pub mod top;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};

/// Record and process radio and instrument data as a staged dataflow, driven by TOML
/// flowgraphs.
#[derive(Parser, Debug)]
#[command(name = "flow", version, long_about = None, propagate_version = true)]
pub struct Cli {
    /// More log output: -v info, -vv debug, -vvv trace (RUST_LOG overrides).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a flowgraph until its sources end, Ctrl-C, or --duration.
    Run(run::RunArgs),
    /// Check a flowgraph without running it; print every problem.
    Check(check::CheckArgs),
    /// List the block types, or describe one (ports, parameters, example).
    Blocks(blocks::BlocksArgs),
    /// Print a flowgraph as a Graphviz DOT or Mermaid diagram.
    Graph(graph::GraphArgs),
    /// Rates, disk, memory and CPU of a flowgraph against this host; fails if it does not fit.
    Plan(plan::PlanArgs),
    /// Health of a running flowgraph (exit code: 0 ok, 1 degraded, 2 failed, 3 not running).
    Status(status_command::StatusArgs),
    /// Run a built-in benchmark workload (figures in the performance guide).
    Bench(bench::BenchArgs),
    /// Show a live table of the blocks of a flowgraph running with --http.
    Top(top::TopArgs),
    /// Generate reference documentation.
    #[command(hide = true)]
    Docs(docs::DocsArgs),
    /// A subcommand registered by a block crate (`flow bench ring`, `flow convert`).
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

/// Entry point of the `flow` binary.
pub fn main() -> ExitCode {
    let matches = Cli::command()
        .after_help(extension::help_section())
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    logging::init(cli.verbose);
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match &cli.command {
        Command::Run(a) => run::main(a),
        Command::Check(a) => check::execute(a, &mut out, &mut err),
        Command::Blocks(a) => blocks::execute(a, &mut out, &mut err),
        Command::Graph(a) => graph::execute(a, &mut out, &mut err),
        Command::Plan(a) => plan::execute(a, &mut out, &mut err),
        Command::Status(a) => status_command::execute(a, &mut out, &mut err),
        Command::Bench(a) => bench::execute(a, &mut out, &mut err),
        Command::Top(a) => top::main(a),
        Command::Docs(a) => docs::execute(a, &mut out),
        Command::External(args) => extension::dispatch(args, &mut err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_subcommands_and_global_verbosity() {
        let cli = Cli::try_parse_from([
            "flow",
            "-vv",
            "run",
            "fg.toml",
            "--set",
            "a=1",
            "--duration",
            "1m",
            "-q",
        ])
        .unwrap();
        assert_eq!(cli.verbose, 2);
        let Command::Run(r) = cli.command else {
            panic!("run")
        };
        assert_eq!(r.set.set, ["a=1"]);
        assert_eq!(r.duration, Some(std::time::Duration::from_secs(60)));
        assert!(r.quiet);
        let cli =
            Cli::try_parse_from(["flow", "graph", "x.toml", "--format", "mermaid", "-v"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Graph(graph::GraphArgs {
                format: graph::Format::Mermaid,
                ..
            })
        ));
        assert_eq!(cli.verbose, 1);
        assert!(Cli::try_parse_from(["flow", "run", "x.toml", "--duration", "soon"]).is_err());
        assert!(Cli::try_parse_from(["flow", "docs", "blocks"]).is_ok());
    }

    #[test]
    fn help_lists_the_public_subcommands_only() {
        let help = Cli::command().render_help().to_string();
        for sub in ["run", "check", "blocks", "graph", "top"] {
            assert!(help.contains(sub), "{help}");
        }
        assert!(!help.contains("docs"), "{help}");
    }
}
