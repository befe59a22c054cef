//! ZeroMQ sockets for the blocks (pure-Rust `zeromq` crate, ZMTP 3, interoperates with libzmq)
//! behind bounded queues that give them libzmq's high-water-mark behaviour: a block hands
//! whole messages to a [`Sender`] or takes them from a [`Receiver`]; a task on the shared
//! network runtime moves them to and from the socket.
//!
//! The `zeromq` crate has no high-water-mark option, so the mark is this queue's capacity in
//! messages: a PUB sink or SUB source drops when it is full (counted), a PUSH sink or PULL
//! source waits (backpressure down to TCP), as libzmq does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::net::runtime;

/// How long one connection attempt may take before it is reported and retried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether a socket binds (listens) or connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Listen on the address (`tcp://0.0.0.0:5555`, `tcp://127.0.0.1:5555`).
    Bind,
    /// Connect to a peer that binds; reconnects until it is there.
    Connect,
}

/// The four socket patterns of the blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Publisher: every subscriber gets every message; drops when a subscriber lags.
    Pub,
    /// Pusher: one consumer per message, round robin; waits when consumers lag.
    Push,
    /// Subscriber.
    Sub,
    /// Puller.
    Pull,
}

/// Counters shared between a block and its socket task.
#[derive(Debug, Default)]
pub struct SocketStats {
    /// Messages dropped at the high-water mark.
    pub dropped: AtomicU64,
    /// Socket errors.
    pub errors: AtomicU64,
    /// The last socket error.
    pub last_error: std::sync::Mutex<String>,
    /// True once the socket works again after its last error (connected).
    pub recovered: std::sync::atomic::AtomicBool,
}

impl SocketStats {
    fn error(&self, e: impl std::fmt::Display) {
        self.recovered.store(false, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.last_error.lock() {
            *l = e.to_string();
        }
    }
}

/// Turns socket errors into the block's health: degraded with the last error while the
/// socket fails, ok again once it has recovered. Errors are logged rate-limited.
pub struct HealthWatch {
    seen: u64,
    degraded: bool,
}

impl HealthWatch {
    /// Nothing seen yet.
    pub fn new() -> Self {
        HealthWatch {
            seen: 0,
            degraded: false,
        }
    }

    /// Updates `health` from `stats`.
    pub fn update(
        &mut self,
        stats: &SocketStats,
        health: Option<&flow_framework::block::HealthHandle>,
        log: &mut flow_framework::log::RateLimited,
    ) {
        let errors = stats.errors.load(Ordering::Relaxed);
        if errors > self.seen {
            self.seen = errors;
            let last = stats
                .last_error
                .lock()
                .map(|e| e.clone())
                .unwrap_or_default();
            log.warn(&last);
            if let Some(h) = health {
                h.degraded(&last);
            }
            self.degraded = true;
        } else if self.degraded && stats.recovered.load(Ordering::Relaxed) {
            if let Some(h) = health {
                h.ok();
            }
            self.degraded = false;
        }
    }
}

impl Default for HealthWatch {
    fn default() -> Self {
        Self::new()
    }
}

enum AnySocket {
    Pub(zeromq::PubSocket),
    Push(zeromq::PushSocket),
    Sub(zeromq::SubSocket),
    Pull(zeromq::PullSocket),
}

impl AnySocket {
    fn new(p: Pattern) -> Self {
        // Give up a connection attempt after a second (the caller retries and reports), so
        // an absent peer shows in the block's health instead of hiding in a long wait.
        let options = || {
            let mut o = zeromq::SocketOptions::default();
            o.connect_timeout(CONNECT_TIMEOUT);
            o
        };
        match p {
            Pattern::Pub => AnySocket::Pub(zeromq::PubSocket::with_options(options())),
            Pattern::Push => AnySocket::Push(zeromq::PushSocket::with_options(options())),
            Pattern::Sub => AnySocket::Sub(zeromq::SubSocket::with_options(options())),
            Pattern::Pull => AnySocket::Pull(zeromq::PullSocket::with_options(options())),
        }
    }

    async fn bind(&mut self, a: &str) -> zeromq::ZmqResult<zeromq::Endpoint> {
        match self {
            AnySocket::Pub(s) => s.bind(a).await,
            AnySocket::Push(s) => s.bind(a).await,
            AnySocket::Sub(s) => s.bind(a).await,
            AnySocket::Pull(s) => s.bind(a).await,
        }
    }

    async fn connect(&mut self, a: &str) -> zeromq::ZmqResult<()> {
        match self {
            AnySocket::Pub(s) => s.connect(a).await,
            AnySocket::Push(s) => s.connect(a).await,
            AnySocket::Sub(s) => s.connect(a).await,
            AnySocket::Pull(s) => s.connect(a).await,
        }
    }

    async fn send(&mut self, m: ZmqMessage) -> zeromq::ZmqResult<()> {
        match self {
            AnySocket::Pub(s) => s.send(m).await,
            AnySocket::Push(s) => s.send(m).await,
            _ => Ok(()),
        }
    }

    async fn recv(&mut self) -> zeromq::ZmqResult<ZmqMessage> {
        match self {
            AnySocket::Sub(s) => s.recv().await,
            AnySocket::Pull(s) => s.recv().await,
            _ => std::future::pending().await,
        }
    }
}

/// Opens a socket: binds at once (so a taken port fails the block's start), or connects in
/// the background, retrying until the peer is there.
async fn open(
    pattern: Pattern,
    address: &str,
    mode: Mode,
    key: Option<&str>,
    stats: &SocketStats,
) -> Result<AnySocket, String> {
    let mut s = AnySocket::new(pattern);
    if let AnySocket::Sub(sub) = &mut s {
        sub.subscribe(key.unwrap_or(""))
            .await
            .map_err(|e| format!("subscribing: {e}"))?;
    }
    match mode {
        Mode::Bind => {
            s.bind(address)
                .await
                .map_err(|e| format!("binding {address}: {e}"))?;
        }
        Mode::Connect => loop {
            match s.connect(address).await {
                Ok(()) => {
                    stats.recovered.store(true, Ordering::Relaxed);
                    break;
                }
                Err(e) => {
                    stats.error(format!("connecting to {address}: {e}"));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        },
    }
    Ok(s)
}

/// The sending side of a PUB or PUSH socket.
pub struct Sender {
    tx: Option<flume::Sender<ZmqMessage>>,
    task: Option<JoinHandle<()>>,
    /// Shared counters.
    pub stats: Arc<SocketStats>,
}

impl Sender {
    /// Opens a PUB or PUSH socket with a queue of `hwm` messages.
    pub fn open(pattern: Pattern, address: &str, mode: Mode, hwm: usize) -> Result<Self, String> {
        let stats = Arc::new(SocketStats::default());
        let (tx, rx) = flume::bounded::<ZmqMessage>(hwm.max(1));
        let rt = runtime::handle();
        let bound = match mode {
            Mode::Bind => Some(rt.block_on(open(pattern, address, mode, None, &stats))?),
            Mode::Connect => None,
        };
        let (address, st) = (address.to_string(), stats.clone());
        let task = rt.spawn(async move {
            let mut socket = match bound {
                Some(s) => s,
                None => match open(pattern, &address, mode, None, &st).await {
                    Ok(s) => s,
                    Err(e) => return st.error(e),
                },
            };
            while let Ok(mut m) = rx.recv_async().await {
                loop {
                    match socket.send(m).await {
                        Ok(()) => break,
                        // PUSH with no puller connected: wait for one, as libzmq does.
                        Err(zeromq::ZmqError::ReturnToSender { message, .. }) => {
                            m = message;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Err(e) => {
                            st.error(format!("sending: {e}"));
                            break;
                        }
                    }
                }
            }
        });
        Ok(Sender {
            tx: Some(tx),
            task: Some(task),
            stats,
        })
    }

    /// Queues a message unless the queue is full (then it is handed back).
    pub fn try_send(&self, m: ZmqMessage) -> Result<(), ZmqMessage> {
        match &self.tx {
            Some(tx) => tx.try_send(m).map_err(|e| e.into_inner()),
            None => Err(m),
        }
    }

    /// Queues a message, waiting up to `timeout` for room (then it is handed back).
    pub fn send_timeout(&self, m: ZmqMessage, timeout: Duration) -> Result<(), ZmqMessage> {
        match &self.tx {
            Some(tx) => tx.send_timeout(m, timeout).map_err(|e| e.into_inner()),
            None => Err(m),
        }
    }

    /// Sends what is queued (up to `linger`), then closes the socket.
    pub fn close(&mut self, linger: Duration) {
        self.tx = None;
        if let Some(task) = self.task.take() {
            let rt = runtime::handle();
            let abort = task.abort_handle();
            if rt
                .block_on(async { tokio::time::timeout(linger, task).await })
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// A received message's data frame.
pub struct Received {
    /// The data frame.
    pub data: Bytes,
    /// Items of raw (untagged) messages this receiver's full queue dropped just before this
    /// one. Tagged messages dropped are not counted here: the next one's header shows them.
    pub raw_items_dropped_before: u64,
}

/// The receiving side of a SUB or PULL socket: whole messages' data frames.
pub struct Receiver {
    rx: flume::Receiver<Received>,
    task: JoinHandle<()>,
    /// Shared counters.
    pub stats: Arc<SocketStats>,
}

/// What a receiver does when its queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Drop the message (SUB), counting it and, for raw messages, its items (reported with
    /// the next message that is queued, see [`Received::raw_items_dropped_before`]).
    Drop {
        /// Item size, to count the items of dropped raw messages.
        item_size: usize,
    },
    /// Wait (PULL): the socket stops reading and TCP pushes back on the sender.
    Wait,
}

impl Receiver {
    /// Opens a SUB or PULL socket with a queue of `hwm` messages; with `key`, a SUB socket
    /// subscribes to that topic and messages are `[key, data]` (as gr-zeromq sends them).
    pub fn open(
        pattern: Pattern,
        address: &str,
        mode: Mode,
        hwm: usize,
        key: Option<&str>,
        when_full: WhenFull,
    ) -> Result<Self, String> {
        let stats = Arc::new(SocketStats::default());
        let (tx, rx) = flume::bounded::<Received>(hwm.max(1));
        let rt = runtime::handle();
        let bound = match mode {
            Mode::Bind => Some(rt.block_on(open(pattern, address, mode, key, &stats))?),
            Mode::Connect => None,
        };
        let (address, key, st) = (address.to_string(), key.map(String::from), stats.clone());
        let task = rt.spawn(async move {
            let mut socket = match bound {
                Some(s) => s,
                None => match open(pattern, &address, mode, key.as_deref(), &st).await {
                    Ok(s) => s,
                    Err(e) => return st.error(e),
                },
            };
            let mut raw_dropped = 0u64;
            loop {
                let m = match socket.recv().await {
                    Ok(m) => m,
                    Err(e) => {
                        st.error(format!("receiving: {e}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // The data is the last frame (a topic frame comes first when a key is used).
                let Some(data) = m.into_vec().pop() else {
                    continue;
                };
                let received = Received {
                    data,
                    raw_items_dropped_before: raw_dropped,
                };
                match when_full {
                    WhenFull::Wait => {
                        if tx.send_async(received).await.is_err() {
                            return;
                        }
                    }
                    WhenFull::Drop { item_size } => match tx.try_send(received) {
                        Ok(()) => raw_dropped = 0,
                        Err(flume::TrySendError::Full(r)) => {
                            st.dropped.fetch_add(1, Ordering::Relaxed);
                            if !super::header::has_header(&r.data) {
                                raw_dropped += (r.data.len() / item_size.max(1)) as u64;
                            }
                        }
                        Err(flume::TrySendError::Disconnected(_)) => return,
                    },
                }
            }
        });
        Ok(Receiver { rx, task, stats })
    }

    /// The next message, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Received> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A message of `data`, after a topic frame when `key` is set.
pub fn message(key: Option<&str>, data: Vec<u8>) -> ZmqMessage {
    match key {
        Some(k) => {
            let mut m = ZmqMessage::from(Bytes::copy_from_slice(k.as_bytes()));
            m.push_back(Bytes::from(data));
            m
        }
        None => ZmqMessage::from(data),
    }
}
