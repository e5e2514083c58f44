import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/log.js';
import type { ScoredEpisode } from './episode.js';
import type { LearnerSettings } from './learner.js';
import { LearnerServer, ProtocolClient, ProtocolError, RemoteLearner, type RemoteLearnerOptions } from './protocol.js';
import { toRecord, type EpisodeRecord } from './records.js';
import { Rng } from './rng.js';
import { RecordLog } from './run-store.js';

const dir = mkdtempSync(join(tmpdir(), 'protocol-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger('test', 'silent');
const token = 'test-token-123';

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

const clientOptions = (port: number, actor = 'arm-a'): RemoteLearnerOptions => ({ host: '127.0.0.1', port, token, actor, callTimeoutMs: 5000, reconnectForMs: 20_000, log });
const server = (name: string, extra: Partial<ConstructorParameters<typeof LearnerServer>[0]> = {}): LearnerServer => new LearnerServer({ runDir: join(dir, name), log, token, ...extra });

async function waitForUpdates(actor: RemoteLearner, n: number): Promise<void> {
  for (let i = 0; i < 400 && (await actor.stats()).updates < n; i++) await new Promise((r) => setTimeout(r, 25));
}

describe('actor-learner protocol over gRPC', () => {
  it('ships records, trains on the learner, and the actor acts with the learner\'s weights', async () => {
    const learner = server('a');
    const port = await learner.listen(0);
    const actor = await RemoteLearner.connect(settings, clientOptions(port));
    await actor.addRecord(toRecord('demo', 0, episode(1, 10), 0.8));
    await actor.clone();
    await actor.addRecord(toRecord('episode', 0, episode(2, 10), 0.8));
    // The learner owes 2 updates per received transition and trains on its own.
    await waitForUpdates(actor, 20);
    expect((await actor.stats()).updates).toBe(20);
    const obs = Float32Array.of(0.1, 0.2, 0.3);
    const before = await actor.act(obs, new Rng(0), true);
    await actor.sync();
    const after = await actor.act(obs, new Rng(0), true);
    expect([...after]).not.toEqual([...before]); // the first sync replaced the local weights
    expect(actor.label).toBe('learner over gRPC as actor arm-a');
    await actor.close();
    await learner.close();
  }, 60_000);

  it('a record crosses the wire unchanged (float bytes, optional fields) and is logged with its actor', async () => {
    const learner = server('wire');
    const port = await learner.listen(0);
    const actor = await RemoteLearner.connect(settings, clientOptions(port, 'arm-w'));
    const demo: EpisodeRecord = { ...toRecord('demo', 0, episode(5, 4), 0.8), attempt: 0, source: 'demo.mcap' };
    const served: EpisodeRecord = { ...toRecord('episode', 0, episode(6, 4), 0.8), outcome: 'success', interventionSteps: [1, 2], heldSteps: 1 };
    await actor.addRecord(demo);
    await actor.addRecord(served);
    await actor.close();
    await learner.close();
    const logged = new RecordLog<EpisodeRecord>(join(dir, 'wire', 'learner-records.log')).read().records;
    expect(logged).toEqual([demo, { ...served, actor: 'arm-w' }]);
  }, 60_000);

  it('refuses every call without the learner\'s token, and with a wrong one', async () => {
    const learner = server('auth');
    const port = await learner.listen(0);
    for (const given of ['', 'wrong-token']) {
      const client = new ProtocolClient({ ...clientOptions(port), token: given });
      const calls: [string, unknown][] = [
        ['hello', { protocol: 2, settingsJson: JSON.stringify(settings) }],
        ['addRecord', {}],
        ['clone', {}],
        ['weights', { since: -1 }],
        ['stats', {}],
      ];
      for (const [method, request] of calls) await expect(client.call(method, request), method).rejects.toThrow(/refused the token: expected the learner's token/);
      client.close();
    }
    // No learner was created by any of those calls: the first authorised call finds none.
    const good = new ProtocolClient(clientOptions(port));
    await expect(good.call('stats', {})).rejects.toThrow(/Stats: expected Hello first/);
    good.close();
    await learner.close();
  }, 60_000);

  it('two actors feed one learner: the same demos kept once, episodes kept per actor even with equal indices', async () => {
    const learner = server('two');
    const port = await learner.listen(0);
    const a = await RemoteLearner.connect(settings, clientOptions(port, 'arm-a'));
    // The second arm runs with its own seed (its own episodes): the learner keeps the first actor's.
    const b = await RemoteLearner.connect({ ...settings, seed: 99 }, clientOptions(port, 'arm-b'));
    const demo = toRecord('demo', 0, episode(1, 10), 0.8);
    await Promise.all([a.addRecord(demo), b.addRecord(demo)]);
    await Promise.all([a.clone(), b.clone()]);
    await Promise.all([a.addRecord(toRecord('episode', 0, episode(2, 10), 0.8)), b.addRecord(toRecord('episode', 0, episode(3, 5), 0.8))]);
    await b.addRecord(toRecord('episode', 0, episode(3, 5), 0.8)); // resent: not doubled
    await waitForUpdates(a, 30);
    expect((await a.stats()).updates).toBe(30); // 2 per transition: 10 + 5 transitions, BC not counted
    expect(Object.fromEntries(learner.episodesByActor)).toEqual({ 'arm-a': 1, 'arm-b': 1 });
    await a.close();
    await b.close();
    await learner.close();
    const logged = new RecordLog<EpisodeRecord>(join(dir, 'two', 'learner-records.log')).read().records;
    expect(logged.map((r) => `${r.actor ?? '-'}/${r.kind}/${r.index}`).sort()).toEqual(['-/demo/0', 'arm-a/episode/0', 'arm-b/episode/0']);
  }, 60_000);

  it('reconnects to a restarted learner, which restores its records and checkpoint; resent records are not doubled', async () => {
    const first = server('b');
    const port = await first.listen(0);
    const actor = await RemoteLearner.connect(settings, clientOptions(port));
    await actor.addRecord(toRecord('demo', 0, episode(1, 10), 0.8));
    await actor.clone();
    await actor.addRecord(toRecord('episode', 0, episode(2, 10), 0.8));
    await first.close(); // the learner process goes away
    const second = server('b');
    await second.listen(port);
    // The next call reaches a learner that has not heard hello: the actor says it again and resends.
    await actor.addRecord(toRecord('episode', 0, episode(2, 10), 0.8));
    await actor.addRecord(toRecord('episode', 1, episode(3, 5), 0.8));
    await waitForUpdates(actor, 30);
    const stats = await actor.stats();
    // BC is not redone after the restore, and episode 0 counts once: 20 updates for it, 10 for episode 1.
    expect(stats.updates).toBe(30);
    expect(Object.fromEntries(second.episodesByActor)).toEqual({ 'arm-a': 2 });
    await actor.close();
    await second.close();
  }, 60_000);

  it('with a lag bound of 0, sync returns only after every update owed for the sent episodes is done', async () => {
    const learner = server('d');
    const port = await learner.listen(0);
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
    await learner.close();
  }, 60_000);

  it('a bounded-lag actor does not hang on a learner that cannot train (not cloned)', async () => {
    const learner = server('e');
    const port = await learner.listen(0);
    const actor = await RemoteLearner.connect(settings, { ...clientOptions(port), maxLagUpdates: 0 });
    await actor.addRecord(toRecord('demo', 0, episode(1, 10), 0.8));
    await actor.addRecord(toRecord('episode', 0, episode(2, 20), 0.8));
    const t0 = Date.now();
    await actor.sync();
    expect(Date.now() - t0).toBeLessThan(4000);
    expect((await actor.stats()).updates).toBe(0);
    await actor.close();
    await learner.close();
  }, 60_000);

  it('a learner that does not answer fails the call at its deadline, naming the operation', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket.resume())); // accepts, never speaks HTTP/2
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    const client = new ProtocolClient({ ...clientOptions(port), callTimeoutMs: 200, reconnectForMs: 500 });
    const t0 = Date.now();
    await expect(client.call('stats', {})).rejects.toThrow(/learner at 127\.0\.0\.1:\d+: stats: .*gave up after 500 ms/);
    expect(Date.now() - t0).toBeLessThan(5000);
    client.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('a learner with other settings refuses the actor with the differing key, without retrying', async () => {
    const learner = server('c');
    const port = await learner.listen(0);
    const a = await RemoteLearner.connect(settings, clientOptions(port));
    const refused = RemoteLearner.connect({ ...settings, hidden: [32] }, clientOptions(port, 'arm-b'));
    await expect(refused).rejects.toThrow(ProtocolError);
    await expect(refused).rejects.toThrow(/hidden: learner has \[16\], actor sent \[32\]/);
    await a.close();
    await learner.close();
  });

  it('an actor name that does not fit is refused by the learner', async () => {
    const learner = server('names');
    const port = await learner.listen(0);
    expect(() => new ProtocolClient(clientOptions(port, 'two words'))).toThrow(/actor name: expected/);
    // A client of another implementation that sends no name gets the reason.
    const raw = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const answer = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest('/dopamine.learner.v2.Learner/Stats', () => Buffer.alloc(0), (b: Buffer) => b, {}, metadata, {}, (error) => resolve(error)),
    );
    expect(answer?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(answer?.details).toMatch(/x-actor: expected an actor name/);
    raw.close();
    await learner.close();
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.warn('SKIPPED learner TLS test: the openssl command is missing (.ci/run installs it with apt-get)');

describe.skipIf(!hasOpenssl)('actor-learner protocol over TLS', () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  beforeAll(() => {
    // A self-signed certificate for the loopback address, made fresh for this run.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  });

  it('an actor trusting the certificate connects; a plain-text one does not get through', async () => {
    const learner = server('tls', { tls: { cert: readFileSync(cert), key: readFileSync(key) } });
    const port = await learner.listen(0);
    const actor = await RemoteLearner.connect(settings, { ...clientOptions(port), ca: readFileSync(cert) });
    expect(actor.label).toBe('learner over gRPC (TLS) as actor arm-a');
    expect((await actor.stats()).updates).toBe(0);
    await actor.close();
    const plain = new ProtocolClient({ ...clientOptions(port), callTimeoutMs: 300, reconnectForMs: 600 });
    await expect(plain.call('stats', {})).rejects.toThrow(/gave up after 600 ms/);
    plain.close();
    await learner.close();
  }, 60_000);
});
