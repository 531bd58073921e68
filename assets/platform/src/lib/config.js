'use strict';
// Runtime configuration of one app instance: the host's shared/.env (written by
// scripts/stack) plus the release folder this code runs from. The .env is
// re-read when its mtime changes, so rotated S3 keys (moto restarts in-memory
// and gets new keys) reach running instances without a restart.
const fs = require('fs');
const path = require('path');

const releaseDir = fs.realpathSync(path.resolve(__dirname, '..'));
const appDir = process.env.NF_APP_DIR || path.resolve(releaseDir, '..', '..');
const envFile = process.env.NF_ENV_FILE || path.join(appDir, 'shared', '.env');
// Host facts (name, ports) that differ between the hosts of one environment;
// shared/.env is the same on every host of the environment (pushed from the
// console's secrets store) and wins over it.
const hostFile = path.join(path.dirname(envFile), 'host.env');

function readOptional(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return '';
    throw err;
  }
}

function hostMtime() {
  try {
    return fs.statSync(hostFile).mtimeMs;
  } catch (err) {
    return 0;
  }
}

function parseEnv(text) {
  const out = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    let value = line.slice(eq + 1);
    if (value.length >= 2 && value[0] === '"' && value.endsWith('"')) value = value.slice(1, -1);
    out[line.slice(0, eq)] = value;
  }
  return out;
}

const SECRET_KEYS = ['DB_PASSWORD', 'REDIS_PASSWORD', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'];
let cached = null;
let cachedMtime = -1;

/** The current settings; re-reads the .env when it changed on disk. */
function settings() {
  let mtime;
  try {
    mtime = `${fs.statSync(envFile).mtimeMs}:${hostMtime()}`;
  } catch (err) {
    if (cached) return cached;
    throw new Error(`cannot read app config ${envFile}: ${err.message}`);
  }
  if (mtime !== cachedMtime) {
    const previous = cached;
    cached = Object.freeze({ ...parseEnv(readOptional(hostFile)), ...parseEnv(fs.readFileSync(envFile, 'utf8')) });
    cachedMtime = mtime;
    if (previous) {
      const rotated = SECRET_KEYS.filter((k) => previous[k] !== cached[k]);
      // Names only, never values.
      require('./log').info('security', 'app config reloaded', { file: envFile, rotated });
    }
  }
  return cached;
}

function readRelease() {
  const id = fs.readFileSync(path.join(releaseDir, 'RELEASE'), 'utf8').trim();
  const manifest = JSON.parse(fs.readFileSync(path.join(releaseDir, 'release.json'), 'utf8'));
  return { id, manifest, features: manifest.features || {}, broken: !!manifest.broken };
}

module.exports = { settings, readRelease, releaseDir, appDir, envFile };
