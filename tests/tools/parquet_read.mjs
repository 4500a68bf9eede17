// Reads Parquet files with the independent `hyparquet` library (never with
// DuckDB, which writes them) and prints one JSON document per file:
//   {"file":…,"num_rows":N,"codec":"SNAPPY","columns":[{"name","type","logical"}],"rows":[{…}]}
// 64-bit integers are printed as decimal strings, timestamps as ISO-8601 UTC,
// byte arrays without a string type as hex.
// Usage: node parquet_read.mjs <file.parquet>...
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { readFileSync } from 'fs';

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

for (const file of process.argv.slice(2)) {
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
  const rows = await parquetReadObjects({ file: data });
  console.log(JSON.stringify({ file, num_rows: Number(md.num_rows), codec, columns, rows: plain(rows) }));
}
