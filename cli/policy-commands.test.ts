import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadImageEncoder } from '../perception/onnx-image-encoder.js';
import type { CameraFrame } from '../robot/types.js';
import { runCli } from './testing.js';

const root = mkdtempSync(join(tmpdir(), 'dopamine-policy-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('dopamine policy pretrain-encoder (shortened)', () => {
  it('trains on simulator scenes and writes an encoder that follows the image encoder contract', async () => {
    const out = join(root, 'encoder.onnx');
    const run = runCli(['policy', 'pretrain-encoder', '--out', out, '--tasks', 'push-cube', '--scenes-per-task', '8', '--validation-per-task', '4', '--random-scenes', '4', '--steps', '3', '--batch', '4', '--json'], { timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { scenes: { train: number; validation: number; random: number }; heldOut: string[]; featuresPerView: number; validation: { objectErrorCm: { median: number } }; loss: { first: number } };
    // 8 scenes of push-cube's episodes and 4 random scenes of the held-out world, none of its episodes.
    expect(report.scenes).toEqual({ train: 12, validation: 4, random: 4 });
    expect(report.heldOut).toEqual(['pick-place']);
    expect(report.featuresPerView).toBe(96);
    expect(report.validation.objectErrorCm.median).toBeGreaterThan(0);
    expect(report.loss.first).toBeGreaterThan(0);
    const encoder = await loadImageEncoder(out, { views: 3, executionProvider: 'cpu', threads: 1 });
    try {
      expect(encoder.featureSize).toBe(96);
      expect(encoder.label).toContain('policy encoder pretrained on 12 simulator scenes of push-cube and random scenes of pick-place');
      const frame = (role: CameraFrame['role'], value: number): CameraFrame => ({ role, camera: role, width: 128, height: 96, rgb: new Uint8Array(128 * 96 * 3).fill(value), stampMs: 0 });
      const features = await encoder.encode([frame('front', 40), frame('left_wrist', 120), frame('right_wrist', 200)]);
      expect(features).toHaveLength(3 * 96);
      expect(features.every(Number.isFinite)).toBe(true);
    } finally {
      await encoder.close();
    }
  }, 180_000);

  it('refuses bad flags with one line, exit 2, before writing anything', () => {
    const out = join(root, 'never.onnx');
    for (const [args, message] of [
      [['--lr', '0'], /--lr: expected a number in \[1e-7, 1\], got "0"/],
      [['--tasks', 'fly'], /--tasks: expected task names among/],
      [['--steps', 'many'], /--steps: expected/],
      [['--scenes-per-task', '0'], /--scenes-per-task: expected/],
      [['--random-scenes', '-1'], /--random-scenes: expected/],
    ] as const) {
      const run = runCli(['policy', 'pretrain-encoder', '--out', out, ...args]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('a run whose policy.encoder.model is not an encoder stops with one line naming the file', () => {
    const bad = join(root, 'not-an-encoder.onnx');
    writeFileSync(bad, 'not onnx');
    const config = join(root, 'config.json');
    writeFileSync(config, JSON.stringify({ policy: { encoder: { model: bad } } }));
    const run = runCli(['rl', '--config', config, '--task', 'pick-place', '--rollouts', '1', '--demos', '0', '--run-dir', join(root, 'run')], { timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(bad);
    expect(run.stderr).toMatch(/expected an ONNX model/);
  }, 150_000);

  it('rl --resume of a run recorded with another encoder stops with one line, the run folder kept', () => {
    const runDir = join(root, 'grm-run');
    const first = runCli(
      ['rl', '--task', 'pick-place', '--observation', 'grm-features', '--reward', 'privileged', '--rollouts', '1', '--demos', '1', '--bc-steps', '0', '--critic-warmup-steps', '0', '--eval-episodes', '1', '--final-eval-episodes', '1', '--run-dir', runDir],
      { timeoutMs: 150_000 },
    );
    expect(first.code, first.stderr).toBe(0);
    // Its first line says who judges success: the simulator, since an audit of the model's judgement fell short.
    expect(first.stderr.split('\n')[0]).toMatch(/\[rl\] success: the simulator's predicate .*, not the reward model's judgement: only \d+ of the \d+ successes it claimed/);
    expect((JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as { success: string }).success).toBe('env');
    // A run made when `features` meant GRM-tiny's features: its stored observation says features.
    const runFile = join(runDir, 'run.json');
    const settings = JSON.parse(readFileSync(runFile, 'utf8')) as { observation: string };
    writeFileSync(runFile, JSON.stringify({ ...settings, observation: 'features' }));
    const log = readFileSync(join(runDir, 'episodes.log'), 'utf8');
    const resumed = runCli(['rl', '--resume', '--run-dir', runDir], { timeoutMs: 150_000 });
    expect(resumed.code, resumed.stderr).toBe(2);
    expect(resumed.stderr).toMatch(/--resume: expected .* to hold a run observed with 293 values .* got episodes of 437 values: it was recorded with another encoder/);
    expect(readFileSync(join(runDir, 'episodes.log'), 'utf8')).toBe(log);
  }, 300_000);
});
