// GraphQL subscription clients for pgcdc's graphql adapter, reporting JSON
// lines on stdout as described in clients_common.js.
//
// --mode client (default): N graphql-ws clients (npm "graphql-ws" over npm
//   "ws"), each with --subs subscriptions of --query / --variables (JSON),
//   --token T sent as connectionParams {"authorization":"Bearer T"}.
//   Counts `next` results; client 0's results (data objects) are "messages".
//   Also {"sub_error":[GraphQLError...],"client":i}, {"complete":i},
//   {"server_ping":n} (server keepalive pings seen by client 0),
//   {"closed":{"client":i,"code":C,"reason":R}}.
//   The done line adds "messages", "errors", "pings".
// --mode raw: one npm "ws" socket speaking graphql-transport-ws by hand:
//   sends the --send JSON array in order; an element {"await":"<type>"} waits
//   for a server message of that type. Answers server pings. Every server
//   message is reported as {"msg":{...}}, the close as {"close":{code,reason}},
//   then done (with "messages"). --pause: after sending, stop reading the
//   socket (a slow subscriber) until SIGUSR2, reporting {"paused":true}.
//   --protocol P overrides the subprotocol ("" = none). --finish-on TYPE:
//   done once a server message of that type arrived.
// --mode sdl: fetches --url (GET <path>/schema), builds it with npm
//   "graphql" (buildSchema) and validates --query against it:
//   {"done":true,"errors":[messages],"types":[type names]}.
'use strict';
const WebSocket = require('ws');
const { createClient } = require('graphql-ws');
const { arg, emit, ClientRun } = require('./clients_common');

function runClients() {
  const query = arg('query', 'subscription { events { id } }');
  const variables = JSON.parse(arg('variables', '{}'));
  const subs = Number(arg('subs', '1'));
  const token = arg('token', '');
  const messages = [];
  const errors = [];
  let pings = 0;
  const clients = [];
  const run = new ClientRun({
    report: () => ({ messages, errors, pings }),
    close: () => clients.forEach((c) => c.dispose()),
  });
  for (let i = 0; i < run.clients; i++) {
    const client = createClient({
      url: run.url,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: token ? { authorization: 'Bearer ' + token } : undefined,
      on: {
        connected: () => run.open(),
        ping: (received) => {
          if (received && i === 0) emit({ server_ping: ++pings });
        },
        closed: (e) => emit({ closed: { client: i, code: e.code, reason: String(e.reason) } }),
      },
    });
    clients.push(client);
    for (let s = 0; s < subs; s++) {
      client.subscribe(
        { query, variables },
        {
          next: (r) => {
            if (r.errors) {
              errors.push(r.errors);
              emit({ sub_error: r.errors, client: i });
            } else {
              run.received(i, r.data, messages);
            }
          },
          error: (e) => {
            const err = Array.isArray(e) ? e : { message: String(e && (e.reason || e.message || e)), code: e && e.code };
            errors.push(err);
            emit({ sub_error: err, client: i });
          },
          complete: () => emit({ complete: i }),
        },
      );
    }
  }
  run.run();
}

function runRaw() {
  const send = JSON.parse(arg('send', '[]'));
  const pause = process.argv.includes('--pause');
  const protocol = arg('protocol', 'graphql-transport-ws');
  const finishOn = arg('finish-on', '');
  const messages = [];
  const run = new ClientRun({ report: () => ({ messages }), close: () => ws.terminate() });
  const ws = protocol ? new WebSocket(run.url, protocol) : new WebSocket(run.url);
  let step = 0;
  let waiting = null;
  const pump = () => {
    while (step < send.length && waiting === null) {
      const m = send[step++];
      if (m.await) {
        waiting = m.await;
      } else {
        ws.send(JSON.stringify(m));
      }
    }
    if (step === send.length && waiting === null && pause && !ws.isPaused) {
      ws.pause();
      emit({ paused: true });
    }
  };
  process.on('SIGUSR2', () => {
    emit({ resumed: true });
    ws.resume();
  });
  ws.on('open', () => {
    run.open();
    pump();
  });
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString());
    if (m.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
    if (m.type === 'next') {
      run.received(0, m, messages);
    } else {
      messages.push(m);
      emit({ msg: m });
    }
    if (m.type === finishOn) run.finish();
    if (waiting !== null && m.type === waiting) {
      waiting = null;
      pump();
    }
  });
  ws.on('close', (code, reason) => {
    emit({ close: { code, reason: reason.toString() } });
    run.finish();
  });
  ws.on('error', (e) => emit({ error: String(e.message) }));
  run.run();
}

async function runSdl() {
  const { buildSchema, parse, validate } = require('graphql');
  const res = await fetch(arg('url'));
  const sdl = await res.text();
  let out;
  try {
    const schema = buildSchema(sdl);
    const errors = validate(schema, parse(arg('query'))).map((e) => e.message);
    out = { done: true, status: res.status, errors, types: Object.keys(schema.getTypeMap()) };
  } catch (e) {
    out = { done: true, status: res.status, errors: [String(e.message)], sdl };
  }
  emit(out);
}

const mode = arg('mode', 'client');
if (mode === 'raw') {
  runRaw();
} else if (mode === 'sdl') {
  runSdl().catch((e) => emit({ done: true, errors: [String(e)] }));
} else {
  runClients();
}
