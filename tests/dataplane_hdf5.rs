//! HDF5 end to end (feature `hdf5`; needs libhdf5, python3 with h5py and numpy): h5py reads
//! the file while `flow run` writes it (SWMR), reads everything up to the last flush after
//! kill -9, and the next start finalizes the killed writer's file.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::Sandbox;

/// Reads the `.h5.part` (SWMR) or `.h5` files of DIR, checks every sample against its
/// sample index (the source writes i - i*1j) and prints the number of rows.
const READ: &str = r#"
import sys, glob, h5py, numpy as np
mode = sys.argv[2]
pattern = "/*.h5.part" if mode != "final" else "/*.h5"
files = sorted(glob.glob(sys.argv[1] + pattern))
if not files:
    print(0); sys.exit(0)
rows = 0
for p in files:
    kw = dict(swmr=True, libver="latest") if mode != "final" else {}
    with h5py.File(p, "r", **kw) as f:
        d, seg = f["samples"], f["segments"]
        if mode != "final":
            d.refresh(); seg.refresh()
        x, s = d[:], seg[:]
        for i, g in enumerate(s):
            end = s[i + 1]["position"] if i + 1 < len(s) else len(x)
            k = np.arange(g["sample_index"], g["sample_index"] + end - g["position"]).astype(np.float32)
            assert np.array_equal(x[g["position"]:end], (k - 1j * k).astype(np.complex64)), p
        rows += len(x)
print(rows)
"#;

fn rows(dir: &std::path::Path, mode: &str) -> u64 {
    let out = Command::new("python3")
        .args(["-c", READ, dir.to_str().unwrap(), mode])
        .output()
        .expect("python3 with h5py");
    assert!(
        out.status.success(),
        "h5py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn h5py_reads_while_writing_and_after_kill_9() {
    let sb = Sandbox::new();
    let n = 3_000_000u64;
    let data: Vec<u8> = (0..n)
        .flat_map(|i| [(i as f32).to_le_bytes(), (-(i as f32)).to_le_bytes()].concat())
        .collect();
    std::fs::write(sb.path().join("in.c32"), data).unwrap();
    let fg = sb.write(
        "fg.toml",
        "[blocks.src]\ntype = \"file_source\"\npath = \"in.c32\"\nthrottle = true\nsample_rate = 100000.0\n\n\
         [blocks.h5]\ntype = \"hdf5_sink\"\ninputs = [\"src\"]\ndir = \"h5\"\nflush_seconds = 0.2\n",
    );
    let dir = sb.path().join("h5");
    let mut flow = sb.flow().args(["run", "-q"]).arg(&fg).spawn().unwrap();
    // Readable while being written: wait until h5py sees data growing.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    while seen < 50_000 {
        assert!(
            Instant::now() < deadline,
            "h5py never saw the file grow ({seen} rows)"
        );
        std::thread::sleep(Duration::from_millis(100));
        seen = rows(&dir, "swmr");
    }
    let again = rows(&dir, "swmr");
    assert!(again >= seen, "rows went backwards: {seen} then {again}");
    flow.kill().unwrap(); // SIGKILL
    flow.wait().unwrap();
    let after = rows(&dir, "swmr");
    assert!(
        after >= again,
        "after kill -9 h5py reads {after} rows, fewer than the {again} flushed before"
    );
    assert!(after < n, "the run was killed early");
    // The next start finalizes the killed writer's file.
    let out = sb.run(
        &["run", "-q", "--duration", "300ms", fg.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let finals = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "h5")
        })
        .count();
    assert_eq!(finals, 2, "the recovered file and the new run's file");
    assert!(rows(&dir, "final") >= after);
}
