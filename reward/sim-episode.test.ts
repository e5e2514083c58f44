/**
 * A simulator recording goes through the reward core exactly like the real demo: the folder
 * reader opens it, and `labels` / `pairs` run on it unchanged.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/testing.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { recordEpisodes, type RecordedEpisode } from '../robot/sim/record.js';
import { openEpisodeFolder } from './episode-folder.js';

const config = configSchema.parse({});
let out: string;
let recorded: RecordedEpisode;

describe('a recorded simulator episode in the reward core', () => {
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'dopamine-sim-episode-'));
    [recorded] = (await recordEpisodes({ config, task: 'push-cube', episodes: 1, noise: 0, seed: 3, out, width: 64, height: 48 })) as [RecordedEpisode];
  });

  it('opens with the folder reader: frame count, keyframes, instructions and every view', async () => {
    const episode = await openEpisodeFolder(recorded.folder, { log: createLogger('test', 'silent') });
    try {
      expect(episode.frameCount).toBe(recorded.frames);
      expect(episode.segments.map((s) => [s.startFrame, s.endFrame])).toEqual(recorded.keyframes.map((k) => [k.start_frame_id, k.end_frame_id]));
      expect(episode.instructions.length).toBeGreaterThan(0);
      expect(episode.roles).toEqual(['front', 'left_wrist', 'right_wrist']);
      const last = await episode.frame('front', recorded.frames - 1);
      expect([last.width, last.height]).toEqual([64, 48]);
    } finally {
      await episode.close();
    }
  });

  it('gives step-wise labels through `dopamine labels`', () => {
    const run = runCli(['labels', recorded.folder, '--sample-factor', '2', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const labels = JSON.parse(run.stdout) as { frames: number[]; progress: number[]; subtasks: number };
    expect(labels.subtasks).toBe(recorded.keyframes.length);
    expect(labels.frames[0]).toBe(recorded.keyframes[0]!.start_frame_id);
    expect(labels.frames.at(-1)).toBe(recorded.keyframes.at(-1)!.end_frame_id);
    expect(labels.progress[0]).toBe(0);
    expect(labels.progress.at(-1)).toBe(1);
  });

  it('gives training pairs through `dopamine pairs`', () => {
    const run = runCli(['pairs', recorded.folder, '--max', '50', '--seed', '2', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { pairs: Array<{ before: number; after: number; hop: number; instruction: string }> };
    expect(result.pairs.length).toBeGreaterThan(0);
    for (const pair of result.pairs) {
      expect(pair.before).toBeGreaterThanOrEqual(0);
      expect(pair.after).toBeLessThan(recorded.frames);
      expect(Math.abs(pair.hop)).toBeLessThanOrEqual(1);
      expect(pair.instruction.length).toBeGreaterThan(0);
    }
  });
});
