'use strict';
// Redis client for one environment: its own db number and key prefix
// (production db 0 "nf:production:", staging db 1 "nf:staging:").
const Redis = require('ioredis');

function connect(settings, name) {
  return new Redis({
    host: settings.REDIS_HOST,
    port: Number(settings.REDIS_PORT),
    password: settings.REDIS_PASSWORD,
    db: Number(settings.REDIS_DB || 0),
    keyPrefix: settings.REDIS_PREFIX,
    connectionName: name,
    connectTimeout: 3000,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
}

const QUEUE = 'queue:jobs';

module.exports = { connect, QUEUE };
