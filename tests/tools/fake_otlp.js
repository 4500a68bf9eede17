// FAKE OpenTelemetry collector (not the real one: none is available here, see
// SERVICES.md) for the tracing scenario tests. It accepts OTLP/HTTP protobuf
// exports and decodes them with the OpenTelemetry JS project's own generated
// protobuf code (npm @opentelemetry/otlp-transformer), independently of
// pgcdc's encoder.
//   POST /v1/traces   application/x-protobuf ExportTraceServiceRequest
//   GET  /spans       every span received so far, as JSON:
//                     {name, kind, traceId, spanId, parentSpanId, traceState,
//                      start, end, attributes: {k: v}, links: [{traceId, spanId}],
//                      status: {code, message}, service, headers}
//   POST /_fake/fail  answer the next N exports with 503 (body: N)
// It also serves OTLP/gRPC (npm @grpc/grpc-js): the unary call
// /opentelemetry.proto.collector.trace.v1.TraceService/Export with the same
// protobuf request, decoded the same way (headers from the call's metadata).
// Prints {"port": N, "grpc_port": M} on its first stdout line. Binds
// 127.0.0.1 only.
'use strict';
const http = require('http');
const grpc = require('@grpc/grpc-js');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const spans = [];
let failNext = 0;

function hex(bytes) {
  return bytes && bytes.length ? Buffer.from(bytes).toString('hex') : '';
}

function anyValue(v) {
  if (!v) return null;
  if (v.stringValue != null) return v.stringValue;
  if (v.intValue != null) return Number(v.intValue.toString());
  if (v.boolValue != null) return v.boolValue;
  if (v.doubleValue != null) return v.doubleValue;
  return null;
}

function attributes(list) {
  const out = {};
  for (const kv of list || []) out[kv.key] = anyValue(kv.value);
  return out;
}

function decode(body, headers) {
  const req = Request.decode(body);
  for (const rs of req.resourceSpans || []) {
    const resource = attributes(rs.resource && rs.resource.attributes);
    for (const ss of rs.scopeSpans || []) {
      for (const s of ss.spans || []) {
        spans.push({
          name: s.name,
          kind: s.kind,
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: s.traceState || '',
          start: s.startTimeUnixNano.toString(),
          end: s.endTimeUnixNano.toString(),
          attributes: attributes(s.attributes),
          links: (s.links || []).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId) })),
          status: { code: s.status ? s.status.code : 0, message: s.status ? s.status.message : '' },
          service: resource['service.name'],
          headers: { authorization: headers['authorization'] || '' },
        });
      }
    }
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.method === 'GET' && req.url === '/spans') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(spans));
      return;
    }
    if (req.method === 'POST' && req.url === '/_fake/fail') {
      failNext = Number(body.toString() || '1');
      res.writeHead(200);
      res.end('{}');
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/traces') {
      if (req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(415);
        res.end('expected application/x-protobuf');
        return;
      }
      if (failNext > 0) {
        failNext--;
        res.writeHead(503);
        res.end('fake outage');
        return;
      }
      try {
        decode(body, req.headers);
      } catch (e) {
        res.writeHead(400);
        res.end('cannot decode: ' + e.message);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
});

const identity = (b) => b;
const grpcServer = new grpc.Server();
grpcServer.addService(
  {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  {
    Export: (call, callback) => {
      if (failNext > 0) {
        failNext--;
        callback({ code: grpc.status.UNAVAILABLE, details: 'fake outage' });
        return;
      }
      const auth = call.metadata.get('authorization');
      try {
        decode(call.request, { authorization: auth.length ? String(auth[0]) : '' });
      } catch (e) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: 'cannot decode: ' + e.message });
        return;
      }
      callback(null, Buffer.alloc(0)); // an empty ExportTraceServiceResponse
    },
  },
);

server.listen(0, '127.0.0.1', () => {
  grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, grpcPort) => {
    if (err) throw err;
    process.stdout.write(
      JSON.stringify({ port: server.address().port, grpc_port: grpcPort }) + '\n',
    );
  });
});
