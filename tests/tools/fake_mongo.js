#!/usr/bin/env node
// FAKE MongoDB replica set for pgcdc's scenario tests (tests/scenarios/mongodb_test.cc).
// This is NOT MongoDB: no MongoDB server is packaged for Debian, so the tests
// run the real libmongoc against this small stand-in. It speaks just enough of
// the wire protocol (OP_QUERY handshake, OP_MSG with document sequences) to
// look like a one-member replica set primary (rs0): hello/isMaster, ping,
// aggregate with $changeStream (resumeAfter / startAfter, fullDocument,
// fullDocumentBeforeChange, $match stages), getMore (awaitData), killCursors,
// endSessions, listDatabases, listCollections, and find/update/insert/delete
// on plain collections (the resume token collection, resnapshots). Changes (its oplog) are made through a control
// HTTP API:
//   POST /insert {db, coll, doc}            doc in Extended JSON
//   POST /insert-range {db, coll, from, to} docs {_id: i, n: i}
//   POST /update {db, coll, id, set, unset} POST /replace {db, coll, doc}
//   POST /delete {db, coll, id}             POST /drop {db, coll}
//   POST /forget        drops the oplog so far (resume tokens before now: code 286)
//   POST /drop-connections {refuse_aggregates}  closes every client socket
//        (and the connections of the next N aggregate commands)
//   GET /collection?ns=db.coll              the documents (relaxed Extended JSON)
//   GET /oplog?token=<_data>                the oplog entry of a resume token
//   GET /stats                              counters and the resume tokens clients sent
// Prints one line {"mongo":<port>,"control":<port>} on stdout once listening.
'use strict';

const net = require('net');
const http = require('http');
const { BSON, EJSON, Long, Timestamp, ObjectId } = require('bson');

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;
const SET_NAME = 'rs0';

const oplog = []; // {ord, type, ns:{db,coll}, key, post, pre, desc, wall}
let forgotten = 0; // tokens with ord < forgotten are no longer in the oplog
let nextOrd = 1;
const collections = new Map(); // "db.coll" -> Map(idKey -> doc)
const cursors = new Map(); // id -> cursor
let nextCursor = 1000;
const sockets = new Set();
const waiters = new Set();
const stats = { aggregates: 0, getMores: 0, connections: 0, resumeTokens: [], updates: 0, finds: 0 };
let requestCounter = 1;
let address = '127.0.0.1:0';

const tokenOf = (ord) => ({ _data: ord.toString(16).toUpperCase().padStart(16, '0') });
const ordOf = (token) => (token && typeof token._data === 'string' ? parseInt(token._data, 16) : NaN);
const idKey = (id) => EJSON.stringify(id, { relaxed: false });

function coll(ns) {
  if (!collections.has(ns)) collections.set(ns, new Map());
  return collections.get(ns);
}

function record(type, db, collName, key, post, pre, desc) {
  const e = { ord: nextOrd++, type, ns: { db, coll: collName }, key, post, pre, desc, wall: new Date() };
  oplog.push(e);
  for (const w of [...waiters]) w();
  return e;
}

// --- data changes -----------------------------------------------------------

function insertDoc(db, c, doc) {
  if (doc._id === undefined) doc._id = new ObjectId();
  coll(`${db}.${c}`).set(idKey(doc._id), doc);
  record('insert', db, c, { _id: doc._id }, doc, null, null);
}

function updateDoc(db, c, id, set, unset) {
  const docs = coll(`${db}.${c}`);
  const before = docs.get(idKey(id));
  if (!before) return false;
  const after = { ...before, ...set };
  for (const f of unset || []) delete after[f];
  docs.set(idKey(id), after);
  record('update', db, c, { _id: id }, after, before, { updatedFields: set || {}, removedFields: unset || [], truncatedArrays: [] });
  return true;
}

function replaceDoc(db, c, doc) {
  const docs = coll(`${db}.${c}`);
  const before = docs.get(idKey(doc._id)) || null;
  docs.set(idKey(doc._id), doc);
  record('replace', db, c, { _id: doc._id }, doc, before, null);
}

function deleteDoc(db, c, id) {
  const docs = coll(`${db}.${c}`);
  const before = docs.get(idKey(id));
  if (!before) return false;
  docs.delete(idKey(id));
  record('delete', db, c, { _id: id }, null, before, null);
  return true;
}

// --- change streams ----------------------------------------------------------

function getPath(doc, path) {
  let v = doc;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[part];
  }
  return v;
}

function same(a, b) {
  return idKey(a) === idKey(b);
}

function matches(doc, filter) {
  for (const [k, cond] of Object.entries(filter)) {
    if (k === '$nor') { if (cond.some((f) => matches(doc, f))) return false; continue; }
    if (k === '$and') { if (!cond.every((f) => matches(doc, f))) return false; continue; }
    if (k === '$or') { if (!cond.some((f) => matches(doc, f))) return false; continue; }
    const v = getPath(doc, k);
    if (cond !== null && typeof cond === 'object' && Object.keys(cond).some((o) => o.startsWith('$'))) {
      for (const [op, arg] of Object.entries(cond)) {
        if (op === '$in' && !arg.some((x) => same(x, v))) return false;
        if (op === '$nin' && arg.some((x) => same(x, v))) return false;
        if (op === '$ne' && same(arg, v)) return false;
        if (op === '$eq' && !same(arg, v)) return false;
      }
    } else if (!same(cond, v)) {
      return false;
    }
  }
  return true;
}

// The change event document of oplog entry `e` for cursor `cur`.
function changeDoc(e, cur) {
  const d = { _id: tokenOf(e.ord), operationType: e.type, clusterTime: new Timestamp({ t: Math.floor(e.wall / 1000), i: e.ord }), wallTime: e.wall };
  const wantPost = e.type === 'insert' || e.type === 'replace' ||
    (e.type === 'update' && cur.fullDocument !== 'default');
  if (wantPost && e.post) d.fullDocument = e.post;
  d.ns = e.type === 'dropDatabase' ? { db: e.ns.db } : e.ns;
  if (e.key) d.documentKey = e.key;
  if (e.desc) d.updateDescription = e.desc;
  if (cur.beforeChange !== 'off' && e.pre && e.type !== 'insert') d.fullDocumentBeforeChange = e.pre;
  return d;
}

function inScope(e, cur) {
  if (cur.db !== null && e.ns.db !== cur.db) return false;
  if (cur.coll !== null && e.ns.coll !== cur.coll) return false;
  return true;
}

function collect(cur, limit) {
  const out = [];
  while (cur.pos < oplog.length && out.length < limit) {
    const e = oplog[cur.pos++];
    if (!inScope(e, cur)) continue;
    const d = changeDoc(e, cur);
    if (cur.stages.every((m) => matches(d, m))) out.push(d);
  }
  return out;
}

function cursorReply(cur, batch, first) {
  const pbrt = tokenOf(cur.pos > 0 ? oplog[cur.pos - 1].ord : Math.max(nextOrd - 1, 0));
  return {
    cursor: { [first ? 'firstBatch' : 'nextBatch']: batch, postBatchResumeToken: pbrt, id: Long.fromNumber(cur.id), ns: cur.ns },
    ok: 1,
    operationTime: new Timestamp({ t: Math.floor(Date.now() / 1000), i: nextOrd }),
  };
}

let refuseAggregates = 0; // the next N aggregates close their connection instead

function aggregate(cmd) {
  stats.aggregates++;
  const pipeline = cmd.pipeline || [];
  const cs = pipeline.length > 0 ? pipeline[0].$changeStream : undefined;
  if (!cs) return error(40324, 'Location40324', 'fake: only $changeStream aggregations are supported');
  const token = cs.resumeAfter || cs.startAfter;
  let pos = oplog.length;
  if (token) {
    stats.resumeTokens.push(token._data);
    const ord = ordOf(token);
    if (Number.isNaN(ord)) return error(260, 'InvalidResumeToken', 'fake: malformed resume token');
    if (ord < forgotten) {
      return error(286, 'ChangeStreamHistoryLost',
        'Resume of change stream was not possible, as the resume point may no longer be in the oplog.');
    }
    pos = oplog.findIndex((e) => e.ord > ord);
    if (pos < 0) pos = oplog.length;
  }
  const db = cmd.$db;
  const all = cs.allChangesForCluster === true;
  const cur = {
    id: nextCursor++, pos,
    db: all ? null : db,
    coll: all || cmd.aggregate === 1 ? null : cmd.aggregate,
    ns: all ? 'admin.$cmd.aggregate' : (cmd.aggregate === 1 ? `${db}.$cmd.aggregate` : `${db}.${cmd.aggregate}`),
    fullDocument: cs.fullDocument || 'default',
    beforeChange: cs.fullDocumentBeforeChange || 'off',
    stages: pipeline.slice(1).map((s) => s.$match).filter((m) => m),
  };
  cursors.set(cur.id, cur);
  return cursorReply(cur, [], true);
}

function getMore(cmd, reply) {
  stats.getMores++;
  const id = Number(cmd.getMore);
  const cur = cursors.get(id);
  if (!cur) return reply(error(43, 'CursorNotFound', `cursor id ${id} not found`));
  const limit = cmd.batchSize ? Number(cmd.batchSize) : 100;
  let batch = collect(cur, limit);
  if (batch.length > 0) return reply(cursorReply(cur, batch, false));
  const wait = cmd.maxTimeMS ? Number(cmd.maxTimeMS) : 1000;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    waiters.delete(wake);
    clearTimeout(timer);
    reply(cursorReply(cur, collect(cur, limit), false));
  };
  // New oplog entries: answer when one of them is in the stream, else keep waiting.
  const wake = () => {
    batch = collect(cur, limit);
    if (batch.length === 0) return;
    done = true;
    waiters.delete(wake);
    clearTimeout(timer);
    reply(cursorReply(cur, batch, false));
  };
  const timer = setTimeout(finish, wait);
  waiters.add(wake);
  return undefined;
}

// --- plain collections ---------------------------------------------------------

function applyUpdate(doc, u) {
  const ops = Object.keys(u).filter((k) => k.startsWith('$'));
  if (ops.length === 0) return { ...u, _id: doc._id };
  const out = { ...doc };
  for (const [k, v] of Object.entries(u.$set || {})) out[k] = v;
  for (const k of Object.keys(u.$unset || {})) delete out[k];
  return out;
}

function updateCommand(cmd) {
  stats.updates++;
  const ns = `${cmd.$db}.${cmd.update}`;
  const docs = coll(ns);
  let n = 0;
  let modified = 0;
  const upserted = [];
  (cmd.updates || []).forEach((u, index) => {
    const existing = [...docs.values()].find((d) => matches(d, u.q || {}));
    if (existing) {
      const after = applyUpdate(existing, u.u);
      docs.set(idKey(after._id), after);
      record('update', cmd.$db, cmd.update, { _id: after._id }, after, existing, { updatedFields: u.u.$set || {}, removedFields: [], truncatedArrays: [] });
      n++;
      modified++;
    } else if (u.upsert) {
      const base = {};
      for (const [k, v] of Object.entries(u.q || {})) if (!k.startsWith('$')) base[k] = v;
      const doc = applyUpdate(base, u.u);
      if (doc._id === undefined) doc._id = base._id !== undefined ? base._id : new ObjectId();
      docs.set(idKey(doc._id), doc);
      record('insert', cmd.$db, cmd.update, { _id: doc._id }, doc, null, null);
      n++;
      upserted.push({ index, _id: doc._id });
    }
  });
  const out = { n, nModified: modified, ok: 1 };
  if (upserted.length > 0) out.upserted = upserted;
  return out;
}

function findCommand(cmd) {
  stats.finds++;
  const ns = `${cmd.$db}.${cmd.find}`;
  let docs = [...coll(ns).values()].filter((d) => matches(d, cmd.filter || {}));
  if (cmd.limit) docs = docs.slice(0, Number(cmd.limit));
  return { cursor: { firstBatch: docs, id: Long.fromNumber(0), ns }, ok: 1 };
}

function insertCommand(cmd) {
  for (const d of cmd.documents || []) insertDoc(cmd.$db, cmd.insert, d);
  return { n: (cmd.documents || []).length, ok: 1 };
}

function deleteCommand(cmd) {
  let n = 0;
  for (const d of cmd.deletes || []) {
    const docs = coll(`${cmd.$db}.${cmd.delete}`);
    const hit = [...docs.values()].find((x) => matches(x, d.q || {}));
    if (hit && deleteDoc(cmd.$db, cmd.delete, hit._id)) n++;
  }
  return { n, ok: 1 };
}

// --- protocol -----------------------------------------------------------------

function error(code, codeName, errmsg) {
  return { ok: 0, errmsg, code, codeName };
}

function hello(conn) {
  return {
    helloOk: true, ismaster: true, isWritablePrimary: true, secondary: false,
    setName: SET_NAME, setVersion: 1, hosts: [address], primary: address, me: address,
    electionId: ObjectId.createFromHexString('7fffffff0000000000000001'),
    lastWrite: { opTime: { ts: new Timestamp({ t: Math.floor(Date.now() / 1000), i: 1 }), t: Long.fromNumber(1) }, lastWriteDate: new Date() },
    maxBsonObjectSize: 16777216, maxMessageSizeBytes: 48000000, maxWriteBatchSize: 100000,
    localTime: new Date(), logicalSessionTimeoutMinutes: 30, connectionId: conn.id,
    minWireVersion: 0, maxWireVersion: 17, readOnly: false, ok: 1,
  };
}

// Runs a command; `reply(doc)` is called now or later (getMore waits).
function command(conn, cmd, reply) {
  const name = Object.keys(cmd)[0];
  switch (name) {
    case 'hello': case 'isMaster': case 'ismaster': return reply(hello(conn));
    case 'ping': case 'endSessions': return reply({ ok: 1 });
    case 'buildInfo': case 'buildinfo': return reply({ version: '6.0.0-fake', versionArray: [6, 0, 0, 0], ok: 1 });
    case 'aggregate':
      if (refuseAggregates > 0) {
        refuseAggregates--;
        conn.socket.destroy();
        return undefined;
      }
      return reply(aggregate(cmd));
    case 'getMore': return getMore(cmd, reply);
    case 'killCursors': {
      const ids = (cmd.cursors || []).map(Number);
      for (const id of ids) cursors.delete(id);
      return reply({ cursorsKilled: ids.map((i) => Long.fromNumber(i)), cursorsNotFound: [], cursorsAlive: [], cursorsUnknown: [], ok: 1 });
    }
    case 'update': return reply(updateCommand(cmd));
    case 'find': return reply(findCommand(cmd));
    case 'insert': return reply(insertCommand(cmd));
    case 'delete': return reply(deleteCommand(cmd));
    case 'listCollections': {
      const names = [...collections.keys()].filter((ns) => ns.startsWith(`${cmd.$db}.`))
        .map((ns) => ({ name: ns.slice(cmd.$db.length + 1), type: 'collection' }));
      return reply({ cursor: { firstBatch: names, id: Long.fromNumber(0), ns: `${cmd.$db}.$cmd.listCollections` }, ok: 1 });
    }
    case 'listDatabases': {
      const dbs = [...new Set([...collections.keys()].map((ns) => ns.split('.')[0]))];
      return reply({ databases: dbs.map((name) => ({ name, sizeOnDisk: 1, empty: false })), ok: 1 });
    }
    default:
      process.stderr.write(`fake_mongo: unsupported command ${name}\n`);
      return reply(error(59, 'CommandNotFound', `fake: no such command: '${name}'`));
  }
}

function frame(requestId, responseTo, opCode, body) {
  const header = Buffer.alloc(16);
  header.writeInt32LE(16 + body.length, 0);
  header.writeInt32LE(requestId, 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(opCode, 12);
  return Buffer.concat([header, body]);
}

function send(conn, buf) {
  if (!conn.socket.destroyed) conn.socket.write(buf);
}

function onOpMsg(conn, requestId, body) {
  const flags = body.readUInt32LE(0);
  let off = 4;
  const end = body.length - ((flags & 1) ? 4 : 0);
  let cmd = null;
  const sequences = {};
  while (off < end) {
    const kind = body[off++];
    if (kind === 0) {
      const len = body.readInt32LE(off);
      cmd = BSON.deserialize(body.subarray(off, off + len));
      off += len;
    } else {
      const size = body.readInt32LE(off);
      const stop = off + size;
      let p = off + 4;
      const nul = body.indexOf(0, p);
      const ident = body.toString('utf8', p, nul);
      p = nul + 1;
      const docs = [];
      while (p < stop) {
        const len = body.readInt32LE(p);
        docs.push(BSON.deserialize(body.subarray(p, p + len)));
        p += len;
      }
      sequences[ident] = docs;
      off = stop;
    }
  }
  Object.assign(cmd, sequences);
  const moreToCome = (flags & 2) !== 0;
  command(conn, cmd, (doc) => {
    if (moreToCome) return;
    const payload = BSON.serialize(doc);
    const out = Buffer.alloc(5);
    out.writeUInt32LE(0, 0);
    out[4] = 0;
    send(conn, frame(requestCounter++, requestId, OP_MSG, Buffer.concat([out, payload])));
  });
}

function onOpQuery(conn, requestId, body) {
  let off = 4;
  const nul = body.indexOf(0, off);
  off = nul + 1 + 8; // collection name, skip, return
  const len = body.readInt32LE(off);
  let q = BSON.deserialize(body.subarray(off, off + len));
  if (q.$query) q = q.$query;
  command(conn, q, (doc) => {
    const head = Buffer.alloc(20);
    head.writeInt32LE(0, 0);
    head.writeBigInt64LE(0n, 4);
    head.writeInt32LE(0, 12);
    head.writeInt32LE(1, 16);
    send(conn, frame(requestCounter++, requestId, OP_REPLY, Buffer.concat([head, BSON.serialize(doc)])));
  });
}

let connectionIds = 1;
function serve(socket) {
  stats.connections++;
  sockets.add(socket);
  const conn = { socket, id: connectionIds++ };
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 16) {
      const len = buffered.readInt32LE(0);
      if (buffered.length < len) break;
      const msg = buffered.subarray(0, len);
      buffered = buffered.subarray(len);
      const requestId = msg.readInt32LE(4);
      const opCode = msg.readInt32LE(12);
      try {
        if (opCode === OP_MSG) onOpMsg(conn, requestId, msg.subarray(16));
        else if (opCode === OP_QUERY) onOpQuery(conn, requestId, msg.subarray(16));
        else { process.stderr.write(`fake_mongo: unsupported opcode ${opCode}\n`); socket.destroy(); }
      } catch (e) {
        process.stderr.write(`fake_mongo: ${e.stack}\n`);
        socket.destroy();
      }
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => sockets.delete(socket));
}

// --- control API ----------------------------------------------------------------

function control(req, res) {
  let text = '';
  req.on('data', (c) => { text += c; });
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    let body;
    try {
      body = text ? EJSON.parse(text, { relaxed: true, useBigInt64: true }) : {};
    } catch (e) {
      res.writeHead(400);
      res.end(String(e));
      return;
    }
    let out = { ok: true };
    switch (url.pathname) {
      case '/insert': insertDoc(body.db, body.coll, body.doc); break;
      case '/insert-range':
        for (let i = body.from; i <= body.to; i++) insertDoc(body.db, body.coll, { _id: i, n: i });
        break;
      case '/update': out.ok = updateDoc(body.db, body.coll, body.id, body.set, body.unset); break;
      case '/replace': replaceDoc(body.db, body.coll, body.doc); break;
      case '/delete': out.ok = deleteDoc(body.db, body.coll, body.id); break;
      case '/drop':
        collections.delete(`${body.db}.${body.coll}`);
        record('drop', body.db, body.coll, null, null, null, null);
        break;
      case '/forget': forgotten = nextOrd; break;
      case '/drop-connections':
        refuseAggregates = body.refuse_aggregates || 0;
        out.closed = sockets.size;
        for (const s of sockets) s.destroy();
        break;
      case '/oplog': {
        const e = oplog.find((x) => x.ord === parseInt(url.searchParams.get('token'), 16));
        out = e ? { ord: e.ord, type: e.type, ns: e.ns, key: e.key } : null;
        break;
      }
      case '/collection': out = [...coll(url.searchParams.get('ns')).values()]; break;
      case '/stats': out = { ...stats, oplog: oplog.length, cursors: cursors.size }; break;
      default: res.writeHead(404); res.end(); return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(EJSON.stringify(out, { relaxed: true }));
  });
}

const port = Number(process.argv[2] || 0);
const server = net.createServer(serve);
server.listen(port, '127.0.0.1', () => {
  address = `127.0.0.1:${server.address().port}`;
  const api = http.createServer(control);
  api.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ mongo: server.address().port, control: api.address().port })}\n`);
  });
});
