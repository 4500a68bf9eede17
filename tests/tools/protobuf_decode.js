// Decodes protobuf bytes with the independent `protobufjs` library: parses
// the .proto text in <proto file> at run time and prints the message in
// <data file> (type <full message name>) as JSON (int64 as strings, bytes as
// hex). Usage: node protobuf_decode.js <file.proto> <message name> <data.bin>
'use strict';
const fs = require('fs');
const protobuf = require('protobufjs');

const [protoFile, name, dataFile] = process.argv.slice(2);
const root = protobuf.parse(fs.readFileSync(protoFile, 'utf8'), { keepCase: true }).root;
const type = root.lookupType(name);
const message = type.decode(fs.readFileSync(dataFile));
const object = type.toObject(message, { longs: String, bytes: String, defaults: false });
if (object.payload !== undefined) {
  object.payload = Buffer.from(object.payload, 'base64').toString('hex');
}
console.log(JSON.stringify(object));
