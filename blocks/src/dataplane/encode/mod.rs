//! Arrow encoding of flow data for the ring buffer: the schemas of stream and message
//! records ([`schema`]), record batches built from samples and messages ([`batch`]), and
//! the Arrow IPC encoder that turns them into bytes ([`ipc`]).

pub mod batch;
pub mod ipc;
pub mod schema;
