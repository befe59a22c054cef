//! Ctrl-C and SIGTERM for `flow run`: the first asks the flowgraph to stop (drain, flush,
//! finalize); the second exits at once with status 130.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};

/// Exit status after a second interrupt (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Whether an interrupt arrived.
#[derive(Clone, Debug)]
pub struct Interrupts {
    flag: Arc<AtomicBool>,
}

impl Interrupts {
    /// Installs the handlers for SIGINT and SIGTERM.
    pub fn install() -> io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Order matters: the exit is armed only once the flag is set by a first signal.
            signal_hook::flag::register_conditional_shutdown(sig, EXIT_INTERRUPTED, flag.clone())?;
            signal_hook::flag::register(sig, flag.clone())?;
        }
        Ok(Interrupts { flag })
    }

    /// True once SIGINT or SIGTERM arrived.
    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}
