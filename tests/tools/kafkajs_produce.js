// Produces records to pgcdc's built-in Kafka broker with npm "kafkajs" (its
// default, Java-compatible murmur2 partitioner) and reports on stdout:
//   {"produced":N,"results":[{"partition":P,"baseOffset":"O"},...]}
//   {"error":"..."}  (exit code 1) on failure
// Records: key "<key-prefix><i>", value {"i":i} for i in 0..count-1, sent in
// batches of --batch (one produce request each), with --compression
// none|gzip and header "source: kafkajs".
// Usage: node kafkajs_produce.js --brokers H:P --topic T [--count N]
//          [--key-prefix P] [--batch B] [--compression gzip] [--acks -1|0|1]
//          [--sasl-user U --sasl-password P] [--ssl-ca FILE]
'use strict';
const fs = require('fs');
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { Kafka, CompressionTypes, Partitioners, logLevel } = require('kafkajs');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const config = {
  clientId: 'pgcdc-kafkajs-producer',
  brokers: arg('brokers').split(','),
  logLevel: logLevel.WARN,
};
if (arg('sasl-user')) {
  config.sasl = { mechanism: 'plain', username: arg('sasl-user'), password: arg('sasl-password') };
}
if (arg('ssl-ca')) {
  config.ssl = { ca: [fs.readFileSync(arg('ssl-ca'), 'utf8')], rejectUnauthorized: true };
}

async function main() {
  const kafka = new Kafka(config);
  const producer = kafka.producer({
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const count = Number(arg('count', '10'));
  const batch = Number(arg('batch', '100'));
  const prefix = arg('key-prefix', 'k');
  const compression =
      arg('compression', 'none') === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  const results = [];
  for (let start = 0; start < count; start += batch) {
    const messages = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      messages.push({ key: prefix + i, value: JSON.stringify({ i }), headers: { source: 'kafkajs' } });
    }
    const r = await producer.send({
      topic: arg('topic'),
      acks: Number(arg('acks', '-1')),
      compression,
      messages,
    });
    for (const x of r) results.push({ partition: x.partition, baseOffset: x.baseOffset });
  }
  await producer.disconnect();
  emit({ produced: count, results });
}

main().catch((e) => {
  emit({ error: String(e.message) });
  process.exit(1);
});
