// Opens N WebSocket clients (npm "ws") against a pgcdc WebSocket URL and
// reports JSON lines on stdout as described in clients_common.js, plus
//   {"close":{"client":i,"code":C,"reason":R}}  when the server closes one
//   {"error":E,"client":i}                      on a client error
// The done line adds "messages" (the first client's) and "closes"; it also
// comes once every client is closed.
// Usage: node ws_clients.js --url URL [--clients N] [--expect M] [--timeout-ms T]
'use strict';
const WebSocket = require('ws');
const { emit, ClientRun } = require('./clients_common');

const messages = [];
const closes = [];
let closed = 0;
const sockets = [];
const run = new ClientRun({
  report: () => ({ messages, closes }),
  close: () => sockets.forEach((s) => s.terminate()),
});

for (let i = 0; i < run.clients; i++) {
  const ws = new WebSocket(run.url);
  sockets.push(ws);
  ws.on('open', () => run.open());
  ws.on('message', (data) => run.received(i, data.toString(), messages));
  ws.on('close', (code, reason) => {
    const c = { client: i, code, reason: reason.toString() };
    closes.push(c);
    emit({ close: c });
    closed++;
    if (closed === run.clients) run.finish();
  });
  ws.on('error', (e) => emit({ error: String(e.message), client: i }));
}
run.run();
