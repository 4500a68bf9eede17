// FAKE Typesense (not the real engine; see fake_search_common.js) for the
// search sink's scenario tests and benchmark. Implements:
//   GET    /health
//   GET    /collections/:c                                (404 unless c == --index)
//   POST   /collections/:c/documents/import?action=upsert  JSONL, one result line per document
//   PATCH  /collections/:c/documents/:id                  404 when the document is missing
//   DELETE /collections/:c/documents/:id                  404 when the document is missing
// Auth: X-TYPESENSE-API-KEY must equal the key (401 otherwise, as Typesense does).
// A rejected id (/_fake/reject) fails its import line like a schema error.
'use strict';
const { runFake } = require('./fake_search_common');

const kDocPath = /^\/collections\/([^/]+)\/documents\/([^/]+)$/;

function importLines(body, coll, state) {
  const lines = body.length === 0 ? [] : body.split('\n');
  const out = [];
  for (const line of lines) {
    let doc;
    try { doc = JSON.parse(line); } catch (e) {
      out.push(JSON.stringify({ success: false, error: 'Bad JSON.', document: line }));
      continue;
    }
    if (typeof doc.id !== 'string') {
      out.push(JSON.stringify({ success: false, error: "Document's `id` field should be a string.", document: line }));
    } else if (state.rejected.has(doc.id)) {
      out.push(JSON.stringify({ success: false, error: 'Field `title` must be a string (fake rejection).', document: line }));
    } else {
      coll.set(doc.id, doc);
      state.counts.documents++;
      out.push('{"success":true}');
    }
  }
  return { status: 200, body: out.join('\n'), docs: lines.length };
}

runFake({
  auth(req, key) {
    if (key && req.headers['x-typesense-api-key'] !== key) {
      return { status: 401, body: { message: 'Forbidden - a valid `x-typesense-api-key` header must be sent.' } };
    }
    return null;
  },
  handle(req, url, body, state) {
    const p = url.pathname;
    if (p === '/health' && req.method === 'GET') return { status: 200, body: { ok: true } };
    const parts = p.split('/').map(decodeURIComponent);
    if (parts[1] !== 'collections' || parts[2] !== state.args.index) {
      return { status: 404, body: { message: 'Not Found' } };
    }
    const coll = state.index(parts[2]);
    if (parts.length === 3 && req.method === 'GET') {
      return { status: 200, body: { name: parts[2], num_documents: coll.size } };
    }
    if (p.endsWith('/documents/import') && req.method === 'POST') {
      if (url.searchParams.get('action') !== 'upsert') return { status: 400, body: { message: 'fake: expects action=upsert' } };
      return importLines(body, coll, state);
    }
    const m = kDocPath.exec(p);
    if (!m) return { status: 404, body: { message: 'Not Found' } };
    const id = decodeURIComponent(m[2]);
    if (!coll.has(id)) return { status: 404, body: { message: `Could not find a document with id: ${id}` } };
    if (req.method === 'DELETE') {
      const doc = coll.get(id);
      coll.delete(id);
      return { status: 200, body: doc, docs: 1 };
    }
    if (req.method === 'PATCH') {
      const patch = JSON.parse(body);
      if (state.rejected.has(id)) return { status: 400, body: { message: 'fake rejection' } };
      coll.set(id, Object.assign(coll.get(id), patch));
      return { status: 200, body: coll.get(id), docs: 1 };
    }
    return { status: 405, body: { message: 'fake: method not implemented' } };
  },
});
