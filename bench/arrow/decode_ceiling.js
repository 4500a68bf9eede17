// The JS client's own decode ceiling for an Arrow Flight DoGet (issue 21):
// the same rows decoded by the same loop as `flight_client.js --quiet`
// (every column of every batch materialised with toArray()), from memory,
// so neither pgcdc nor gRPC is involved:
//   received      the IPC stream as pgcdc sent it (flight_client.js --save)
//   arrow_plain   the same rows written by npm apache-arrow itself
//                 (tableToIPC), every string column plain utf8
//   arrow_dict    the same, with channel/operation/source/_pgcdc_operation
//                 dictionary-encoded by apache-arrow
// Prints one JSON line per variant: rows, bytes, batches, best and worst ms
// of RUNS, rows/s of the best, and the per-column ms of the best run.
// Usage: node bench/arrow/decode_ceiling.js STREAM_FILE [RUNS]
'use strict';
const fs = require('fs');
const path = require('path');
const arrow = require(path.join(__dirname, '..', '..', 'tests', 'tools', 'node_modules', 'apache-arrow'));

const DICT_COLUMNS = ['channel', 'operation', 'source', '_pgcdc_operation'];

function decodeAll(bytes) {
  const perColumn = {};
  const t0 = process.hrtime.bigint();
  let rows = 0;
  let batches = 0;
  for (const batch of arrow.RecordBatchReader.from(bytes).open()) {
    batches++;
    rows += batch.numRows;
    for (let c = 0; c < batch.numCols; c++) {
      const t = process.hrtime.bigint();
      batch.getChildAt(c).toArray();
      const name = batch.schema.fields[c].name;
      perColumn[name] = (perColumn[name] || 0) + Number(process.hrtime.bigint() - t) / 1e6;
    }
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, rows, batches, perColumn };
}

function isString(type) {
  return arrow.DataType.isUtf8(type) ||
    (arrow.DataType.isDictionary(type) && arrow.DataType.isUtf8(type.dictionary));
}

// The rows of `bytes`, batch by batch, written again by apache-arrow with
// the string columns in `dictColumns` dictionary-encoded, the others plain.
function recode(bytes, dictColumns) {
  const types = {};
  const batches = arrow.tableFromIPC(bytes).batches.map((b) => {
    const cols = {};
    b.schema.fields.forEach((f, i) => {
      const v = b.getChildAt(i);
      if (!isString(f.type)) {
        cols[f.name] = v;
        return;
      }
      const type = dictColumns.includes(f.name)
        ? (types[f.name] ||= new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()))
        : new arrow.Utf8();
      cols[f.name] = arrow.vectorFromArray(v.toArray(), type);
    });
    return new arrow.Table(cols).batches[0];
  });
  return Buffer.from(arrow.tableToIPC(new arrow.Table(batches), 'stream'));
}

function measure(name, bytes, runs) {
  const results = [];
  for (let r = 0; r < runs; r++) results.push(decodeAll(bytes));
  results.sort((a, b) => a.ms - b.ms);
  const best = results[0];
  const round = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
  console.log(JSON.stringify({
    variant: name, rows: best.rows, bytes: bytes.length, batches: best.batches,
    best_ms: Math.round(best.ms), worst_ms: Math.round(results[results.length - 1].ms),
    rows_per_s: Math.round(best.rows / best.ms * 1000), per_column_ms: round(best.perColumn),
  }));
}

const file = process.argv[2];
const runs = Number(process.argv[3] || 3);
const received = fs.readFileSync(file);
measure('received', received, runs);
measure('arrow_plain', recode(received, []), runs);
measure('arrow_dict', recode(received, DICT_COLUMNS), runs);
