// A fast local webhook receiver for bench/memory/mem_bench.sh: answers every
// POST with 200 as soon as its body has arrived and counts the bytes.
// Usage: node receiver.js PORT   (prints "listening" once ready; GET /count
// returns requests and body bytes so far).
'use strict';
const http = require('http');
const port = Number(process.argv[2]);
let requests = 0;
let bytes = 0;
const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(JSON.stringify({ requests, bytes }));
    return;
  }
  req.on('data', (chunk) => { bytes += chunk.length; });
  req.on('end', () => {
    requests += 1;
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(port, '127.0.0.1', () => console.log('listening'));
