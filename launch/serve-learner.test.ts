/** `serve` with its learner in another process (policy.serve.learner): episodes go there over gRPC. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { InputError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { waitFor } from '../dashboard/testing.js';
import { LearnerServer } from '../policy/protocol.js';
import type { EpisodeRecord } from '../policy/records.js';
import { RecordLog } from '../policy/run-store.js';
import { SimRobot } from '../robot/sim/robot.js';
import { startServing } from './serve.js';

const log = createLogger('test', process.env.DOPAMINE_LOG === undefined ? 'silent' : undefined);
const dir = mkdtempSync(join(tmpdir(), 'dopamine-serve-learner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, 'serve-learner-test-token\n');

function config(port: number, learner: Record<string, unknown>) {
  return configSchema.parse({
    robot: { controlHz: 10, episodeSeconds: 1.5, sim: { realtime: true } },
    dashboard: { port: 0 },
    policy: { runDir: mkdtempSync(join(dir, 'run-')), batchSize: 32, demos: 0, serve: { record: false, learner: { address: `127.0.0.1:${port}`, ...learner } } },
  });
}

describe('serve with policy.serve.learner', () => {
  it('sends each episode to the learner process under the arm\'s name and shows the learner\'s updates', async () => {
    const learnerDir = join(dir, 'learner');
    const server = new LearnerServer({ runDir: learnerDir, log, token: 'serve-learner-test-token' });
    const port = await server.listen(0);
    const c = config(port, { tokenFile, actor: 'arm-left' });
    const serving = await startServing(c, log, { robot: await SimRobot.create(c), clock: systemClock, autoStart: true });
    try {
      expect(serving.loop.snapshot().sources.actions).toMatch(/learner over gRPC as actor arm-left/);
      await waitFor(() => (serving.loop.snapshot().learner?.episodes ?? 0) >= 2, 'two learned episodes', 60_000);
      // The learner trains on its own; serve shows the figures it asks for every 2 s.
      await waitFor(() => (serving.loop.snapshot().learner?.updates ?? 0) > 0, 'the learner process\'s updates on the dashboard', 30_000);
      const status = serving.loop.snapshot().learner!;
      expect(status.lastError).toBeNull();
      expect(status.owed).toBe(0); // nothing trains inside serve
    } finally {
      await serving.shutdown('test done');
    }
    const held = new RecordLog<EpisodeRecord>(join(learnerDir, 'learner-records.log')).read().records.filter((r) => r.kind === 'episode');
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(new Set(held.map((r) => r.actor))).toEqual(new Set(['arm-left']));
    const logged = new RecordLog<EpisodeRecord>(join(c.policy.runDir, 'serve', 'episodes.log')).read().records.filter((r) => r.kind === 'episode');
    expect(held.map((r) => r.index)).toEqual(logged.map((r) => r.index)); // every episode serve logged reached the learner
    await server.close();
  }, 120_000);

  it('refuses a missing token naming the key, before the robot moves', async () => {
    const c = config(1, { tokenEnv: 'DOPAMINE_TEST_LEARNER_TOKEN_NOT_SET' });
    const failure = await startServing(c, log, { robot: await SimRobot.create(c), clock: systemClock, autoStart: false }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as Error).message).toBe("policy.serve.learner.tokenFile: expected the learner's token file (rl-learner keeps it in <its run folder>/learner.token) or DOPAMINE_TEST_LEARNER_TOKEN_NOT_SET set");
  }, 60_000);
});
