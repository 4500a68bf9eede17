// Reads Parquet files with the independent `hyparquet` library (never with
// DuckDB, which writes them) and prints one JSON document per file:
//   {"file":…,"num_rows":N,"codec":"SNAPPY","columns":[{"name","type","logical"}],"rows":[{…}]}
// 64-bit integers are printed as decimal strings, timestamps as ISO-8601 UTC,
// byte arrays without a string type as hex. Codecs: SNAPPY, GZIP, UNCOMPRESSED.
// With --count only the metadata is read and the total row count printed.
// Usage: node parquet_read.mjs [--count] <file.parquet>...
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { readFileSync } from 'fs';
import { gunzipSync } from 'zlib';

// hyparquet decodes Snappy itself; GZIP with node's zlib.
const compressors = { GZIP: (input) => new Uint8Array(gunzipSync(input)) };

function plain(value) {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

// A file that cannot be read prints {"file":…,"error":"…"} (the exit code is 0).
async function read(file) {
  const buf = readFileSync(file);
  const data = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const md = parquetMetadata(data);
  const columns = md.schema.slice(1).map((s) => ({
    name: s.name,
    type: s.type,
    logical: s.logical_type ? s.logical_type.type : (s.converted_type ?? null),
    utc: s.logical_type?.isAdjustedToUTC ?? null,
  }));
  const codec = md.row_groups.length ? md.row_groups[0].columns[0].meta_data.codec : null;
  const rows = await parquetReadObjects({ file: data, compressors });
  return { file, num_rows: Number(md.num_rows), codec, columns, rows: plain(rows) };
}

const args = process.argv.slice(2);
if (args[0] === '--count') {
  let rows = 0;
  for (const file of args.slice(1)) {
    const buf = readFileSync(file);
    rows += Number(parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)).num_rows);
  }
  console.log(rows);
  process.exit(0);
}
for (const file of args) {
  let doc;
  try {
    doc = await read(file);
  } catch (e) {
    doc = { file, error: String(e.message || e) };
  }
  console.log(JSON.stringify(doc));
}
