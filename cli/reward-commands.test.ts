import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { writeFileAtomic } from '../engine/index.js';
import { completionRule } from '../reward/completion.js';
import { createGrmTinyStore, exportGrmTiny } from '../reward/grm-tiny/io.js';
import { GRM_TINY_CONFIG } from '../reward/grm-tiny/model.js';
import { syntheticEpisode } from '../reward/grm-tiny/synthetic.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';
import { openEpisode } from '../reward/open-episode.js';
import { realDemoFigures } from '../reward/real-checks.js';
import { CAMERA_ROLES } from '../robot/types.js';
import { repoRoot, runCli, runCliAsync } from './testing.js';

const root = mkdtempSync(join(tmpdir(), 'dopamine-grm-cli-'));
const episodeDir = join(root, 'slide', 'episode_001');
const base = join(root, 'base.onnx');
const names = { front: 'cam_high', left_wrist: 'cam_left_wrist', right_wrist: 'cam_right_wrist' } as const;

/** A synthetic episode in the reference layout, cameras as PNG frame folders. */
beforeAll(async () => {
  const episode = syntheticEpisode({ seed: 5, frames: 30 });
  for (const role of CAMERA_ROLES) {
    const folder = join(episodeDir, names[role]);
    mkdirSync(folder, { recursive: true });
    for (let t = 0; t < episode.frameCount; t++) {
      const image = await episode.frame(role, t);
      await sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toFile(join(folder, `${String(t).padStart(4, '0')}.png`));
    }
  }
  writeFileSync(join(root, 'slide', 'task_instruction.json'), JSON.stringify(episode.instructions));
  writeFileSync(
    join(episodeDir, 'annotated_keyframes.json'),
    JSON.stringify(episode.segments.map((s) => ({ anotation: s.label, start_frame_id: s.startFrame, end_frame_id: s.endFrame }))),
  );
  writeFileAtomic(base, exportGrmTiny(createGrmTinyStore(GRM_TINY_CONFIG, 1), GRM_TINY_CONFIG, 3));
});

interface ScoreJson {
  steps: Array<{ frame: number; hop: number; progress: number }>;
  voc: number;
  completion: string;
  goal: string;
  perspectiveVoc?: Record<string, number>;
}

describe('dopamine adapt and score', () => {
  const adapted = join(root, 'out', 'adapted.onnx');

  it('adapts a model to one demo and writes it with the task references', () => {
    const run = runCli(['adapt', episodeDir, '--base', base, '--out', adapted, '--min-voc', '-1', '--steps', '20', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { after: { forward: number }; trained: string[]; references: string; sampleFactor: number };
    expect(report.trained.join(' ')).toMatch(/head/);
    expect(report.sampleFactor).toBe(1); // 29 frames: lowered from 20 to give enough label points
    expect(existsSync(adapted)).toBe(true);
    expect(existsSync(join(root, 'out', 'adapted.task', 'goal_left_wrist.png'))).toBe(true);
  });

  it('scores an episode with the adapted references, per step, with VOC, completion and a plot', () => {
    const plot = join(root, 'curve.png');
    const run = runCli(['score', episodeDir, '--model', adapted, '--stride', '3', '--plot', plot, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as ScoreJson;
    expect(result.steps.map((s) => s.frame)).toEqual([0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 29]);
    for (const step of result.steps) {
      expect(step.progress).toBeGreaterThanOrEqual(0);
      expect(step.progress).toBeLessThanOrEqual(1);
      expect(Math.abs(step.hop)).toBeLessThanOrEqual(1);
    }
    expect(result.goal).toMatch(/adapted model references/);
    expect(['success', 'partial', 'failure']).toContain(result.completion);
    expect(Object.keys(result.perspectiveVoc!)).toEqual(['incremental', 'forward', 'backward']);
    expect(existsSync(plot)).toBe(true);
  });

  it('uses the episode\'s last frame without references, and a goal image when given', () => {
    const lastFrame = runCli(['score', episodeDir, '--model', base, '--mode', 'backward', '--json']);
    expect(lastFrame.code, lastFrame.stderr).toBe(0);
    expect((JSON.parse(lastFrame.stdout) as ScoreJson).goal).toMatch(/last frame of the episode \(29\)/);
    const goal = join(episodeDir, 'cam_high', '0029.png');
    const withGoal = runCli(['score', episodeDir, '--model', base, '--mode', 'forward', '--goal', goal, '--json']);
    expect(withGoal.code, withGoal.stderr).toBe(0);
    expect((JSON.parse(withGoal.stdout) as ScoreJson).goal).toBe(`image ${goal}`);
  });

  it('names bad input', () => {
    const mode = runCli(['score', episodeDir, '--model', base, '--mode', 'sideways']);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/--mode: expected one of incremental, forward, backward, fused, got "sideways"/);
    const model = runCli(['score', episodeDir, '--model', join(root, 'missing.onnx')]);
    expect(model.code).toBe(2);
    expect(model.stderr).toMatch(/missing\.onnx: expected a readable \.onnx model/);
    // Flags are checked before the model loads or the video is probed: nothing but the one line on stderr.
    const stride = runCli(['score', join(root, 'no-such-episode'), '--model', join(root, 'missing.onnx'), '--stride', '-1']);
    expect(stride.code).toBe(2);
    expect(stride.stderr).toBe('error: --stride: expected an integer >= 1, got "-1"\n');
    const strideHere = runCli(['score', episodeDir, '--model', base, '--stride', '0']);
    expect(strideHere.code).toBe(2);
    expect(strideHere.stderr).toBe('error: --stride: expected an integer >= 1, got "0"\n');
    const goalMissing = runCli(['score', episodeDir, '--model', join(root, 'missing.onnx'), '--goal', join(root, 'no-goal.png')]);
    expect(goalMissing.code).toBe(2);
    expect(goalMissing.stderr).toMatch(/^error: --goal: expected an image file, an episode folder or an \.mcap file, got ".*no-goal\.png" \(no such path\)\n$/);
    const pairs = runCli(['adapt', join(root, 'no-such-episode'), '--base', join(root, 'missing.onnx'), '--out', join(root, 'x.onnx'), '--pairs', '1']);
    expect(pairs.code).toBe(2);
    expect(pairs.stderr).toBe('error: --pairs: expected an integer >= 3, got "1"\n');
    const out = runCli(['adapt', episodeDir, '--base', base, '--out', join(root, 'x.bin')]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/--out: expected a file name ending in \.onnx/);
  });

  it('scores against a dead or broken reward server: exit 2, one line naming the server and what came back', async () => {
    const config = join(root, 'no-retries.yaml');
    writeFileSync(config, 'reward:\n  openai:\n    retries: 0\n');
    let answer: [number, string] = [200, ''];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(answer[0], { 'content-type': 'application/json' }).end(answer[1]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const score = async (model: string): Promise<string[]> => {
      const run = await runCliAsync(['score', episodeDir, '--model', model, '--mode', 'forward', '--stride', '29', '--config', config, '--json']);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).not.toMatch(/internal error|\n\s+at /);
      return run.stderr.split('\n').filter((line) => line.startsWith('error:'));
    };
    const tail = `(POST ${url}/chat/completions, 1 attempt(s))`;
    try {
      answer = [404, 'no such route'];
      expect(await score(url)).toEqual([`error: ${url}: expected HTTP 200 with a chat completion, got HTTP 404 "no such route" ${tail}`]);
      answer = [200, '<html>busy</html>'];
      expect(await score(url)).toEqual([`error: ${url}: expected a JSON chat completion, got an answer that is not JSON: "<html>busy</html>" ${tail}`]);
      answer = [200, JSON.stringify({ choices: [{ message: { content: 'it moved <score>lots</score>' } }] })];
      expect(await score(url)).toEqual([`error: ${url}: expected a number in the answer's last <score>...</score>, got a non-numeric score "lots" ${tail}`]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    // The port is closed now: nothing listens there.
    expect(await score(url)).toEqual([`error: ${url}: expected an OpenAI-compatible server, got connection refused (ECONNREFUSED) ${tail}`]);
  }, 120_000);
});

describe('dopamine grm pretrain (shortened)', () => {
  it('pretrains on a few simulator episodes (with the location target) and writes a contract model', () => {
    const out = join(root, 'pretrained.onnx');
    const run = runCli(
      ['grm', 'pretrain', '--out', out, '--tasks', 'push-cube', '--episodes-per-task', '2', '--validation-per-task', '1', '--steps', '4', '--batch', '4', '--pairs', '20', '--location-weight', '1', '--json'],
      { timeoutMs: 240_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { episodes: { train: number; validation: number }; steps: number; heldOut: string[]; validation: { voc: { fused: number } }; locationRmseCm: { first: number; last: number }; parameters: number };
    expect(report.episodes.train).toBe(2);
    expect(report.episodes.validation).toBe(1);
    expect(report.heldOut).toEqual(['pick-place']);
    expect(Number.isFinite(report.validation.voc.fused)).toBe(true);
    // the location head trained on the simulator's key-body positions, and is not part of the model
    expect(report.locationRmseCm.first).toBeGreaterThan(0);
    expect(Number.isFinite(report.locationRmseCm.last)).toBe(true);
    expect(report.parameters).toBe(127_356);
    expect(existsSync(out)).toBe(true);
    const weight = runCli(['grm', 'pretrain', '--location-weight', '-1', '--out', out]);
    expect(weight.code).toBe(2);
    expect(weight.stderr).toMatch(/--location-weight: expected a number in \[0, 1000\], got "-1"/);
    const patch = runCli(['grm', 'pretrain', '--patch', '5', '--out', out]);
    expect(patch.code).toBe(2);
    expect(patch.stderr).toMatch(/--patch: expected 4, 8 or 16/);
    const bad = runCli(['grm', 'pretrain', '--tasks', 'fly', '--out', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--tasks: expected task names among/);
    const target = runCli(['grm', 'pretrain', '--location-weight', '1', '--location-target', 'world', '--out', out]);
    expect(target.code).toBe(2);
    expect(target.stderr).toMatch(/--location-target: expected hand or image, got "world"/);
  }, 300_000);

  it('with --location-target image, the head learns where the objects appear in each view, reported in the image frame', () => {
    const out = join(root, 'pretrained-image.onnx');
    const run = runCli(
      ['grm', 'pretrain', '--out', out, '--tasks', 'push-cube', '--episodes-per-task', '1', '--validation-per-task', '1', '--steps', '3', '--batch', '4', '--pairs', '20', '--location-weight', '1', '--location-target', 'image', '--json'],
      { timeoutMs: 240_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { locationTarget: string; locationRmseImage?: { first: number; last: number }; locationRmseCm?: unknown; parameters: number };
    expect(report.locationTarget).toBe('image');
    expect(report.locationRmseImage!.first).toBeGreaterThan(0);
    expect(report.locationRmseCm).toBeUndefined();
    expect(report.parameters).toBe(127_356);
  }, 300_000);
});

const realDemo = join(repoRoot, '..', 'shared', 'data', 'clean-table', 'episode_001');
const hasRealDemo = existsSync(realDemo);
if (!hasRealDemo) console.warn(`skipping the real-data adaptation test: ${realDemo} is absent (../shared is not checked out)`);

describe.skipIf(!hasRealDemo)('one-shot adaptation on the real clean-table demo (../shared)', () => {
  it('adapts the shipped GRM-tiny, passes the VOC threshold, scores the demo with its references and episodes made from it', async () => {
    const out = join(root, 'clean-table.onnx');
    const adapt = runCli(['adapt', realDemo, '--out', out, '--json'], { timeoutMs: 300_000 });
    expect(adapt.code, adapt.stderr).toBe(0);
    const report = JSON.parse(adapt.stdout) as { after: { forward: number; reversed: number }; minVoc: number };
    expect(report.minVoc).toBe(0.9);
    expect(report.after.forward).toBeGreaterThanOrEqual(0.9);
    const score = runCli(['score', realDemo, '--model', out, '--stride', '20', '--json'], { timeoutMs: 300_000 });
    expect(score.code, score.stderr).toBe(0);
    const result = JSON.parse(score.stdout) as ScoreJson;
    expect(result.goal).toMatch(/adapted model references/);
    expect(result.steps.length).toBe(65);

    // Issue 31's real-data goals, on episodes made from the demo (reward/real-checks.ts): a copy
    // at stride 30 seen by cameras set up differently, and the demo forward then back to 40%.
    const config = loadConfig();
    const demo = await openEpisode(realDemo, config);
    const model = await OnnxRewardModel.load(out, { executionProvider: 'cpu' });
    try {
      const figures = await realDemoFigures(model, demo, { stride: 30, fusion: config.reward.fusion, completion: completionRule() });
      // Measured 0.872 and 0.153 (issue 31's goals for another real episode: 0.93 and 0.12); these
      // bounds guard against a regression of the shipped model or of adaptation.
      expect(figures.perturbed.voc).toBeGreaterThanOrEqual(0.85);
      expect(figures.perturbed.mae).toBeLessThanOrEqual(0.17);
      expect(figures.perturbed.completionPaper).not.toBe('failure');
      expect(figures.forwardThenBack.finalError).toBeLessThanOrEqual(0.15);
      expect(figures.forwardThenBack.spearman).toBeGreaterThanOrEqual(0.85);
    } finally {
      await model.close();
      await demo.close();
    }
  }, 600_000);
});
