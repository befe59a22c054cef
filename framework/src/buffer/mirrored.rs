//! Double-mapped ("mirrored") memory: one region of `len` bytes mapped twice, back to back,
//! so that any `len`-byte window starting inside the first mapping is contiguous. A circular
//! buffer built on it hands out plain slices even across the wrap point.
//!
//! Linux: `memfd_create` + two `MAP_FIXED` mappings over a reserved range. Other Unix: an
//! unlinked temporary file instead of the memfd.

use std::io;
use std::ptr::NonNull;

/// A mirrored memory region. Dropping it unmaps both views.
pub struct MirroredMemory {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain memory owned by this value; synchronisation of accesses is the
// job of the buffer built on top (single writer, readers behind acquire/release positions).
unsafe impl Send for MirroredMemory {}
// SAFETY: as above.
unsafe impl Sync for MirroredMemory {}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

impl MirroredMemory {
    /// Maps at least `min_len` bytes (rounded up to a page multiple that is also a multiple of
    /// `align`, which must be a power of two no larger than a page).
    pub fn new(min_len: usize, align: usize) -> io::Result<Self> {
        let page = page_size();
        debug_assert!(align.is_power_of_two() && align <= page);
        let len = min_len.max(1).div_ceil(page) * page;
        let fd = anonymous_fd(len)?;
        // SAFETY: reserving address space with PROT_NONE has no preconditions; every pointer
        // below stays within the 2*len reservation, and fd is a valid file of `len` bytes.
        let result = unsafe {
            let reserve = libc::mmap(
                std::ptr::null_mut(),
                2 * len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if reserve == libc::MAP_FAILED {
                Err(io::Error::last_os_error())
            } else {
                let map_half = |offset: usize| {
                    let addr = (reserve as *mut u8).add(offset) as *mut libc::c_void;
                    let p = libc::mmap(
                        addr,
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED | libc::MAP_FIXED,
                        fd,
                        0,
                    );
                    if p == libc::MAP_FAILED || p != addr {
                        Err(io::Error::last_os_error())
                    } else {
                        Ok(())
                    }
                };
                match map_half(0).and_then(|()| map_half(len)) {
                    Ok(()) => Ok(reserve as *mut u8),
                    Err(e) => {
                        libc::munmap(reserve, 2 * len);
                        Err(e)
                    }
                }
            }
        };
        // SAFETY: fd is ours; the mappings keep the memory alive after it is closed.
        unsafe { libc::close(fd) };
        let base = result?;
        Ok(MirroredMemory {
            base: NonNull::new(base).ok_or_else(io::Error::last_os_error)?,
            len,
        })
    }

    /// Length of one view in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a region has at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Start of the first view. Offsets `0..2*len` are valid, `x` and `x+len` alias.
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }
}

impl Drop for MirroredMemory {
    fn drop(&mut self) {
        // SAFETY: base..base+2*len is the reservation made in `new`.
        unsafe { libc::munmap(self.base.as_ptr() as *mut libc::c_void, 2 * self.len) };
    }
}

#[cfg(target_os = "linux")]
fn anonymous_fd(len: usize) -> io::Result<libc::c_int> {
    // SAFETY: the name is a valid C string; the fd is checked.
    let fd = unsafe { libc::memfd_create(c"flow-buffer".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    set_len(fd, len)
}

#[cfg(not(target_os = "linux"))]
fn anonymous_fd(len: usize) -> io::Result<libc::c_int> {
    use std::os::fd::IntoRawFd;
    let file = tempfile_in_tmp()?;
    set_len(file.into_raw_fd(), len)
}

#[cfg(not(target_os = "linux"))]
fn tempfile_in_tmp() -> io::Result<std::fs::File> {
    let path = std::env::temp_dir().join(format!("flow-buffer-{}-{:p}", std::process::id(), &0u8));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(f)
}

fn set_len(fd: libc::c_int, len: usize) -> io::Result<libc::c_int> {
    // SAFETY: fd is a valid descriptor owned by the caller.
    if unsafe { libc::ftruncate(fd, len as libc::off_t) } != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: as above.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_view_aliases_the_first() {
        let m = MirroredMemory::new(100, 8).unwrap();
        assert_eq!(m.len() % page_size(), 0);
        let p = m.as_ptr();
        // SAFETY: offsets are within 0..2*len.
        unsafe {
            *p.add(3) = 42;
            assert_eq!(*p.add(m.len() + 3), 42);
            *p.add(2 * m.len() - 1) = 7;
            assert_eq!(*p.add(m.len() - 1), 7);
        }
    }
}
