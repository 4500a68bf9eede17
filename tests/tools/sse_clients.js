// Opens N EventSource clients (npm "eventsource" v3) against a pgcdc SSE URL
// and reports, as JSON lines on stdout:
//   {"open":N}                        once every client is connected
//   {"progress":[counts...]}          every 500 ms while running
//   {"done":true,"counts":[...],"events":[...first client's events...],
//    "errors":E}                      when every client has --expect events,
//                                     or at --timeout-ms
// Usage: node sse_clients.js --url URL [--clients N] [--expect M]
//        [--timeout-ms T] [--last-event-id ID] [--keep N]
'use strict';
const { EventSource } = require('eventsource');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}
const url = arg('url');
const clients = Number(arg('clients', '1'));
const expect = Number(arg('expect', '0'));
const timeoutMs = Number(arg('timeout-ms', '30000'));
const lastEventId = arg('last-event-id', '');
const keep = Number(arg('keep', '100000'));

const counts = new Array(clients).fill(0);
const events = [];
let opened = 0;
let errors = 0;
let finished = false;
const sources = [];

function finish() {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify({ done: true, counts, events, errors }) + '\n');
  for (const s of sources) s.close();
  setTimeout(() => process.exit(0), 50);
}

function maybeDone() {
  if (expect > 0 && counts.every((c) => c >= expect)) finish();
}

for (let i = 0; i < clients; i++) {
  const init = {};
  if (lastEventId && i === 0) {
    // eventsource v3 sends Last-Event-ID only on reconnect; set it on the first request.
    init.fetch = (input, opts) =>
      fetch(input, { ...opts, headers: { ...opts.headers, 'Last-Event-ID': lastEventId } });
  }
  const es = new EventSource(url, init);
  sources.push(es);
  let wasOpen = false;
  es.onopen = () => {
    if (wasOpen) return;
    wasOpen = true;
    opened++;
    if (opened === clients) process.stdout.write(JSON.stringify({ open: opened }) + '\n');
  };
  es.onerror = (e) => {
    errors++;
    process.stdout.write(JSON.stringify({ error: String(e && (e.message || e.code)), client: i }) + '\n');
  };
  const onEvent = (ev) => {
    counts[i]++;
    if (i === 0 && events.length < keep) {
      events.push({ id: ev.lastEventId, event: ev.type, data: ev.data });
    }
    maybeDone();
  };
  es.onmessage = onEvent;
  // Named events (event: <channel>) do not reach onmessage; listen to every
  // channel the test names in --channels (comma list).
  for (const ch of String(arg('channels', '')).split(',').filter(Boolean)) {
    es.addEventListener(ch, onEvent);
  }
}

const progress = setInterval(() => {
  if (!finished) process.stdout.write(JSON.stringify({ progress: counts }) + '\n');
}, Number(arg('progress-ms', '500')));
progress.unref();
setTimeout(finish, timeoutMs).unref();
// Keep the process alive until finish().
setInterval(() => {}, 1000);
