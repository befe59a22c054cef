//! Access control of the control port: when a token is configured, every request must carry
//! it, as `Authorization: Bearer TOKEN` or as `?token=TOKEN` (for the browser page and its
//! WebSocket, which cannot set headers). Compared in constant time.
//!
//! Two checks protect a port from web pages the operator happens to visit: a request that
//! comes from a page (it has an `Origin`) must come from the control port's own origin (a
//! page elsewhere cannot open the WebSocket or call the API), and a port bound to loopback
//! without a token answers only to loopback host names (`127.0.0.1`, `localhost`, `[::1]`),
//! which defeats DNS rebinding.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// The token of a request, from its header or its query.
pub fn request_token(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION) {
        if let Some(t) = v.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")) {
            return Some(t.trim().to_string());
        }
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| percent_decode(v))
    })
}

/// Decodes `%XX` escapes (and `+` as space) of a query value.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// True when `a` equals `b`, in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// The host part of a `Host` header or of an origin's authority (`h:port`, `[v6]:port`).
fn host_only(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Why a request's `Host` / `Origin` are not acceptable, if they are not.
pub fn check_origin(host: Option<&str>, origin: Option<&str>, loopback: bool) -> Option<String> {
    if loopback {
        let h = host.map(host_only).unwrap_or("");
        if !matches!(h, "127.0.0.1" | "localhost" | "::1") && !h.starts_with("127.") {
            return Some(format!(
                "host `{h}` is not a loopback name: this control port serves 127.0.0.1, localhost and [::1] only"
            ));
        }
    }
    if let Some(o) = origin {
        let authority = o.split_once("://").map_or(o, |(_, a)| a);
        if Some(authority) != host {
            return Some(format!(
                "requests from pages of `{o}` are not accepted (only from this control port's own page)"
            ));
        }
    }
    None
}

/// Rejects requests without the right token (when one is configured), from other sites'
/// pages, or (on loopback) for other host names.
pub(crate) async fn require_token(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let why = {
        let header_str = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        check_origin(
            header_str(header::HOST),
            header_str(header::ORIGIN),
            state.loopback,
        )
    };
    if let Some(why) = why {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "error": why })),
        )
            .into_response();
    }
    if let Some(want) = &state.token {
        match request_token(&req) {
            Some(got) if same(&got, want) => {}
            _ => {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                    axum::Json(serde_json::json!({
                        "error": "this control port needs a token: `Authorization: Bearer TOKEN` or `?token=TOKEN`"
                    })),
                )
                    .into_response()
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_origin_pages_and_loopback_hosts() {
        assert_eq!(check_origin(Some("127.0.0.1:8000"), None, true), None);
        assert_eq!(
            check_origin(Some("localhost:8000"), Some("http://localhost:8000"), true),
            None
        );
        assert_eq!(check_origin(Some("[::1]:8000"), None, true), None);
        assert!(check_origin(Some("evil.example:8000"), None, true)
            .unwrap()
            .contains("not a loopback name"));
        assert!(
            check_origin(Some("127.0.0.1:8000"), Some("https://evil.example"), true)
                .unwrap()
                .contains("requests from pages of `https://evil.example`")
        );
        // A remote port (token required) takes any host name, but still only its own pages.
        assert_eq!(
            check_origin(
                Some("radio.example:8000"),
                Some("http://radio.example:8000"),
                false
            ),
            None
        );
        assert!(check_origin(
            Some("radio.example:8000"),
            Some("http://other.example"),
            false
        )
        .is_some());
        assert!(check_origin(None, None, true).is_some());
    }

    #[test]
    fn compares_and_decodes() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
        assert!(!same("", "a"));
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
