//! Wake-ups between threads: a [`Waker`] belongs to the thread that runs a block (a pool
//! worker or the block's own thread); buffers call it when data or space appears.
//!
//! Built on `std::thread::park`/`unpark`: an unpark that arrives while the thread is busy
//! leaves a token, so the next park returns at once and no wake-up is ever lost.

use std::sync::OnceLock;
use std::thread::Thread;

/// Wakes the thread that runs a block.
#[derive(Default, Debug)]
pub struct Waker {
    thread: OnceLock<Thread>,
}

impl Waker {
    /// A waker not yet bound to a thread (wakes are no-ops until [`Waker::bind_current`]).
    pub fn new() -> Self {
        Waker::default()
    }

    /// Binds the waker to the calling thread. Later binds are ignored.
    pub fn bind_current(&self) {
        let _ = self.thread.set(std::thread::current());
    }

    /// Wakes the bound thread (cheap when it is not parked).
    #[inline]
    pub fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}
