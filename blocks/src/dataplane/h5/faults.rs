//! Fault injection for the HDF5 writers' tests: make the next writes under a directory
//! fail, or hold them until released (a stalled disk). Inert unless a test arms it; scoped
//! by directory so tests running in parallel do not disturb each other.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

struct Fault {
    dir: PathBuf,
    fail_next: u64,
    stalled: bool,
}

static FAULTS: Mutex<Vec<Fault>> = Mutex::new(Vec::new());
static CHANGED: Condvar = Condvar::new();

fn with(dir: &Path, f: impl FnOnce(&mut Fault)) {
    if let Ok(mut v) = FAULTS.lock() {
        if !v.iter().any(|x| x.dir == dir) {
            v.push(Fault {
                dir: dir.to_path_buf(),
                fail_next: 0,
                stalled: false,
            });
        }
        if let Some(x) = v.iter_mut().find(|x| x.dir == dir) {
            f(x);
        }
    }
    CHANGED.notify_all();
}

/// Makes the next `n` HDF5 writes of files under `dir` fail as if the library had failed.
pub fn fail_next_writes(dir: &Path, n: u64) {
    with(dir, |f| f.fail_next = n);
}

/// Holds every write of files under `dir` until [`release`].
pub fn stall(dir: &Path) {
    with(dir, |f| f.stalled = true);
}

/// Lets stalled writes under `dir` go on.
pub fn release(dir: &Path) {
    with(dir, |f| f.stalled = false);
}

/// Called by writers before each write of `file`: waits while stalled; errors if a
/// failure is armed.
pub fn before_write(file: &Path) -> Result<(), String> {
    let Ok(mut v) = FAULTS.lock() else {
        return Ok(());
    };
    loop {
        let Some(f) = v.iter_mut().find(|f| file.starts_with(&f.dir)) else {
            return Ok(());
        };
        if f.stalled {
            v = match CHANGED.wait(v) {
                Ok(v) => v,
                Err(_) => return Ok(()),
            };
            continue;
        }
        if f.fail_next > 0 {
            f.fail_next -= 1;
            return Err("injected HDF5 write failure".into());
        }
        return Ok(());
    }
}
