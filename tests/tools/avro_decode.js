// Decodes Avro binary with the independent `avsc` library: the records in
// <data file> (concatenated, each written with the writer schema in
// <schema file>) are printed one JSON document per line; bytes as hex,
// longs as decimal strings.
// Usage: node avro_decode.js <schema.json> <data.bin> [<count>]
'use strict';
const fs = require('fs');
const avro = require('avsc');

// Avro longs as BigInt, so every 64-bit value decodes exactly (printed as a string).
const longType = avro.types.LongType.__with({
  fromBuffer: (buf) => buf.readBigInt64LE(),
  toBuffer: (n) => { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(n)); return b; },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n) => typeof n === 'bigint',
  compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0),
});
const [schemaFile, dataFile] = process.argv.slice(2);
const type = avro.Type.forSchema(JSON.parse(fs.readFileSync(schemaFile, 'utf8')),
                                 { registry: { long: longType } });
const buf = fs.readFileSync(dataFile);
let pos = 0;
while (pos < buf.length) {
  const { value, offset } = type.decode(buf, pos);
  if (offset < 0) {
    console.error(`truncated record at byte ${pos}`);
    process.exit(1);
  }
  pos = offset;
  console.log(JSON.stringify(value, (k, v) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data).toString('hex');
    return v;
  }));
}
