/**
 * Several actors feeding one learner over gRPC, end to end: `dopamine rl --actors 2` starts
 * `rl-learner` and two actor processes. One actor is killed with SIGKILL in the middle of its run:
 * the other's episodes all reach the learner, and so does every episode the killed one completed
 * once the run is resumed, each exactly once.
 */
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli, runCliAsync } from '../cli/testing.js';
import type { ActorsResult } from './actors.js';
import { startLearnerProcess } from './learner-process.js';
import type { EpisodeRecord, LogRecord } from './records.js';
import { RecordLog } from './run-store.js';

const dir = mkdtempSync(join(tmpdir(), 'rl-actors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'cpu.yaml');
writeFileSync(config, 'engine:\n  executionProvider: cpu\n  threads: 1\n');

const tiny = ['--task', 'pick-place', '--observation', 'privileged', '--reward', 'privileged', '--success', 'env', '--demos', '0', '--hidden', '32,32', '--batch-size', '32', '--updates-per-step', '1', '--eval-every', '100', '--eval-episodes', '1', '--final-eval-episodes', '1', '--max-steps', '30', '--bc-steps', '10', '--critic-warmup-steps', '10', '--actor-delay', '0', '--no-record'];

function episodesIn(file: string): EpisodeRecord[] {
  if (!existsSync(file)) return [];
  return new RecordLog<LogRecord>(file).read().records.filter((r): r is EpisodeRecord => r.kind === 'episode');
}

/** The pid of the process whose command line names this actor, from /proc. */
function actorPid(name: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--actor-name');
      if (at >= 0 && args[at + 1] === name && args.includes(join(dir, 'run', name))) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

describe.skipIf(process.platform !== 'linux')('rl --actors 2: one learner, two actors over gRPC', () => {
  it('an actor killed mid-run loses none of the other\'s episodes, and none of its own completed ones once resumed', async () => {
    const runDir = join(dir, 'run');
    const args = ['rl', '--config', config, ...tiny, '--rollouts', '8', '--actors', '2', '--run-dir', runDir, '--json'];
    const running = runCliAsync(args, { timeoutMs: 240_000 });
    // Kill actor-1 once it has completed an episode: it is then in the middle of the next one.
    const killedLog = join(runDir, 'actor-1', 'episodes.log');
    let killed = false;
    for (let i = 0; i < 2400 && !killed; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const pid = actorPid('actor-1');
      if (pid !== undefined && episodesIn(killedLog).length >= 1) {
        process.kill(pid, 'SIGKILL');
        killed = true;
      }
    }
    expect(killed).toBe(true);
    const first = await running;
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/actor actor-1: killed by SIGKILL/);
    expect(first.stderr).toMatch(/resume with --actors 2 --resume/);

    const learnerLog = join(runDir, 'learner', 'learner-records.log');
    const key = (r: EpisodeRecord): string => `${r.actor}/${r.index}`;
    const atLearner = (): EpisodeRecord[] => new RecordLog<EpisodeRecord>(learnerLog).read().records.filter((r) => r.kind === 'episode');
    // The other actor finished all 4 of its episodes, every one at the learner under its name.
    const survivor = episodesIn(join(runDir, 'actor-0', 'episodes.log'));
    expect(existsSync(join(runDir, 'actor-0', 'episodes')), '--no-record reached the actor').toBe(false);
    expect(survivor).toHaveLength(4);
    expect(atLearner().filter((r) => r.actor === 'actor-0').map(key)).toEqual(survivor.map((r) => `actor-0/${r.index}`));
    const completedBeforeKill = episodesIn(killedLog).map((r) => `actor-1/${r.index}`);
    expect(completedBeforeKill.length).toBeGreaterThanOrEqual(1);
    expect(completedBeforeKill.length).toBeLessThan(4);

    // Resumed: the killed actor resends its logged episodes (the learner keeps them once) and goes on.
    const resumed = runCli(['rl', '--config', config, '--actors', '2', '--resume', '--run-dir', runDir, '--json'], { timeoutMs: 240_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    const result = JSON.parse(resumed.stdout) as ActorsResult;
    expect(result.actors.map((a) => [a.name, a.result.rollouts.length])).toEqual([['actor-0', 4], ['actor-1', 4]]);
    expect(result.actors.map((a) => a.result.learner.where)).toEqual(['learner over gRPC as actor actor-0', 'learner over gRPC as actor actor-1']);
    const held = atLearner().map(key);
    expect(new Set(held).size).toBe(held.length); // nothing twice
    for (const k of completedBeforeKill) expect(held).toContain(k);
    expect(held.filter((k) => k.startsWith('actor-1/'))).toHaveLength(4);
    expect(held.filter((k) => k.startsWith('actor-0/'))).toHaveLength(4);
  }, 480_000);

  it('a learner killed with SIGKILL and restarted on its folder loses no completed episode; the actor goes on', async () => {
    const learnerDir = join(dir, 'restart-learner');
    const first = await startLearnerProcess({ args: ['--config', config, '--port', '0', '--run-dir', learnerDir], cwd: repoRoot, stderr: 'ignore' });
    const actorDir = join(dir, 'restart-actor');
    const running = runCliAsync(['rl', '--config', config, ...tiny, '--rollouts', '6', '--run-dir', actorDir, '--learner', `127.0.0.1:${first.port}`, '--learner-token-file', first.tokenFile, '--actor-name', 'arm', '--json'], { timeoutMs: 240_000 });
    let second: Awaited<ReturnType<typeof startLearnerProcess>> | undefined;
    try {
      for (let i = 0; i < 2400 && episodesIn(join(actorDir, 'episodes.log')).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      await first.kill();
      // The same port and folder (and so the same token): the actor's calls reconnect and say hello again.
      second = await startLearnerProcess({ args: ['--config', config, '--port', String(first.port), '--run-dir', learnerDir], cwd: repoRoot, stderr: 'ignore' });
      const run = await running;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/learner call \w+ failed/);
    } finally {
      await second?.stop();
    }
    const logged = episodesIn(join(actorDir, 'episodes.log')).map((r) => r.index);
    const held = new RecordLog<EpisodeRecord>(join(learnerDir, 'learner-records.log')).read().records.filter((r) => r.kind === 'episode');
    expect(logged).toEqual([0, 1, 2, 3, 4, 5]);
    expect(held.map((r) => r.index).sort((a, b) => a - b)).toEqual(logged);
    expect(new Set(held.map((r) => r.actor))).toEqual(new Set(['arm']));
  }, 300_000);

  it('refuses --actors with --learner, and rollouts that do not split evenly, in one line', () => {
    const a = runCli(['rl', '--config', config, ...tiny, '--actors', '2', '--learner', '127.0.0.1:7070', '--run-dir', join(dir, 'x')]);
    expect(a.code).toBe(2);
    expect(a.stderr.trim()).toMatch(/--actors: expected no --learner/);
    const b = runCli(['rl', '--config', config, ...tiny, '--actors', '3', '--rollouts', '8', '--run-dir', join(dir, 'y')]);
    expect(b.code).toBe(2);
    expect(b.stderr.trim()).toMatch(/--rollouts: expected a multiple of --actors 3/);
  }, 60_000);

  it('the learner link refuses what would leave it open: no token for the actor, a public address without TLS', () => {
    const env = { ...process.env, DOPAMINE_LEARNER_TOKEN: '' };
    const noToken = runCli(['rl', '--config', config, ...tiny, '--learner', '127.0.0.1:7070', '--run-dir', join(dir, 'z')], { env });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr.trim()).toMatch(/^error: --learner-token-file: expected the learner's token file .* or DOPAMINE_LEARNER_TOKEN set$/);
    const missing = runCli(['rl', '--config', config, ...tiny, '--learner', '127.0.0.1:7070', '--learner-token-file', join(dir, 'nope'), '--run-dir', join(dir, 'z')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/--learner-token-file: expected a file holding the learner's token, got ".*nope" \(ENOENT\)$/);
    expect(existsSync(join(dir, 'z'))).toBe(false);
    const open = runCli(['rl-learner', '--config', config, '--host', '0.0.0.0', '--port', '0', '--run-dir', join(dir, 'l')]);
    expect(open.code).toBe(2);
    expect(open.stderr.trim()).toMatch(/--host: expected a loopback address without TLS, got "0\.0\.0\.0"/);
    const halfTls = runCli(['rl-learner', '--config', config, '--tls-cert', config, '--port', '0', '--run-dir', join(dir, 'l')]);
    expect(halfTls.code).toBe(2);
    expect(halfTls.stderr.trim()).toMatch(/--tls-key: expected --tls-cert and --tls-key together/);
  }, 60_000);
});
