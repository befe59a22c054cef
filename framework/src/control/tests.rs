//! Control port tests against a real server on loopback and a running flowgraph of test
//! blocks: structure, parameter changes and their errors, metrics (JSON and Prometheus), the
//! OpenAPI description, tokens, and the WebSocket feed.

use std::time::{Duration, Instant};

use super::{ControlOptions, ControlServer};
use crate::config::load_str;
use crate::runtime::Flowgraph;

const FG: &str = r#"
[flowgraph]
name = "ctl"
[blocks.src]
type = "rt_counter"
[blocks.a]
type = "rt_check"
inputs = ["src"]
delay_us = 1
"#;

struct Running {
    fg: Option<Flowgraph>,
    server: Option<ControlServer>,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.take();
        if let Some(fg) = self.fg.take() {
            fg.stop();
            fg.wait();
        }
    }
}

fn run(token: Option<&str>) -> Running {
    let g =
        load_str(FG, "ctl.toml", std::path::Path::new("."), &[]).unwrap_or_else(|d| panic!("{d}"));
    let fg = Flowgraph::start(&g).unwrap();
    let opts = ControlOptions {
        addr: "127.0.0.1:0".parse().unwrap(),
        allow_remote: false,
        token: token.map(String::from),
    };
    let server = ControlServer::start(&opts, &g, &fg).unwrap();
    let base = format!("http://{}", server.addr());
    Running {
        fg: Some(fg),
        server: Some(server),
        base,
    }
}

/// (status, body) of a request.
fn call(method: &str, url: &str, auth: Option<&str>, body: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut resp = match (method, body) {
        ("PUT", Some(b)) => {
            let mut r = agent.put(url).header("content-type", "application/json");
            if let Some(t) = auth {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.send(b)
        }
        _ => {
            let mut r = agent.get(url);
            if let Some(t) = auth {
                r = r.header("Authorization", &format!("Bearer {t}"));
            }
            r.call()
        }
    }
    .unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap())
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

#[test]
fn graph_params_and_their_errors() {
    let r = run(None);
    let (status, body) = call("GET", &format!("{}/api/graph", r.base), None, None);
    assert_eq!(status, 200);
    let g = json(&body);
    assert_eq!(g["name"], "ctl");
    assert_eq!(g["blocks"][1]["name"], "a");
    assert_eq!(g["blocks"][1]["type"], "rt_check");
    assert_eq!(g["blocks"][1]["settable"], serde_json::json!(["delay_us"]));
    assert_eq!(g["blocks"][1]["params"]["delay_us"], 1);
    assert_eq!(
        g["blocks"][1]["inputs"][0],
        serde_json::json!({"name": "in", "kind": "stream", "item": "i32"})
    );
    assert_eq!(
        g["edges"][0],
        serde_json::json!({"from": "src.out", "to": "a.in", "kind": "stream", "item": "i32", "policy": "block"})
    );

    let set = |block: &str, param: &str, body: &str| {
        call(
            "PUT",
            &format!("{}/api/blocks/{block}/params/{param}", r.base),
            None,
            Some(body),
        )
    };
    let (status, body) = set("a", "delay_us", r#"{"value": 7}"#);
    assert_eq!(
        (status, json(&body)),
        (
            200,
            serde_json::json!({"block": "a", "param": "delay_us", "value": 7})
        )
    );
    let (_, body) = call(
        "GET",
        &format!("{}/api/blocks/a/params", r.base),
        None,
        None,
    );
    assert_eq!(json(&body)["params"]["delay_us"], 7);

    let (status, body) = set("a", "min_items", r#"{"value": 7}"#);
    assert_eq!(status, 400);
    assert_eq!(
        json(&body)["error"],
        "parameter `min_items` of block `a` cannot be changed while running (settable: delay_us)"
    );
    let (status, body) = set("a", "delay_us", r#"{"value": "soon"}"#);
    assert_eq!(status, 400);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid value for parameter `delay_us` of block `a`"),
        "{body}"
    );
    let (status, body) = set("a", "delay_us", r#"{"value": 5000000}"#);
    assert_eq!(
        (status, json(&body)["error"].as_str().unwrap()),
        (422, "block `a` refused `delay_us`: longer than a second")
    );
    let (status, _) = set("nope", "delay_us", r#"{"value": 1}"#);
    assert_eq!(status, 404);
    let (status, body) = set("a", "delay", r#"{"value": 1}"#);
    assert_eq!(status, 404);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .contains("did you mean `delay_us`?"),
        "{body}"
    );
    let (status, body) = set("a", "delay_us", "{not json");
    assert_eq!(status, 400);
    assert!(
        json(&body)["error"]
            .as_str()
            .unwrap()
            .starts_with("the body must be JSON"),
        "{body}"
    );
    let (status, _) = set("a", "delay_us", r#"{"v": 1}"#);
    assert_eq!(status, 400);
    let (status, _) = set("a", "delay_us", r#"{"value": null}"#);
    assert_eq!(status, 400);
    let (_, body) = call("GET", &format!("{}/api/blocks/a", r.base), None, None);
    assert_eq!(
        json(&body)["params"]["delay_us"],
        7,
        "refused changes leave the value"
    );
}

#[test]
fn metrics_as_json_and_prometheus_text() {
    let r = run(None);
    let end = Instant::now() + Duration::from_secs(10);
    let m = loop {
        let (_, body) = call("GET", &format!("{}/api/metrics", r.base), None, None);
        let m = json(&body);
        if m["blocks"][0]["rate_out"].as_f64().unwrap_or(0.0) > 0.0 || Instant::now() > end {
            break m;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(m["blocks"][0]["name"], "src");
    assert!(m["blocks"][0]["rate_out"].as_f64().unwrap() > 0.0, "{m}");
    assert!(m["blocks"][1]["items_in"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(m["blocks"][1]["input_fill"][0][0], "in");
    assert_eq!(m["edges"][0]["from"], "src.out");
    assert!(m["edges"][0]["capacity"].as_u64().unwrap() > 0);

    let (status, text) = call("GET", &format!("{}/metrics", r.base), None, None);
    assert_eq!(status, 200);
    assert!(
        text.contains("# TYPE flow_block_items_out_total counter\n"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| {
            l.starts_with(
                "flow_block_items_out_total{flowgraph=\"ctl\",block=\"src\",type=\"rt_counter\"} ",
            )
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.rsplit(' ').next().unwrap().parse::<f64>().unwrap() > 0.0,
        "{line}"
    );
    assert!(text.contains("flow_edge_fill_ratio{flowgraph=\"ctl\",from=\"src.out\",to=\"a.in\",policy=\"block\"} "), "{text}");
    assert!(text.contains("flow_block_counter_total{flowgraph=\"ctl\",block=\"a\",type=\"rt_check\",counter=\"items\"} "), "{text}");
    // Every sample line is `name{labels} number`.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, v) = l.rsplit_once(' ').unwrap();
        assert!(v.parse::<f64>().is_ok(), "{l}");
    }
}

#[test]
fn openapi_describes_every_route() {
    let r = run(None);
    let (status, body) = call("GET", &format!("{}/openapi.json", r.base), None, None);
    assert_eq!(status, 200);
    let spec = json(&body);
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/api/graph",
        "/api/metrics",
        "/api/status",
        "/api/blocks/{name}",
        "/api/blocks/{name}/params",
        "/api/blocks/{name}/params/{param}",
        "/metrics",
        "/openapi.json",
        "/ws",
        "/",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} missing");
    }
    // The page and its assets are served.
    let (status, html) = call("GET", &format!("{}/", r.base), None, None);
    assert!(
        status == 200 && html.contains("<canvas id=\"spectrum\""),
        "{html}"
    );
    let (status, js) = call("GET", &format!("{}/app.js", r.base), None, None);
    assert!(status == 200 && js.contains("WebSocket"));
}

#[test]
fn a_token_is_required_on_every_request_when_set() {
    let r = run(Some("s3cret"));
    for path in ["/api/graph", "/metrics", "/", "/openapi.json", "/ws"] {
        let (status, body) = call("GET", &format!("{}{path}", r.base), None, None);
        assert_eq!(status, 401, "{path}: {body}");
        let (status, _) = call("GET", &format!("{}{path}", r.base), Some("wrong"), None);
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = call(
        "GET",
        &format!("{}/api/graph", r.base),
        Some("s3cret"),
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        "GET",
        &format!("{}/api/graph?token=s3cret", r.base),
        None,
        None,
    );
    assert_eq!(status, 200);
    let (status, _) = call(
        "PUT",
        &format!("{}/api/blocks/a/params/delay_us", r.base),
        None,
        Some(r#"{"value": 2}"#),
    );
    assert_eq!(status, 401);
}

#[test]
fn the_websocket_carries_metrics_and_published_documents() {
    use futures_util::StreamExt;
    let r = run(None);
    let url = format!("{}/ws", r.base.replace("http://", "ws://"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let mut metrics = 0;
        let mut published = false;
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        while (metrics < 2 || !published) && tokio::time::Instant::now() < end {
            super::hub::publish("test", r#"{"type":"test","n":1}"#.to_string());
            let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await
            else {
                continue;
            };
            let v = json(msg.to_text().unwrap());
            match v["type"].as_str() {
                Some("metrics") => {
                    metrics += 1;
                    assert_eq!(v["blocks"][0]["name"], "src");
                }
                Some("test") => published = true,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            metrics >= 2 && published,
            "metrics {metrics}, published {published}"
        );
    });
}

#[test]
fn pages_of_other_sites_are_refused() {
    let r = run(None);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let get = |origin: &str| {
        let mut resp = agent
            .get(&format!("{}/api/graph", r.base))
            .header("Origin", origin)
            .call()
            .unwrap();
        (
            resp.status().as_u16(),
            resp.body_mut().read_to_string().unwrap(),
        )
    };
    let (status, body) = get("https://evil.example");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("requests from pages of `https://evil.example` are not accepted"));
    let own = r.base.clone();
    assert_eq!(get(&own).0, 200);
}
