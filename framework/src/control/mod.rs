//! The control port (`flow run --http 127.0.0.1:8000`): a small HTTP server on its own thread
//! that shows a running flowgraph and lets an operator change settable parameters.
//!
//! | path | what |
//! |---|---|
//! | `GET /` | the live web view (graph with rates, spectrum, waterfall, detections) |
//! | `GET /api/graph` | blocks, ports, edges, settable and current parameters |
//! | `GET /api/metrics` | per-block and per-edge metrics with rates |
//! | `GET /api/blocks/{name}` | one block: structure, parameters, metrics |
//! | `PUT /api/blocks/{name}/params/{param}` | change a parameter, body `{"value": ...}` |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /openapi.json` | OpenAPI 3.1 description of all of this |
//! | `GET /ws` | WebSocket: metrics 4×/s and whatever blocks publish ([`hub`]) |
//!
//! It binds to loopback unless told otherwise; a non-loopback address needs
//! `--http-allow-remote` and a token, and with a token every request must carry it (see
//! [`auth`]). The server never touches a block directly: it reads metrics atomics and sends
//! parameter changes through each block's request channel, so it cannot stall the flowgraph.

mod api;
pub mod auth;
pub mod hub;
pub mod model;
pub mod prometheus;
pub mod snapshot;
mod web;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::graph::Graph;
use crate::runtime::Flowgraph;
use crate::service::snapshot::SharedStatus;

use model::{GraphInfo, Handles};
use snapshot::{Sample, Sampler};

/// How often metrics are sampled (and pushed to WebSocket clients).
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(250);

/// Where and how the control port listens.
#[derive(Clone, Debug)]
pub struct ControlOptions {
    /// Address to bind.
    pub addr: SocketAddr,
    /// Allow a non-loopback address.
    pub allow_remote: bool,
    /// The token every request must carry, if set.
    pub token: Option<String>,
}

/// Why the control port did not start.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A non-loopback address without the flag or without a token.
    #[error("{0}")]
    Refused(String),
    /// The address could not be bound.
    #[error("binding the control port to {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        error: std::io::Error,
    },
    /// The server thread could not start.
    #[error("starting the control port: {0}")]
    Start(std::io::Error),
}

impl ControlOptions {
    /// Checks the security rules: loopback by default; anything else needs the explicit
    /// flag and a non-empty token.
    pub fn check(&self) -> Result<(), ControlError> {
        if self.addr.ip().is_loopback() {
            return Ok(());
        }
        if !self.allow_remote {
            return Err(ControlError::Refused(format!(
                "--http {} would let other machines change this flowgraph; add \
                 --http-allow-remote and a token (--http-token or FLOW_HTTP_TOKEN) to allow it",
                self.addr
            )));
        }
        if self.token.as_deref().is_none_or(str::is_empty) {
            return Err(ControlError::Refused(format!(
                "--http {} with --http-allow-remote needs a token (--http-token or \
                 FLOW_HTTP_TOKEN): anyone who reaches the port could change the flowgraph",
                self.addr
            )));
        }
        Ok(())
    }
}

/// Shared by the request handlers.
pub(crate) struct AppState {
    pub(crate) info: GraphInfo,
    pub(crate) handles: Handles,
    pub(crate) sample: Mutex<Sample>,
    pub(crate) token: Option<String>,
    /// Bound to a loopback address without a token (then only loopback `Host` names are
    /// served; with a token the token protects it, e.g. behind a reverse proxy).
    pub(crate) loopback: bool,
    /// Turns true when the server stops (WebSocket handlers end on it).
    pub(crate) closing: tokio::sync::watch::Receiver<bool>,
    /// The run loop's latest health snapshot (`GET /api/status`).
    pub(crate) status: SharedStatus,
}

/// A running control port; dropping it stops the server.
pub struct ControlServer {
    addr: SocketAddr,
    status: SharedStatus,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Starts the control port for `fg`, which runs `graph`.
    pub fn start(
        opts: &ControlOptions,
        graph: &Graph,
        fg: &Flowgraph,
    ) -> Result<ControlServer, ControlError> {
        opts.check()?;
        let listener =
            std::net::TcpListener::bind(opts.addr).map_err(|error| ControlError::Bind {
                addr: opts.addr,
                error,
            })?;
        let addr = listener.local_addr().map_err(ControlError::Start)?;
        listener
            .set_nonblocking(true)
            .map_err(ControlError::Start)?;
        let (tx, rx) = tokio::sync::watch::channel(false);
        let state = Arc::new(AppState {
            info: GraphInfo::of(graph),
            handles: Handles::of(fg),
            sample: Mutex::new(Sample::default()),
            token: opts.token.clone().filter(|t| !t.is_empty()),
            loopback: addr.ip().is_loopback() && opts.token.as_deref().is_none_or(str::is_empty),
            closing: rx.clone(),
            status: SharedStatus::default(),
        });
        let status = state.status.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ControlError::Start)?;
        let thread = std::thread::Builder::new()
            .name("flow-control".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => return tracing::error!("control port: {e}"),
                    };
                    let sampler = tokio::spawn(sample_loop(state.clone()));
                    let app = api::router(state);
                    let mut stop = rx.clone();
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|c| *c).await;
                    });
                    let mut stop = rx;
                    // Requests in flight get a moment to finish; then the server goes.
                    let grace = async move {
                        let _ = stop.wait_for(|c| *c).await;
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    };
                    tokio::select! {
                        r = serve => if let Err(e) = r { tracing::error!("control port: {e}") },
                        () = grace => {}
                    }
                    sampler.abort();
                });
            })
            .map_err(ControlError::Start)?;
        tracing::info!("control port on http://{addr}/");
        Ok(ControlServer {
            addr,
            status,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the run loop publishes its health snapshots for `GET /api/status`.
    pub fn status(&self) -> SharedStatus {
        self.status.clone()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn sample_loop(state: Arc<AppState>) {
    let mut sampler = Sampler::new(state.handles.clone());
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let s = sampler.sample().clone();
        *state.sample.lock().unwrap_or_else(|e| e.into_inner()) = s;
    }
}

#[cfg(test)]
mod tests;
