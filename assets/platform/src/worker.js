'use strict';
// Queue worker: takes report jobs from the environment's Redis queue, builds a
// report from MySQL, stores it as an S3 object and records it in `reports`.
const http = require('http');
const crypto = require('crypto');
const { settings, readRelease } = require('./lib/config');
const log = require('./lib/log');
const { Registry } = require('./lib/metrics');
const db = require('./lib/db');
const redisLib = require('./lib/redis');
const s3 = require('./lib/s3');

const release = readRelease();
const cfg = settings();
log.setBase({ app: 'nf-worker', release: release.id, env: cfg.NF_ENV, host: cfg.NF_HOST });
const metrics = new Registry({ release: release.id });
metrics.declare('worker_jobs_done_total', 'counter', 'Jobs finished by this worker', { kind: 'orders-summary', outcome: 'ok' });
metrics.declare('queue_depth', 'gauge', 'Jobs waiting in this environment\'s Redis queue', {});
const redis = redisLib.connect(cfg, `nf-worker-${cfg.NF_HOST}`);
redis.on('error', () => {});
let stopping = false;
let idle = Promise.resolve();

async function runJob(job) {
  const s = settings();
  const pool = db.getPool(s);
  if (release.broken) throw new Error(`release ${release.id} is broken: report generator crashed`);
  const [[counts]] = await pool.query('SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM orders) AS orders, (SELECT COALESCE(SUM(total_cents),0) FROM orders) AS revenue_cents');
  const report = { job_id: job.id, kind: job.kind, env: s.NF_ENV, generated_by: release.id, counts };
  const body = Buffer.from(JSON.stringify(report, null, 2));
  const key = `reports/${job.id}.json`;
  await s3.putObject(s, s.S3_BUCKET, key, body, 'application/json');
  await pool.query('INSERT INTO reports (job_id, kind, s3_key, row_count, sha256, created_at) VALUES (?, ?, ?, ?, ?, UTC_TIMESTAMP()) ON DUPLICATE KEY UPDATE s3_key = VALUES(s3_key)',
    [job.id, job.kind, key, Number(counts.orders), crypto.createHash('sha256').update(body).digest('hex')]);
  return key;
}

async function loop() {
  while (!stopping) {
    let raw = null;
    try {
      const got = await redis.brpop(redisLib.QUEUE, 1);
      if (!got) continue;
      raw = got[1];
    } catch (err) {
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    let job;
    try { job = JSON.parse(raw); } catch { log.error('dropped a job that is not JSON', { raw: raw.slice(0, 200) }); continue; }
    const started = Date.now();
    let done;
    idle = new Promise((r) => { done = r; });
    try {
      const key = await runJob(job);
      metrics.inc('worker_jobs_done_total', 'Jobs finished by this worker', { kind: job.kind, outcome: 'ok' });
      log.info('worker', 'job done', { job_id: job.id, kind: job.kind, s3_key: key, duration_ms: Date.now() - started });
    } catch (err) {
      metrics.inc('worker_jobs_done_total', 'Jobs finished by this worker', { kind: job.kind, outcome: 'failed' });
      log.error('job failed, requeued', { job_id: job.id, error: err.message });
      job.attempts = (job.attempts || 0) + 1;
      if (job.attempts < 5) await redis.rpush(redisLib.QUEUE, JSON.stringify(job)).catch(() => {});
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      done();
    }
  }
}

const metricsServer = http.createServer(async (req, res) => {
  if (req.url.split('?')[0] !== '/metrics') { res.writeHead(404); return res.end(); }
  try { metrics.set('queue_depth', 'Jobs waiting in this environment\'s Redis queue', {}, await redis.llen(redisLib.QUEUE)); } catch { /* keep last */ }
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  res.end(metrics.render());
});

function listenMetrics(attempt = 0) {
  metricsServer.once('error', (err) => {
    if (err.code === 'EADDRINUSE' && attempt < 150 && !stopping) return setTimeout(() => listenMetrics(attempt + 1), 200);
    log.error('metrics listener failed', { error: err.message });
  });
  metricsServer.listen(Number(cfg.WORKER_METRICS_PORT), '127.0.0.1', () => {
    log.info('worker', 'worker started', { metrics_port: Number(cfg.WORKER_METRICS_PORT) });
    if (process.send && attempt >= 0) process.send('ready');
  });
}

async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log.info('worker', 'stopping after the current job', { signal });
  metricsServer.close();
  await idle;
  redis.disconnect();
  await db.close();
  process.exit(0);
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));

listenMetrics();
loop();
