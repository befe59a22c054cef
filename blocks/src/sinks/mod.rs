//! Sink blocks: discard, raw files, message logs, SQLite tables.

pub mod file_sink;
pub mod message_sink;
pub mod null_sink;
pub mod sqlite;
