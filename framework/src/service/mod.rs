//! Running as a service: the systemd notification protocol and the stall watchdog that
//! decides whether the flowgraph is still making progress.

pub mod notify;
pub mod snapshot;
pub mod watchdog;
