//! The one tokio runtime of the network blocks: a single worker thread, started on first use,
//! that runs socket tasks (accepting, reading, writing) while the blocks' own threads hand
//! data to it through bounded queues.

use std::sync::OnceLock;

/// The shared runtime's handle.
pub fn handle() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("flow-net")
            .enable_all()
            .build()
            // Creating a one-thread runtime fails only when the process cannot spawn a
            // thread at all, which nothing in flow survives anyway.
            .unwrap_or_else(|e| panic!("cannot start the network runtime: {e}"))
    })
}
