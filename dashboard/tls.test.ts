import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/testing.js';
import { isLoopbackHost } from '../common/net.js';
import { openViewer, startTestServing } from './testing.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.warn('SKIPPED dashboard TLS tests: the openssl command is missing (.ci/run installs it with apt-get)');

const dir = mkdtempSync(join(tmpdir(), 'dopamine-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function get(url: string, options: { token?: string; ca?: string }): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'GET', ...(options.ca ? { ca: options.ca } : {}), headers: options.token ? { authorization: `Bearer ${options.token}` } : {} },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!hasOpenssl)('dashboard over TLS', () => {
  let pem = '';
  beforeAll(() => {
    // A self-signed certificate for the loopback address, made fresh for this run.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    pem = execFileSync('cat', [cert], { encoding: 'utf8' });
  });

  it('serves HTTPS from dashboard.tls: routes and websocket work, plain HTTP gets nothing', async () => {
    const serving = await startTestServing({ dashboard: { tls: { cert, key } } });
    try {
      const { url, token } = serving.dashboard;
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
      const status = await get(`${url}api/status`, { token, ca: pem });
      expect(status.status).toBe(200);
      expect(JSON.parse(status.body)).toMatchObject({ estopped: false });
      // The same port does not answer plain HTTP with a page or the status.
      const plain = await get(`${url.replace('https:', 'http:')}api/status`, { token }).catch((error: Error) => ({ status: 0, body: error.message }));
      expect(plain.status).not.toBe(200);
      const viewer = openViewer(url, token);
      const first = await new Promise<string>((resolve, reject) => {
        viewer.once('message', (data) => resolve((JSON.parse(data.toString()) as { type: string }).type));
        viewer.once('error', reject);
      });
      expect(first).toBe('hello');
      viewer.close();
    } finally {
      await serving.shutdown('test done');
    }
  });

  it('refuses a certificate file it cannot read, or one TLS cannot use, naming the key', async () => {
    await expect(startTestServing({ dashboard: { tls: { cert: join(dir, 'missing.pem'), key } } })).rejects.toThrow(/^dashboard\.tls\.cert: expected a readable PEM file, got ".*missing\.pem" \(ENOENT\)$/);
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    await expect(startTestServing({ dashboard: { tls: { cert: garbage, key } } })).rejects.toThrow(/^dashboard\.tls: expected a PEM certificate and its private key/);
  });
});

describe('dashboard bind address', () => {
  it('refuses a non-loopback address without TLS, naming dashboard.host and the way out', async () => {
    await expect(startTestServing({ dashboard: { host: '0.0.0.0' } })).rejects.toThrow(
      /^dashboard\.host: expected a loopback address \(127\.0\.0\.1, ::1, localhost\) without TLS, got "0\.0\.0\.0": set dashboard\.tls\.cert and dashboard\.tls\.key/,
    );
  });

  it('the CLI refuses it in one line, exit 2', () => {
    const config = join(dir, 'open.yaml');
    writeFileSync(config, 'dashboard: {host: 0.0.0.0, port: 0}\n');
    const run = runCli(['serve', '--config', config], { timeoutMs: 60_000 });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: dashboard\.host: expected a loopback address/)]);
  });

  it('dashboard.insecure allows it, with a warning on the dashboard at start', async () => {
    const serving = await startTestServing({ dashboard: { host: '0.0.0.0', insecure: true } });
    try {
      expect(serving.events.recent().some((e) => /plain HTTP on 0\.0\.0\.0 .*clear text/.test(e.detail))).toBe(true);
      const status = await get(`http://127.0.0.1:${serving.dashboard.port}/api/status`, { token: serving.dashboard.token });
      expect(status.status).toBe(200);
    } finally {
      await serving.shutdown('test done');
    }
  });

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.20', false],
    ['lab-pc.local', false],
    ['128.0.0.1', false],
  ])('%s is loopback: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
