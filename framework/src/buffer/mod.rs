//! Stream buffers: mirrored memory, the shared multi-reader ring of an output port, the
//! private rings of lossy edges, tag queues and thread wake-ups.

pub mod mirrored;
pub mod private;
pub mod stream;
pub mod tags;
pub mod waker;

pub use private::{DropPolicy, PrivateEdge};
pub use stream::{ReadWindow, StreamBuffer};
pub use waker::Waker;
