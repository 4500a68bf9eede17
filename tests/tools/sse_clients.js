// Opens N EventSource clients (npm "eventsource" v3) against a pgcdc SSE URL
// and reports JSON lines on stdout as described in clients_common.js; the
// done line adds "events" (the first client's {id,event,data}) and "errors".
// Errors are also reported as {"error":E,"client":i}.
// Usage: node sse_clients.js --url URL --channels a,b [--clients N]
//        [--expect M] [--timeout-ms T] [--last-event-id ID] [--keep N]
'use strict';
const { EventSource } = require('eventsource');
const { arg, emit, ClientRun } = require('./clients_common');

const lastEventId = arg('last-event-id', '');
const events = [];
let errors = 0;
const sources = [];
const run = new ClientRun({
  report: () => ({ events, errors }),
  close: () => sources.forEach((s) => s.close()),
});

for (let i = 0; i < run.clients; i++) {
  const init = {};
  if (lastEventId && i === 0) {
    // eventsource v3 sends Last-Event-ID only on reconnect; set it on the first request.
    init.fetch = (input, opts) =>
      fetch(input, { ...opts, headers: { ...opts.headers, 'Last-Event-ID': lastEventId } });
  }
  const es = new EventSource(run.url, init);
  sources.push(es);
  let wasOpen = false;
  es.onopen = () => {
    if (wasOpen) return;
    wasOpen = true;
    run.open();
  };
  es.onerror = (e) => {
    errors++;
    emit({ error: String(e && (e.message || e.code)), client: i });
  };
  const onEvent = (ev) => run.received(i, { id: ev.lastEventId, event: ev.type, data: ev.data }, events);
  es.onmessage = onEvent;
  // Named events (event: <channel>) do not reach onmessage; listen to every
  // channel the test names in --channels (comma list).
  for (const ch of String(arg('channels', '')).split(',').filter(Boolean)) {
    es.addEventListener(ch, onEvent);
  }
}
run.run();
