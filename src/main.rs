//! The `flow` binary: links the standard block library and hands over to the command line
//! in `flow_framework::cli`.

fn main() -> std::process::ExitCode {
    // Keep the block library linked so its registrations are visible (see `flow_blocks::link`).
    flow_blocks::link();
    flow_framework::cli::main()
}
