// Opens N WebSocket clients (npm "ws") against a pgcdc WebSocket URL and
// reports, as JSON lines on stdout:
//   {"open":N}                       once every client is connected
//   {"progress":[counts...]}         every 500 ms
//   {"close":{"client":i,"code":C,"reason":R}}  when the server closes one
//   {"done":true,"counts":[...],"messages":[...first client's...],"closes":[...]}
//                                    when every client has --expect messages,
//                                    when all are closed, or at --timeout-ms
// Usage: node ws_clients.js --url URL [--clients N] [--expect M] [--timeout-ms T]
'use strict';
const WebSocket = require('ws');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}
const url = arg('url');
const clients = Number(arg('clients', '1'));
const expect = Number(arg('expect', '0'));
const timeoutMs = Number(arg('timeout-ms', '30000'));
const keep = Number(arg('keep', '100000'));

const counts = new Array(clients).fill(0);
const messages = [];
const closes = [];
let opened = 0;
let closed = 0;
let finished = false;
const sockets = [];

function finish() {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify({ done: true, counts, messages, closes }) + '\n');
  for (const s of sockets) s.terminate();
  setTimeout(() => process.exit(0), 50);
}

for (let i = 0; i < clients; i++) {
  const ws = new WebSocket(url);
  sockets.push(ws);
  ws.on('open', () => {
    opened++;
    if (opened === clients) process.stdout.write(JSON.stringify({ open: opened }) + '\n');
  });
  ws.on('message', (data, isBinary) => {
    counts[i]++;
    if (i === 0 && messages.length < keep) messages.push(data.toString());
    if (expect > 0 && counts.every((c) => c >= expect)) finish();
  });
  ws.on('close', (code, reason) => {
    const c = { client: i, code, reason: reason.toString() };
    closes.push(c);
    process.stdout.write(JSON.stringify({ close: c }) + '\n');
    closed++;
    if (closed === clients) finish();
  });
  ws.on('error', (e) => {
    process.stdout.write(JSON.stringify({ error: String(e.message), client: i }) + '\n');
  });
}

const progress = setInterval(() => {
  if (!finished) process.stdout.write(JSON.stringify({ progress: counts }) + '\n');
}, Number(arg('progress-ms', '500')));
progress.unref();
setTimeout(finish, timeoutMs).unref();
setInterval(() => {}, 1000);
