//! `flow docs blocks` (hidden): prints the generated block reference, `docs/blocks.md`.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::docgen;

/// Arguments of `flow docs`.
#[derive(Args, Debug, Clone)]
pub struct DocsArgs {
    /// What to generate.
    #[command(subcommand)]
    pub what: DocsWhat,
}

/// Generated documents.
#[derive(Subcommand, Debug, Clone, Copy)]
pub enum DocsWhat {
    /// The block reference (`docs/blocks.md`).
    Blocks,
}

/// Runs `flow docs`.
pub fn execute(args: &DocsArgs, out: &mut dyn Write) -> ExitCode {
    let text = match args.what {
        DocsWhat::Blocks => docgen::blocks_markdown(),
    };
    match out.write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}
