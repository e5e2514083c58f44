/**
 * The dashboard's token and e-stop paths in detail: what a refused request gets back, headers
 * that only look like a bearer token, the control answers, the e-stop's reason bookkeeping over
 * HTTP, and why the websocket closes. server.test.ts covers the same routes end to end; these
 * pin down what it leaves loose. Written against the mutants StrykerJS left alive.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { systemClock } from '../common/clock.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { RunLoop } from '../launch/run-loop.js';
import { DistanceProgressStandIn, ScriptedReachStandIn } from '../launch/stand-ins.js';
import { EventStream } from '../robot/events.js';
import { SafeRobot } from '../robot/safety.js';
import { KinematicTestRobot } from '../robot/testing.js';
import { startDashboard, type Dashboard } from './server.js';
import { openViewer, waitFor } from './testing.js';

let loop: RunLoop;
let events: EventStream;
const logged: string[] = [];
let dashboard: Dashboard;
let base: string;

beforeAll(async () => {
  const config = configSchema.parse({});
  events = new EventStream(systemClock);
  const quiet = createLogger('test', 'silent');
  const log = { ...quiet, warn: (m: string) => logged.push(`warn ${m}`), child: () => log };
  const robot = new SafeRobot(new KinematicTestRobot(), config.safety, { clock: systemClock, events, log });
  loop = new RunLoop({
    robot, events, log, clock: systemClock, episodeSteps: 100, successJudge: 'operator', successDelta: 0.05,
    actions: new ScriptedReachStandIn([0.5, 0, 0.2], 0.01),
    progress: new DistanceProgressStandIn([0.5, 0, 0.2], 0.99),
  });
  dashboard = await startDashboard({ loop, events, log, cameras: [], host: '127.0.0.1', port: 0, authTimeoutMs: 300 });
  base = dashboard.url.replace(/\/$/, '');
});
afterAll(async () => {
  await dashboard?.close();
  await loop?.close();
});

const bearer = (): Record<string, string> => ({ authorization: `Bearer ${dashboard.token}` });
const post = (route: string, body: string | undefined, headers: Record<string, string>): Promise<Response> =>
  fetch(`${base}/api/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body }) });

describe('dashboard: a refused request', () => {
  it('gets 401 with a bearer challenge and one line saying what is missing, on the API and on /metrics', async () => {
    for (const response of [await post('start', '{}', {}), await fetch(`${base}/api/status`), await fetch(`${base}/metrics`)]) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await response.json()).toEqual({ error: 'missing or wrong token (Authorization: Bearer <token>)' });
    }
    expect((await fetch(`${base}/metrics`, { headers: bearer() })).status).toBe(200);
  });

  it('is any header that is not "Bearer " and the token: another scheme of the same length, another case, a shorter or longer token', async () => {
    const token = dashboard.token;
    for (const authorization of [`Basic: ${token}`, `bearer ${token}`, `Bearer ${token.slice(1)}`, `Bearer ${token}x`, 'Bearer ', `Bearer  ${token}`]) {
      expect((await fetch(`${base}/api/status`, { headers: { authorization } })).status, authorization).toBe(401);
      expect((await fetch(`${base}/metrics`, { headers: { authorization } })).status, authorization).toBe(401);
    }
    expect(loop.estopped).toBe(false);
  });
});

describe('dashboard: control answers and the e-stop over HTTP', () => {
  it('answers ok: false for a control that changed nothing (a reset without an e-stop)', async () => {
    const response = await post('reset', '{}', bearer());
    expect(await response.json()).toMatchObject({ ok: false, estopped: false });
  });

  it('records who latched and who released, and a second e-stop as already latched', async () => {
    const first = await post('estop', JSON.stringify({ reason: 'first' }), bearer());
    expect(await first.json()).toMatchObject({ ok: true, estopped: true, reason: 'first (dashboard)' });
    await post('estop', JSON.stringify({ reason: 'second' }), bearer());
    const reset = await post('reset', '{}', bearer());
    expect(await reset.json()).toMatchObject({ ok: true, estopped: false });
    const mine = events.recent().filter((e) => e.kind === 'estop' || e.kind === 'estop-reset');
    expect(mine.map((e) => [e.kind, e.detail, e.source])).toEqual([
      ['estop', 'e-stop over HTTP', 'dashboard'],
      ['estop', 'reason: first', 'dashboard'],
      ['estop', 'e-stop over HTTP (already latched)', 'dashboard'],
      ['estop', 'second (already latched)', 'dashboard'],
      ['estop-reset', 'e-stop released by the operator', 'dashboard'],
    ]);
  });

  it('says in a note that a body too large was not read, and stays latched', async () => {
    const response = await post('estop', JSON.stringify({ reason: 'x'.repeat(100_000) }), bearer());
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { ok: boolean; estopped: boolean; note?: string };
    expect(answer).toMatchObject({ ok: true, estopped: true });
    expect(answer.note).toMatch(/^body not read: .+/);
    expect(logged.some((line) => /^warn dashboard: e-stop body not read \(.+\); the e-stop is latched$/.test(line))).toBe(true);
    await post('reset', '{}', bearer());
  });

  it('answers 500, never ok, when the e-stop itself fails before it latched', async () => {
    const estop = loop.estop.bind(loop);
    loop.estop = () => {
      throw new Error('the safety layer is gone');
    };
    try {
      const response = await post('estop', '{}', bearer());
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'internal error' });
    } finally {
      loop.estop = estop;
    }
    expect(loop.estopped).toBe(false);
  });
});

describe('dashboard: plain HTTP off the loopback address', () => {
  it('warns the operator from the dashboard source, and only then', async () => {
    expect(events.recent().filter((e) => e.kind === 'fault')).toEqual([]); // ours is on 127.0.0.1
    const open = await startDashboard({ loop, events, log: createLogger('test', 'silent'), cameras: [], host: '0.0.0.0', port: 0, insecure: true });
    try {
      const faults = events.recent().filter((e) => e.kind === 'fault');
      expect(faults.map((e) => [e.detail, e.source])).toEqual([
        ['dashboard: plain HTTP on 0.0.0.0 (dashboard.insecure): the control token crosses the network in clear text; configure dashboard.tls', 'dashboard'],
      ]);
    } finally {
      await open.close();
    }
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe('dashboard: the bind address, checked by the dashboard itself', () => {
  it('refuses plain HTTP off the loopback address unless told it is on purpose', async () => {
    await expect(startDashboard({ loop, events, log: createLogger('test', 'silent'), cameras: [], host: '0.0.0.0', port: 0 })).rejects.toThrow(/^dashboard\.host: expected a loopback address/);
  });

  it.skipIf(!hasOpenssl)('serves TLS off the loopback address without a warning, and takes only its own https origin on the websocket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-auth-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const faultsBefore = events.recent().filter((e) => e.kind === 'fault').length;
    const secure = await startDashboard({ loop, events, log: createLogger('test', 'silent'), cameras: [], host: '0.0.0.0', port: 0, tls: { cert, key } });
    try {
      expect(events.recent().filter((e) => e.kind === 'fault')).toHaveLength(faultsBefore);
      const url = `https://127.0.0.1:${secure.port}/`;
      const own = openViewer(url, secure.token, { origin: `https://127.0.0.1:${secure.port}` });
      expect(await new Promise<string>((resolve) => own.once('message', (data: Buffer) => resolve((JSON.parse(data.toString()) as { type: string }).type)))).toBe('hello');
      own.close();
      const plain = openViewer(url, secure.token, { origin: `http://127.0.0.1:${secure.port}` });
      plain.on('error', () => undefined);
      expect(await new Promise<number>((resolve) => plain.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)))).toBe(403);
      plain.terminate();
    } finally {
      await secure.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboard websocket: why it closes', () => {
  const closed = (socket: WebSocket): Promise<{ code: number; reason: string }> =>
    new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));

  it('names a wrong token and a missing auth message', async () => {
    const wrong = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    wrong.once('open', () => wrong.send(JSON.stringify({ type: 'auth', token: 'wrong' })));
    expect(await closed(wrong)).toEqual({ code: 4401, reason: 'missing or wrong token' });
    const silent = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    expect(await closed(silent)).toEqual({ code: 4401, reason: 'no auth message' });
  });

  it('names the origin it refused', async () => {
    const foreign = openViewer(base, dashboard.token, { origin: 'http://evil.example' });
    foreign.on('error', () => undefined);
    const body = await new Promise<string>((resolve) =>
      foreign.on('unexpected-response', (_request, response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve(text));
      }),
    );
    expect(JSON.parse(body)).toEqual({ error: "websocket from origin http://evil.example refused: not the dashboard's own" });
    foreign.terminate();
  });

  it('refuses a websocket with an Origin but no Host (an HTTP/1.0 upgrade): it cannot be from our page', async () => {
    const { hostname, port } = new URL(base);
    for (const origin of ['http://', 'http://undefined']) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), hostname);
        let text = '';
        socket.on('error', reject);
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
        socket.write(
          'GET /ws HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nOrigin: ${origin}\r\n\r\n`,
        );
      });
      expect(answer.split('\r\n')[0], origin).toMatch(/^HTTP\/1\.[01] 403 /);
      expect(answer).toContain(`websocket from origin ${origin} refused`);
    }
  });

  it('forgets a viewer whose connection fails (a frame the protocol forbids) and keeps serving', async () => {
    const viewer = openViewer(base, dashboard.token);
    await new Promise((resolve) => viewer.once('message', resolve)); // hello: authenticated
    expect(dashboard.stats().clients).toBe(1);
    const closedWith = new Promise<number>((resolve) => viewer.on('close', (code) => resolve(code)));
    viewer.on('error', () => undefined);
    // A client frame without a mask: the server's socket fails with an error (RFC 6455 5.1).
    (viewer as unknown as { _socket: Socket })._socket.write(Buffer.from([0x81, 0x01, 0x41]));
    expect(await closedWith).toBe(1002);
    await waitFor(() => dashboard.stats().clients === 0, 'the viewer to be forgotten', 5000);
    const next = openViewer(base, dashboard.token);
    await new Promise((resolve) => next.once('message', resolve));
    expect(dashboard.stats().clients).toBe(1);
    next.close();
    await waitFor(() => dashboard.stats().clients === 0, 'the second viewer to be forgotten', 5000);
  });

  it('forgets a viewer that leaves', async () => {
    const viewer = openViewer(base, dashboard.token);
    await new Promise((resolve) => viewer.once('message', resolve)); // hello: authenticated
    expect(dashboard.stats().clients).toBe(1);
    viewer.close();
    await waitFor(() => dashboard.stats().clients === 0, 'the viewer to be forgotten', 5000);
  });

  it('tells an authenticated viewer that a message is not a JSON object', async () => {
    const viewer = openViewer(base, dashboard.token);
    const messages: { type: string; error?: string }[] = [];
    viewer.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as { type: string; error?: string }));
    await waitFor(() => messages.length > 0, 'hello');
    for (const text of ['5', 'null', '"teleop"']) viewer.send(text);
    await waitFor(() => messages.filter((m) => m.type === 'error').length === 3, 'three errors');
    expect(messages.filter((m) => m.type === 'error').map((m) => m.error)).toEqual(new Array(3).fill('expected a message {"type": "teleop", "action": {...}}, got no JSON object'));
    viewer.close();
  });
});
