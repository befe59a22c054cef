//! `flow plan FILE`: rates per edge, disk per day per sink, buffer memory and CPU per block,
//! against this host; exits 1 with the reasons when the flowgraph does not fit.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::overrides::SetArgs;
use crate::config;
use crate::plan::calibrate::Cache;
use crate::plan::host::Host;
use crate::plan::report;

/// Arguments of `flow plan`.
#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The flowgraph file.
    pub file: PathBuf,
    /// `--set KEY=VALUE` overrides.
    #[command(flatten)]
    pub set: SetArgs,
    /// Measure every block again instead of using the calibration cache.
    #[arg(long)]
    pub recalibrate: bool,
    /// How long to calibrate each block that is not cached.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = humantime::parse_duration)]
    pub budget: Duration,
}

/// Runs `flow plan`: 0 fits, 1 does not fit, 2 the file has problems.
pub fn execute(args: &PlanArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let file = args.file.display().to_string();
    let graph = match config::load_file(&args.file, &args.set.set) {
        Ok(g) => g,
        Err(d) => {
            let _ = writeln!(err, "{d}\n\nerror: {}", d.summary(&file));
            return ExitCode::from(2);
        }
    };
    let mut cache = Cache::load_default();
    if args.recalibrate {
        cache.clear();
    }
    let plan = report::plan(&graph, Host::current(), &mut cache, args.budget);
    cache.save();
    let _ = out.write_all(plan.render().as_bytes());
    if plan.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
