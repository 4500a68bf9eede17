// Subscribes N clients (npm @grpc/grpc-js + @grpc/proto-loader, with
// proto/pgcdc/eventstream.proto) to pgcdc.EventStream/Subscribe and reports
// JSON lines on stdout as described in clients_common.js. Extra lines:
//   {"status":{"client":i,"code":C,"details":D,"after_ms":T}}
//                     when a stream ends (T: since the first client opened)
// The done line adds "events" (the first client's events: id, channel,
// operation, payload (text), source, created_at, traceparent) and
// "statuses" and "elapsed_ms" (since the first client opened). The run is done when every client has --expect events, when
// every stream ended, or at --timeout-ms.
// Usage: node grpc_clients.js --addr HOST:PORT [--channels a,b]
//        [--resume-from ID] [--token T] [--ca ca.pem] [--clients N]
//        [--expect M] [--timeout-ms T] [--keep N]
//        [--pause] (client 0 stops reading after its first event until
//                   SIGUSR2, then reads on: a stalled consumer)
//        [--quiet] (no per-event work besides counting: for benchmarks)
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { arg, emit, ClientRun } = require('./clients_common');

const protoFile = path.join(__dirname, '..', '..', 'proto', 'pgcdc', 'eventstream.proto');
const def = protoLoader.loadSync(protoFile, { keepCase: true, longs: String, defaults: true });
const pgcdc = grpc.loadPackageDefinition(def).pgcdc;

const addr = arg('addr');
const channels = String(arg('channels', '')).split(',').filter(Boolean);
const resumeFrom = arg('resume-from', '');
const token = arg('token', '');
const ca = arg('ca', '');
const pause = process.argv.includes('--pause');
const quiet = process.argv.includes('--quiet');

const events = [];
const statuses = [];
const calls = [];
let t0 = 0;
let ended = 0;
const run = new ClientRun({
  report: () => ({ events, statuses, elapsed_ms: t0 ? Date.now() - t0 : 0 }),
  close: () => calls.forEach((c) => c.cancel()),
});

const creds = ca
  ? grpc.credentials.createSsl(require('fs').readFileSync(ca))
  : grpc.credentials.createInsecure();
const client = new pgcdc.EventStream(addr, creds, {
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
});

function subscribe(i) {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', 'Bearer ' + token);
  const call = client.Subscribe({ channels, resume_from: resumeFrom }, md);
  calls.push(call);
  let opened = false;
  const markOpen = () => {
    if (opened) return;
    opened = true;
    if (!t0) t0 = Date.now();
    run.open();
  };
  call.on('metadata', markOpen);
  call.on('data', (ev) => {
    markOpen();
    if (quiet) {
      run.received(i, null, events);
      return;
    }
    run.received(i, { ...ev, payload: ev.payload.toString('utf8') }, events);
    if (pause && i === 0 && run.counts[0] === 1) {
      call.pause();
      emit({ paused: true });
      process.on('SIGUSR2', () => call.resume());
    }
  });
  call.on('status', (s) => {
    markOpen();
    const status = { client: i, code: s.code, details: s.details, after_ms: Date.now() - t0 };
    statuses.push(status);
    emit({ status });
    if (++ended === run.clients) run.finish();
  });
  call.on('error', () => {}); // reported through 'status'
}

for (let i = 0; i < run.clients; i++) subscribe(i);
run.run();
