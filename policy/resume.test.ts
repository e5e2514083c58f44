/**
 * The durability promise, end to end on the real `dopamine rl` process: SIGKILL it in the middle of
 * training, restart with --resume, and every episode completed before the kill is still there,
 * byte for byte, and the run finishes its rollouts. Tiny networks and short episodes keep it quick.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../cli/testing.js';
import { mountSmallDisk, type SmallDisk } from '../engine/testing.js';
import { taskNames } from '../robot/sim/tasks.js';

const dir = mkdtempSync(join(tmpdir(), 'rl-resume-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'cpu.yaml');
writeFileSync(config, 'engine:\n  executionProvider: cpu\n');
const bin = fileURLToPath(new URL('../bin/dopamine.js', import.meta.url));

const ROLLOUTS = 6;
/** Options removed for measuring no gain, as an older run.json stores them when the run did not use them. */
const REMOVED_NEUTRAL = { actorEmaRate: 0, priorWeight: 0, observationNormaliser: 'none' };
const tiny = ['--task', 'pick-place', '--observation', 'privileged', '--reward', 'privileged', '--demos', '2', '--hidden', '16,16', '--batch-size', '16', '--updates-per-step', '1', '--eval-every', '3', '--eval-episodes', '1', '--max-steps', '60', '--bc-steps', '10', '--critic-warmup-steps', '10', '--final-eval-episodes', '1'];

/** The tiny flags with some values replaced. */
function withFlags(values: Record<string, string>): string[] {
  return tiny.map((v, i) => (i > 0 && values[tiny[i - 1]!] !== undefined ? values[tiny[i - 1]!]! : v));
}

/** Complete lines of the log (a torn last line, if any, is not a completed record). */
function completeLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== '');
}
const episodeLines = (lines: string[]): string[] => lines.filter((l) => l.includes('"kind":"episode"'));

describe('rl: kill -9 in the middle and resume', () => {
  it('loses no completed episode and finishes the run', async () => {
    const runDir = join(dir, 'run');
    const log = join(runDir, 'episodes.log');
    const child = spawn(process.execPath, [bin, 'rl', '--config', config, ...tiny, '--rollouts', String(ROLLOUTS), '--run-dir', runDir, '--json'], { cwd: repoRoot, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Kill as soon as two training episodes are on disk: mid-rollout, mid-update or mid-checkpoint.
    const deadline = Date.now() + 90_000;
    while (episodeLines(completeLines(log)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await exited;
    const before = completeLines(log);
    expect(episodeLines(before).length).toBeGreaterThanOrEqual(2);
    expect(episodeLines(before).length).toBeLessThan(ROLLOUTS);
    // The newest checkpoint on disk (its folder name is the learner's update count): past cloning, mid-training.
    const newest = readdirSync(join(runDir, 'checkpoints')).filter((name) => /^\d+$/.test(name)).sort().at(-1)!;
    const checkpointUpdates = Number(newest);
    expect(checkpointUpdates).toBeGreaterThan(0);

    // No --rollouts: the run's stored settings (6 rollouts) are used.
    const resumed = runCli(['rl', '--config', config, '--resume', '--run-dir', runDir, '--json'], { timeoutMs: 120_000 });
    expect(resumed.stderr).not.toMatch(/internal error/);
    expect(resumed.code).toBe(0);
    const result = JSON.parse(resumed.stdout) as {
      rollouts: { index: number }[]; curve: { rollouts: number }[]; learner: { updates: number };
      resumed: { episodesInLog: number; checkpoint: string | null; badCheckpoints: unknown[] };
    };
    // The learner came back from that checkpoint, not from cloning the demos afresh: it says so, it
    // did not clone, and its update count goes on from the checkpoint's (one update per step run since).
    expect(result.resumed.checkpoint).toBe(join(runDir, 'checkpoints', newest));
    expect(result.resumed.badCheckpoints).toEqual([]);
    expect(resumed.stderr).toContain(`resumed from ${join(runDir, 'checkpoints', newest)}: ${checkpointUpdates} updates`);
    expect(resumed.stderr).not.toMatch(/behaviour cloning/);
    const stepsSince = episodeLines(completeLines(log))
      .map((l) => JSON.parse(l.slice(17)) as { index: number; steps: number })
      .filter((r) => r.index >= result.resumed.episodesInLog)
      .reduce((sum, r) => sum + r.steps, 0);
    expect(stepsSince).toBeGreaterThan(0);
    expect(result.learner.updates).toBe(checkpointUpdates + stepsSince);
    const after = completeLines(log);
    for (const line of before) expect(after).toContain(line); // every completed record, unchanged
    const indices = episodeLines(after).map((l) => (JSON.parse(l.slice(17)) as { index: number }).index);
    expect(indices).toEqual([...Array(ROLLOUTS).keys()]);
    expect(result.resumed.episodesInLog).toBe(episodeLines(before).length);
    expect(result.rollouts.map((r) => r.index)).toEqual([...Array(ROLLOUTS).keys()]);
    expect(result.curve.map((p) => p.rollouts)).toEqual([0, 3, 6]);

    // A run.json naming removed options at their neutral values (an older run that did not use them) still resumes.
    const runFile = join(runDir, 'run.json');
    writeFileSync(runFile, JSON.stringify({ ...(JSON.parse(readFileSync(runFile, 'utf8')) as object), ...REMOVED_NEUTRAL }));
    const again = runCli(['rl', '--config', config, '--resume', '--run-dir', runDir, '--json'], { timeoutMs: 120_000 });
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { rollouts: unknown[] }).rollouts).toHaveLength(ROLLOUTS);
  }, 240_000);
});

// A real full disk for the run folder: a 32 MiB tmpfs (a tiny run needs about 150 KiB), filled mid-run.
const disk = mountSmallDisk(32 * 1024 * 1024);
if (typeof disk === 'string') console.warn(`skipping the full-disk rl test: ${disk}`);
afterAll(() => (typeof disk === 'string' ? undefined : disk.unmount()));

describe(`rl: the disk fills up mid-run${typeof disk === 'string' ? ` (skipped: ${disk})` : ''}`, () => {
  (typeof disk === 'string' ? it.skip : it)('exits 2 naming the folder, leaves nothing torn, and --resume finishes from the last complete checkpoint', async () => {
    const full = disk as SmallDisk;
    const runDir = join(full.dir, 'run');
    const log = join(runDir, 'episodes.log');
    const child = spawn(process.execPath, [bin, 'rl', '--config', config, ...tiny, '--rollouts', String(ROLLOUTS), '--run-dir', runDir, '--json'], { cwd: repoRoot });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 90_000;
    while (episodeLines(completeLines(log)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    full.fill();
    let before: string[];
    try {
      expect(await exited, stderr).toBe(2);
      expect(stderr).not.toMatch(/internal error|\n\s+at /);
      const errors = stderr.split('\n').filter((line) => line.startsWith('error:'));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(new RegExp(`^error: ${runDir}(/checkpoints)?: expected room to write .*, got no space left on the device \\(ENOSPC\\)`));
      // Nothing torn: no temporary file or folder, and every line of the log is a complete record.
      const names = readdirSync(runDir, { recursive: true }).map(String);
      expect(names.filter((name) => name.endsWith('.tmp'))).toEqual([]);
      before = completeLines(log);
      expect(readFileSync(log, 'utf8')).toBe(before.map((line) => `${line}\n`).join(''));
      expect(episodeLines(before).length).toBeLessThan(ROLLOUTS);
    } finally {
      full.free();
    }
    const resumed = runCli(['rl', '--config', config, '--resume', '--run-dir', runDir, '--json'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).not.toMatch(/torn last line/);
    const result = JSON.parse(resumed.stdout) as { rollouts: { index: number }[]; resumed: { episodesInLog: number; checkpoint: string | null; badCheckpoints: unknown[] } };
    expect(result.resumed.checkpoint).toMatch(new RegExp(`^${runDir}/checkpoints/\\d{9}$`));
    expect(result.resumed.badCheckpoints).toEqual([]);
    const after = completeLines(log);
    for (const line of before) expect(after).toContain(line);
    expect(result.rollouts.map((r) => r.index)).toEqual([...Array(ROLLOUTS).keys()]);
  }, 240_000);
});

describe('rl: the reward model\'s fusion comes from reward.fusion', () => {
  // A run with no rollouts: demos, cloning and one evaluation episode, scored by the shipped GRM-tiny.
  const scored = (name: string, yaml: string, extra: string[] = []): { stored: unknown; success: unknown; potentialWeight: unknown; reward: string; stderr: string } => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, `engine:\n  executionProvider: cpu\n${yaml}`);
    const runDir = join(dir, name);
    const args = ['rl', '--config', file, '--run-dir', runDir, '--json', '--rollouts', '0', '--reward-model', 'models/grm-tiny.onnx', ...withFlags({ '--reward': 'model', '--max-steps': '8' }), ...extra];
    const run = runCli(args, { timeoutMs: 240_000 });
    expect(run.code, run.stderr).toBe(0);
    const stored = (JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { settings?: { fusion?: unknown }; fusion?: unknown; success?: unknown; potentialWeight?: unknown });
    return { stored: stored.settings?.fusion ?? stored.fusion, success: stored.success, potentialWeight: stored.potentialWeight, reward: (JSON.parse(run.stdout) as { reward: string }).reward, stderr: run.stderr };
  };

  it('consistency-weighted by default, the plain mean when the configuration turns it off; stored in run.json', () => {
    const byDefault = scored('fusion-default', '');
    expect(byDefault.stored).toEqual({ mode: 'paper', consistency: true, alpha: 20, eps: 1e-3 });
    expect(byDefault.reward).toMatch(/fusion paper, consistency-weighted \(alpha 20\)/);
    // Unset, success on the simulator is its predicate while the model's audits fall short: the first line says so, stored with the run.
    expect(byDefault.stderr.split('\n')[0]).toMatch(/\[rl\] success: the simulator's predicate .*not the reward model's judgement/);
    expect(byDefault.stderr).not.toMatch(/success is judged by the reward model's progress/);
    expect(byDefault.success).toBe('env');
    expect(byDefault.potentialWeight).toBe(1);
    // Configured to the model's progress, which is measured to be gamed: the run says so; --potential-weight is stored too.
    const mean = scored('fusion-mean', 'reward:\n  fusion:\n    consistency: false\n  shaping:\n    success: progress\n', ['--potential-weight', '0.3']);
    expect(mean.success).toBe('progress');
    expect(mean.potentialWeight).toBe(0.3);
    expect(mean.stderr.split('\n')[0]).toMatch(/\[rl\] success: the reward model's judgement .*\(reward\.shaping\.success\)/);
    expect(mean.stderr).toMatch(/success is judged by the reward model's progress .* --success env/);
    expect(mean.stored).toEqual({ mode: 'paper', consistency: false, alpha: 20, eps: 1e-3 });
    expect(mean.reward).toMatch(/fusion paper, mean of the three perspectives/);
  }, 300_000);
});

describe('rl --resume: flags the stored run cannot honour', () => {
  it('refuses them by name with exit 2 instead of dropping them', () => {
    const runDir = join(dir, 'stored');
    mkdirSync(runDir, { recursive: true });
    // The run.json fields these flags set (a real one holds every setting).
    writeFileSync(join(runDir, 'run.json'), JSON.stringify({ rollouts: 6, finalEvalEpisodes: 1, evalEpisodes: 1, seed: 1 }));
    const finalEval = runCli(['rl', '--config', config, '--resume', '--run-dir', runDir, '--final-eval-episodes', '5']);
    expect(finalEval.code).toBe(2);
    expect(finalEval.stderr).toMatch(/--final-eval-episodes: expected the resumed run's stored finalEvalEpisodes 1 \(.*run\.json\) or no --final-eval-episodes: a resumed run keeps its settings, got 5/);
    const qFilter = runCli(['rl', '--config', config, '--resume', '--run-dir', runDir, '--q-filter']);
    expect(qFilter.code).toBe(2);
    expect(qFilter.stderr).toMatch(/--q-filter: expected the resumed run's stored qFilter false/);
    const fewer = runCli(['rl', '--config', config, '--resume', '--run-dir', runDir, '--rollouts', '3']);
    expect(fewer.code).toBe(2);
    expect(fewer.stderr).toMatch(/--rollouts: expected at least the 6 rollouts of the resumed run/);
  });

  it('refuses a stored run that used a removed option, naming it in one line', () => {
    const used: Record<string, [string, unknown]> = { actorEmaRate: ['--actor-ema', 0.001], priorWeight: ['--prior-weight', 5], observationNormaliser: ['--observation-normaliser', 'demos'] };
    for (const [key, [flag, value]] of Object.entries(used)) {
      const runDir = join(dir, `removed-${key}`);
      mkdirSync(runDir, { recursive: true });
      writeFileSync(join(runDir, 'run.json'), JSON.stringify({ rollouts: 6, finalEvalEpisodes: 1, evalEpisodes: 1, seed: 1, [key]: value }));
      const run = runCli(['rl', '--config', config, '--resume', '--run-dir', runDir]);
      expect(run.code).toBe(2);
      expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
      const errors = run.stderr.split('\n').filter((line) => line.startsWith('error:'));
      expect(errors).toEqual([expect.stringMatching(new RegExp(`^error: ${flag}: removed \\(.*measured no gain.*\\), got ${key} ${JSON.stringify(value)} in .*run\\.json: this version cannot continue that run$`))]);
    }
  });
});

describe('rl: bad input', () => {
  it('checks every argument before it writes a run folder or loads anything', () => {
    // A misspelled task is named even where the run folder holds a run already.
    const existing = join(dir, 'existing-run');
    mkdirSync(existing);
    writeFileSync(join(existing, 'episodes.log'), '');
    const task = runCli(['rl', '--config', config, '--task', 'pickplace', '--run-dir', existing]);
    expect(task.code).toBe(2);
    expect(task.stderr).toBe(`error: --task: expected one of ${taskNames().join(', ')}, got "pickplace"\n`);
    const refused: [string[], RegExp][] = [
      [['--task', 'pickplace'], /^error: --task: expected one of push-cube, pick-place, .*got "pickplace"\n$/],
      [['--privileged-error', '2'], /^error: --privileged-error: expected --observation privileged/],
      [['--task', 'open-drawer', '--observation', 'privileged'], /^error: --observation: privileged observations exist for pick-place and push-cube, got task open-drawer\n$/],
      [['--task', 'open-drawer', '--reward', 'privileged'], /^error: --task: expected a task with privileged progress .*got open-drawer\n$/],
      [['--reward-model', join(dir, 'no-such-model.onnx')], /^error: --reward-model: expected an ONNX reward model file, got ".*no-such-model\.onnx" \(no such file\)\n$/],
    ];
    refused.forEach(([flags, message], i) => {
      const runDir = join(dir, `refused-${i}`);
      const run = runCli(['rl', '--config', config, ...flags, '--run-dir', runDir]);
      expect(run.code, flags.join(' ')).toBe(2);
      expect(run.stderr, flags.join(' ')).toMatch(message);
      expect(existsSync(runDir), `${flags.join(' ')}: no run folder`).toBe(false);
    });
  });

  it('names the flag and what was expected (exit 2)', () => {
    const shaping = runCli(['rl', '--config', config, '--shaping', 'dense', '--run-dir', join(dir, 'x')]);
    expect(shaping.code).toBe(2);
    expect(shaping.stderr).toMatch(/--shaping: expected one of pbrs, naive, sparse, got "dense"/);
    const success = runCli(['rl', '--config', config, '--success', 'model', '--run-dir', join(dir, 'x')]);
    expect(success.code).toBe(2);
    expect(success.stderr).toMatch(/--success: expected one of progress, env, operator, got "model"/);
    const weight = runCli(['rl', '--config', config, '--potential-weight', '-1', '--run-dir', join(dir, 'x')]);
    expect(weight.code).toBe(2);
    expect(weight.stderr).toMatch(/--potential-weight: expected a number >= 0, got "-1"/);
    const resume = runCli(['rl', '--config', config, '--resume', '--run-dir', join(dir, 'nothing-here')]);
    expect(resume.code).toBe(2);
    expect(resume.stderr).toMatch(/--resume: expected a run folder with run.json/);
    const error = runCli(['rl', '--config', config, '--privileged-error', '2', '--run-dir', join(dir, 'y')]);
    expect(error.code).toBe(2);
    expect(error.stderr).toMatch(/--privileged-error: expected --observation privileged/);
    const negative = runCli(['rl', '--config', config, '--observation', 'privileged', '--privileged-error', '-1', '--run-dir', join(dir, 'z')]);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/--privileged-error: expected a number >= 0, got "-1"/);
    const lag = runCli(['rl', '--config', config, '--learner-max-lag', '0', '--run-dir', join(dir, 'w')]);
    expect(lag.code).toBe(2);
    expect(lag.stderr).toMatch(/--learner-max-lag: expected --learner host:port as well/);
    const lagValue = runCli(['rl', '--config', config, '--learner', '127.0.0.1:1', '--learner-max-lag', 'soon', '--run-dir', join(dir, 'v')]);
    expect(lagValue.code).toBe(2);
    expect(lagValue.stderr).toMatch(/--learner-max-lag: expected a whole number from 0/);
    const spread = runCli(['rl', '--config', config, '--layout-spread', '1.5', '--run-dir', join(dir, 'u')]);
    expect(spread.code).toBe(2);
    expect(spread.stderr).toMatch(/--layout-spread: expected a fraction from 0 to 1, got "1.5"/);
    const layoutSeed = runCli(['rl', '--config', config, '--layout-seed', '3', '--run-dir', join(dir, 't')]);
    expect(layoutSeed.code).toBe(2);
    expect(layoutSeed.stderr).toMatch(/--layout-seed: expected --layout-spread as well/);
  });
});
