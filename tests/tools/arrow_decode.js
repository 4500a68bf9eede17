// Decodes an Arrow IPC stream with the independent npm `apache-arrow` reader
// and prints it as one JSON line: {"schema":[{"name","type","nullable"}],
// "batches":N,"rows":[{column: value}]}. Values: int64 and timestamps as
// decimal strings of the stored integer (µs for timestamp[us]), binary as
// hex, dates as the stored day number, null as null; "metadata":{k:v} when
// the schema has custom_metadata.
// Usage: node arrow_decode.js <ignored> <stream.arrow>
// Also a module: toJson(table-like RecordBatch list) for flight_client.js.
'use strict';
const fs = require('fs');
const arrow = require('apache-arrow');

function describeField(f) {
  return { name: f.name, type: String(f.type), nullable: f.nullable };
}

// The stored value of row i of a column (no unit conversion).
function valueAt(vector, i) {
  if (!vector.isValid(i)) return null;
  const t = vector.type;
  if (arrow.DataType.isTimestamp(t) || arrow.DataType.isDate(t)) {
    // The raw integer, not a JS Date (which would round to ms).
    const data = vector.data.length === 1 ? vector.data[0] : null;
    if (data) return String(data.values[data.offset + i]);
  }
  const v = vector.get(i);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}

function rowsOf(batches) {
  const rows = [];
  for (const batch of batches) {
    const fields = batch.schema.fields;
    for (let i = 0; i < batch.numRows; i++) {
      const row = {};
      fields.forEach((f, c) => {
        row[f.name] = valueAt(batch.getChildAt(c), i);
      });
      rows.push(row);
    }
  }
  return rows;
}

function decodeStream(bytes) {
  const reader = arrow.RecordBatchReader.from(bytes).open();
  const schema = reader.schema.fields.map(describeField);
  const metadata = reader.schema.metadata;  // (the reader drops its schema once read)
  const batches = [...reader];
  const out = { schema, batches: batches.length, rows: rowsOf(batches) };
  // The schema's custom_metadata, only when there is some.
  if (metadata.size > 0) out.metadata = Object.fromEntries(metadata);
  return out;
}

module.exports = { decodeStream };

if (require.main === module) {
  const file = process.argv[process.argv.length - 1];
  console.log(JSON.stringify(decodeStream(fs.readFileSync(file))));
}
