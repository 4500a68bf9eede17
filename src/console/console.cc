#include "console/console.h"

#include "net/http_server.h"

namespace pgcdc::console {

namespace {

constexpr std::string_view kPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pgcdc console</title>
<style>
  :root { --bg:#0f172a; --panel:#111c33; --fg:#e2e8f0; --muted:#94a3b8; --ok:#22c55e;
          --warn:#f59e0b; --bad:#ef4444; --accent:#38bdf8; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; align-items:center; gap:16px; padding:12px 20px; background:var(--panel);
           border-bottom:1px solid #1e293b; }
  header h1 { font-size:18px; margin:0; }
  .pill { padding:2px 10px; border-radius:999px; font-weight:600; font-size:12px; }
  .up { background:var(--ok); color:#052e16; } .degraded { background:var(--warn); color:#451a03; }
  .down, .unknown { background:var(--bad); color:#450a0a; }
  main { display:grid; grid-template-columns: minmax(320px, 1fr) minmax(0, 2fr); gap:16px;
         padding:16px 20px; }
  section { min-width:0; background:var(--panel); border:1px solid #1e293b; border-radius:8px; padding:12px; }
  h2 { font-size:14px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted); margin:0 0 8px; }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:4px 6px; border-bottom:1px solid #1e293b; }
  td.num { text-align:right; font-variant-numeric:tabular-nums; }
  .controls { display:flex; gap:8px; margin-bottom:8px; align-items:center; }
  input { flex:1; background:#0b1222; color:var(--fg); border:1px solid #334155; border-radius:6px; padding:6px; }
  button { background:var(--accent); color:#082f49; border:0; border-radius:6px; padding:6px 12px;
           font-weight:600; cursor:pointer; }
  button.paused { background:var(--warn); }
  #events { list-style:none; margin:0; padding:0; max-height:70vh; overflow:auto;
            font:12px/1.4 ui-monospace, monospace; }
  #events li { padding:4px 6px; border-bottom:1px solid #1e293b; white-space:nowrap;
               overflow:hidden; text-overflow:ellipsis; }
  .op { display:inline-block; min-width:64px; font-weight:700; }
  .INSERT { color:var(--ok); } .UPDATE { color:var(--accent); } .DELETE { color:var(--bad); }
  .ch { color:var(--warn); margin-right:8px; }
  .muted { color:var(--muted); }
</style>
</head>
<body>
<header>
  <h1>pgcdc</h1>
  <span id="status" class="pill unknown">connecting</span>
  <span class="muted">events seen: <b id="count">0</b></span>
  <span class="muted" id="stream-state">stream: connecting</span>
</header>
<main>
  <section>
    <h2>Adapters</h2>
    <table>
      <thead><tr><th>Adapter</th><th>Health</th><th>Delivered</th><th>Dead-lettered</th>
        <th>Failed</th><th>Backlog</th></tr></thead>
      <tbody id="adapters"></tbody>
    </table>
  </section>
  <section>
    <h2>Live events</h2>
    <div class="controls">
      <input id="channel" placeholder="channel filter, e.g. pgcdc:orders (comma-separated; empty = all)">
      <button id="apply">Apply</button>
      <button id="pause">Pause</button>
    </div>
    <div id="paused-banner" class="muted" hidden>Paused: <span id="held">0</span> new events not shown.</div>
    <ul id="events"></ul>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const maxRows = 200;
let paused = false, held = 0, seen = 0, source = null;

function setText(el, text) { if (el.textContent !== String(text)) el.textContent = text; }

function render(msg) {
  const ev = msg.event || {};
  const li = document.createElement("li");
  li.dataset.channel = ev.channel || "";
  li.dataset.id = ev.id || "";
  const op = document.createElement("span");
  op.className = "op " + (ev.operation || "");
  op.textContent = ev.operation || "";
  const ch = document.createElement("span");
  ch.className = "ch";
  ch.textContent = ev.channel || "";
  const body = document.createElement("span");
  body.className = "payload";
  body.textContent = JSON.stringify(ev.payload);
  li.append(op, ch, body);
  li.title = JSON.stringify(ev, null, 2);
  const list = $("events");
  list.prepend(li);
  while (list.children.length > maxRows) list.lastChild.remove();
}

function connect() {
  if (source) source.close();
  $("events").replaceChildren();
  const filter = $("channel").value.trim();
  let url = "/inspect/stream?point=post-detector";
  if (filter) url += "&channel=" + encodeURIComponent(filter);
  source = new EventSource(url);
  source.onopen = () => setText($("stream-state"), "stream: live");
  source.onerror = () => setText($("stream-state"), "stream: reconnecting");
  source.addEventListener("post-detector", (e) => {
    seen++;
    setText($("count"), seen);
    if (paused) { held++; setText($("held"), held); return; }
    try { render(JSON.parse(e.data)); } catch (err) { console.error(err); }
  });
}

async function refresh() {
  try {
    const [stats, health] = await Promise.all([
      fetch("/api/stats").then((r) => r.json()),
      fetch("/healthz").then((r) => r.json())]);
    const st = $("status");
    st.className = "pill " + (health.status || "unknown");
    setText(st, health.status || "unknown");
    const tbody = $("adapters");
    for (const a of stats.adapters || []) {
      let row = tbody.querySelector(`tr[data-adapter="${CSS.escape(a.name)}"]`);
      if (!row) {
        row = document.createElement("tr");
        row.dataset.adapter = a.name;
        row.innerHTML = '<td class="name"></td><td><span class="pill health"></span></td>' +
          '<td class="num delivered"></td><td class="num dead_lettered"></td>' +
          '<td class="num failed"></td><td class="num queue_depth"></td>';
        tbody.append(row);
      }
      setText(row.querySelector(".name"), a.name);
      const comp = (health.components || {})[a.name] || {};
      const pill = row.querySelector(".health");
      pill.className = "pill health " + (comp.status || "unknown");
      setText(pill, comp.status || "unknown");
      for (const k of ["delivered", "dead_lettered", "failed", "queue_depth"]) {
        setText(row.querySelector("." + k), a[k]);
      }
    }
  } catch (err) {
    const st = $("status");
    st.className = "pill down";
    setText(st, "unreachable");
  }
}

$("apply").addEventListener("click", connect);
$("channel").addEventListener("keydown", (e) => { if (e.key === "Enter") connect(); });
$("pause").addEventListener("click", () => {
  paused = !paused;
  $("pause").textContent = paused ? "Resume" : "Pause";
  $("pause").classList.toggle("paused", paused);
  $("paused-banner").hidden = !paused;
  if (!paused) { held = 0; setText($("held"), 0); }
});
connect();
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)page";

}  // namespace

std::string_view Page() { return kPage; }

void MountPage(net::HttpServer& server, std::string_view html) {
  server.Handle("GET", "/", [html](const net::HttpRequest&) {
    net::HttpResponse r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(html);
    r.headers["Cache-Control"] = "no-cache";
    r.headers["Content-Security-Policy"] =
        "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "frame-ancestors 'none'";
    return r;
  });
}

void Mount(net::HttpServer& server, std::function<std::string()> stats) {
  MountPage(server, kPage);
  server.Handle("GET", "/api/stats", [stats = std::move(stats)](const net::HttpRequest&) {
    net::HttpResponse r;
    r.body = stats();
    return r;
  });
}

}  // namespace pgcdc::console
