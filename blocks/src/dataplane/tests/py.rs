//! Runs Python checks (h5py, digital_rf, pyarrow with `python/flow_ring.py` on the path)
//! from tests; a missing interpreter or package fails the test with Python's message.

/// Runs `code` with `args` in `sys.argv[1:]`; panics with its output unless it exits 0.
/// Returns its standard output.
pub fn run(code: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .env(
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../python"),
        )
        .output()
        .expect("python3 must be installed for this test");
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "python check failed ({}):\n{so}\n{se}",
        out.status
    );
    so.into_owned()
}
