//! A pseudo-terminal pair in raw mode: a stand-in serial line for tests and for the meter
//! emulator. The program holds the master end and writes what a device would send; a
//! serial reader opens [`Pty::path`] (the slave) like any serial port.
//!
//! Facts worth knowing: a pty buffers only about 22 KB of unread input (a writer blocks
//! when it is full); closing the master is what a USB unplug looks like to the reader (reads
//! fail with a hang-up); the slave stays in raw mode so nothing is echoed or translated.

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// An open pseudo-terminal pair.
#[derive(Debug)]
pub struct Pty {
    /// The master end: what is written here is read from the slave.
    pub master: File,
    /// A slave descriptor kept open, so input written before a reader opens (or between two
    /// readers) is kept by the kernel instead of dropped.
    pub slave: File,
    /// Path of the slave device (`/dev/pts/N`), what a serial reader opens.
    pub path: PathBuf,
}

impl Pty {
    /// Opens a pair and puts the slave in raw mode.
    pub fn open() -> io::Result<Pty> {
        use nix::sys::termios;
        let r = nix::pty::openpty(None, None).map_err(io::Error::from)?;
        // SAFETY: openpty returned two fresh descriptors that nothing else owns.
        let (master, slave) = unsafe {
            (
                OwnedFd::from_raw_fd(r.master),
                OwnedFd::from_raw_fd(r.slave),
            )
        };
        let slave = File::from(slave);
        let master = File::from(master);
        let mut t =
            termios::tcgetattr(std::os::fd::AsRawFd::as_raw_fd(&slave)).map_err(io::Error::from)?;
        termios::cfmakeraw(&mut t);
        termios::tcsetattr(
            std::os::fd::AsRawFd::as_raw_fd(&slave),
            termios::SetArg::TCSANOW,
            &t,
        )
        .map_err(io::Error::from)?;
        let path = nix::unistd::ttyname(std::os::fd::AsRawFd::as_raw_fd(&slave))
            .map_err(io::Error::from)?;
        Ok(Pty {
            master,
            slave,
            path,
        })
    }
}
