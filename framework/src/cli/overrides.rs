//! The `--set KEY=VALUE` flag shared by `run`, `check` and `graph`: its docs and parsing in
//! one place (the values are applied by [`crate::config`], which names the flag in errors).

use clap::Args;

/// `--set KEY=VALUE`, repeatable.
#[derive(Args, Debug, Clone, Default)]
pub struct SetArgs {
    /// Override a value of the flowgraph file: a dotted key (`blocks.archive.dir`,
    /// `flowgraph.duration`) and a TOML value (`5`, `true`, `"x"`, `[1, 2]`); anything
    /// that is not valid TOML is taken as a string (`/data/raw`, `10s`). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        s: SetArgs,
    }

    #[test]
    fn set_is_repeatable_and_keeps_values_verbatim() {
        let t = T::try_parse_from(["t", "--set", "a.b=1", "--set=blocks.x.dir=/a=b"]).unwrap();
        assert_eq!(t.s.set, ["a.b=1", "blocks.x.dir=/a=b"]);
    }
}
