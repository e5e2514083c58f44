import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../common/errors.js';
import { configSchema } from '../../config/schema.js';
import { recordEpisodes, type RecordedEpisode, type StateLine } from './record.js';

const config = configSchema.parse({});
const reference = join(import.meta.dirname, '../../../shared/data/clean-table/episode_001/annotated_keyframes.json');

interface VideoInfo {
  codec: string;
  width: number;
  height: number;
  pixFmt: string;
  fps: string;
  frames: number;
}

function probe(file: string): VideoInfo {
  const run = spawnSync(
    'ffprobe',
    ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,pix_fmt,r_frame_rate,nb_read_frames', '-of', 'json', file],
    { encoding: 'utf8' },
  );
  expect(run.status, run.stderr).toBe(0);
  const s = (JSON.parse(run.stdout) as { streams: Array<Record<string, string | number>> }).streams[0]!;
  return { codec: String(s.codec_name), width: Number(s.width), height: Number(s.height), pixFmt: String(s.pix_fmt), fps: String(s.r_frame_rate), frames: Number(s.nb_read_frames) };
}

interface Keyframe {
  anotation: string;
  start_frame_id: number;
  end_frame_id: number;
}

/** The structural checks a reader of the reference layout relies on. */
function checkEpisode(folder: string, expectedPhases: readonly string[]): { frames: number; keyframes: Keyframe[] } {
  const states = readFileSync(join(folder, 'states.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as StateLine);
  const frames = states.length;
  states.forEach((s, i) => {
    expect(s.frame).toBe(i);
    expect(s.eePosition).toHaveLength(3);
    expect(s.action === null).toBe(i === frames - 1);
  });
  for (const camera of ['cam_high', 'cam_left_wrist', 'cam_right_wrist']) {
    const info = probe(join(folder, `${camera}.mp4`));
    expect(info).toMatchObject({ codec: 'h264', pixFmt: 'yuv420p', fps: `${config.robot.controlHz}/1`, frames });
    expect(info.width % 2).toBe(0);
    expect(info.height % 2).toBe(0);
  }
  const keyframes = JSON.parse(readFileSync(join(folder, 'annotated_keyframes.json'), 'utf8')) as Keyframe[];
  expect(keyframes.length).toBeGreaterThan(0);
  keyframes.forEach((k, i) => {
    expect(Object.keys(k).sort()).toEqual(['anotation', 'end_frame_id', 'start_frame_id']);
    expect(Number.isInteger(k.start_frame_id) && Number.isInteger(k.end_frame_id)).toBe(true);
    expect(k.start_frame_id).toBeLessThan(k.end_frame_id);
    expect(k.start_frame_id).toBeGreaterThanOrEqual(0);
    expect(k.end_frame_id).toBeLessThanOrEqual(frames - 1);
    expect(expectedPhases).toContain(k.anotation);
    if (i > 0) expect(k.start_frame_id).toBe(keyframes[i - 1]!.end_frame_id);
  });
  expect(keyframes[0]!.start_frame_id).toBe(0);
  return { frames, keyframes };
}

describe('recording episodes in the reference layout', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'dopamine-sim-record-')), 'press');
  let recorded: RecordedEpisode[];
  const phases = ['move above the button', 'press the button', 'lift the hand'];

  beforeAll(async () => {
    recorded = await recordEpisodes({ config, task: 'press-button', episodes: 2, noise: 0, seed: 3, out, width: 64, height: 48 });
  });

  it('writes task_instruction.json and numbered episodes with one mp4 per camera, keyframes and states', () => {
    const instructions = JSON.parse(readFileSync(join(out, 'task_instruction.json'), 'utf8')) as unknown;
    expect(Array.isArray(instructions)).toBe(true);
    expect((instructions as unknown[]).every((s) => typeof s === 'string' && s.length > 0)).toBe(true);
    expect(readdirSync(out).sort()).toEqual(['episode_000001', 'episode_000002', 'task_instruction.json']);
    for (const [i, episode] of recorded.entries()) {
      const { frames, keyframes } = checkEpisode(join(out, `episode_00000${i + 1}`), phases);
      expect(frames).toBe(episode.frames);
      // A clean demo goes through every phase and ends at the last frame.
      expect(keyframes.map((k) => k.anotation)).toEqual(phases);
      expect(keyframes.at(-1)!.end_frame_id).toBe(frames - 1);
      expect(episode.success).toBe(true);
      const meta = JSON.parse(readFileSync(join(out, `episode_00000${i + 1}`, 'episode.json'), 'utf8')) as Record<string, unknown>;
      expect(meta).toMatchObject({ task: 'press-button', seed: 3 + i, noise: 0, success: true, frames, width: 64, height: 48 });
    }
  });

  it('never overwrites episodes unless asked; --append continues the numbering', async () => {
    await expect(recordEpisodes({ config, task: 'press-button', episodes: 1, noise: 0, seed: 9, out, width: 64, height: 48 })).rejects.toThrow(InputError);
    expect(readdirSync(out)).toHaveLength(3);
    await expect(
      recordEpisodes({ config, task: 'push-cube', episodes: 1, noise: 0, seed: 9, out, existing: 'append', width: 64, height: 48 }),
    ).rejects.toThrow(/same task/);
    const appended = await recordEpisodes({ config, task: 'press-button', episodes: 1, noise: 0.5, seed: 9, out, existing: 'append', width: 64, height: 48 });
    expect(appended[0]!.folder).toBe(join(out, 'episode_000003'));
    checkEpisode(appended[0]!.folder, phases);
    await recordEpisodes({ config, task: 'press-button', episodes: 1, noise: 0, seed: 9, out, existing: 'overwrite', width: 66, height: 50 });
    expect(readdirSync(out).sort()).toEqual(['episode_000001', 'task_instruction.json']);
    expect(probe(join(out, 'episode_000001', 'cam_high.mp4'))).toMatchObject({ width: 66, height: 50 });
  });

  it('refuses an output path that is a file', async () => {
    const file = join(out, 'task_instruction.json');
    await expect(recordEpisodes({ config, task: 'press-button', episodes: 1, noise: 0, seed: 1, out: file })).rejects.toThrow(/expected an output folder, got a file/);
  });

  it('pads odd image sizes to even ones for H.264', async () => {
    const odd = join(mkdtempSync(join(tmpdir(), 'dopamine-sim-odd-')), 'odd');
    await recordEpisodes({ config, task: 'press-button', episodes: 1, noise: 0, seed: 1, out: odd, width: 33, height: 25 });
    expect(probe(join(odd, 'episode_000001', 'cam_left_wrist.mp4'))).toMatchObject({ width: 34, height: 26 });
  });

  it.skipIf(!existsSync(reference))('uses the keys of the real demo (skipped without ../shared/data/clean-table)', () => {
    const real = JSON.parse(readFileSync(reference, 'utf8')) as Keyframe[];
    const ours = JSON.parse(readFileSync(join(out, 'episode_000001', 'annotated_keyframes.json'), 'utf8')) as Keyframe[];
    expect(Object.keys(ours[0]!).sort()).toEqual(Object.keys(real[0]!).sort());
    real.slice(1).forEach((k, i) => expect(k.start_frame_id).toBe(real[i]!.end_frame_id));
  });
});
