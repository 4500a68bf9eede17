// Reads an Iceberg table's metadata the way a reader would, independently of
// pgcdc: version-hint.text, v<N>.metadata.json, and the Avro manifest list and
// manifests decoded with the independent `avsc` library. Prints one JSON
// document:
//   {"version":N,"hint":N,"metadata":{…v<N>.metadata.json…},
//    "chain_errors":[…],            // snapshot chain / manifest-list problems
//    "manifests":[{path,content,sequence_number,added_snapshot_id,added_files_count,added_rows_count}],
//    "files":[{path,local,content,sequence_number,status,snapshot_id,record_count,
//              equality_ids,value_counts,null_value_counts,lower_bounds,upper_bounds}]}
// Longs are printed as decimal strings; bound bytes as hex. Locations that
// start with <from> are read from <to> instead (--map from=to: an S3 table
// copied to a local directory).
// Usage: node iceberg_read.js <table-dir> [--map <from>=<to>]
'use strict';
const fs = require('fs');
const path = require('path');
const avro = require('avsc');

const longType = avro.types.LongType.__with({
  fromBuffer: (buf) => buf.readBigInt64LE(),
  toBuffer: (n) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(n)); return b; },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n) => typeof n === 'bigint',
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
});

const args = process.argv.slice(2);
const dir = args[0];
let mapFrom = null;
let mapTo = null;
for (let i = 1; i < args.length; i++) {
  if (args[i] === '--map') {
    const [from, to] = args[++i].split('=');
    mapFrom = from;
    mapTo = to;
  }
}
const local = (loc) => {
  if (mapFrom && loc.startsWith(mapFrom)) return mapTo + loc.slice(mapFrom.length);
  if (loc.startsWith('file:')) return loc.slice(5).replace(/^\/+/, '/');
  return loc;
};

function plain(v) {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

// Iceberg writes map<int, X> as an array of {key, value} records.
const asMap = (arr) => (arr ? Object.fromEntries(arr.map((kv) => [String(kv.key), kv.value])) : null);

function readAvro(file) {
  return new Promise((resolve, reject) => {
    const records = [];
    let meta = null;
    avro.createFileDecoder(file, {
      parseHook: (schema) => avro.Type.forSchema(schema, { registry: { long: longType } }),
    })
      .on('metadata', (type, codec, header) => {
        meta = Object.fromEntries(Object.entries(header.meta).map(([k, v]) => [k, v.toString()]));
      })
      .on('data', (r) => records.push(r))
      .on('error', reject)
      .on('end', () => resolve({ meta, records }));
  });
}

async function main() {
  const md = path.join(dir, 'metadata');
  const hint = Number(fs.readFileSync(path.join(md, 'version-hint.text'), 'utf8').trim());
  let version = hint;
  while (fs.existsSync(path.join(md, `v${version + 1}.metadata.json`))) version++;
  const metadata = JSON.parse(fs.readFileSync(path.join(md, `v${version}.metadata.json`), 'utf8'));
  const errors = [];
  // Snapshot ids are int63: parse them as strings to keep every digit.
  const raw = fs.readFileSync(path.join(md, `v${version}.metadata.json`), 'utf8')
    .replace(/("(?:snapshot-id|parent-snapshot-id|current-snapshot-id)"\s*:\s*)(-?\d+)/g, '$1"$2"');
  const exact = JSON.parse(raw);
  const snaps = exact.snapshots || [];
  snaps.forEach((s, i) => {
    if (i > 0 && s['parent-snapshot-id'] !== snaps[i - 1]['snapshot-id']) {
      errors.push(`snapshot ${i} parent ${s['parent-snapshot-id']} != ${snaps[i - 1]['snapshot-id']}`);
    }
    if (i === 0 && s['parent-snapshot-id'] !== undefined) errors.push('first snapshot has a parent');
    if (s['sequence-number'] !== i + 1) errors.push(`snapshot ${i} sequence ${s['sequence-number']}`);
  });
  if (snaps.length && exact['current-snapshot-id'] !== snaps[snaps.length - 1]['snapshot-id']) {
    errors.push('current-snapshot-id is not the newest snapshot');
  }
  if (metadata['last-sequence-number'] !== snaps.length) errors.push('last-sequence-number');
  if ((metadata['metadata-log'] || []).length !== version - 1) {
    errors.push(`metadata-log has ${(metadata['metadata-log'] || []).length} entries, want ${version - 1}`);
  }
  const out = { version, hint, metadata, chain_errors: errors, manifests: [], files: [] };
  if (!snaps.length) {
    console.log(JSON.stringify(out));
    return;
  }
  const current = snaps[snaps.length - 1];
  const list = await readAvro(local(current['manifest-list']));
  if (list.meta['snapshot-id'] !== current['snapshot-id']) errors.push('manifest list snapshot-id');
  const added = new Set();
  for (const m of list.records) {
    added.add(m.added_snapshot_id.toString());
    out.manifests.push(plain({
      path: m.manifest_path, content: m.content, sequence_number: m.sequence_number,
      added_snapshot_id: m.added_snapshot_id, added_files_count: m.added_files_count,
      added_rows_count: m.added_rows_count,
    }));
    const manifest = await readAvro(local(m.manifest_path));
    if (manifest.meta['format-version'] !== '2') errors.push(`${m.manifest_path}: format-version`);
    for (const e of manifest.records) {
      const f = e.data_file;
      out.files.push(plain({
        path: f.file_path, local: local(f.file_path), content: f.content, status: e.status,
        snapshot_id: e.snapshot_id, sequence_number: e.sequence_number ?? m.sequence_number,
        record_count: f.record_count, file_size_in_bytes: f.file_size_in_bytes,
        equality_ids: f.equality_ids, value_counts: asMap(f.value_counts),
        null_value_counts: asMap(f.null_value_counts), lower_bounds: asMap(f.lower_bounds),
        upper_bounds: asMap(f.upper_bounds),
      }));
    }
  }
  // SPEC's upstream lists only the newest manifest: every snapshot's must be here.
  for (const s of snaps) {
    if (!added.has(s['snapshot-id'])) errors.push(`snapshot ${s['snapshot-id']}'s manifests are not in the current list`);
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack || e) }));
  process.exit(1);
});
