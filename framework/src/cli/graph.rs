//! `flow graph FILE [--format dot|mermaid]`: prints the flowgraph as a diagram.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::overrides::SetArgs;
use super::render;
use crate::config;

/// Diagram format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Graphviz DOT (`flow graph fg.toml | dot -Tsvg > fg.svg`).
    #[default]
    Dot,
    /// Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
}

/// Arguments of `flow graph`.
#[derive(Args, Debug, Clone)]
pub struct GraphArgs {
    /// The flowgraph file.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    pub format: Format,
    /// `--set KEY=VALUE` overrides.
    #[command(flatten)]
    pub set: SetArgs,
}

/// Runs `flow graph`: the diagram on `out`, problems on `err` (exit 2).
pub fn execute(args: &GraphArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let graph = match config::load_file(&args.file, &args.set.set) {
        Ok(g) => g,
        Err(d) => {
            let _ = writeln!(
                err,
                "{d}\n\nerror: {}",
                d.summary(&args.file.display().to_string())
            );
            return ExitCode::from(2);
        }
    };
    let text = match args.format {
        Format::Dot => render::dot(&graph),
        Format::Mermaid => render::mermaid(&graph),
    };
    let _ = out.write_all(text.as_bytes());
    ExitCode::SUCCESS
}
