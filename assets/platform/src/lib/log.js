'use strict';
// JSON-lines logger. Every line: ts, level, category, msg, plus fields.
// Categories follow the platform: application, error, access, security, worker.
const CATEGORIES = new Set(['application', 'error', 'access', 'security', 'worker']);
let base = {};

function setBase(fields) { base = { ...fields }; }

function write(level, category, msg, fields) {
  if (!CATEGORIES.has(category)) category = 'application';
  const line = { ts: new Date().toISOString(), level, category, msg, ...base, ...(fields || {}) };
  const out = level === 'error' ? process.stderr : process.stdout;
  out.write(JSON.stringify(line) + '\n');
}

module.exports = {
  setBase,
  info: (category, msg, fields) => write('info', category, msg, fields),
  warn: (category, msg, fields) => write('warn', category, msg, fields),
  error: (msg, fields) => write('error', 'error', msg, fields),
};
