//! The live web view: one static page (HTML, JS, CSS compiled into the binary, no build step)
//! and the WebSocket that feeds it: a metrics sample every [`super::SAMPLE_INTERVAL`] and
//! every document blocks publish on the [`super::hub`]. A client that cannot keep up skips
//! documents (never queues them), so a stalled browser costs a bounded amount of memory.

use std::sync::Arc;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;

use super::{hub, AppState, SAMPLE_INTERVAL};

pub(crate) async fn index() -> Html<&'static str> {
    Html(include_str!("web/index.html"))
}

pub(crate) async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("web/app.js"),
    )
        .into_response()
}

pub(crate) async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("web/style.css"),
    )
        .into_response()
}

pub(crate) async fn websocket(ws: WebSocketUpgrade, State(s): State<Arc<AppState>>) -> Response {
    ws.on_upgrade(move |socket| feed(socket, s))
}

/// Sends metrics and hub documents until the client goes away or the server stops.
async fn feed(mut socket: WebSocket, s: Arc<AppState>) {
    let mut live = hub::subscribe();
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut closing = s.closing.clone();
    loop {
        let text: String = tokio::select! {
            _ = tick.tick() => {
                let sample = s.sample.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let mut v = serde_json::to_value(sample).unwrap_or_default();
                v["type"] = "metrics".into();
                v.to_string()
            }
            doc = live.recv() => match doc {
                Ok(d) => d.json.to_string(),
                // Too slow: skip what was missed.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            () = async { let _ = closing.wait_for(|c| *c).await; } => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        };
        if socket
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .is_err()
        {
            return;
        }
    }
}
