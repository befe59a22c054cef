//! The REST routes of the control port and their handlers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::json;

use super::model::{graph_json, json_to_toml, params_json};
use super::{prometheus, web, AppState};
use crate::runtime::SetParamError;
use crate::service::snapshot::Overall;

/// How long a parameter change may wait for its block.
const SET_TIMEOUT: Duration = Duration::from_secs(5);

/// Every route, behind the token check.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/app.js", get(web::script))
        .route("/style.css", get(web::style))
        .route("/ws", get(web::websocket))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics_text))
        .route("/api/graph", get(graph))
        .route("/api/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/blocks/{name}", get(block))
        .route("/api/blocks/{name}/params", get(params))
        .route("/api/blocks/{name}/params/{param}", put(set_param))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::auth::require_token,
        ))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

async fn graph(State(s): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(graph_json(&s.info, &s.handles.blocks))
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let sample = s.sample.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Json(sample).into_response()
}

async fn metrics_text(State(s): State<Arc<AppState>>) -> Response {
    let sample = s.sample.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        prometheus::render(&sample, &s.info.name),
    )
        .into_response()
}

/// The overall health and every block's state, progress, counters and errors: the same
/// JSON as `flow status --json`. 200 when ok, starting or degraded; 503 when failed (or
/// before the first check), so `curl -f` fails exactly when `flow status` exits 2 or 3.
async fn status(State(s): State<Arc<AppState>>) -> Response {
    match s.status.get() {
        Some(snap) => {
            let code = if snap.health == Overall::Failed {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            (code, Json(snap)).into_response()
        }
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no health check yet: the flowgraph is starting",
        ),
    }
}

fn find(s: &AppState, name: &str) -> Option<usize> {
    s.handles.blocks.iter().position(|b| b.name == name)
}

async fn block(State(s): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(i) = find(&s, &name) else {
        return error(StatusCode::NOT_FOUND, format!("no block named `{name}`"));
    };
    let metrics = s
        .sample
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .blocks
        .iter()
        .find(|b| b.name == name)
        .cloned();
    let mut v = serde_json::to_value(&s.info.blocks[i]).unwrap_or_default();
    v["params"] = params_json(&s.handles.blocks[i]);
    v["metrics"] = serde_json::to_value(metrics).unwrap_or_default();
    Json(v).into_response()
}

async fn params(State(s): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(i) = find(&s, &name) else {
        return error(StatusCode::NOT_FOUND, format!("no block named `{name}`"));
    };
    Json(json!({
        "block": name,
        "settable": s.info.blocks[i].settable,
        "params": params_json(&s.handles.blocks[i]),
    }))
    .into_response()
}

async fn set_param(
    State(s): State<Arc<AppState>>,
    Path((name, param)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let Some(i) = find(&s, &name) else {
        return error(StatusCode::NOT_FOUND, format!("no block named `{name}`"));
    };
    let body: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON, {{\"value\": ...}}: {e}"),
            )
        }
    };
    let Some(value) = body.get("value") else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be JSON: {\"value\": ...}",
        );
    };
    let value = match json_to_toml(value) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid value for parameter `{param}` of block `{name}`: {e}"),
            )
        }
    };
    let handle = s.handles.blocks[i].params.clone();
    let p = param.clone();
    let result = tokio::task::spawn_blocking(move || handle.set(&p, value, SET_TIMEOUT)).await;
    match result {
        Ok(Ok(v)) => Json(json!({
            "block": name,
            "param": param,
            "value": serde_json::to_value(v).unwrap_or_default(),
        }))
        .into_response(),
        Ok(Err(e)) => {
            let status = match &e {
                SetParamError::UnknownBlock(_) | SetParamError::UnknownParam { .. } => {
                    StatusCode::NOT_FOUND
                }
                SetParamError::NotRunning(_) => StatusCode::CONFLICT,
                SetParamError::Timeout(..) => StatusCode::GATEWAY_TIMEOUT,
                SetParamError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_REQUEST,
            };
            error(status, e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
