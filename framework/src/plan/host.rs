//! What the host offers: cores, available memory, and free space of the filesystem holding
//! a path (the nearest existing ancestor, so a directory a sink will create is judged by
//! where it will live).

use std::path::{Path, PathBuf};

/// The host's resources.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// Cores available to this process.
    pub cores: usize,
    /// Memory available for new work, in bytes (`MemAvailable`).
    pub mem_available: Option<u64>,
}

impl Host {
    /// Reads the running host.
    pub fn current() -> Host {
        Host {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            mem_available: mem_available(),
        }
    }
}

fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The nearest existing ancestor of `path` (itself if it exists).
pub fn existing_ancestor(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    let mut p = abs.as_path();
    loop {
        if p.exists() {
            return p.to_path_buf();
        }
        match p.parent() {
            Some(parent) => p = parent,
            None => return PathBuf::from("/"),
        }
    }
}

/// Free bytes (for unprivileged users) and the device of the filesystem holding `path`.
pub fn free_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let p = existing_ancestor(path);
    let dev = std::fs::metadata(&p).ok()?.dev();
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct; c is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64 * st.f_frsize as u64, dev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_host_and_free_space_of_a_path_to_be() {
        let h = Host::current();
        assert!(h.cores >= 1);
        assert!(h.mem_available.is_some_and(|m| m > 0));
        let dir = tempfile::tempdir().unwrap();
        let future = dir.path().join("not/yet/here");
        assert_eq!(existing_ancestor(&future), dir.path());
        let (free, _) = free_space(&future).unwrap();
        assert!(free > 0);
    }
}
