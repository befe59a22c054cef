//! Sink blocks: discard, raw files, message logs, SQLite tables, the live web view.

pub mod file_sink;
pub mod message_sink;
pub mod null_sink;
pub mod sqlite;
pub mod web_spectrum;
