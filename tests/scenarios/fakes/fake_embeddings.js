// FAKE OpenAI-compatible embeddings API for the embedding sink's scenario
// tests and bench/embedding. No model is available offline, so this stand-in
// answers POST …/embeddings with deterministic vectors computed from the
// text: each word adds 1 to dimension hash(word) % dim, then the vector is
// normalised. Texts sharing words are therefore close, which is enough to
// test a similarity search. It is NOT a real embedding model.
//
//  - `--port N` (0 = any free port), `--dim D` (default 8), `--api-key K`
//    (empty = no key checked); prints {"listening":PORT} once it accepts.
//  - POST <any path ending in /embeddings> {"model","input":[...]} →
//    {"object":"list","data":[{"object":"embedding","index":i,"embedding":[...]}],
//     "model","usage":{"prompt_tokens":N,"total_tokens":N}}
//  - control endpoints (no key), for the tests:
//      GET  /_fake/count                  {"requests":N,"inputs":N,"texts":{text:times}}
//      POST /_fake/fail?status=S&count=N  the next N requests answer S
//      POST /_fake/bad?text=X&kind=K      inputs containing X get K=dim (a vector one
//                                         dimension short); a request with such an input
//                                         gets K=json (a body that is not JSON) or
//                                         K=reject (400)
//      POST /_fake/down?ms=T              stop listening (connections refused) for T ms
//      POST /_fake/delay?ms=T             answer each request after T ms (latency)
//      POST /_fake/embed?text=X           the vector of X (for similarity queries)
'use strict';
const http = require('http');

const args = { port: 0, dim: 8, apiKey: '' };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (k === '--port') args.port = Number(v);
  else if (k === '--dim') args.dim = Number(v);
  else if (k === '--api-key') args.apiKey = v;
  else throw new Error('unknown argument ' + k);
}

const state = { requests: 0, inputs: 0, texts: {}, fail: { status: 0, count: 0 }, bad: [], delay: 0 };

function fnv(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function embed(text, dim) {
  const v = new Array(dim).fill(0);
  for (const w of text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean)) v[fnv(w) % dim] += 1;
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  return v.map((x) => Math.round((x / norm) * 1e6) / 1e6);
}

function reply(res, status, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function control(url, res) {
  const q = url.searchParams;
  switch (url.pathname) {
    case '/_fake/count':
      return reply(res, 200, { requests: state.requests, inputs: state.inputs, texts: state.texts });
    case '/_fake/fail':
      state.fail = { status: Number(q.get('status')), count: Number(q.get('count')) };
      return reply(res, 200, { ok: true });
    case '/_fake/bad':
      state.bad.push({ text: q.get('text'), kind: q.get('kind') });
      return reply(res, 200, { ok: true });
    case '/_fake/delay':
      state.delay = Number(q.get('ms'));
      return reply(res, 200, { ok: true });
    case '/_fake/embed':
      return reply(res, 200, { embedding: embed(q.get('text') || '', args.dim) });
    case '/_fake/down': {
      reply(res, 200, { ok: true });
      server.close();
      for (const s of sockets) s.destroy();
      setTimeout(() => server.listen(port, '127.0.0.1'), Number(q.get('ms')));
      return undefined;
    }
    default:
      return reply(res, 404, { error: { message: 'unknown control endpoint' } });
  }
}

function handle(req, url, body, res) {
  state.requests++;
  if (state.fail.count > 0) {
    state.fail.count--;
    return reply(res, state.fail.status, { error: { message: 'fake failure on demand' } });
  }
  if (args.apiKey && req.headers.authorization !== 'Bearer ' + args.apiKey) {
    return reply(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
  }
  if (req.method !== 'POST' || !url.pathname.endsWith('/embeddings')) {
    return reply(res, 404, { error: { message: 'not found' } });
  }
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch (e) {
    return reply(res, 400, { error: { message: 'body is not JSON' } });
  }
  const inputs = Array.isArray(parsed.input) ? parsed.input : [parsed.input];
  if (typeof parsed.model !== 'string' || inputs.some((x) => typeof x !== 'string')) {
    return reply(res, 400, { error: { message: 'model and input strings required' } });
  }
  const badFor = (t, kind) => state.bad.some((b) => b.kind === kind && t.includes(b.text));
  if (inputs.some((t) => badFor(t, 'json'))) return reply(res, 200, '{"data":[{"embedding":[0.1,');
  if (inputs.some((t) => badFor(t, 'reject'))) {
    return reply(res, 400, { error: { message: 'input rejected by the fake' } });
  }
  state.inputs += inputs.length;
  for (const t of inputs) state.texts[t] = (state.texts[t] || 0) + 1;
  let tokens = 0;
  const data = inputs.map((t, i) => {
    tokens += t.split(/\s+/).filter(Boolean).length;
    return { object: 'embedding', index: i, embedding: embed(t, badFor(t, 'dim') ? args.dim - 1 : args.dim) };
  });
  return reply(res, 200, { object: 'list', data, model: parsed.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

const sockets = new Set();
let port = args.port;
const server = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://fake');
    const body = Buffer.concat(chunks).toString('utf8');
    if (url.pathname.startsWith('/_fake/')) return control(url, res);
    if (state.delay > 0) return setTimeout(() => handle(req, url, body, res), state.delay);
    return handle(req, url, body, res);
  });
});
server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
server.listen(port, '127.0.0.1', () => {
  port = server.address().port;
  process.stdout.write(JSON.stringify({ listening: port }) + '\n');
});
