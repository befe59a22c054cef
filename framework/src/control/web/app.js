// flow live view: the flowgraph with live rates, spectrum + waterfall from `web_spectrum`
// sinks, detections, and forms for settable parameters. Plain JS, no build step.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const withToken = (p) => (token ? p + (p.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : p);
const $ = (id) => document.getElementById(id);

let graph = null;          // /api/graph
let layout = new Map();    // block name -> {x, y, w, h}
let metrics = null;        // latest metrics sample
let frames = 0;            // spectrum frames drawn
let frameTimes = [];       // arrival times of recent frames (bounded)
let current = null;        // name of the spectrum shown
const detections = [];     // most recent first, bounded
const MAX_DETECTIONS = 100;

function si(x) {
  const a = Math.abs(x);
  if (a >= 1e9) return (x / 1e9).toFixed(2) + "G";
  if (a >= 1e6) return (x / 1e6).toFixed(2) + "M";
  if (a >= 1e3) return (x / 1e3).toFixed(1) + "k";
  return x.toFixed(a < 10 ? 1 : 0);
}
const hz = (f) => si(f) + "Hz";

async function loadGraph() {
  const r = await fetch(withToken("/api/graph"));
  graph = await r.json();
  $("title").textContent = "flow · " + graph.name;
  doLayout();
  buildParams();
  drawGraph();
}

// Layers by longest path from the sources; blocks spread vertically inside a layer.
function doLayout() {
  const depth = new Map(graph.blocks.map((b) => [b.name, 0]));
  for (let pass = 0; pass < graph.blocks.length; pass++) {
    for (const e of graph.edges) {
      const f = e.from.split(".")[0], t = e.to.split(".")[0];
      if (depth.get(t) < depth.get(f) + 1) depth.set(t, depth.get(f) + 1);
    }
  }
  const layers = [];
  for (const b of graph.blocks) {
    const d = depth.get(b.name);
    (layers[d] = layers[d] || []).push(b.name);
  }
  const c = $("graph"), W = c.width, H = c.height, bw = 150, bh = 44;
  const dx = layers.length > 1 ? (W - bw - 20) / (layers.length - 1) : 0;
  layers.forEach((names, d) => {
    names.forEach((n, k) => {
      const y = ((k + 1) * H) / (names.length + 1) - bh / 2;
      layout.set(n, { x: 10 + d * dx, y, w: bw, h: bh });
    });
  });
}

function drawGraph() {
  if (!graph) return;
  const c = $("graph"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const byName = new Map((metrics ? metrics.blocks : []).map((b) => [b.name, b]));
  g.font = "12px system-ui";
  for (const e of graph.edges) {
    const a = layout.get(e.from.split(".")[0]), b = layout.get(e.to.split(".")[0]);
    if (!a || !b) continue;
    const m = byName.get(e.from.split(".")[0]);
    g.strokeStyle = e.kind === "message" ? "#a371f7" : "#4b8ef0";
    g.setLineDash(e.kind === "message" ? [4, 3] : []);
    g.beginPath();
    g.moveTo(a.x + a.w, a.y + a.h / 2);
    g.lineTo(b.x, b.y + b.h / 2);
    g.stroke();
    g.setLineDash([]);
    if (m && e.kind === "stream") {
      g.fillStyle = "#8893a0";
      g.fillText(si(m.rate_out) + "/s", (a.x + a.w + b.x) / 2 - 20, (a.y + b.y + a.h) / 2 - 4);
    }
  }
  for (const b of graph.blocks) {
    const p = layout.get(b.name), m = byName.get(b.name);
    const health = m ? m.health : "ok";
    g.fillStyle = "#232a35";
    g.strokeStyle = health === "ok" ? "#56d364" : health === "degraded" ? "#e3b341" : "#ff7b72";
    g.fillRect(p.x, p.y, p.w, p.h);
    g.strokeRect(p.x, p.y, p.w, p.h);
    g.fillStyle = "#dde3ea";
    g.fillText(b.name, p.x + 6, p.y + 16);
    g.fillStyle = "#8893a0";
    g.font = "11px system-ui";
    g.fillText(b.type + (m ? " · " + m.state : ""), p.x + 6, p.y + 32, p.w - 10);
    g.font = "12px system-ui";
  }
}

function drawTable() {
  if (!metrics) return;
  const rows = metrics.blocks.map((b) => {
    const fill = b.input_fill.length ? Math.round(100 * Math.max(...b.input_fill.map((f) => f[1]))) + "%" : "";
    const cls = b.health === "ok" ? "" : b.health === "degraded" ? "warn" : "bad";
    return `<tr><td>${b.name}</td><td>${b.type}</td><td>${si(b.rate_in)}</td><td>${si(b.rate_out)}</td>` +
      `<td>${b.dropped}</td><td>${b.errors}</td><td>${b.restarts}</td><td>${fill}</td>` +
      `<td class="${cls}">${b.state}${b.health_reason ? ": " + b.health_reason : ""}</td></tr>`;
  });
  $("blocks").tBodies[0].innerHTML = rows.join("");
  $("status").textContent = "up " + metrics.uptime.toFixed(0) + " s";
}

function buildParams() {
  const box = $("params");
  box.innerHTML = "";
  for (const b of graph.blocks) {
    for (const p of b.settable) {
      const row = document.createElement("form");
      row.className = "param";
      const id = `param-${b.name}-${p}`;
      row.innerHTML = `<label for="${id}">${b.name}.${p}</label><input id="${id}" name="${p}">` +
        `<button type="submit" id="${id}-set">Set</button>`;
      row.querySelector("input").value = b.params && b.params[p] !== undefined ? b.params[p] : "";
      row.addEventListener("submit", (ev) => {
        ev.preventDefault();
        setParam(b.name, p, row.querySelector("input").value);
      });
      box.appendChild(row);
    }
  }
  if (!box.children.length) box.textContent = "No settable parameters in this flowgraph.";
}

async function setParam(block, param, text) {
  const n = Number(text);
  const value = text.trim() !== "" && !Number.isNaN(n) ? n : text === "true" ? true : text === "false" ? false : text;
  const r = await fetch(withToken(`/api/blocks/${encodeURIComponent(block)}/params/${encodeURIComponent(param)}`), {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ value }),
  });
  const body = await r.json();
  const s = $("param-status");
  s.className = r.ok ? "ok" : "bad";
  s.textContent = r.ok ? `${block}.${param} = ${JSON.stringify(body.value)}` : body.error;
}

// Spectrum frames: the newest is drawn at most once per animation frame.
let pending = null;
function onSpectrum(f) {
  const sel = $("spectrum-name");
  if (![...sel.options].some((o) => o.value === f.name)) {
    sel.add(new Option(f.name, f.name));
    if (current === null) current = f.name;
  }
  if (f.name !== current) return;
  frames++;
  const now = performance.now();
  frameTimes.push(now);
  while (frameTimes.length && now - frameTimes[0] > 2000) frameTimes.shift();
  pending = f;
}

function render() {
  if (pending) {
    drawSpectrum(pending);
    pending = null;
  }
  requestAnimationFrame(render);
}

function drawSpectrum(f) {
  const p = f.db ? f.power : f.power.map((x) => 10 * Math.log10(Math.max(x, 1e-20)));
  const n = p.length;
  if (!n) return;
  let lo = Infinity, hi = -Infinity, peak = 0;
  for (let i = 0; i < n; i++) {
    if (p[i] < lo) lo = p[i];
    if (p[i] > hi) { hi = p[i]; peak = i; }
  }
  lo = Math.max(lo, hi - 100);
  const span = Math.max(hi - lo, 1);
  const c = $("spectrum"), g = c.getContext("2d"), W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  g.strokeStyle = "#3fb950";
  g.beginPath();
  for (let i = 0; i < n; i++) {
    const x = (i / (n - 1 || 1)) * W, y = H - 14 - ((p[i] - lo) / span) * (H - 24);
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  }
  g.stroke();
  g.fillStyle = "#8893a0";
  g.font = "11px system-ui";
  g.fillText(hz(f.start_hz), 2, H - 2);
  g.fillText(hz(f.start_hz + f.bin_hz * n), W - 60, H - 2);
  g.fillText(hi.toFixed(1) + " dB", 2, 12);
  const peakHz = f.start_hz + (peak + 0.5) * f.bin_hz;
  $("peak").textContent = hz(peakHz);
  $("peak").dataset.hz = String(peakHz);
  $("frames").textContent = String(frames);
  $("fps").textContent = frameTimes.length > 1 ? ((1000 * (frameTimes.length - 1)) / (frameTimes[frameTimes.length - 1] - frameTimes[0])).toFixed(1) : "0";
  // Waterfall: scroll down one row, draw the new row on top.
  const w = $("waterfall"), wg = w.getContext("2d");
  wg.drawImage(w, 0, 0, w.width, w.height - 1, 0, 1, w.width, w.height - 1);
  const row = wg.createImageData(w.width, 1);
  for (let x = 0; x < w.width; x++) {
    const v = (p[Math.floor((x * n) / w.width)] - lo) / span;
    const [r, gg, b] = colour(Math.min(Math.max(v, 0), 1));
    row.data.set([r, gg, b, 255], 4 * x);
  }
  wg.putImageData(row, 0, 0);
}

function colour(v) {
  // dark blue → cyan → yellow → red
  if (v < 0.33) return [0, Math.round(v * 3 * 180), Math.round(80 + v * 3 * 175)];
  if (v < 0.66) return [Math.round((v - 0.33) * 3 * 255), 180 + Math.round((v - 0.33) * 3 * 75), Math.round(255 - (v - 0.33) * 3 * 255)];
  return [255, Math.round(255 - (v - 0.66) * 3 * 255), 0];
}

function onDetection(d) {
  detections.unshift(d);
  if (detections.length > MAX_DETECTIONS) detections.length = MAX_DETECTIONS;
  $("detection-count").textContent = String(detections.length);
  $("detections").tBodies[0].innerHTML = detections
    .slice(0, 30)
    .map((x) => `<tr><td>${new Date(x.time_ns / 1e6).toISOString().slice(11, 23)}</td><td>${hz(x.freq_hz)}</td>` +
      `<td>${x.power_db.toFixed(1)}</td><td>${x.snr_db.toFixed(1)}</td><td>${hz(x.bandwidth_hz)}</td><td>${x.bins}</td></tr>`)
    .join("");
}

function connect() {
  const ws = new WebSocket(withToken((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws"));
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "metrics") {
      metrics = m;
      drawGraph();
      drawTable();
    } else if (m.type === "spectrum") onSpectrum(m);
    else if (m.type === "detection") onDetection(m);
  };
  ws.onclose = () => {
    $("status").textContent = "disconnected; retrying…";
    setTimeout(connect, 1000);
  };
}

$("spectrum-name").addEventListener("change", (e) => { current = e.target.value; });
loadGraph().then(connect);
requestAnimationFrame(render);
