// Produces records to pgcdc's built-in Kafka broker with npm "kafkajs" (its
// default, Java-compatible murmur2 partitioner) and reports on stdout:
//   {"produced":N,"results":[{"partition":P,"baseOffset":"O"},...]}
//   {"error":"..."}  (exit code 1) on failure
// Records: key "<key-prefix><i>", value {"i":i} for i in 0..count-1, sent in
// batches of --batch (one produce request each), with --compression
// none|gzip and header "source: kafkajs". With --transactional-id each batch
// is one committed transaction (idempotent producer, acks -1); --idempotent
// alone makes an idempotent producer without transactions.
// Usage: node kafkajs_produce.js --brokers H:P --topic T [--count N]
//          [--key-prefix P] [--batch B] [--compression gzip] [--acks -1|0|1]
//          [--transactional-id ID] [--idempotent]
//          [--sasl-user U --sasl-password P] [--ssl-ca FILE] [--log-errors]
//          (kafkajs_common.js)
'use strict';
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
const { Kafka, CompressionTypes, Partitioners } = require('kafkajs');
const { arg, emit, kafkaConfig } = require('./kafkajs_common');

const config = kafkaConfig('pgcdc-kafkajs-producer');

async function main() {
  const kafka = new Kafka(config);
  const transactionalId = arg('transactional-id');
  const producer = kafka.producer({
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
    ...(transactionalId
      ? { transactionalId, idempotent: true, maxInFlightRequests: 1 }
      : process.argv.includes('--idempotent')
        ? { idempotent: true, maxInFlightRequests: 1 }
        : {}),
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
    const record = { topic: arg('topic'), acks: Number(arg('acks', '-1')), compression, messages };
    let r;
    if (transactionalId) {
      const tx = await producer.transaction();
      r = await tx.send(record);
      await tx.commit();
    } else {
      r = await producer.send(record);
    }
    for (const x of r) results.push({ partition: x.partition, baseOffset: x.baseOffset });
  }
  await producer.disconnect();
  emit({ produced: count, results });
}

main().catch((e) => {
  emit({ error: String(e.message) });
  process.exit(1);
});
