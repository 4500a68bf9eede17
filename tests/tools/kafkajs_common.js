// Shared plumbing of the kafkajs test clients (kafkajs_consume.js,
// kafkajs_produce.js): command-line options and the client configuration.
// Common options: --brokers H:P[,H:P] [--sasl-user U --sasl-password P]
//                 [--ssl-ca FILE] [--log-errors]
// --log-errors writes every error kafkajs logs, at any level, as a JSON line
// on stderr: kafkajs 2.2.4 reports a failed FindCoordinator only as "Failed
// to find group coordinator", and logs the broker's error (e.g. "Not
// authorized to access group") at debug level.
'use strict';
const fs = require('fs');
const { logLevel } = require('kafkajs');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}
const flag = (name) => process.argv.includes('--' + name);
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

function kafkaConfig(clientId) {
  const config = { clientId, brokers: arg('brokers').split(','), logLevel: logLevel.WARN };
  if (arg('sasl-user')) {
    config.sasl = { mechanism: 'plain', username: arg('sasl-user'), password: arg('sasl-password') };
  }
  if (arg('ssl-ca')) {
    config.ssl = { ca: [fs.readFileSync(arg('ssl-ca'), 'utf8')], rejectUnauthorized: true };
  }
  if (flag('log-errors')) {
    config.logLevel = logLevel.DEBUG;
    config.logCreator = () => ({ label, log }) => {
      if (!log.error) return;
      process.stderr.write(
          JSON.stringify({ level: label, message: log.message, error: String(log.error) }) + '\n');
    };
  }
  return config;
}

module.exports = { arg, flag, emit, kafkaConfig };
