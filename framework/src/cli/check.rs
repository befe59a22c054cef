//! `flow check FILE [--set KEY=VALUE]...`: runs every load-time check without starting
//! anything, and prints all problems at once.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::overrides::SetArgs;
use crate::config;

/// Arguments of `flow check`.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The flowgraph file.
    pub file: PathBuf,
    /// `--set KEY=VALUE` overrides.
    #[command(flatten)]
    pub set: SetArgs,
}

/// Runs `flow check`: a one-line summary on `out` and exit 0, or every problem on `err` and
/// exit 1.
pub fn execute(args: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> ExitCode {
    let file = args.file.display().to_string();
    match config::load_file(&args.file, &args.set.set) {
        Ok(g) => {
            let n = g.blocks.len();
            let e = g.edges.len();
            let _ = writeln!(
                out,
                "{file}: ok: flowgraph `{}`, {n} block{}, {e} edge{}",
                g.settings.name,
                if n == 1 { "" } else { "s" },
                if e == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(d) => {
            let _ = writeln!(err, "{d}\n\nerror: {}", d.summary(&file));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> (ExitCode, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fg.toml");
        std::fs::write(&path, text).unwrap();
        let args = CheckArgs {
            file: path,
            set: SetArgs::default(),
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = execute(&args, &mut out, &mut err);
        let clean = |b: Vec<u8>| {
            String::from_utf8_lossy(&b).replace(&dir.path().display().to_string(), "DIR")
        };
        (code, clean(out), clean(err))
    }

    #[test]
    fn ok_prints_a_summary_line() {
        let (code, out, err) = check("[blocks.s]\ntype = \"t_source\"\nfrequency = 1.0\n[blocks.k]\ntype = \"t_sink\"\npath = \"x\"\ninputs = [\"s\"]\n");
        assert_eq!(code, ExitCode::SUCCESS);
        assert_eq!(out, "DIR/fg.toml: ok: flowgraph `fg`, 2 blocks, 1 edge\n");
        assert_eq!(err, "");
    }

    #[test]
    fn problems_are_all_printed_with_a_count_and_exit_1() {
        let (code, out, err) = check("[blocks.s]\ntype = \"t_sorce\"\n[blocks.k]\ntype = \"t_sink\"\npath = \"x\"\ninputs = [\"z\"]\n");
        assert_eq!(code, ExitCode::from(1));
        assert_eq!(out, "");
        assert_eq!(
            err,
            "DIR/fg.toml:2:8: error: unknown block type `t_sorce` for block `s`
  |
2 | type = \"t_sorce\"
  |        ^^^^^^^^^
  = help: did you mean `t_source`?

DIR/fg.toml:6:11: error: unknown block `z` in `inputs` of block `k`
  |
6 | inputs = [\"z\"]
  |           ^^^
  = help: the blocks are `s`, `k`

error: 2 errors in DIR/fg.toml
"
        );
    }
}
