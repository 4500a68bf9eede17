// Shared plumbing of the streaming test clients (sse_clients.js,
// ws_clients.js): command-line options, per-client counts, and the JSON lines
// they report on stdout:
//   {"open":N}                     once every client is connected
//   {"progress":[counts...]}       every --progress-ms (500) while running
//   {"done":true,"counts":[...],...report()}
//                                  when every client has --expect items, when
//                                  the script calls finish(), or at --timeout-ms
// Common options: --url URL [--clients N] [--expect M] [--timeout-ms T]
//                 [--keep N (items kept from client 0)] [--progress-ms P]
'use strict';

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : def;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

class ClientRun {
  // report(): extra fields of the done line; close(): closes every client.
  constructor({ report, close }) {
    this.url = arg('url');
    this.clients = Number(arg('clients', '1'));
    this.expect = Number(arg('expect', '0'));
    this.keep = Number(arg('keep', '100000'));
    this.counts = new Array(this.clients).fill(0);
    this.opened = 0;
    this.finished = false;
    this.report = report;
    this.close = close;
  }

  // One more client is connected.
  open() {
    this.opened++;
    if (this.opened === this.clients) emit({ open: this.opened });
  }

  // Client i got `item`; client 0's items are kept in `kept` (up to --keep).
  received(i, item, kept) {
    this.counts[i]++;
    if (i === 0 && kept.length < this.keep) kept.push(item);
    if (this.expect > 0 && this.counts.every((c) => c >= this.expect)) this.finish();
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    emit({ done: true, counts: this.counts, ...this.report() });
    this.close();
    setTimeout(() => process.exit(0), 50);
  }

  // Starts the progress reports and the timeout; keeps the process alive
  // until finish().
  run() {
    const progress = setInterval(() => {
      if (!this.finished) emit({ progress: this.counts });
    }, Number(arg('progress-ms', '500')));
    progress.unref();
    setTimeout(() => this.finish(), Number(arg('timeout-ms', '30000'))).unref();
    setInterval(() => {}, 1000);
  }
}

module.exports = { arg, emit, ClientRun };
