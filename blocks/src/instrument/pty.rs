//! A pseudo-terminal pair in raw mode: a stand-in serial line for tests and for the meter
//! emulator. The program holds the master end and writes what a device would send; a
//! serial reader opens [`Pty::path`] (the slave) like any serial port.
//!
//! Facts worth knowing: a pty buffers only about 22 KB of unread input (a writer blocks
//! when it is full); closing the master is what a USB unplug looks like to the reader (reads
//! fail with a hang-up); the slave stays in raw mode so nothing is echoed or translated.

use std::fs::File;
use std::io;
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
        let slave = File::from(r.slave);
        let master = File::from(r.master);
        let mut t = termios::tcgetattr(&slave).map_err(io::Error::from)?;
        termios::cfmakeraw(&mut t);
        termios::tcsetattr(&slave, termios::SetArg::TCSANOW, &t).map_err(io::Error::from)?;
        let path = nix::unistd::ttyname(&slave).map_err(io::Error::from)?;
        Ok(Pty {
            master,
            slave,
            path,
        })
    }
}
