#!/usr/bin/env node
// Runs one export of a Wasm plugin with the reference Extism host
// (@extism/extism), for the differential test against pgcdc's host
// (src/wasm/differential_test.cc).
//
//   node extism_run.js --plugin P.wasm --function transform [--config '{"k":"\"v\""}']
//                      [--init '<input of the init export, called first>']
//
// stdin: one JSON string per line (an input). stdout: one JSON line per
// input, {"output_b64": "<base64>"} (empty when the call set no output) or
// {"error": "<message>"}. The plugin instance is reused across inputs, as
// pgcdc does. pgcdc's own host functions are provided as no-ops.
'use strict';
const fs = require('fs');
const readline = require('readline');
const createPlugin = require('@extism/extism').default ?? require('@extism/extism');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

async function main() {
  const wasm = fs.readFileSync(arg('--plugin'));
  const fn = arg('--function', 'transform');
  const config = JSON.parse(arg('--config', '{}'));
  const noop = () => {};
  // pgcdc_http_request answers 0 (no response): the differential inputs
  // never make it send anything.
  const pgcdc = { pgcdc_log: noop, pgcdc_metric_inc: noop, pgcdc_http_request: () => 0n };
  const plugin = await createPlugin(
    { wasm: [{ data: wasm }], config },
    {
      // WASI only for modules that import it (Extism's WASI needs an
      // exported memory, which WAT test plugins without WASI may lack).
      useWasi: WebAssembly.Module.imports(new WebAssembly.Module(wasm)).some(
        (i) => i.module === 'wasi_snapshot_preview1',
      ),
      runInWorker: false,
      enableWasiOutput: false,
      config,
      functions: { pgcdc, 'extism:host/user': pgcdc },
    },
  );
  const init = arg('--init');
  if (init !== undefined) {
    const out = await plugin.call('init', init);
    if (out !== null && out.bytes().length > 0) throw new Error(`init failed: ${out.text()}`);
  }
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (line === '') continue;
    const input = Buffer.from(JSON.parse(line), 'utf8');
    let result;
    try {
      const out = await plugin.call(fn, new Uint8Array(input));
      result = { output_b64: out === null ? '' : Buffer.from(out.bytes()).toString('base64') };
    } catch (e) {
      result = { error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  await plugin.close();
}

main().catch((e) => {
  process.stderr.write(`extism_run: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
