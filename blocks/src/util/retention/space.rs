//! Filesystem facts retention needs: the free and total space of the filesystem holding a
//! path (`statvfs`, so a RAM-backed directory such as `/dev/shm` is judged like a disk), and
//! the space a file takes (its allocated blocks, as `du` counts, so sparse files count what
//! they hold).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Space on a filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Space {
    /// Bytes available to unprivileged writers.
    pub free: u64,
    /// Size of the filesystem.
    pub total: u64,
}

/// Reads the space of the filesystem holding `path`.
pub fn statvfs(path: &Path) -> io::Result<Space> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::other(format!("{} contains a NUL byte", path.display())))?;
    // SAFETY: statvfs writes into the zeroed struct; `c` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let frsize = st.f_frsize as u64;
    Ok(Space {
        free: st.f_bavail as u64 * frsize,
        total: st.f_blocks as u64 * frsize,
    })
}

/// What `meta` takes on disk: its allocated blocks (512-byte units).
pub fn allocated(meta: &std::fs::Metadata) -> u64 {
    meta.blocks() * 512
}

/// What the file at `path` takes on disk (0 when it does not exist).
pub fn allocated_at(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).map_or(0, |m| allocated(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_space_and_allocation() {
        let d = tempfile::tempdir().unwrap();
        let s = statvfs(d.path()).unwrap();
        assert!(s.total > 0 && s.free <= s.total);
        let p = d.path().join("sparse");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(64 << 20).unwrap();
        // A sparse file takes (almost) nothing.
        assert!(allocated_at(&p) < 1 << 20, "{}", allocated_at(&p));
        std::fs::write(&p, vec![1u8; 100_000]).unwrap();
        assert!(allocated_at(&p) >= 100_000);
        assert_eq!(allocated_at(&d.path().join("none")), 0);
        assert!(statvfs(&d.path().join("none")).is_err());
        if Path::new("/dev/shm").is_dir() {
            assert!(statvfs(Path::new("/dev/shm")).unwrap().total > 0);
        }
    }
}
