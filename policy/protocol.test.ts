import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/log.js';
import type { ScoredEpisode } from './episode.js';
import type { LearnerSettings } from './learner.js';
import { LearnerServer, ProtocolClient, RemoteLearner } from './protocol.js';
import { toRecord } from './records.js';
import { Rng } from './rng.js';

const dir = mkdtempSync(join(tmpdir(), 'protocol-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger('test', 'silent');

const settings: LearnerSettings = {
  observationSize: 3, hidden: [16], batchSize: 8, learningRate: 1e-3, gamma: 0.9, tau: 0.1, initialAlpha: 0.1, seed: 4,
  demoCapacity: 100, bufferCapacity: 1000, updatesPerStep: 2, bcSteps: 20, criticWarmupSteps: 5, rewardScale: 1, bcWeight: 0, nStep: 1, actorDelaySteps: 0, executionProvider: 'cpu', threads: 1,
};

function episode(seed: number, steps: number): ScoredEpisode {
  const rng = new Rng(seed);
  const obs = Array.from({ length: steps + 1 }, () => Float32Array.from({ length: 3 }, () => rng.normal()));
  const actions = Array.from({ length: steps }, () => Float32Array.from({ length: 5 }, () => rng.next() * 2 - 1));
  const progress = obs.map((_, t) => t / steps);
  return { seed, observations: obs, actions, envSuccess: [], progress, rewards: actions.map(() => 0.1), terminal: true, success: true, end: 'success' };
}

const clientOptions = (port: number) => ({ host: '127.0.0.1', port, callTimeoutMs: 5000, reconnectForMs: 20_000, log });

describe('actor-learner protocol over TCP', () => {
  it('ships records, trains on the learner, and the actor acts with the learner\'s weights', async () => {
    const server = new LearnerServer(join(dir, 'a'), log);
    const port = await server.listen(0);
    const actor = await RemoteLearner.connect(settings, clientOptions(port));
    await actor.addRecord(toRecord('demo', 0, episode(1, 10), 0.8));
    await actor.clone();
    await actor.addRecord(toRecord('episode', 0, episode(2, 10), 0.8));
    // The learner owes 2 updates per received transition and trains on its own.
    for (let i = 0; i < 200 && (await actor.stats()).updates < 20; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await actor.stats()).updates).toBe(20);
    const obs = Float32Array.of(0.1, 0.2, 0.3);
    const before = await actor.act(obs, new Rng(0), true);
    await actor.sync();
    const after = await actor.act(obs, new Rng(0), true);
    expect([...after]).not.toEqual([...before]); // the first sync replaced the local weights
    await actor.close();
    await server.close();
  }, 60_000);

  it('reconnects to a restarted learner, which restores its records and checkpoint; resent records are not doubled', async () => {
    const runDir = join(dir, 'b');
    const first = new LearnerServer(runDir, log);
    const port = await first.listen(0);
    const actor = await RemoteLearner.connect(settings, clientOptions(port));
    await actor.addRecord(toRecord('demo', 0, episode(1, 10), 0.8));
    await actor.clone();
    await actor.addRecord(toRecord('episode', 0, episode(2, 10), 0.8));
    await first.close(); // the learner process goes away
    const second = new LearnerServer(runDir, log);
    await second.listen(port);
    // The next call fails on the dead connection, reconnects, says hello again and succeeds.
    await actor.addRecord(toRecord('episode', 0, episode(2, 10), 0.8));
    await actor.addRecord(toRecord('episode', 1, episode(3, 5), 0.8));
    expect(actor.reconnects).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 200 && (await actor.stats()).updates < 30; i++) await new Promise((r) => setTimeout(r, 25));
    const stats = await actor.stats();
    // BC is not redone after the restore, and episode 0 counts once: 20 updates for it, 10 for episode 1.
    expect(stats.updates).toBe(30);
    await actor.close();
    await second.close();
  }, 60_000);

  it('with a lag bound of 0, sync returns only after every update owed for the sent episodes is done', async () => {
    const server = new LearnerServer(join(dir, 'd'), log);
    const port = await server.listen(0);
    const actor = await RemoteLearner.connect(settings, { ...clientOptions(port), maxLagUpdates: 0 });
    await actor.addRecord(toRecord('demo', 0, episode(1, 10), 0.8));
    await actor.clone();
    await actor.addRecord(toRecord('episode', 0, episode(2, 100), 0.8));
    await actor.sync(); // no polling: the learner must already have done the 200 updates it owed
    const stats = await actor.stats();
    expect(stats.updates).toBe(200);
    expect(stats.actorWaitS).toBeGreaterThan(0);
    expect(actor.label).toMatch(/waits at each episode start until at most 0 updates are owed/);
    await actor.close();
    await server.close();
  }, 60_000);

  it('a bounded-lag actor does not hang on a learner that cannot train (not cloned)', async () => {
    const server = new LearnerServer(join(dir, 'e'), log);
    const port = await server.listen(0);
    const actor = await RemoteLearner.connect(settings, { ...clientOptions(port), maxLagUpdates: 0 });
    await actor.addRecord(toRecord('demo', 0, episode(1, 10), 0.8));
    await actor.addRecord(toRecord('episode', 0, episode(2, 20), 0.8));
    const t0 = Date.now();
    await actor.sync();
    expect(Date.now() - t0).toBeLessThan(4000);
    expect((await actor.stats()).updates).toBe(0);
    await actor.close();
    await server.close();
  }, 60_000);

  it('a learner that does not answer fails the call at its deadline, naming the operation', async () => {
    const silent = createServer((socket) => socket.resume()); // reads requests, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    const client = new ProtocolClient({ host: '127.0.0.1', port, callTimeoutMs: 200, reconnectForMs: 500, log });
    const t0 = Date.now();
    await expect(client.call({ op: 'stats' })).rejects.toThrow(/stats: no answer within 200 ms; gave up after 500 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
    client.close();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('a learner with other settings refuses the actor with the differing key', async () => {
    const server = new LearnerServer(join(dir, 'c'), log);
    const port = await server.listen(0);
    const a = await RemoteLearner.connect(settings, clientOptions(port));
    await expect(RemoteLearner.connect({ ...settings, hidden: [32] }, clientOptions(port))).rejects.toThrow(/hidden: learner has \[16\], actor sent \[32\]/);
    await a.close();
    await server.close();
  });
});
