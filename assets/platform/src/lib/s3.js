'use strict';
// A small S3 client (path-style, AWS Signature V4) for put/get/head of objects.
// Hand-rolled to keep the release small; the stack's moto server checks every
// signature, so a wrong key fails here exactly as it would against AWS.
const crypto = require('crypto');
const http = require('http');
const https = require('https');

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => crypto.createHmac('sha256', key).update(data).digest();

function encodeKey(key) {
  return key.split('/').map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())).join('/');
}

function signedRequest(cfg, method, bucket, key, body, extraHeaders = {}) {
  const url = new URL(cfg.endpoint);
  const path = `/${bucket}/${encodeKey(key)}`;
  const now = new Date();
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256(body || '');
  const headers = {
    host: url.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  };
  for (const [k, v] of Object.entries(extraHeaders)) headers[k.toLowerCase()] = String(v);
  const names = Object.keys(headers).sort();
  const canonical = [method, path, '', names.map((n) => `${n}:${headers[n].trim()}\n`).join(''), names.join(';'), payloadHash].join('\n');
  const scope = `${day}/${cfg.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac('AWS4' + cfg.secretKey, day), cfg.region), 's3'), 'aws4_request');
  const signature = crypto.createHmac('sha256', kSigning).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${cfg.accessKey}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  if (body) headers['content-length'] = Buffer.byteLength(body);
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request({ method, hostname: url.hostname, port: url.port, path, headers, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        if (res.statusCode >= 300) {
          const code = (/<Code>([^<]+)<\/Code>/.exec(data.toString()) || [])[1] || `HTTP ${res.statusCode}`;
          const err = new Error(`S3 ${method} s3://${bucket}/${key} failed: ${code}`);
          err.code = code;
          err.status = res.statusCode;
          return reject(err);
        }
        resolve({ status: res.statusCode, headers: res.headers, body: data });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`S3 ${method} s3://${bucket}/${key} timed out`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

/** Builds the client settings from the app settings (re-read on every call). */
function s3Config(settings) {
  return {
    endpoint: settings.S3_ENDPOINT,
    region: settings.S3_REGION || 'us-east-1',
    accessKey: settings.S3_ACCESS_KEY_ID,
    secretKey: settings.S3_SECRET_ACCESS_KEY,
  };
}

async function putObject(settings, bucket, key, body, contentType) {
  const res = await signedRequest(s3Config(settings), 'PUT', bucket, key, body, { 'content-type': contentType || 'application/octet-stream' });
  return { etag: res.headers.etag, versionId: res.headers['x-amz-version-id'] || null };
}

async function getObject(settings, bucket, key) {
  const res = await signedRequest(s3Config(settings), 'GET', bucket, key, null);
  return { body: res.body, contentType: res.headers['content-type'], versionId: res.headers['x-amz-version-id'] || null };
}

module.exports = { putObject, getObject };
