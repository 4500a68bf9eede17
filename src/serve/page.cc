// The `pgcdc serve` web page: one static page (inline CSS and JavaScript, no
// CDN) on the REST API: the pipelines with their state, start / stop /
// pause / resume / delete buttons, and a form to validate and create one.
#include "serve/page.h"

namespace pgcdc::serve {

namespace {

constexpr std::string_view kPage = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>pgcdc serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
  header { background: #1d2430; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  main { padding: 16px 20px; max-width: 1200px; }
  table { border-collapse: collapse; width: 100%; background: #fff; table-layout: fixed; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e3e6ea; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  th { background: #eef0f3; font-weight: 600; }
  td.err { color: #b3261e; white-space: normal; word-break: break-word; }
  .status { font-weight: 600; }
  .running { color: #1a7f37; } .starting { color: #9a6700; } .paused { color: #6e7781; }
  .stopped { color: #6e7781; } .error { color: #b3261e; }
  button { margin-right: 4px; padding: 3px 8px; cursor: pointer; }
  button:disabled { cursor: default; opacity: .4; }
  textarea { width: 100%; height: 160px; font: 13px/1.3 ui-monospace, monospace; box-sizing: border-box; }
  #message { white-space: pre-wrap; margin-top: 8px; font-family: ui-monospace, monospace; }
  #message.bad { color: #b3261e; } #message.good { color: #1a7f37; }
  section { margin-top: 24px; }
</style>
</head>
<body>
<header><h1>pgcdc serve</h1><span id="ready">…</span><span id="count"></span></header>
<main>
<table>
  <colgroup><col style="width:16%"><col style="width:9%"><col style="width:7%"><col style="width:17%">
  <col style="width:6%"><col style="width:15%"><col style="width:30%"></colgroup>
  <thead><tr><th>Pipeline</th><th>Status</th><th>Origin</th><th>Started</th><th>Restarts</th>
  <th>Delivered</th><th>Actions / error</th></tr></thead>
  <tbody id="pipelines"></tbody>
</table>
<section>
  <h2>New pipeline</h2>
  <p>A <code>listen</code> configuration with a <code>name</code>, as JSON or YAML (see docs/serve.md).</p>
  <textarea id="spec" spellcheck="false">name: example
database_url: postgres://localhost/postgres
channels: [orders]
adapters: [stdout]
</textarea>
  <div><button id="validate">Validate</button><button id="create">Create</button>
  <label><input type="checkbox" id="start" checked> start it</label></div>
  <div id="message"></div>
</section>
</main>
<script>
"use strict";
const api = "/api/v1/pipelines";
const actions = { stopped: ["start", "delete"], error: ["start", "delete"], starting: ["stop", "pause"],
                  running: ["stop", "pause"], paused: ["resume", "stop"] };

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

async function call(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    const json = body.trim().startsWith("{");
    opts.headers["Content-Type"] = json ? "application/json" : "application/yaml";
    opts.body = body;
  }
  const r = await fetch(path, opts);
  let data = {};
  try { data = await r.json(); } catch (e) { data = { error: "HTTP " + r.status }; }
  return { ok: r.ok, status: r.status, data };
}

function show(msg, good) {
  const m = document.getElementById("message");
  m.textContent = msg;
  m.className = good ? "good" : "bad";
}

function describeError(res) {
  const d = res.data || {};
  return (d.error || ("HTTP " + res.status)) + (d.errors ? "\n- " + d.errors.join("\n- ") : "");
}

async function act(name, action) {
  const res = action === "delete" ? await call("DELETE", api + "/" + encodeURIComponent(name))
                                  : await call("POST", api + "/" + encodeURIComponent(name) + "/" + action);
  show(res.ok ? name + ": " + res.data.status : describeError(res), res.ok);
  refresh();
}

function row(p) {
  const tr = document.createElement("tr");
  tr.dataset.pipeline = p.name;
  tr.appendChild(text("td", p.name));
  tr.appendChild(text("td", p.status, "status " + p.status));
  tr.appendChild(text("td", p.origin));
  tr.appendChild(text("td", p.started_at ? p.started_at.replace("T", " ").slice(0, 19) : "—"));
  tr.appendChild(text("td", String(p.restarts)));
  const delivered = p.stats ? p.stats.adapters.map((a) => a.name + " " + a.delivered).join(", ") : "—";
  tr.appendChild(text("td", delivered, "delivered"));
  const td = document.createElement("td");
  for (const a of actions[p.status] || []) {
    if (a === "delete" && p.origin !== "api") continue;
    const b = text("button", a);
    b.dataset.action = a;
    b.addEventListener("click", () => act(p.name, a));
    td.appendChild(b);
  }
  if (p.error) td.appendChild(text("div", p.error, "err"));
  tr.appendChild(td);
  return tr;
}

async function refresh() {
  try {
    const res = await call("GET", api);
    if (!res.ok) { document.getElementById("ready").textContent = describeError(res); return; }
    const body = document.getElementById("pipelines");
    body.replaceChildren(...res.data.pipelines.map(row));
    document.getElementById("count").textContent = res.data.count + " pipeline(s)";
    const ready = await fetch("/readyz");
    document.getElementById("ready").textContent = ready.ok ? "ready" : "not ready";
  } catch (e) {
    document.getElementById("ready").textContent = "unreachable";
  }
}

document.getElementById("validate").addEventListener("click", async () => {
  const res = await call("POST", api + "?dry_run=true", document.getElementById("spec").value);
  show(res.ok ? "valid" : describeError(res), res.ok);
});
document.getElementById("create").addEventListener("click", async () => {
  const start = document.getElementById("start").checked ? "?start=true" : "";
  const res = await call("POST", api + start, document.getElementById("spec").value);
  show(res.ok ? res.data.pipeline + ": created" : describeError(res), res.ok);
  refresh();
});
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)page";

}  // namespace

std::string_view Page() { return kPage; }

}  // namespace pgcdc::serve
