#!/usr/bin/env node
// Bounded HTTP load for scripts/stack-test: GETs URL with CONCURRENCY keep-alive
// clients for SECONDS (loopback only), then prints {"total","ok","failed","errors","max_ms"}.
// A request counts as failed on a non-200 answer or a socket error / 15 s of silence.
'use strict';
const http = require('http');
const [url, seconds = '6', concurrency = '8'] = process.argv.slice(2);
if (!url || !/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) { console.error('usage: load.js http://127.0.0.1:PORT/path [seconds] [concurrency]'); process.exit(2); }
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const until = Date.now() + Number(seconds) * 1000;
const stats = { total: 0, ok: 0, failed: 0, errors: 0, max_ms: 0, samples: [] };
function one() {
  const started = Date.now();
  const took = () => { stats.max_ms = Math.max(stats.max_ms, Date.now() - started); };
  return new Promise((resolve) => {
    const req = http.get(url, { agent, timeout: 15000 }, (res) => {
      res.resume();
      res.on('end', () => {
        took();
        stats.total++;
        if (res.statusCode === 200) stats.ok++; else { stats.failed++; if (stats.samples.length < 5) stats.samples.push(res.statusCode); }
        resolve();
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => { took(); stats.total++; stats.errors++; if (stats.samples.length < 5) stats.samples.push(e.message); resolve(); });
  });
}
async function client() { while (Date.now() < until) await one(); }
Promise.all(Array.from({ length: Number(concurrency) }, client)).then(() => {
  console.log(JSON.stringify(stats));
  agent.destroy();
});
