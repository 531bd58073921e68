'use strict';
// MySQL pool plus the release's migrations. Migrations are SQL files in the
// release's migrations/ folder, applied in name order under an advisory lock
// (every cluster instance starts at once) and recorded in schema_migrations.
// Each file is written to be re-runnable (IF NOT EXISTS), so a failed half-run
// can simply be run again. scripts/stack applies the same files the same way.
const fs = require('fs');
const path = require('path');
const mysql = require('mysql2/promise');

let pool = null;
let poolKey = '';

function getPool(settings) {
  const key = [settings.DB_HOST, settings.DB_PORT, settings.DB_USER, settings.DB_PASSWORD, settings.DB_NAME].join('|');
  if (!pool || key !== poolKey) {
    if (pool) pool.end().catch(() => {});
    pool = mysql.createPool({
      host: settings.DB_HOST,
      port: Number(settings.DB_PORT),
      user: settings.DB_USER,
      password: settings.DB_PASSWORD,
      database: settings.DB_NAME,
      connectionLimit: 5,
      connectTimeout: 3000,
      charset: 'utf8mb4_unicode_ci',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: true,
    });
    poolKey = key;
  }
  return pool;
}

async function migrate(settings, releaseDir) {
  const dir = path.join(releaseDir, 'migrations');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort() : [];
  const conn = await getPool(settings).getConnection();
  const applied = [];
  try {
    const [[lock]] = await conn.query("SELECT GET_LOCK('nf_migrate', 30) AS got");
    if (lock.got !== 1) throw new Error('could not take the migration lock nf_migrate within 30 s');
    try {
      await conn.query('CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR(64) PRIMARY KEY, applied_at DATETIME NOT NULL)');
      for (const file of files) {
        const version = file.replace(/\.sql$/, '');
        const [rows] = await conn.query('SELECT 1 FROM schema_migrations WHERE version = ?', [version]);
        if (rows.length) continue;
        await conn.query(fs.readFileSync(path.join(dir, file), 'utf8'));
        await conn.query('INSERT IGNORE INTO schema_migrations (version, applied_at) VALUES (?, UTC_TIMESTAMP())', [version]);
        applied.push(version);
      }
    } finally {
      await conn.query("SELECT RELEASE_LOCK('nf_migrate')");
    }
  } finally {
    conn.release();
  }
  return applied;
}

async function close() { if (pool) await pool.end().catch(() => {}); pool = null; }

module.exports = { getPool, migrate, close };
