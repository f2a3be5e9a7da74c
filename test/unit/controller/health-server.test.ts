import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import { parseListenAddress, startHealthServer } from '../../../src/controller/health-server.js';

function httpReq(url: string, method = 'GET'): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('health server', () => {
  it('parses listen addresses as Go does', () => {
    assert.deepEqual(parseListenAddress(':8080'), { host: '', port: 8080 });
    assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListenAddress('[::1]:9'), { host: '::1', port: 9 });
    assert.deepEqual(parseListenAddress('localhost:80'), { host: 'localhost', port: 80 });
    for (const bad of ['8080', ':', ':99999', 'a:b', '::1:80', '[x]:1', ''])
      assert.equal(parseListenAddress(bad), undefined, bad);
  });

  it('serves /healthz, /readyz (by the sync state) and /metrics', async () => {
    let ready = false;
    const s = await startHealthServer('127.0.0.1:0', {
      ready: () => ready,
      metrics: () => Promise.resolve('m 1\n'),
    });
    try {
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(await httpReq(`${s.url}/healthz`), {
        status: 200,
        body: 'ok\n',
        type: 'text/plain; charset=utf-8',
      });
      assert.equal((await httpReq(`${s.url}/livez`)).status, 200);
      assert.equal((await httpReq(`${s.url}/readyz`)).status, 503);
      ready = true;
      assert.equal((await httpReq(`${s.url}/readyz?verbose`)).status, 200);
      const m = await httpReq(`${s.url}/metrics`);
      assert.equal(m.body, 'm 1\n');
      assert.equal(m.type, 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal((await httpReq(`${s.url}/metrics`, 'HEAD')).body, '');
      assert.equal((await httpReq(`${s.url}/nope`)).status, 404);
      assert.equal((await httpReq(`${s.url}/healthz`, 'POST')).status, 405);
    } finally {
      await s.close();
    }
  });

  it('answers 500 with the reason when the metrics cannot be rendered', async () => {
    const s = await startHealthServer('127.0.0.1:0', {
      ready: () => true,
      metrics: () => Promise.reject(new Error('collector broke')),
    });
    try {
      const m = await httpReq(`${s.url}/metrics`);
      assert.equal(m.status, 500);
      assert.equal(m.body, 'cannot render metrics: collector broke\n');
      assert.equal((await httpReq(`${s.url}/healthz`)).status, 200);
    } finally {
      await s.close();
    }
  });

  it('fails clearly on a bad or taken address', async () => {
    await assert.rejects(
      startHealthServer('nope', { ready: () => true, metrics: () => Promise.resolve('') }),
      {
        code: 'ERR_USAGE',
      },
    );
    const s = await startHealthServer('[::1]:0', {
      ready: () => true,
      metrics: () => Promise.resolve(''),
    }).catch(() =>
      startHealthServer('127.0.0.1:0', { ready: () => true, metrics: () => Promise.resolve('') }),
    );
    try {
      const port = new URL(s.url).port;
      const host = new URL(s.url).hostname;
      await assert.rejects(
        startHealthServer(`${host}:${port}`, { ready: () => true, metrics: () => Promise.resolve('') }),
        {
          code: 'ERR_IO',
          message: new RegExp(`cannot listen on -http-address .*:${port}: EADDRINUSE`),
        },
      );
    } finally {
      await s.close();
    }
  });
});
