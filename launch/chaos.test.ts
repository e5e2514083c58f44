/**
 * Chaos: `dopamine serve` on the simulator, as a lab runs it, while its reward server drops out
 * twice and its MQTT broker restarts once, and e-stops arrive over HTTP (random bodies), MQTT
 * (random payloads) and SIGINT. Every e-stop must latch within 200 ms of being sent, no action may
 * reach the arm while latched, the run must resume by itself after each outage, and the process
 * must exit 0. Bounded: about a minute on two cores.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../cli/testing.js';
import { seededRandom } from '../common/random.js';
import { MOSQUITTO, Mosquitto } from '../dashboard/mosquitto.js';
import { openViewer, waitFor } from '../dashboard/testing.js';
import type { RunEvent } from '../robot/events.js';
import { FlakyServer } from './flaky-server.js';

const LATCH_LIMIT_MS = 200;
const bin = join(repoRoot, 'bin', 'dopamine.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A chat-completions GRM stand-in that answers every request with the same hop. */
function grmServer(): FlakyServer {
  return new FlakyServer((request, response) => {
    request.resume();
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: '<score>2</score>' } }] }));
    });
  });
}

function randomBody(next: () => number): { body?: Uint8Array<ArrayBuffer> | string; contentType?: string } {
  const types = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', undefined];
  const contentType = types[Math.floor(next() * types.length)];
  const kind = Math.floor(next() * 4);
  if (kind === 0) return contentType ? { contentType } : {};
  if (kind === 1) {
    const bytes = new Uint8Array(new ArrayBuffer(Math.floor(next() * 300))).map(() => Math.floor(next() * 256));
    return { body: bytes, ...(contentType ? { contentType } : {}) };
  }
  const reason = 'x'.repeat(Math.floor(next() * 400));
  const extra = kind === 3 ? { by: 'chaos', n: next() } : {};
  return { body: JSON.stringify({ reason, ...extra }), contentType: contentType ?? 'application/json' };
}

interface Status {
  state: string;
  estopped: boolean;
  safety: { holds: string[]; counts: { forwarded: number } };
}

const haveBroker = MOSQUITTO !== undefined;
if (!haveBroker) console.warn('SKIPPED chaos test: mosquitto is missing (.ci/run installs it with apt-get)');

describe.skipIf(!haveBroker)('chaos: serve on the simulator through reward and broker outages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dopamine-chaos-'));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('every e-stop latches within 200 ms, nothing moves while latched, the run resumes after each outage, exit 0', async () => {
    const next = seededRandom(29);
    const grm = grmServer();
    await grm.up();
    cleanups.push(() => grm.down());
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());

    const config = join(dir, 'chaos.yaml');
    writeFileSync(
      config,
      [
        'robot: {episodeSeconds: 10}',
        `reward: {backend: openai, openai: {url: "http://127.0.0.1:${grm.port}/v1", retries: 0, timeoutMs: 1000}}`,
        'safety: {rewardTimeoutMs: 1500}',
        `mqtt: {enabled: true, url: "${broker.url}", topicPrefix: chaos}`,
        `policy: {runDir: ${JSON.stringify(join(dir, 'run'))}, demos: 0}`,
        'dashboard: {port: 0}',
      ].join('\n'),
    );
    const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [bin, 'serve', '--config', config], { cwd: repoRoot, env: { ...process.env, DOPAMINE_LOG: 'info' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const failure = (what: string) => `${what}\n--- serve stderr (tail) ---\n${stderr.slice(-3000)}`;

    const urlLine = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)#token=(\S+)/;
    await waitFor(() => urlLine.test(stdout) || child.exitCode !== null, 'the dashboard URL', 60_000);
    if (child.exitCode !== null) throw new Error(failure('serve exited early'));
    const [, url, token] = urlLine.exec(stdout)!;
    const headers = { authorization: `Bearer ${token}` };
    const status = async (): Promise<Status> => (await (await fetch(`${url}api/status`, { headers })).json()) as Status;

    // Every event the operator sees, with the server's timestamps.
    const events: RunEvent[] = [];
    const viewer = openViewer(url!, token!);
    viewer.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { type: string; event?: RunEvent; events?: RunEvent[] };
      if (message.type === 'event') events.push(message.event!);
      if (message.type === 'hello') events.push(...message.events!);
    });
    cleanups.push(() => viewer.terminate());

    // An MQTT client of the lab: watches the run's state, sends remote e-stops.
    const lab = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 200 });
    cleanups.push(() => lab.endAsync(true));
    const onlineStates: number[] = [];
    lab.on('message', (topic, payload) => {
      if (topic === 'chaos/state' && (JSON.parse(payload.toString()) as { online: boolean }).online) onlineStates.push(Date.now());
    });
    await new Promise<void>((resolve) => lab.once('connect', () => resolve()));
    await lab.subscribeAsync('chaos/state', { qos: 1 });

    const runs = async (what: string, timeoutMs = 20_000): Promise<void> => {
      const from = (await status()).safety.counts.forwarded;
      await waitFor(async () => {
        const now = await status();
        return !now.estopped && now.safety.holds.length === 0 && now.safety.counts.forwarded > from + 3;
      }, failure(what), timeoutMs);
    };
    await runs('the run to start on the simulator', 60_000);

    const latencies: Array<{ source: string; ms: number }> = [];
    /** Sends one e-stop; it must latch within the limit, hold the arm still, and release on reset. */
    const estop = async (source: string, send: () => Promise<unknown> | void): Promise<void> => {
      const seen = events.length;
      const sentAt = Date.now();
      await send();
      await waitFor(() => events.slice(seen).some((e) => e.kind === 'estop'), failure(`the ${source} e-stop event`), 5000);
      const latched = events.slice(seen).find((e) => e.kind === 'estop')!;
      latencies.push({ source, ms: latched.time - sentAt });
      const first = await status();
      expect(first.estopped).toBe(true);
      await sleep(300);
      const later = await status();
      expect(later.estopped).toBe(true);
      expect(later.safety.counts.forwarded).toBe(first.safety.counts.forwarded);
      const reset = await fetch(`${url}api/reset`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
      expect(reset.status).toBe(200);
      await runs(`the run to go on after the ${source} e-stop`);
    };
    const httpEstop = () =>
      estop('http', async () => {
        const { body, contentType } = randomBody(next);
        const response = await fetch(`${url}api/estop`, { method: 'POST', headers: { ...headers, ...(contentType ? { 'content-type': contentType } : {}) }, ...(body === undefined ? {} : { body }) });
        expect(response.status).toBe(200);
      });
    const mqttEstop = () =>
      estop('mqtt', () => {
        const payloads = [Buffer.alloc(0), Buffer.from('STOP'), Buffer.from(JSON.stringify({ reason: 'chaos' })), Buffer.from(Array.from({ length: 64 }, () => Math.floor(next() * 256)))];
        lab.publish('chaos/estop', payloads[Math.floor(next() * payloads.length)]!, { qos: 1 });
      });
    /** The reward server goes away: the arm holds, nothing moves; it comes back: the run goes on by itself. */
    const rewardOutage = async (which: number): Promise<void> => {
      await grm.down();
      await waitFor(async () => (await status()).safety.holds.includes('reward-timeout'), failure(`the reward-timeout hold (outage ${which})`), 10_000);
      const held = (await status()).safety.counts.forwarded;
      await sleep(500);
      expect((await status()).safety.counts.forwarded).toBe(held);
      await grm.up();
      await runs(`the run to resume by itself after reward outage ${which}`, 10_000);
    };

    await httpEstop();
    await httpEstop();
    await rewardOutage(1);
    await mqttEstop();

    // The broker restarts: the run goes on meanwhile, and the remote e-stop works again after.
    const restartedFrom = Date.now();
    await broker.pause();
    await runs('the run to go on without the broker');
    await broker.resume();
    await waitFor(() => onlineStates.some((t) => t > restartedFrom), failure('the run to reconnect to the restarted broker'), 15_000);
    await mqttEstop();

    await rewardOutage(2);
    await httpEstop();
    // An e-stop during an outage latches too.
    await grm.down();
    await waitFor(async () => (await status()).safety.holds.includes('reward-timeout'), failure('the third hold'), 10_000);
    try {
      await estop('http during an outage', async () => {
        await fetch(`${url}api/estop`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'stop' });
        await grm.up(); // so that the reset below finds the model back
      });
    } finally {
      await grm.up();
    }

    // SIGINT: the shutdown e-stops the arm first, then the process exits 0.
    const signalledAt = Date.now();
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const line = /^(\S+) warn +\[[^\]]*\] E-STOP from shutdown: received SIGINT$/m.exec(stderr);
    expect(line, failure('the shutdown e-stop line')).not.toBeNull();
    latencies.push({ source: 'sigint', ms: Date.parse(line![1]!) - signalledAt });

    console.info(`chaos: e-stop latch times (ms from sending): ${latencies.map((l) => `${l.source} ${l.ms}`).join(', ')}`);
    for (const { source, ms } of latencies) expect(ms, `${source} e-stop latched after ${ms} ms`).toBeLessThan(LATCH_LIMIT_MS);
    expect(latencies.map((l) => l.source).sort()).toEqual(['http', 'http', 'http', 'http during an outage', 'mqtt', 'mqtt', 'sigint']);
  }, 150_000);
});
