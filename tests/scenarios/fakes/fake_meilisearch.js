// FAKE Meilisearch (not the real engine; see fake_search_common.js) for the
// search sink's scenario tests. Implements:
//   GET    /health
//   GET    /indexes/:i                 (404 until a document was added, as Meilisearch)
//   POST   /indexes/:i/documents       add or replace (JSON array) -> 202 {taskUid}
//   PUT    /indexes/:i/documents       add or update (merge)       -> 202 {taskUid}
//   DELETE /indexes/:i/documents/:id                                -> 202 {taskUid}
//   GET    /tasks/:uid                 "processing" on the first poll, then
//                                      "succeeded" or "failed" (a rejected id
//                                      fails the whole task; nothing applied)
// Auth: Authorization: Bearer <key> (401 missing, 403 wrong, as Meilisearch).
'use strict';
const { runFake } = require('./fake_search_common');

function task(state, uid, ok, error) {
  state.tasks.set(uid, { uid, status: ok ? 'succeeded' : 'failed', polls: 0,
    error: ok ? null : { message: error, code: 'invalid_document_fields', type: 'invalid_request' } });
  return { status: 202, body: { taskUid: uid, indexUid: state.args.index, status: 'enqueued' } };
}

function write(req, body, idx, state) {
  let docs;
  try { docs = JSON.parse(body); } catch (e) { return { status: 400, body: { message: 'fake: bad JSON', code: 'malformed_payload' } }; }
  if (!Array.isArray(docs)) return { status: 400, body: { message: 'fake: expected an array', code: 'malformed_payload' } };
  const uid = state.nextTask++;
  const bad = docs.find((d) => d.id === undefined || state.rejected.has(String(d.id)));
  if (bad) {
    const out = task(state, uid, false, `Document ${JSON.stringify(bad.id)} rejected (fake rejection).`);
    out.docs = docs.length;
    return out;
  }
  for (const d of docs) {
    const id = String(d.id);
    idx.set(id, req.method === 'PUT' && idx.has(id) ? Object.assign(idx.get(id), d) : d);
    state.counts.documents++;
  }
  const out = task(state, uid, true);
  out.docs = docs.length;
  return out;
}

runFake({
  init(state) { state.tasks = new Map(); state.nextTask = 1; },
  auth(req, key) {
    if (!key) return null;
    const h = req.headers.authorization;
    if (!h) return { status: 401, body: { message: 'The Authorization header is missing.', code: 'missing_authorization_header' } };
    if (h !== 'Bearer ' + key) return { status: 403, body: { message: 'The provided API key is invalid.', code: 'invalid_api_key' } };
    return null;
  },
  handle(req, url, body, state) {
    const parts = url.pathname.split('/').map(decodeURIComponent);
    if (url.pathname === '/health') return { status: 200, body: { status: 'available' } };
    if (parts[1] === 'tasks' && parts.length === 3 && req.method === 'GET') {
      const t = state.tasks.get(Number(parts[2]));
      if (!t) return { status: 404, body: { message: 'Task not found.', code: 'task_not_found' } };
      t.polls++;
      return { status: 200, body: { uid: t.uid, status: t.polls === 1 ? 'processing' : t.status, error: t.polls === 1 ? null : t.error } };
    }
    if (parts[1] !== 'indexes' || !parts[2]) return { status: 404, body: { message: 'Not Found' } };
    if (parts.length === 3 && req.method === 'GET') {
      return state.docs.has(parts[2]) ? { status: 200, body: { uid: parts[2], primaryKey: 'id' } }
        : { status: 404, body: { message: `Index \`${parts[2]}\` not found.`, code: 'index_not_found' } };
    }
    const idx = state.index(parts[2]);
    if (parts.length === 4 && parts[3] === 'documents' && (req.method === 'POST' || req.method === 'PUT')) {
      return write(req, body, idx, state);
    }
    if (parts.length === 5 && parts[3] === 'documents' && req.method === 'DELETE') {
      idx.delete(parts[4]);
      const out = task(state, state.nextTask++, true);
      out.docs = 1;
      return out;
    }
    return { status: 405, body: { message: 'fake: not implemented' } };
  },
});
