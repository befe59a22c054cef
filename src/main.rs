//! The `flow` binary: the command line lives in `flow_framework::cli`.

fn main() -> std::process::ExitCode {
    flow_framework::cli::main()
}
