import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import WebSocket from 'ws';
import { systemClock } from '../common/clock.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { EventStream } from '../robot/events.js';
import { RunLoop } from '../launch/run-loop.js';
import { DistanceProgressStandIn, ScriptedReachStandIn } from '../launch/stand-ins.js';
import { SafeRobot } from '../robot/safety.js';
import { KinematicTestRobot } from '../robot/testing.js';
import type { CameraFrame, CameraRole, FrameSource } from '../robot/types.js';
import { RecordingError, type RecordedFrameSource } from './recorded-frames.js';
import { estopReason, startDashboard, type Dashboard } from './server.js';
import { openViewer, startTestServing, waitFor, type TestServing } from './testing.js';

let serving: TestServing;
let base: string;
let token: string;

beforeAll(async () => {
  serving = await startTestServing({ robot: { controlHz: 50 } });
  base = serving.dashboard.url.replace(/\/$/, '');
  token = serving.dashboard.token;
});
afterAll(async () => {
  await serving.shutdown('tests done');
});

function post(route: string, body: string | undefined, headers: Record<string, string> = {}) {
  return fetch(`${base}/api/${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}
const auth = () => ({ authorization: `Bearer ${token}` });

/** Raw GET with the path exactly as written (fetch would normalise `..`). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard control routes', () => {
  const routes = ['start', 'pause', 'resume', 'stop', 'estop', 'reset', 'mark', 'intervention'];

  it.each(routes)('POST /api/%s refuses a request without the token or with a wrong one (401)', async (route) => {
    const body = route === 'mark' ? '{"outcome":"success"}' : route === 'intervention' ? '{"active":true}' : '{}';
    expect((await post(route, body)).status).toBe(401);
    expect((await post(route, body, { authorization: `Bearer ${'x'.repeat(token.length)}` })).status).toBe(401);
    expect((await post(route, body, { authorization: token })).status).toBe(401);
    expect(serving.loop.snapshot().estopped).toBe(false);
    expect(serving.loop.snapshot().intervention).toBe(false);
    expect(serving.loop.runState).toBe('idle');
  });

  it.each(['/%61pi/estop', '/api/%65stop', '/api//estop', '/API/estop', '/api/estop/', '/api/estop?x=1'])(
    'a percent-encoded or odd path (%s) cannot reach a control route without the token',
    async (path) => {
      const url = new URL(base);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end('{}');
      });
      expect([401, 404]).toContain(status);
      expect(serving.loop.snapshot().estopped).toBe(false);
      expect(serving.testRobot.stopCalls).toHaveLength(0);
    },
  );

  it('GET /api/episodes/:n needs the token, refuses a malformed index (400) and answers 404 for an episode not logged', async () => {
    expect((await fetch(`${base}/api/episodes/1`)).status).toBe(401);
    expect((await fetch(`${base}/api/episodes/0`, { headers: auth() })).status).toBe(400);
    expect((await fetch(`${base}/api/episodes/..%2f1`, { headers: auth() })).status).toBe(400);
    const missing = await fetch(`${base}/api/episodes/1`, { headers: auth() });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/^episode 1: expected an episode this run folder logged/);
  });

  it('GET /api/status needs the token too', async () => {
    expect((await fetch(`${base}/api/status`)).status).toBe(401);
    const ok = await fetch(`${base}/api/status`, { headers: auth() });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { sources: { robot: string } }).sources.robot).toMatch(/test robot/);
  });

  it.each([
    ['reset', '{"now": true}'],
    ['start', '"go"'],
    ['mark', '{}'],
    ['mark', '{"outcome": "maybe"}'],
    ['mark', '{"outcome": "success", "by": "me"}'],
  ])('POST /api/%s with body %s is refused as malformed (400)', async (route, body) => {
    const response = await post(route, body, auth());
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error.length).toBeGreaterThan(0);
    expect(serving.loop.snapshot().estopped).toBe(false);
  });

  it('refuses a body that is not JSON (400) and an oversized one (413) on a route other than the e-stop', async () => {
    const plain = await fetch(`${base}/api/mark`, { method: 'POST', headers: { ...auth(), 'content-type': 'text/plain' }, body: 'success' });
    expect(plain.status).toBe(400);
    const huge = await post('mark', JSON.stringify({ outcome: 'x'.repeat(100_000) }), auth());
    expect(huge.status).toBe(413);
    expect(serving.loop.snapshot().estopped).toBe(false);
  });

  it('runs the controls with the token: start, pause, resume, mark, e-stop, reset, stop', async () => {
    expect((await post('start', '{}', auth())).status).toBe(200);
    expect(serving.loop.runState).toBe('running');
    await waitFor(() => (serving.loop.snapshot().episode?.steps ?? 0) > 2, 'steps');
    expect((await post('pause', '{}', auth())).status).toBe(200);
    expect(serving.loop.runState).toBe('paused');
    expect((await post('resume', '{}', auth())).status).toBe(200);
    const marked = await post('mark', '{"outcome":"success"}', auth());
    expect(await marked.json()).toMatchObject({ ok: true });
    expect(serving.loop.snapshot().episodes.at(-1)).toMatchObject({ outcome: 'success', judgedBy: 'operator' });

    const stopped = await post('estop', '{"reason":"route test"}', auth());
    expect(await stopped.json()).toMatchObject({ ok: true, estopped: true });
    expect(serving.testRobot.isStopped).toBe(true);
    expect(serving.loop.snapshot().safety.estopReason).toMatch(/route test/);
    const reset = await post('reset', '{}', auth());
    expect(await reset.json()).toMatchObject({ ok: true, estopped: false });
    expect((await post('stop', '{}', auth())).status).toBe(200);
    expect(serving.loop.runState).toBe('stopped');
  });
});

describe('dashboard e-stop route', () => {
  // A run of its own: every case here latches the e-stop.
  let stopServing: TestServing;
  let stopBase: string;
  beforeAll(async () => {
    stopServing = await startTestServing({ robot: { controlHz: 50 } }, { autoStart: true });
    stopBase = stopServing.dashboard.url.replace(/\/$/, '');
  });
  afterAll(async () => {
    await stopServing.shutdown('tests done');
  });
  const withToken = (headers: Record<string, string> = {}) => ({ authorization: `Bearer ${stopServing.dashboard.token}`, ...headers });

  // Every body an operator's tool might send, well-formed or not: only the token decides.
  it.each([
    ['no body', undefined, {}, /^operator pressed e-stop \(dashboard\)$/],
    ['an empty JSON body', '', { 'content-type': 'application/json' }, /^operator pressed e-stop \(dashboard\)$/],
    ['a text body', 'stop now', { 'content-type': 'text/plain' }, /reason not readable: a 8-byte text\/plain body that is not JSON/],
    ['a form body', 'reason=stop', { 'content-type': 'application/x-www-form-urlencoded' }, /reason not readable: .*application\/x-www-form-urlencoded/],
    ['malformed JSON', '{"reason": ', { 'content-type': 'application/json' }, /reason not readable: .*not JSON/],
    ['a JSON list', '[1, 2]', { 'content-type': 'application/json' }, /reason not readable: expected a JSON object/],
    ['a reason that is a number', '{"reason": 5}', { 'content-type': 'application/json' }, /reason not readable: reason is number/],
    ['a reason over 200 characters', JSON.stringify({ reason: 'r'.repeat(250) }), { 'content-type': 'application/json' }, /^r{200}… \(reason cut at 200 characters\) \(dashboard\)$/],
    ['an extra field', '{"reason": "gripper jam", "by": "ana"}', { 'content-type': 'application/json' }, /^gripper jam \(ignored fields: by\) \(dashboard\)$/],
    ['a body over the size limit', JSON.stringify({ reason: 'x'.repeat(100_000) }), { 'content-type': 'application/json' }, /^e-stop over HTTP \(dashboard\)$/],
    ['an unknown content type', 'AAAA', { 'content-type': 'application/octet-stream' }, /reason not readable/],
  ])('latches on an authenticated request with %s', async (_what, body, headers, reason) => {
    const stopsBefore = stopServing.testRobot.stopCalls.length;
    await waitFor(() => stopServing.loop.snapshot().safety.counts.forwarded > 0 && !stopServing.loop.estopped, 'a running arm');
    const response = await fetch(`${stopBase}/api/estop`, { method: 'POST', headers: withToken(headers), ...(body === undefined ? {} : { body }) });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, estopped: true });
    expect(stopServing.loop.estopped).toBe(true);
    expect(stopServing.testRobot.stopCalls.length).toBe(stopsBefore + 1);
    expect(stopServing.loop.snapshot().safety.estopReason).toMatch(reason);
    // Nothing reaches the arm while latched.
    const forwarded = stopServing.loop.snapshot().safety.counts.forwarded;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopServing.loop.snapshot().safety.counts.forwarded).toBe(forwarded);
    expect((await fetch(`${stopBase}/api/reset`, { method: 'POST', headers: withToken({ 'content-type': 'application/json' }), body: '{}' })).status).toBe(200);
  });

  it('a second e-stop keeps the first reason and is recorded as already latched', async () => {
    const send = (reason: string) => fetch(`${stopBase}/api/estop`, { method: 'POST', headers: withToken({ 'content-type': 'application/json' }), body: JSON.stringify({ reason }) });
    await send('first');
    await send('second');
    expect(stopServing.loop.snapshot().safety.estopReason).toBe('first (dashboard)');
    expect(stopServing.events.recent().some((e) => e.kind === 'estop' && e.detail === 'second (already latched)')).toBe(true);
    await fetch(`${stopBase}/api/reset`, { method: 'POST', headers: withToken({ 'content-type': 'application/json' }), body: '{}' });
  });

  it('still refuses a wrong token, whatever the body', async () => {
    for (const body of [undefined, 'stop', '{}']) {
      const response = await fetch(`${stopBase}/api/estop`, { method: 'POST', headers: { authorization: 'Bearer wrong', 'content-type': 'text/plain' }, ...(body === undefined ? {} : { body }) });
      expect(response.status).toBe(401);
    }
    expect(stopServing.loop.estopped).toBe(false);
  });
});

describe('e-stop reasons', () => {
  it('strips control characters, so a reason cannot forge log lines', () => {
    expect(estopReason(Buffer.from(JSON.stringify({ reason: 'a\nERROR fake\r' })), 'application/json')).toBe('a ERROR fake');
  });
});

describe('dashboard static files', () => {
  it('serves the page, the client and the chart library from the package', async () => {
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('/vendor/uPlot.iife.min.js');
    const chart = await fetch(`${base}/vendor/uPlot.iife.min.js`);
    expect(chart.status).toBe(200);
    expect(await chart.text()).toMatch(/uPlot/);
    expect((await fetch(`${base}/app.js`)).status).toBe(200);
  });

  it("serves the page's icon (browsers ask for one with every page)", async () => {
    const page = await (await fetch(`${base}/`)).text();
    const href = /<link rel="icon" href="([^"]+)"/.exec(page)?.[1];
    expect(href).toBe('/favicon.svg');
    const icon = await fetch(`${base}${href}`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  it.each([
    '/../package.json',
    '/%2e%2e/package.json',
    '/vendor/../../package.json',
    '/vendor/%2e%2e%2f%2e%2e%2fpackage.json',
    '/app.js/../../../etc/passwd',
    '/dashboard/server.ts',
    '/public/app.js',
    '//etc/passwd',
  ])('does not serve %s', async (path) => {
    const response = await rawGet(path);
    expect(response.status).toBe(404);
    expect(response.body).not.toContain('"dependencies"');
    expect(response.body).not.toContain('root:');
  });
});

describe('dashboard websocket', () => {
  const closeCode = (socket: WebSocket) => new Promise<number>((resolve) => socket.on('close', (c) => resolve(c)));

  it.each([
    ['a wrong token', JSON.stringify({ type: 'auth', token: 'wrong' })],
    ['a token that is not text', JSON.stringify({ type: 'auth', token: ['x'] })],
    ['another message type', JSON.stringify({ type: 'hello', token: 'x' })],
    ['a message that is not JSON', 'token'],
  ])('closes a connection whose first message is %s (4401), and sends it nothing', async (_what, first) => {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    let messages = 0;
    socket.on('message', () => messages++);
    socket.once('open', () => socket.send(first));
    expect(await closeCode(socket)).toBe(4401);
    expect(messages).toBe(0);
  });

  it('closes a connection whose first message is a teleop command (4401); no intervention starts', async () => {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'teleop', action: { translation: [0.1, 0, 0], yaw: 0, gripper: 'open' } })));
    expect(await closeCode(socket)).toBe(4401);
    expect(serving.loop.snapshot().intervention).toBe(false);
  });

  it('ignores a token in the URL: without an auth message the connection is closed (4401)', async () => {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws?token=${token}`);
    let messages = 0;
    socket.on('message', () => messages++);
    expect(await closeCode(socket)).toBe(4401);
    expect(messages).toBe(0);
  });

  it("refuses a browser's websocket from another origin (403), accepts the dashboard's own", async () => {
    const foreign = openViewer(base, token, { origin: 'http://evil.example' });
    foreign.on('error', () => undefined); // the refused handshake ends in an error on this side
    const status = await new Promise<number>((resolve) => foreign.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0)));
    expect(status).toBe(403);
    foreign.terminate();
    const own = openViewer(base, token, { origin: base });
    const hello = await new Promise<string>((resolve) => own.once('message', (data) => resolve(JSON.parse(data.toString()).type as string)));
    expect(hello).toBe('hello');
    own.close();
  });

  it('sends a snapshot, then camera frames (JPEG) and progress', async () => {
    serving.loop.start('test');
    const socket = openViewer(base, token);
    const types = new Map<string, number>();
    let jpegStart = '';
    let hello: { snapshot?: { sources: { progress: string } } } = {};
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; frame?: { jpeg: string }; update?: { type: string } };
      const key = message.type === 'update' ? `update:${message.update!.type}` : message.type;
      types.set(key, (types.get(key) ?? 0) + 1);
      if (message.type === 'hello') hello = message as typeof hello;
      if (message.frame) jpegStart = Buffer.from(message.frame.jpeg, 'base64').subarray(0, 3).toString('hex');
    });
    await waitFor(() => (types.get('frame') ?? 0) >= 3 && (types.get('update:progress') ?? 0) >= 3 && (types.get('status') ?? 0) >= 1, 'frames, progress and status');
    expect(jpegStart).toBe('ffd8ff');
    expect(hello.snapshot!.sources.progress).toMatch(/^stand-in progress/);
    socket.close();
    serving.loop.stop('test');
  });
});

/** A camera of random noise (JPEG cannot compress it), a new frame on every look. */
class NoiseCamera implements FrameSource {
  readonly role = 'front' as const;
  private readonly images = [0, 1].map(() => new Uint8Array(randomBytes(320 * 240 * 3)));
  private stamp = 0;

  constructor(readonly camera: string) {}

  latest(): CameraFrame {
    this.stamp++;
    return { role: this.role, camera: this.camera, width: 320, height: 240, rgb: this.images[this.stamp % 2]!, stampMs: this.stamp };
  }
}

describe('operator interventions over the dashboard', () => {
  it("take over with the token, teleop on the websocket moves the arm, a bad command gets one error line, hand back", async () => {
    const viewer = openViewer(base, token);
    const messages: { type: string; error?: string; update?: { type: string; active?: boolean } }[] = [];
    viewer.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString('utf8')) as (typeof messages)[number]));
    await waitFor(() => messages.some((m) => m.type === 'hello'), 'the snapshot');
    // Outside an intervention a command changes nothing and says why.
    viewer.send(JSON.stringify({ type: 'teleop', action: { translation: [0, 0.5, 0], yaw: 0, gripper: 'open' } }));
    await waitFor(() => messages.some((m) => m.type === 'error'), 'an error line');
    expect(messages.find((m) => m.type === 'error')!.error).toMatch(/no intervention is active/);

    expect((await post('start', '{}', auth())).status).toBe(200);
    const taken = await post('intervention', '{"active":true}', auth());
    expect(await taken.json()).toMatchObject({ ok: true, changed: true, intervention: true });
    await waitFor(() => messages.some((m) => m.update?.type === 'intervention' && m.update.active === true), 'the intervention update');
    const before = serving.testRobot.received.length;
    // 0.5 m/s in +y at 50 Hz: 1 cm per step.
    const feed = setInterval(() => viewer.send(JSON.stringify({ type: 'teleop', action: { translation: [0, 0.5, 0], yaw: 0, gripper: 'closed' } })), 20);
    try {
      await waitFor(() => serving.testRobot.received.slice(before).filter((r) => Math.abs(r.action.dy - 0.01) < 1e-9 && r.action.gripper === 1).length >= 3, 'teleop actions at the arm');
    } finally {
      clearInterval(feed);
    }
    viewer.send(JSON.stringify({ type: 'teleop', action: { translation: [1, 2], yaw: 0, gripper: 'open' } }));
    await waitFor(() => messages.filter((m) => m.type === 'error').length === 2, 'a second error line');
    expect(messages.filter((m) => m.type === 'error')[1]!.error).toMatch(/^teleop action: translation: expected three finite numbers/);
    expect(viewer.readyState).toBe(WebSocket.OPEN);

    const back = await post('intervention', '{"active":false}', auth());
    expect(await back.json()).toMatchObject({ ok: true, changed: true, intervention: false });
    expect((await post('intervention', '{"active":"yes"}', auth())).status).toBe(400);
    expect((await post('stop', '{}', auth())).status).toBe(200);
    viewer.close();
  });
});

/** A run loop on the kinematic test robot with stand-in actions and progress, never started. */
function idleLoop(): { loop: RunLoop; events: EventStream; log: ReturnType<typeof createLogger> } {
  const config = configSchema.parse({});
  const events = new EventStream(systemClock);
  const log = createLogger('test', 'silent');
  const robot = new SafeRobot(new KinematicTestRobot(), config.safety, { clock: systemClock, events, log });
  const loop = new RunLoop({
    robot,
    actions: new ScriptedReachStandIn([0.5, 0, 0.2], 0.01),
    progress: new DistanceProgressStandIn([0.5, 0, 0.2], 0.99),
    events,
    clock: systemClock,
    log,
    episodeSteps: 100,
    successJudge: 'operator',
    successDelta: 0.05,
  });
  return { loop, events, log };
}

describe('dashboard backpressure', () => {
  let dashboard: Dashboard;
  let loop: RunLoop;

  afterAll(async () => {
    await dashboard?.close();
    await loop?.close();
  });

  it('drops a viewer that stops reading, and keeps serving one that reads', async () => {
    const idle = idleLoop();
    const { events, log } = idle;
    loop = idle.loop;
    const cameras = [new NoiseCamera('noise_a'), new NoiseCamera('noise_b'), new NoiseCamera('noise_c')];
    dashboard = await startDashboard({ loop, events, cameras, log, host: '127.0.0.1', port: 0, cameraFps: 30, frameSkipBytes: 64 * 1024, maxBufferedBytes: 8 * 1024 * 1024, stallMs: 500 });
    const reader = openViewer(dashboard.url, dashboard.token);
    let readerFrames = 0;
    reader.on('message', () => readerFrames++);
    const stalled = openViewer(dashboard.url, dashboard.token);
    await Promise.all([reader, stalled].map((s) => new Promise((resolve) => s.once('open', resolve))));
    stalled.pause(); // stops reading from its socket: the server's send buffer fills up
    let stalledClosed = false;
    stalled.on('close', () => (stalledClosed = true));

    await waitFor(() => dashboard.stats().clientsDropped === 1, 'the stalled viewer to be dropped', 30_000);
    expect(dashboard.stats().clients).toBe(1);
    const before = readerFrames;
    await waitFor(() => readerFrames > before + 5, 'frames to the reading viewer');
    stalled.resume();
    await waitFor(() => stalledClosed, 'the stalled viewer to see its connection closed');
    reader.close();
  });
});

describe('recorded camera frames of an episode', () => {
  let dashboard: Dashboard;
  let loop: RunLoop;
  let url: string;
  let jpeg: Buffer;
  const reads: string[] = [];
  const progress = [0, 0.2, 0.5, 0.8, 1];
  const info = { frames: 5, views: ['front', 'left_wrist'] as CameraRole[], fps: 10 };
  // Episode 3 is logged and recorded, 5 recorded only, 7 logged only, 14 recorded in a corrupt file.
  const replay = (episode: number) =>
    episode === 3 || episode === 7 || episode === 14
      ? { episode, outcome: 'success', steps: 4, progress, rewards: [0.2, 0.3, 0.3, 0.2], interventionSteps: [] }
      : null;
  const corrupt = 'episode 14: recording not readable (episode-000014.mcap: expected an MCAP file, got other bytes)';
  const recorded: RecordedFrameSource = {
    info: async (episode) => {
      reads.push(`info ${episode}`);
      if (episode === 14) throw new RecordingError(corrupt);
      return episode === 3 || episode === 5 ? info : null;
    },
    frameJpeg: async (episode, frame, view) => {
      reads.push(`frame ${episode} ${frame} ${view}`);
      return jpeg;
    },
  };
  const withToken = () => ({ authorization: `Bearer ${dashboard.token}` });
  const get = (path: string, headers: Record<string, string> = withToken()) => fetch(`${url}/api/${path}`, { headers });

  beforeAll(async () => {
    jpeg = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#336699' } }).jpeg().toBuffer();
    const idle = idleLoop();
    loop = idle.loop;
    const where = { cameras: [], host: '127.0.0.1', port: 0 };
    dashboard = await startDashboard({ ...idle, ...where, episodeReplay: replay, recordedFrames: recorded });
    url = dashboard.url.replace(/\/$/, '');
  });
  afterAll(async () => {
    await dashboard?.close();
    await loop?.close();
  });

  it('needs the token for a frame, like the replay, and reads nothing without it', async () => {
    reads.length = 0;
    const wrong: Record<string, string>[] = [{}, { authorization: 'Bearer wrong' }, { authorization: dashboard.token }];
    for (const headers of wrong) {
      expect((await get('episodes/3/frames/0?view=front', headers)).status).toBe(401);
      expect((await get('episodes/3', headers)).status).toBe(401);
    }
    expect(reads).toEqual([]);
  });

  it('serves a recorded frame of a view as image/jpeg', async () => {
    reads.length = 0;
    const response = await get('episodes/3/frames/4?view=left_wrist');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await response.arrayBuffer()).equals(jpeg)).toBe(true);
    expect(reads).toEqual(['info 3', 'frame 3 4 left_wrist']);
  });

  it.each([
    ['a frame that is not a number', 'episodes/3/frames/x?view=front'],
    ['a negative frame', 'episodes/3/frames/-1?view=front'],
    ['a frame with a leading zero', 'episodes/3/frames/01?view=front'],
    ['an unknown view', 'episodes/3/frames/0?view=top'],
    ['no view', 'episodes/3/frames/0'],
    ['an unknown query field', 'episodes/3/frames/0?view=front&size=big'],
    ['episode 0', 'episodes/0/frames/0?view=front'],
  ])('refuses %s (400)', async (_what, path) => {
    reads.length = 0;
    const response = await get(path);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error.length).toBeGreaterThan(0);
    expect(reads).toEqual([]);
  });

  it.each([
    ['an episode not recorded', 'episodes/9/frames/0?view=front', /^episode 9: expected an episode with a complete/],
    ['a frame past the end', 'episodes/3/frames/5?view=front', /^episode 3: expected a frame in 0\.\.4, got 5$/],
    ['a view without a camera', 'episodes/3/frames/0?view=right_wrist', /^episode 3: expected a recorded view \(/],
  ])('answers 404 for %s, naming what was expected', async (_what, path, error) => {
    const response = await get(path);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await response.json()) as { error: string }).error).toMatch(error);
  });

  it('answers a corrupt recording with its one-line error (500), and the server carries on', async () => {
    const response = await get('episodes/14/frames/0?view=front');
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ error: corrupt });
    expect((await get('episodes/3/frames/0?view=front')).status).toBe(200);
  });

  it("adds the recording to an episode's replay: frames, views and fps, or null", async () => {
    const both = await get('episodes/3');
    expect(both.status).toBe(200);
    expect(await both.json()).toMatchObject({ episode: 3, outcome: 'success', progress, recording: info });
    expect(await (await get('episodes/7')).json()).toMatchObject({ episode: 7, progress, recording: null });
    // Recorded but not logged: the frames without curves.
    expect(await (await get('episodes/5')).json()).toEqual({ episode: 5, recording: info });
    // A corrupt recording leaves the curves and says why there are no frames.
    const unreadable = await (await get('episodes/14')).json();
    expect(unreadable).toMatchObject({ episode: 14, progress, recording: null, recordingError: corrupt });
    const neither = await get('episodes/9');
    expect(neither.status).toBe(404);
    const error = ((await neither.json()) as { error: string }).error;
    expect(error).toMatch(/^episode 9: expected an episode this run folder logged .* or recorded$/);
  });

  it('answers 404 for a frame, and a null recording, where the dashboard has no recordings', async () => {
    const idle = idleLoop();
    const bare = await startDashboard({ ...idle, cameras: [], host: '127.0.0.1', port: 0, episodeReplay: replay });
    try {
      const headers = { authorization: `Bearer ${bare.token}` };
      const frame = await fetch(`${bare.url}api/episodes/3/frames/0?view=front`, { headers });
      expect(frame.status).toBe(404);
      const error = ((await frame.json()) as { error: string }).error;
      expect(error).toMatch(/^episode 3: expected an episode with a complete camera recording/);
      const replayed = await fetch(`${bare.url}api/episodes/3`, { headers });
      expect(await replayed.json()).toMatchObject({ episode: 3, recording: null });
    } finally {
      await bare.close();
      await idle.loop.close();
    }
  });
});
