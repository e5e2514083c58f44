import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { runCli } from '../testing.js';

const dir = mkdtempSync(join(tmpdir(), 'dopamine-sim-cli-'));

describe('dopamine sim', () => {
  it('lists the tasks as one JSON document', () => {
    const run = runCli(['sim', 'tasks', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const { tasks } = JSON.parse(run.stdout) as { tasks: Array<{ name: string; heldOut: boolean; phases: string[]; instructions: string[] }> };
    expect(tasks.map((t) => t.name)).toEqual(expect.arrayContaining(['push-cube', 'pick-place', 'open-drawer', 'stack-blocks', 'press-button']));
    expect(tasks.filter((t) => t.heldOut).map((t) => t.name)).toEqual(['pick-place']);
    expect(tasks.every((t) => t.phases.length >= 3 && t.instructions.length >= 2)).toBe(true);
  });

  it('exits 2 on an unknown task and lists the tasks', () => {
    for (const args of [['expert'], ['record', '--out', join(dir, 'x')]]) {
      const sub = args[0]!;
      const run = runCli(['sim', ...args, '--task', 'juggle']);
      expect(run.code, sub).toBe(2);
      expect(run.stderr).toMatch(/--task: expected one of push-cube, pick-place, open-drawer, stack-blocks, press-button, got "juggle"/);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('exits 2 on a bad noise level or a missing --out', () => {
    expect(runCli(['sim', 'expert', '--noise', '1.5']).stderr).toMatch(/--noise: expected a number in \[0, 1\], got "1.5"/);
    expect(runCli(['sim', 'record', '--task', 'push-cube']).stderr).toMatch(/--out: expected an output folder/);
  });

  it("prints the expert's success rate", () => {
    const run = runCli(['sim', 'expert', '--task', 'open-drawer', '--episodes', '3', '--seed', '4', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { task: string; episodes: number; successRate: number; results: Array<{ seed: number }> };
    expect(report).toMatchObject({ task: 'open-drawer', episodes: 3, successRate: 1 });
    expect(report.results.map((r) => r.seed)).toEqual([4, 5, 6]);
  });

  it('writes the three views side by side as a PNG', async () => {
    const out = join(dir, 'views.png');
    const run = runCli(['sim', 'snapshot', '--task', 'stack-blocks', '--out', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const meta = await sharp(out).metadata();
    expect(meta.format).toBe('png');
    expect([meta.width, meta.height]).toEqual([3 * 128 + 2 * 4, 96]);
  });

  it('records episodes and refuses a folder that already holds some', () => {
    const out = join(dir, 'rec');
    const run = runCli(['sim', 'record', '--task', 'press-button', '--episodes', '1', '--seed', '2', '--out', out, '--width', '32', '--height', '24', '--json']);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ task: 'press-button', successes: 1 });
    expect(readdirSync(out).sort()).toEqual(['episode_000001', 'task_instruction.json']);
    const again = runCli(['sim', 'record', '--task', 'press-button', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/holds? 1 episodes?|with 1 episodes.*--overwrite/);
  });
});
