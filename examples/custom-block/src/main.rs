//! `flow-custom`: the `flow` command line with the standard blocks and `power_meter`.

fn main() -> std::process::ExitCode {
    flow_blocks::link();
    power_meter::link();
    flow_framework::cli::main()
}
