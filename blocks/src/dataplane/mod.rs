//! The data plane: sinks that hand data to other processes and to archival formats — the
//! shared-memory `ring_buffer` (Arrow IPC records), and the Arrow encoding it uses.

pub mod bench;
pub mod encode;
pub mod ring;
pub mod ring_buffer;
pub mod stream_clock;

#[cfg(test)]
mod tests;
