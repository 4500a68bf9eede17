// Consumes a topic of pgcdc's built-in Kafka broker with npm "kafkajs" (a
// consumer group) and reports JSON lines on stdout:
//   {"ready":true}                               once the group is joined
//   {"message":{"topic","partition","offset","key","value","headers"}}
//                                                per record (unless --quiet)
//   {"done":true,"count":N,"byPartition":{...}}  after --expect records
//                                                (offsets committed first) or
//                                                at --timeout-ms
//   {"error":"..."}                              on a client error
// Usage: node kafkajs_consume.js --brokers H:P --topic T --group G
//          [--expect N] [--timeout-ms T] [--from-beginning] [--quiet]
//          [--sasl-user U --sasl-password P] [--ssl-ca FILE] [--log-errors]
//          (kafkajs_common.js)
'use strict';
const { Kafka } = require('kafkajs');
const { arg, flag, emit, kafkaConfig } = require('./kafkajs_common');

const topic = arg('topic');
const group = arg('group', 'kafkajs-test');
const expect = Number(arg('expect', '0'));
const timeoutMs = Number(arg('timeout-ms', '30000'));
const quiet = flag('quiet');

const kafka = new Kafka(kafkaConfig('pgcdc-kafkajs-test'));
const consumer = kafka.consumer({
  groupId: group,
  sessionTimeout: 10000,
  heartbeatInterval: 1000,
  maxWaitTimeInMs: 500,
});

let count = 0;
const byPartition = {};
let finished = false;

async function finish() {
  if (finished) return;
  finished = true;
  try {
    await consumer.disconnect();  // commits the resolved offsets
  } catch (e) {
    emit({ error: String(e.message) });
  }
  emit({ done: true, count, byPartition });
  process.exit(0);
}

async function main() {
  consumer.on(consumer.events.GROUP_JOIN, () => emit({ ready: true }));
  consumer.on(consumer.events.CRASH, (e) => emit({ error: String(e.payload.error) }));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: flag('from-beginning') });
  await consumer.run({
    autoCommitInterval: 200,
    eachMessage: async ({ topic: t, partition, message }) => {
      count++;
      byPartition[partition] = (byPartition[partition] || 0) + 1;
      if (!quiet) {
        const headers = {};
        for (const [k, v] of Object.entries(message.headers || {})) headers[k] = v.toString();
        emit({
          message: {
            topic: t,
            partition,
            offset: message.offset,
            key: message.key === null ? null : message.key.toString(),
            value: message.value === null ? null : message.value.toString(),
            headers,
          },
        });
      }
      if (expect > 0 && count >= expect) setImmediate(finish);
    },
  });
}

setTimeout(finish, timeoutMs);
main().catch((e) => {
  emit({ error: String(e.message) });
  finish();
});
