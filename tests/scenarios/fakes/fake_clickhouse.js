// FAKE ClickHouse HTTP interface for the clickhouse sink's scenario tests and
// bench/clickhouse. ClickHouse is not packaged on this machine, so the tests
// run against this small stand-in. It is NOT ClickHouse: no SQL engine, no
// merges, no persistence. It understands exactly the statements pgcdc sends
// and checks them the way ClickHouse would:
//   GET  /ping                                         "Ok.\n"
//   CREATE TABLE [IF NOT EXISTS] db.t (col Type, ...) ENGINE = ...
//   INSERT INTO db.t (cols...) FORMAT JSONEachRow      body: one JSON object a line;
//        every line is checked against the table's column types before any is
//        stored (a refused insert stores nothing, like one ClickHouse block);
//        String/LowCardinality(String) need a JSON string, (U)Int*/DateTime64 a
//        number (or digits in a string), Enum8/16 one of its names or values,
//        Nullable(T) also null; unknown keys are refused.
//   SELECT name, type FROM system.columns WHERE database = {db:String}
//        AND table = {tbl:String} FORMAT JSONEachRow   (param_db, param_tbl)
//   SELECT 1
// Identifiers may be "double-quoted", `backquoted` (backslash escapes) or bare.
// Errors have ClickHouse's form: the text "Code: N. DB::Exception: ... (NAME)
// (version 0.0 (fake))" and the header X-ClickHouse-Exception-Code: N, with
// ClickHouse's HTTP status for that code (27 → 400, 60 → 404, 516 → 401, an
// unknown enum element 691 → 500 as ClickHouse answers it).
// Credentials: X-ClickHouse-User/X-ClickHouse-Key headers, Basic auth or the
// user/password URL parameters, checked against --user/--password.
// Settings: the URL parameters other than query/database/param_* must be known
// settings (a short list); they are recorded with each insert.
//
// Usage: node fake_clickhouse.js --port 0 [--user U --password P]
//        [--database D (repeatable; "default" always exists)]
// Prints {"listening":PORT} on stdout once it accepts connections.
// Control endpoints (no credentials), for the tests:
//   GET  /_fake/count?table=db.t  {"count":rows,"distinct":distinct ids (what
//                                  SELECT count() FROM t FINAL gives a
//                                  ReplacingMergeTree by id)}
//   GET  /_fake/rows?table=db.t   {"rows":[{...}]}
//   GET  /_fake/state             {"tables":{...},"requests":[...],"inserts":N}
//   POST /_fake/exec              body: a statement, run without credentials
//   POST /_fake/fail?status=S&count=N   the next N requests (not /ping) answer S
//   POST /_fake/stall?ms=T&count=N      the next N requests get no answer for
//                                       T ms, then their connection is dropped
//   POST /_fake/down?ms=T               stop listening (connections refused) for T ms
//   POST /_fake/quiet                   stop recording requests (benchmarks)
'use strict';
const http = require('http');

const args = { port: 0, user: '', password: '', databases: new Set(['default', 'system']) };
for (let i = 2; i < process.argv.length; i += 2) {
  const [k, v] = [process.argv[i], process.argv[i + 1]];
  if (k === '--port') args.port = Number(v);
  else if (k === '--user') args.user = v;
  else if (k === '--password') args.password = v;
  else if (k === '--database') args.databases.add(v);
  else throw new Error('unknown argument ' + k);
}

const CODES = {
  16: ['NO_SUCH_COLUMN_IN_TABLE', 400], 27: ['CANNOT_PARSE_INPUT_ASSERTION_FAILED', 400],
  60: ['UNKNOWN_TABLE', 404], 62: ['SYNTAX_ERROR', 400], 81: ['UNKNOWN_DATABASE', 404],
  115: ['UNKNOWN_SETTING', 404], 117: ['INCORRECT_DATA', 400], 516: ['AUTHENTICATION_FAILED', 401],
  691: ['UNKNOWN_ELEMENT_OF_ENUM', 500], 57: ['TABLE_ALREADY_EXISTS', 500],
};
class ChError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}
const KNOWN_SETTINGS = new Set(['async_insert', 'wait_for_async_insert', 'async_insert_busy_timeout_ms',
  'max_insert_threads', 'insert_quorum', 'insert_deduplicate', 'max_insert_block_size',
  'date_time_input_format', 'input_format_skip_unknown_fields', 'max_execution_time']);

const state = { tables: new Map(), requests: [], inserts: 0, record: true,
  fail: { status: 0, count: 0 }, stall: { ms: 0, count: 0 } };

// ---- a tiny tokenizer for the statements above -------------------------------

function tokenize(sql) {
  const out = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === '`' || c === "'") {
      let s = '';
      i++;
      while (i < sql.length && sql[i] !== c) {
        if (sql[i] === '\\' && sql[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(sql.slice(i + 2, i + 4))) {
          s += String.fromCharCode(parseInt(sql.slice(i + 2, i + 4), 16));
          i += 4;
        } else if (sql[i] === '\\' && i + 1 < sql.length) {
          const e = sql[i + 1];
          s += ({ n: '\n', t: '\t', r: '\r', 0: '\0', b: '\b', f: '\f', a: '\x07', v: '\v' })[e] ?? e;
          i += 2;
        } else {
          s += sql[i++];
        }
      }
      if (i >= sql.length) throw new ChError(62, 'Syntax error: unterminated quoted text');
      i++;
      out.push({ kind: c === "'" ? 'string' : 'ident', text: s, quoted: true });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < sql.length && /[A-Za-z0-9_]/.test(sql[j])) j++;
      out.push({ kind: 'ident', text: sql.slice(i, j), quoted: false });
      i = j;
      continue;
    }
    if (/[0-9-]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[0-9]/.test(sql[j])) j++;
      out.push({ kind: 'number', text: sql.slice(i, j) });
      i = j;
      continue;
    }
    out.push({ kind: 'punct', text: c });
    i++;
  }
  return out;
}

class Parser {
  constructor(sql) { this.sql = sql; this.t = tokenize(sql); this.i = 0; }
  peek() { return this.t[this.i]; }
  fail(what) {
    const tok = this.peek();
    throw new ChError(62, `Syntax error: failed at position ${this.i + 1} (${tok ? "'" + tok.text + "'" : 'end of query'}): expected ${what}`);
  }
  keyword(word) {
    const tok = this.peek();
    if (tok && tok.kind === 'ident' && !tok.quoted && tok.text.toUpperCase() === word) { this.i++; return true; }
    return false;
  }
  expectKeyword(word) { if (!this.keyword(word)) this.fail(word); }
  punct(p) {
    const tok = this.peek();
    if (tok && tok.kind === 'punct' && tok.text === p) { this.i++; return true; }
    return false;
  }
  expectPunct(p) { if (!this.punct(p)) this.fail(`'${p}'`); }
  ident() {
    const tok = this.peek();
    if (!tok || tok.kind !== 'ident') this.fail('identifier');
    this.i++;
    return tok.text;
  }
  // db.table or table (database "default").
  tableName(database) {
    const first = this.ident();
    if (this.punct('.')) return { db: first, name: this.ident() };
    return { db: database, name: first };
  }
  // The text of a type up to ',' or ')' at depth 0.
  typeText() {
    let depth = 0;
    const parts = [];
    for (;;) {
      const tok = this.peek();
      if (!tok) this.fail('a column type');
      if (depth === 0 && tok.kind === 'punct' && (tok.text === ',' || tok.text === ')')) break;
      if (tok.kind === 'punct' && tok.text === '(') depth++;
      if (tok.kind === 'punct' && tok.text === ')') depth--;
      parts.push(tok.kind === 'string' ? `'${tok.text}'` : tok.text);
      this.i++;
    }
    if (parts.length === 0) this.fail('a column type');
    return parts.join('').replace(/,/g, ', ').replace(/=/g, ' = ');
  }
  end() {
    this.punct(';');
    if (this.i !== this.t.length) this.fail('end of query');
  }
}

// ---- column types ---------------------------------------------------------------

function parseType(text) {
  let m;
  if ((m = /^Nullable\((.*)\)$/.exec(text))) return { ...parseType(m[1]), nullable: true };
  if ((m = /^LowCardinality\((.*)\)$/.exec(text))) return parseType(m[1]);
  if (text === 'String') return { kind: 'string' };
  if ((m = /^(U?)Int(8|16|32|64)$/.exec(text))) return { kind: 'int', unsigned: m[1] === 'U', bits: Number(m[2]) };
  if (/^DateTime64\(\d( *, *'[^']*')?\)$/.test(text) || text === 'DateTime') return { kind: 'datetime' };
  if ((m = /^Enum(8|16)\((.*)\)$/.exec(text))) {
    const values = new Map();
    for (const item of m[2].split(/, */)) {
      const e = /^'([^']*)' *= *(-?\d+)$/.exec(item.trim());
      if (!e) throw new ChError(62, `Syntax error: bad Enum element ${item}`);
      values.set(e[1], Number(e[2]));
    }
    return { kind: 'enum', values };
  }
  throw new ChError(50, `Unknown data type family: ${text}`);
}

function checkValue(col, value, row) {
  const t = col.parsed;
  const where = `(while reading the value of key ${col.name}): (at row ${row})`;
  const cannot = (expected) => new ChError(27,
    `Cannot parse input: expected ${expected} before: '${JSON.stringify(value).slice(0, 40)}': ${where}`);
  if (value === null) {
    if (t.nullable) return null;
    if (t.kind === 'string') throw cannot("'\"'");
    return t.kind === 'enum' ? null : 0;  // ClickHouse inserts the default for null
  }
  switch (t.kind) {
    case 'string':
      if (typeof value !== 'string') throw cannot("'\"'");
      return value;
    case 'int':
    case 'datetime': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw cannot('a number');
      if (t.unsigned && n < 0) throw cannot('an unsigned number');
      return n;
    }
    case 'enum': {
      if (typeof value === 'string' && t.values.has(value)) return value;
      if (typeof value === 'number' && [...t.values.values()].includes(value)) return value;
      throw new ChError(691, `Unknown element '${value}' for enum: ${where}`);
    }
  }
  throw cannot('a value');
}

// ---- statements ---------------------------------------------------------------

function tableKey(db, name) { return `${db}.${name}`; }

function getTable(db, name) {
  if (!args.databases.has(db)) throw new ChError(81, `Database ${db} does not exist.`);
  const t = state.tables.get(tableKey(db, name));
  if (!t) throw new ChError(60, `Table ${db}.${name} does not exist.`);
  return t;
}

function createTable(p, database) {
  const ifNotExists = p.keyword('IF') && (p.expectKeyword('NOT'), p.expectKeyword('EXISTS'), true);
  const { db, name } = p.tableName(database);
  p.expectPunct('(');
  const columns = [];
  do {
    const colName = p.ident();
    const type = p.typeText();
    columns.push({ name: colName, type, parsed: parseType(type) });
  } while (p.punct(','));
  p.expectPunct(')');
  p.expectKeyword('ENGINE');
  p.expectPunct('=');
  const engine = p.sql.slice(p.sql.search(/ENGINE\s*=/i)).replace(/^ENGINE\s*=\s*/i, '');
  if (!args.databases.has(db)) throw new ChError(81, `Database ${db} does not exist.`);
  const key = tableKey(db, name);
  if (state.tables.has(key)) {
    if (ifNotExists) return '';
    throw new ChError(57, `Table ${key} already exists.`);
  }
  state.tables.set(key, { db, name, columns, engine, rows: [] });
  return '';
}

function insert(p, database, body) {
  const { db, name } = p.tableName(database);
  p.expectPunct('(');
  const cols = [];
  do { cols.push(p.ident()); } while (p.punct(','));
  p.expectPunct(')');
  p.expectKeyword('FORMAT');
  if (p.ident() !== 'JSONEachRow') throw new ChError(73, 'fake: only FORMAT JSONEachRow is supported');
  p.end();
  const table = getTable(db, name);
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  for (const c of cols) {
    if (!byName.has(c)) throw new ChError(16, `No such column ${c} in table ${db}.${name}`);
  }
  const rows = [];
  const lines = body.split('\n').filter((l) => l.trim() !== '');
  lines.forEach((line, idx) => {
    let obj;
    try { obj = JSON.parse(line); } catch (e) {
      throw new ChError(117, `Cannot parse JSON object here: ${line.slice(0, 40)}: (at row ${idx + 1})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new ChError(117, `Cannot parse JSON object here: ${line.slice(0, 40)}: (at row ${idx + 1})`);
    }
    const row = {};
    for (const [k, v] of Object.entries(obj)) {
      if (!cols.includes(k)) throw new ChError(117, `Unknown field found while parsing JSONEachRow format: ${k}: (at row ${idx + 1})`);
      row[k] = checkValue(byName.get(k), v, idx + 1);
    }
    rows.push(row);
  });
  for (const r of rows) table.rows.push(r);
  state.inserts++;
  return { text: '', rows: rows.length };
}

function selectColumns(p, params) {
  // SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {tbl:String}
  const want = ['SELECT', 'name', ',', 'type', 'FROM', 'system', '.', 'columns', 'WHERE', 'database', '='];
  for (const w of want) {
    const tok = p.peek();
    if (!tok || tok.text.toLowerCase() !== w.toLowerCase()) p.fail(`'${w}' (the fake knows one SELECT form)`);
    p.i++;
  }
  const placeholder = () => {
    p.expectPunct('{');
    const n = p.ident();
    p.expectPunct(':');
    if (p.ident() !== 'String') p.fail('String');
    p.expectPunct('}');
    if (!(('param_' + n) in params)) throw new ChError(456, `Substitution ${n} is not set`);
    return params['param_' + n];
  };
  const db = placeholder();
  p.expectKeyword('AND');
  if (p.ident().toLowerCase() !== 'table') p.fail('table');
  p.expectPunct('=');
  const tbl = placeholder();
  p.expectKeyword('FORMAT');
  if (p.ident() !== 'JSONEachRow') p.fail('JSONEachRow');
  p.end();
  const t = state.tables.get(tableKey(db, tbl));
  if (!t) return '';
  return t.columns.map((c) => JSON.stringify({ name: c.name, type: c.type }) + '\n').join('');
}

// Runs one statement; returns {text, rows}.
function execute(sql, params, body) {
  const p = new Parser(sql);
  const database = params.database || 'default';
  if (p.keyword('CREATE')) {
    p.expectKeyword('TABLE');
    return { text: createTable(p, database), rows: 0 };
  }
  if (p.keyword('INSERT')) {
    p.expectKeyword('INTO');
    return insert(p, database, body);
  }
  const tok = p.peek();
  if (tok && tok.text.toUpperCase() === 'SELECT' && p.t[1] && p.t[1].text === '1' && p.t.length === 2) {
    return { text: '1\n', rows: 0 };
  }
  return { text: selectColumns(p, params), rows: 0 };
}

// ---- HTTP ---------------------------------------------------------------------

function errorText(err) {
  const [name] = CODES[err.code] || ['UNKNOWN_EXCEPTION'];
  return `Code: ${err.code}. DB::Exception: ${err.message}. (${name}) (version 0.0 (fake))\n`;
}

function authorized(req, params) {
  if (!args.user && !args.password) return true;
  let user = req.headers['x-clickhouse-user'] ?? params.user ?? '';
  let key = req.headers['x-clickhouse-key'] ?? params.password ?? '';
  const basic = /^Basic (.+)$/.exec(req.headers.authorization || '');
  if (basic) [user, key] = Buffer.from(basic[1], 'base64').toString().split(/:(.*)/s);
  return user === args.user && key === args.password;
}

function handle(req, url, body) {
  const params = Object.fromEntries(url.searchParams);
  if (!authorized(req, params)) {
    throw new ChError(516, `${req.headers['x-clickhouse-user'] || 'default'}: Authentication failed: password is incorrect, or there is no user with such name`);
  }
  const settings = {};
  for (const [k, v] of Object.entries(params)) {
    if (k === 'query' || k === 'database' || k === 'user' || k === 'password' || k.startsWith('param_')) continue;
    if (!KNOWN_SETTINGS.has(k)) throw new ChError(115, `Setting ${k} is neither a builtin setting nor started with the prefix 'custom_' registered for user-defined settings`);
    settings[k] = v;
  }
  const sql = params.query !== undefined ? params.query : body;
  const data = params.query !== undefined ? body : '';
  const out = execute(sql, params, data);
  return { ...out, settings };
}

function reply(res, status, text, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function record(entry) {
  if (state.record) state.requests.push(entry);
}

const sockets = new Set();
const server = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://fake');
    const body = Buffer.concat(chunks).toString('utf8');
    if (url.pathname.startsWith('/_fake/')) return control(url, body, res);
    if (url.pathname === '/ping') return reply(res, 200, 'Ok.\n');
    if (state.stall.count > 0) {
      state.stall.count--;
      record({ query: (url.searchParams.get('query') || '').slice(0, 300), status: 0, stalled: true });
      setTimeout(() => req.socket.destroy(), state.stall.ms);
      return undefined;
    }
    if (state.fail.count > 0) {
      state.fail.count--;
      record({ query: (url.searchParams.get('query') || '').slice(0, 300), status: state.fail.status });
      return reply(res, state.fail.status, 'Code: 999. DB::Exception: fake failure on demand. (KEEPER_EXCEPTION) (version 0.0 (fake))\n');
    }
    try {
      const out = handle(req, url, body);
      record({ query: (url.searchParams.get('query') || body).slice(0, 300), status: 200, rows: out.rows, settings: out.settings });
      return reply(res, 200, out.text);
    } catch (err) {
      if (!(err instanceof ChError)) throw err;
      const status = (CODES[err.code] || [null, 500])[1];
      record({ query: (url.searchParams.get('query') || body).slice(0, 300), status, code: err.code });
      return reply(res, status, errorText(err), { 'X-ClickHouse-Exception-Code': String(err.code) });
    }
  });
});
server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

function tableRows(q) {
  const key = q.get('table') || 'default.pgcdc_events';
  const t = state.tables.get(key);
  return t ? t.rows : null;
}

function control(url, body, res) {
  const q = url.searchParams;
  const json = (status, v) => reply(res, status, JSON.stringify(v));
  switch (url.pathname) {
    case '/_fake/count': {
      const rows = tableRows(q);
      if (!rows) return json(404, { error: 'no such table' });
      return json(200, { count: rows.length, distinct: new Set(rows.map((r) => r.id)).size });
    }
    case '/_fake/rows': {
      const rows = tableRows(q);
      if (!rows) return json(404, { error: 'no such table' });
      return json(200, { rows });
    }
    case '/_fake/state': {
      const tables = {};
      for (const [k, t] of state.tables) {
        tables[k] = { columns: t.columns.map((c) => ({ name: c.name, type: c.type })), engine: t.engine, rows: t.rows.length };
      }
      return json(200, { tables, requests: state.requests, inserts: state.inserts });
    }
    case '/_fake/exec':
      try {
        execute(body, { database: q.get('database') || 'default' }, '');
        return json(200, {});
      } catch (err) {
        return json(400, { error: err instanceof ChError ? errorText(err) : String(err) });
      }
    case '/_fake/fail':
      state.fail = { status: Number(q.get('status') || 500), count: Number(q.get('count') || 1) };
      return json(200, {});
    case '/_fake/stall':
      state.stall = { ms: Number(q.get('ms') || 1000), count: Number(q.get('count') || 1) };
      return json(200, {});
    case '/_fake/quiet':
      state.record = false;
      return json(200, {});
    case '/_fake/down': {
      const ms = Number(q.get('ms') || 1000);
      json(200, {});
      setImmediate(() => {
        server.close();
        for (const s of sockets) s.destroy();
        setTimeout(() => server.listen(args.port, '127.0.0.1'), ms);
      });
      return undefined;
    }
    default:
      return json(404, { error: 'no such control endpoint' });
  }
}

server.listen(args.port, '127.0.0.1', () => {
  args.port = server.address().port;
  process.stdout.write(JSON.stringify({ listening: args.port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
