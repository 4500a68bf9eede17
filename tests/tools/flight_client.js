// An Arrow Flight client for pgcdc's arrow sink: npm @grpc/grpc-js +
// @grpc/proto-loader with proto/arrow/flight/flight.proto for the RPCs, npm
// apache-arrow to decode what DoGet returns (the FlightData messages are
// framed back into an IPC stream: continuation, length, header, body).
// Prints one JSON line and exits:
//   --list              {"done":true,"flights":[{path,ticket,total_records,
//                        total_bytes,schema:[fields][,schema_metadata:{k:v}]}]}
//   --info CHANNEL      {"done":true,"flights":[one]}
//   --list-actions      {"done":true,"actions":[...]} (pgcdc: UNIMPLEMENTED)
//   --get TICKET        {"done":true,"schema":[...][,"metadata":{k:v}],"batches":N,"rows":[...],
//                        "app_metadata":[...],"elapsed_ms":T}
//                       (--quiet: every column decoded with toArray(), no
//                       row objects; "row_count" instead of "rows")
//                       (--save FILE: the IPC stream as received, for
//                       bench/arrow/decode_ceiling.js)
// A failed call: {"done":true,"status":{"code":C,"details":D}}.
// Usage: node flight_client.js --addr HOST:PORT [--token T] [--ca ca.pem]
//        (--list | --list-actions | --info CH | --get '{"channel":"c","offset":0}') [--quiet]
//        [--window BYTES (HTTP/2 flow-control window: grpc-node.flow_control_window)]
'use strict';
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const arrow = require('apache-arrow');
const { arg } = require('./clients_common');
const { decodeStream } = require('./arrow_decode');

const protoFile = path.join(__dirname, '..', '..', 'proto', 'arrow', 'flight', 'flight.proto');
const def = protoLoader.loadSync(protoFile, { keepCase: true, longs: String, defaults: true });
const flight = grpc.loadPackageDefinition(def).arrow.flight.protocol;

const token = arg('token', '');
const ca = arg('ca', '');
const creds = ca ? grpc.credentials.createSsl(fs.readFileSync(ca)) : grpc.credentials.createInsecure();
const channelOptions = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
if (arg('window')) channelOptions['grpc-node.flow_control_window'] = Number(arg('window'));
const client = new flight.FlightService(arg('addr'), creds, channelOptions);
const md = new grpc.Metadata();
if (token) md.set('authorization', 'Bearer ' + token);

// Writes the result line and exits once it is flushed (stdout is a pipe:
// an exit right after a large write would cut the line short).
// Only the first result counts (a failed stream also emits 'end').
let finished = false;
function finish(obj) {
  if (finished) return;
  finished = true;
  process.stdout.write(JSON.stringify(obj) + '\n', () => process.exit(0));
}

function failed(err) {
  finish({ done: true, status: { code: err.code, details: err.details } });
}

function readSchema(bytes) {
  // An encapsulated Schema message plus an end-of-stream marker is a stream.
  const eos = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
  return arrow.RecordBatchReader.from(Buffer.concat([bytes, eos])).open().schema;
}

function describeInfo(info) {
  const schema = readSchema(info.schema);
  const out = {
    path: info.flight_descriptor.path,
    ticket: info.endpoint.map((e) => e.ticket.ticket.toString('utf8')),
    total_records: Number(info.total_records),
    total_bytes: Number(info.total_bytes),
    ordered: info.ordered,
    schema: schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
  };
  // The schema's custom_metadata, only when there is some.
  if (schema.metadata.size > 0) out.schema_metadata = Object.fromEntries(schema.metadata);
  return out;
}

function frame(header, body) {
  const padded = (header.length + 7) & ~7;
  const prefix = Buffer.alloc(8);
  prefix.writeUInt32LE(0xffffffff, 0);
  prefix.writeInt32LE(padded, 4);
  return [prefix, header, Buffer.alloc(padded - header.length), body];
}

function list() {
  const flights = [];
  const call = client.ListFlights({ expression: Buffer.alloc(0) }, md);
  call.on('data', (info) => flights.push(describeInfo(info)));
  call.on('error', failed);
  call.on('end', () => {
    finish({ done: true, flights });
  });
}

function info(channel) {
  client.GetFlightInfo({ type: 'PATH', path: channel ? [channel] : [] }, md, (err, res) => {
    if (err) return failed(err);
    finish({ done: true, flights: [describeInfo(res)] });
  });
}

function get(ticket) {
  const t0 = Date.now();
  const parts = [];
  const appMetadata = [];
  const call = client.DoGet({ ticket: Buffer.from(ticket, 'utf8') }, md);
  call.on('data', (d) => {
    parts.push(...frame(d.data_header, d.data_body));
    if (d.app_metadata.length) appMetadata.push(JSON.parse(d.app_metadata.toString('utf8')));
  });
  call.on('error', failed);
  call.on('end', () => {
    if (finished) return; // failed: nothing to decode
    const transferMs = Date.now() - t0;
    parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
    const bytes = Buffer.concat(parts);
    if (process.argv.includes('--quiet')) {
      // Benchmarks: decode every column to JS values (strings, numbers,
      // bigints) without building row objects.
      const reader = arrow.RecordBatchReader.from(bytes).open();
      let rowCount = 0;
      let batches = 0;
      for (const batch of reader) {
        batches++;
        rowCount += batch.numRows;
        for (let c = 0; c < batch.numCols; c++) batch.getChildAt(c).toArray();
      }
      const elapsedMs = Date.now() - t0;
      if (arg('save')) fs.writeFileSync(arg('save'), bytes); // after the clock stopped
      finish({ done: true, batches, row_count: rowCount, app_metadata: appMetadata,
        transfer_ms: transferMs, elapsed_ms: elapsedMs });
      return;
    }
    const decoded = decodeStream(bytes);
    finish({ done: true, ...decoded, app_metadata: appMetadata, transfer_ms: transferMs,
      elapsed_ms: Date.now() - t0 });
  });
}

function listActions() {
  const actions = [];
  const call = client.ListActions({}, md);
  call.on('data', (a) => actions.push(a));
  call.on('error', failed);
  call.on('end', () => {
    finish({ done: true, actions });
  });
}

if (process.argv.includes('--list')) list();
else if (process.argv.includes('--list-actions')) listActions();
else if (arg('info') !== undefined) info(arg('info'));
else get(arg('get'));
