//! Verified uploads: a durable queue (SQLite) of files to send to an SFTP server or a
//! directory, each checked by size and SHA-256 at the destination before it counts, retried
//! with backoff on transient errors, reported on permanent ones, and confirmed locally (the
//! `.confirmed` markers storage limits respect) only after verification. `flow upload`
//! works for any files; `flow daily` builds and uploads the GRAPE day product.
//!
//! | module | purpose |
//! |---|---|
//! | [`config`] | the configuration file |
//! | [`error`] | transient and permanent errors |
//! | [`remote`] | destinations' primitives, the verified upload, the local directory |
//! | [`sftp`] | the SFTP destination |
//! | [`queue`] | the SQLite queue |
//! | [`run`] | one pass over the queue: retries, triggers, confirmations |
//! | [`command`] | `flow upload` |
//! | [`daily`] | `flow daily` |

pub mod command;
pub mod config;
pub mod daily;
pub mod error;
pub mod queue;
pub mod remote;
pub mod run;
pub mod sftp;
