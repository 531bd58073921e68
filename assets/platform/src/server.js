'use strict';
// Stand-in of the NewFinity backend: a small HTTP API over MySQL, Redis and S3.
// Runs under PM2 in cluster mode. Every instance also serves /metrics on its own
// port (METRICS_BASE_PORT + NODE_APP_INSTANCE) so Prometheus scrapes each one.
const http = require('http');
const crypto = require('crypto');
const { settings, readRelease, releaseDir } = require('./lib/config');
const log = require('./lib/log');
const { Registry } = require('./lib/metrics');
const db = require('./lib/db');
const redisLib = require('./lib/redis');
const s3 = require('./lib/s3');

const release = readRelease();
const instance = Number(process.env.NODE_APP_INSTANCE || process.env.pm_id || 0);
const cfg = settings();
log.setBase({ app: 'nf-api', release: release.id, env: cfg.NF_ENV, host: cfg.NF_HOST, instance });
const metrics = new Registry({ release: release.id });
metrics.declare('queue_depth', 'gauge', 'Jobs waiting in this environment\'s Redis queue', {});
metrics.declare('worker_jobs_done_total', 'counter', 'Jobs finished by the queue worker (counted by the worker process)', {});
const redis = redisLib.connect(cfg, `nf-api-${cfg.NF_HOST}-${instance}`);
redis.on('error', () => {}); // reported through /health; ioredis reconnects by itself

class HttpError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

function send(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function readBody(req, limit = 20 * 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new HttpError(413, 'body too large')); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readJson(req) {
  const raw = await readBody(req);
  if (!raw.length) return {};
  try { return JSON.parse(raw.toString('utf8')); } catch { throw new HttpError(400, 'body is not valid JSON'); }
}

function brokenGuard() {
  if (release.broken) throw new HttpError(500, `release ${release.id} is broken: handler crashed`);
}

async function timed(promise, ms) {
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); });
  try { return await Promise.race([promise, t]); } finally { clearTimeout(timer); }
}

async function check(fn) {
  const started = Date.now();
  try { await timed(fn(), 2000); return { ok: true, ms: Date.now() - started }; } catch (err) { return { ok: false, ms: Date.now() - started, error: err.message }; }
}

const routes = [];
function route(method, pattern, name, handler) {
  const re = new RegExp('^' + pattern.replace(/:(\w+)/g, '(?<$1>[^/]+)') + '$');
  routes.push({ method, re, name, handler });
}

route('GET', '/health', '/health', async () => {
  const s = settings();
  const checks = {
    db: await check(async () => { await db.getPool(s).query('SELECT 1'); }),
    redis: await check(async () => { if ((await redis.ping()) !== 'PONG') throw new Error('PING did not answer PONG'); }),
  };
  if (release.broken) return [500, { status: 'error', release: release.id, checks, error: 'release self-check failed' }];
  const ok = checks.db.ok && checks.redis.ok;
  return [ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', release: release.id, checks }];
});

route('GET', '/version', '/version', async () => [200, { release: release.id }]);

route('GET', '/metrics', '/metrics', async () => ['metrics']);

const USER_COLS = 'id, email, display_name, bio, profile, created_at, last_login_at, birth_date';
// MariaDB's JSON is LONGTEXT on the wire: hand out parsed JSON.
function parseJson(row, ...cols) {
  for (const c of cols) if (typeof row[c] === 'string') { try { row[c] = JSON.parse(row[c]); } catch { /* keep text */ } }
  return row;
}
route('GET', '/users', '/users', async (req, url) => {
  brokenGuard();
  const limit = Math.min(Number(url.searchParams.get('limit') || 20), 500);
  const [rows] = await db.getPool(settings()).query(`SELECT ${USER_COLS} FROM users ORDER BY id LIMIT ?`, [limit]);
  return [200, { users: rows.map((r) => parseJson(r, 'profile')) }];
});
route('GET', '/users/:id', '/users/:id', async (req, url, p) => {
  brokenGuard();
  const [rows] = await db.getPool(settings()).query(`SELECT ${USER_COLS} FROM users WHERE id = ?`, [p.id]);
  if (!rows.length) throw new HttpError(404, `user ${p.id} not found`);
  return [200, parseJson(rows[0], 'profile')];
});
route('POST', '/users', '/users', async (req) => {
  brokenGuard();
  const b = await readJson(req);
  if (!b.email || !b.display_name) throw new HttpError(400, 'email and display_name are required');
  const [r] = await db.getPool(settings()).query(
    'INSERT INTO users (email, display_name, bio, profile, created_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP())',
    [b.email, b.display_name, b.bio || null, b.profile ? JSON.stringify(b.profile) : null]);
  return [201, { id: String(r.insertId) }];
});

function orderCols() {
  // v2 added orders.note (migration 002); v1 must not select it, so a rollback to v1 still works.
  return 'id, user_id, status, quantity, unit_price_cents, total_cents, currency, items, placed_at, shipped_at' + (release.features.order_note ? ', note' : '');
}
route('GET', '/orders', '/orders', async (req, url) => {
  brokenGuard();
  const limit = Math.min(Number(url.searchParams.get('limit') || 20), 500);
  const [rows] = await db.getPool(settings()).query(`SELECT ${orderCols()} FROM orders ORDER BY id DESC LIMIT ?`, [limit]);
  return [200, { orders: rows.map((r) => parseJson(r, 'items')) }];
});
route('POST', '/orders', '/orders', async (req) => {
  brokenGuard();
  const b = await readJson(req);
  const qty = Number(b.quantity || 1);
  const price = Number(b.unit_price_cents);
  if (!b.user_id || !Number.isInteger(qty) || !Number.isInteger(price)) throw new HttpError(400, 'user_id, quantity and unit_price_cents (integers) are required');
  const cols = ['user_id', 'status', 'quantity', 'unit_price_cents', 'currency', 'items', 'placed_at'];
  const vals = [b.user_id, 'pending', qty, price, b.currency || 'EUR', JSON.stringify(b.items || [])];
  if (release.features.order_note) { cols.push('note'); vals.push(b.note || null); }
  const ph = cols.map((c) => (c === 'placed_at' ? 'UTC_TIMESTAMP()' : '?')).join(', ');
  try {
    const [r] = await db.getPool(settings()).query(`INSERT INTO orders (${cols.join(', ')}) VALUES (${ph})`, vals);
    return [201, { id: String(r.insertId) }];
  } catch (err) {
    if (err.code === 'ER_NO_REFERENCED_ROW_2') throw new HttpError(422, `user ${b.user_id} does not exist`);
    throw err;
  }
});

route('GET', '/files', '/files', async (req, url) => {
  brokenGuard();
  const limit = Math.min(Number(url.searchParams.get('limit') || 20), 500);
  const [rows] = await db.getPool(settings()).query('SELECT id, user_id, bucket, s3_key, content_type, size_bytes, sha256, versions, created_at FROM files ORDER BY id DESC LIMIT ?', [limit]);
  return [200, { files: rows }];
});
route('GET', '/files/:id', '/files/:id', async (req, url, p) => {
  brokenGuard();
  const s = settings();
  const [rows] = await db.getPool(s).query('SELECT id, bucket, s3_key, content_type, size_bytes, sha256 FROM files WHERE id = ?', [p.id]);
  if (!rows.length) throw new HttpError(404, `file ${p.id} not found`);
  const obj = await s3.getObject(s, rows[0].bucket, rows[0].s3_key);
  const sha = crypto.createHash('sha256').update(obj.body).digest('hex');
  return [200, { ...rows[0], object: { bytes: obj.body.length, sha256: sha, version_id: obj.versionId, matches_row: sha === rows[0].sha256 } }];
});
route('POST', '/files', '/files', async (req, url) => {
  brokenGuard();
  const s = settings();
  const body = await readBody(req);
  const name = (url.searchParams.get('name') || 'upload.bin').replace(/[^\w.\-]/g, '_');
  const key = `uploads/${crypto.randomUUID()}/${name}`;
  const type = req.headers['content-type'] || 'application/octet-stream';
  const sha = crypto.createHash('sha256').update(body).digest('hex');
  const put = await s3.putObject(s, s.S3_BUCKET, key, body, type);
  const userId = url.searchParams.get('user_id');
  const [r] = await db.getPool(s).query(
    'INSERT INTO files (user_id, bucket, s3_key, content_type, size_bytes, sha256, versions, created_at) VALUES (?, ?, ?, ?, ?, ?, 1, UTC_TIMESTAMP())',
    [userId || null, s.S3_BUCKET, key, type, body.length, sha]);
  return [201, { id: String(r.insertId), bucket: s.S3_BUCKET, s3_key: key, version_id: put.versionId, sha256: sha }];
});

route('POST', '/reports', '/reports', async (req) => {
  brokenGuard();
  const b = await readJson(req);
  const job = { id: crypto.randomUUID(), kind: b.kind || 'orders-summary', enqueued_at: new Date().toISOString(), release: release.id };
  await redis.lpush(redisLib.QUEUE, JSON.stringify(job));
  log.info('application', 'report job enqueued', { job_id: job.id, kind: job.kind });
  return [202, { job_id: job.id, status: 'queued' }];
});
route('GET', '/reports/:id', '/reports/:id', async (req, url, p) => {
  brokenGuard();
  const [rows] = await db.getPool(settings()).query('SELECT job_id, kind, s3_key, row_count, created_at FROM reports WHERE job_id = ?', [p.id]);
  if (!rows.length) return [404, { job_id: p.id, status: 'pending' }];
  return [200, { ...rows[0], status: 'done' }];
});

async function refreshQueueDepth() {
  try { metrics.set('queue_depth', 'Jobs waiting in this environment\'s Redis queue', {}, await redis.llen(redisLib.QUEUE)); } catch { /* redis down: keep last value */ }
}

async function handle(req, res) {
  const started = process.hrtime.bigint();
  const url = new URL(req.url, 'http://localhost');
  let routeName = 'unmatched';
  let status = 500;
  try {
    const match = routes.find((r) => r.method === req.method && r.re.test(url.pathname));
    if (!match) {
      const other = routes.find((r) => r.re.test(url.pathname));
      throw new HttpError(other ? 405 : 404, other ? `method ${req.method} not allowed` : `no route ${url.pathname}`);
    }
    routeName = match.name;
    const out = await match.handler(req, url, url.pathname.match(match.re).groups || {});
    if (out[0] === 'metrics') {
      await refreshQueueDepth();
      status = 200;
      const text = metrics.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(text);
    } else {
      status = out[0];
      send(res, status, out[1]);
    }
  } catch (err) {
    status = err.status || 500;
    if (status >= 500) log.error('request failed', { route: routeName, method: req.method, error: err.message });
    send(res, status, { error: err.message });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (routeName !== '/metrics') {
    metrics.inc('http_requests_total', 'HTTP requests answered', { route: routeName, method: req.method, status: String(status) });
    metrics.observe('http_request_duration_seconds', 'HTTP request duration', { route: routeName, status: String(status) }, seconds);
  }
  log.info('access', `${req.method} ${url.pathname} ${status}`, { method: req.method, path: url.pathname, route: routeName, status, duration_ms: Math.round(seconds * 1000), remote: req.headers['x-real-ip'] || req.socket.remoteAddress });
}

// --- startup and graceful shutdown -------------------------------------------------
let shuttingDown = false;
const server = http.createServer((req, res) => {
  if (shuttingDown) res.setHeader('connection', 'close');
  handle(req, res);
});
server.keepAliveTimeout = 65000; // longer than nginx's upstream keepalive_timeout
server.headersTimeout = 66000;

const metricsPort = Number(cfg.METRICS_BASE_PORT) + instance;
const metricsServer = http.createServer((req, res) => {
  if (req.url.split('?')[0] !== '/metrics') { res.writeHead(404); return res.end(); }
  refreshQueueDepth().then(() => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(metrics.render());
  });
});

function listenMetrics(attempt = 0) {
  // During `pm2 reload` the old instance with the same NODE_APP_INSTANCE still holds
  // this port for a moment: retry instead of failing (metrics are not readiness).
  metricsServer.once('error', (err) => {
    if (err.code === 'EADDRINUSE' && attempt < 150 && !shuttingDown) return setTimeout(() => listenMetrics(attempt + 1), 200);
    log.error('metrics listener failed', { port: metricsPort, error: err.message });
  });
  metricsServer.listen(metricsPort, '127.0.0.1', () => log.info('application', 'metrics listening', { port: metricsPort }));
}

async function startup() {
  try {
    const applied = await db.migrate(settings(), releaseDir);
    if (applied.length) log.info('application', 'migrations applied', { applied });
  } catch (err) {
    // The DB may be down at start; /health shows it and the next start retries.
    log.error('migrations not applied', { error: err.message });
  }
  const port = Number(cfg.HTTP_PORT);
  server.listen(port, '127.0.0.1', () => {
    log.info('application', 'listening', { port, release: release.id });
    if (process.send) process.send('ready');
  });
  listenMetrics();
}

function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  log.info('application', 'shutting down', { signal });
  metricsServer.close();
  server.close(async () => {
    // In cluster mode the master may have handed this worker a connection just
    // before it learned of the close; stay a moment so that handoff is answered
    // (refused, then given to another worker) instead of lost with the process.
    await new Promise((r) => setTimeout(r, 750));
    await db.close();
    redis.disconnect();
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => server.closeAllConnections(), 3000).unref();
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('message', (msg) => { if (msg === 'shutdown') shutdown('shutdown message'); });

startup();
