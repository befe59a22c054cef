//! Tests of the data plane blocks through the block harness.

mod ring_buffer;
