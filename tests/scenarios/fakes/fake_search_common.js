// FAKE search engine plumbing shared by fake_typesense.js and
// fake_meilisearch.js (scenario tests and bench/search). Neither Typesense
// nor Meilisearch is packaged on this machine, so the tests run against
// these small stand-ins that implement only the endpoints pgcdc uses. They
// are NOT the real engines: no search, no schema, no persistence.
//
// Common behaviour:
//  - `--port N` (0 = any free port), `--api-key K`; prints
//    {"listening":PORT} on stdout once it accepts connections.
//  - documents live in memory per index; every engine request is recorded
//    as {method, path, docs, auth} (docs = documents in the body).
//  - control endpoints (no key needed), for the tests:
//      GET  /_fake/count               {"docs":N,"requests":N}
//      GET  /_fake/state               {"docs":{index:{id:doc}},"requests":[...],"counts":{...}}
//      POST /_fake/fail?status=S&count=N  the next N engine requests answer S
//      POST /_fake/reject?id=X         documents with id X are refused
//      POST /_fake/key?value=K         expect another API key from now on
//      POST /_fake/down?ms=T           stop listening (connections refused) for T ms
//      POST /_fake/quiet               stop recording requests (benchmarks)
'use strict';
const http = require('http');

function parseArgs(argv) {
  const out = { port: 0, apiKey: '', index: 'items' };
  for (let i = 2; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === '--port') out.port = Number(v);
    else if (k === '--api-key') out.apiKey = v;
    else if (k === '--index') out.index = v;
    else throw new Error('unknown argument ' + k);
  }
  return out;
}

function reply(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// Runs a fake: `engine.handle(req, url, body, state)` answers engine
// requests ({status, body}); `engine.auth(req, key)` → null or {status, body}.
function runFake(engine) {
  const args = parseArgs(process.argv);
  const state = {
    args, key: args.apiKey, docs: new Map(), requests: [], counts: { requests: 0, documents: 0 },
    fail: { status: 0, count: 0 }, rejected: new Set(), record: true,
  };
  state.index = (name) => {
    if (!state.docs.has(name)) state.docs.set(name, new Map());
    return state.docs.get(name);
  };
  if (engine.init) engine.init(state);
  const sockets = new Set();
  let port = args.port;
  const server = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://fake');
      const body = Buffer.concat(chunks).toString('utf8');
      if (url.pathname.startsWith('/_fake/')) return control(url, res);
      state.counts.requests++;
      if (state.fail.count > 0 && url.pathname !== '/health') {
        state.fail.count--;
        return reply(res, state.fail.status, { message: 'fake failure on demand' });
      }
      const denied = url.pathname === '/health' ? null : engine.auth(req, state.key);
      const out = denied || engine.handle(req, url, body, state);
      if (state.record) {
        state.requests.push({ method: req.method, path: url.pathname + url.search, status: out.status,
          docs: out.docs || 0, auth: !denied });
      }
      reply(res, out.status, out.body);
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  function control(url, res) {
    const q = url.searchParams;
    switch (url.pathname) {
      case '/_fake/state': {
        const docs = {};
        for (const [name, m] of state.docs) docs[name] = Object.fromEntries(m);
        return reply(res, 200, { docs, requests: state.requests, counts: state.counts });
      }
      case '/_fake/count': {
        let docs = 0;
        for (const m of state.docs.values()) docs += m.size;
        return reply(res, 200, { docs, requests: state.counts.requests });
      }
      case '/_fake/fail':
        state.fail = { status: Number(q.get('status') || 503), count: Number(q.get('count') || 1) };
        return reply(res, 200, {});
      case '/_fake/reject':
        state.rejected.add(q.get('id'));
        return reply(res, 200, {});
      case '/_fake/key':
        state.key = q.get('value') || '';
        return reply(res, 200, {});
      case '/_fake/quiet':
        state.record = false;
        return reply(res, 200, {});
      case '/_fake/down': {
        const ms = Number(q.get('ms') || 1000);
        reply(res, 200, {});
        setImmediate(() => {
          server.close();
          for (const s of sockets) s.destroy();
          setTimeout(() => server.listen(port, '127.0.0.1'), ms);
        });
        return undefined;
      }
      default:
        return reply(res, 404, { message: 'no such control endpoint' });
    }
  }

  server.listen(port, '127.0.0.1', () => {
    port = server.address().port;
    process.stdout.write(JSON.stringify({ listening: port }) + '\n');
  });
  process.on('SIGTERM', () => process.exit(0));
}

module.exports = { runFake };
