//! The live-data hub: blocks publish small JSON documents (a spectrum frame, a detection) by
//! topic, and the control port's WebSocket clients receive them. Publishing never blocks and
//! costs next to nothing when nobody listens; a slow client skips what it could not take (the
//! channel keeps a fixed number of recent documents), so memory stays bounded whatever the
//! clients do.

use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;

/// Documents kept for clients that lag behind; older ones are skipped for them.
pub const BACKLOG: usize = 64;

/// One published document.
#[derive(Clone, Debug)]
pub struct Published {
    /// What it is (`spectrum`, `detection`): the `type` field clients dispatch on.
    pub topic: Arc<str>,
    /// The JSON text.
    pub json: Arc<str>,
}

fn channel() -> &'static broadcast::Sender<Published> {
    static TX: OnceLock<broadcast::Sender<Published>> = OnceLock::new();
    TX.get_or_init(|| broadcast::channel(BACKLOG).0)
}

/// Publishes `json` under `topic` to every connected client (never blocks).
pub fn publish(topic: &str, json: String) {
    let tx = channel();
    if tx.receiver_count() > 0 {
        let _ = tx.send(Published {
            topic: topic.into(),
            json: json.into(),
        });
    }
}

/// True when at least one client listens (lets a block skip building documents).
pub fn has_subscribers() -> bool {
    channel().receiver_count() > 0
}

/// A new subscription to everything published from now on.
pub fn subscribe() -> broadcast::Receiver<Published> {
    channel().subscribe()
}
