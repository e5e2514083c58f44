import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../config/schema.js';
import type { Episode } from '../reward/episode.js';
import { writeEpisodeMcap } from '../reward/mcap-export.js';
import type * as OpenEpisodeModule from '../reward/open-episode.js';
import { centreColour, paletteColour, paletteIndex, solidFrame } from '../reward/testing.js';
import type { CameraRole } from '../robot/types.js';
import { recordingPath } from '../launch/episode-recorder.js';
import { RecordedFrames, RecordingError } from './recorded-frames.js';

/** Every recording this file's RecordedFrames opened, and whether it was closed again. */
const opened = vi.hoisted(() => [] as { file: string; closed: boolean }[]);
vi.mock('../reward/open-episode.js', async (importOriginal) => {
  const real = await importOriginal<typeof OpenEpisodeModule>();
  return {
    ...real,
    openEpisode: async (...args: Parameters<typeof real.openEpisode>) => {
      const episode = await real.openEpisode(...args);
      const entry = { file: args[0], closed: false };
      opened.push(entry);
      const close = episode.close.bind(episode);
      episode.close = async () => {
        entry.closed = true;
        await close();
      };
      return episode;
    },
  };
});

const config = configSchema.parse({});
const WIDTH = 40;
const HEIGHT = 30;
/** Each view shows frame k in its own palette shift, so views and frames are told apart. */
const SHIFT: Record<CameraRole, number> = { front: 0, left_wrist: 7, right_wrist: 13 };

/** An episode of `steps` steps (steps + 1 observations) seen by `roles`, at 10 fps. */
function memoryEpisode(steps: number, roles: CameraRole[]): Episode {
  return {
    name: 'memory',
    instructions: ['test'],
    roles,
    frameCount: steps + 1,
    fps: 10,
    segments: [{ label: 'all', startFrame: 0, endFrame: steps }],
    annotated: false,
    frame: async (role, index) => ({
      width: WIDTH,
      height: HEIGHT,
      rgb: solidFrame(WIDTH, HEIGHT, paletteColour(index + SHIFT[role])),
    }),
    close: async () => undefined,
  };
}

let folder: string;
const record = (episode: Episode, file: string) =>
  writeEpisodeMcap(episode, file, {
    views: config.cameras.views,
    imageTopic: config.robot.ros2.imageTopic,
    transport: 'jpeg',
  });

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'dopamine-recorded-frames-'));
  await record(memoryEpisode(4, ['front', 'left_wrist']), recordingPath(folder, 12));
  await record(memoryEpisode(2, ['front', 'left_wrist', 'right_wrist']), recordingPath(folder, 15));
  // Episode 13 is still being written.
  copyFileSync(recordingPath(folder, 12), `${recordingPath(folder, 13)}.partial`);
  writeFileSync(recordingPath(folder, 14), 'not an mcap file');
  const whole = readFileSync(recordingPath(folder, 12));
  writeFileSync(recordingPath(folder, 16), whole.subarray(0, Math.floor(whole.length / 2)));
});
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

describe('recorded frames of an episode', () => {
  it('names a recording by its episode index, padded to 6 digits', () => {
    const folder = join('runs', 'default', 'serve', 'episodes');
    expect(recordingPath(folder, 12)).toBe(join(folder, 'episode-000012.mcap'));
  });

  it('gives frames (steps + 1), the recorded views and the fps', async () => {
    const frames = new RecordedFrames({ folder, config });
    expect(await frames.info(12)).toEqual({ frames: 5, views: ['front', 'left_wrist'], fps: 10 });
    expect(await frames.info(15)).toEqual({ frames: 3, views: ['front', 'left_wrist', 'right_wrist'], fps: 10 });
    await frames.close();
  });

  it('gives a frame of a view as a JPEG of the recorded size', async () => {
    const frames = new RecordedFrames({ folder, config });
    for (const [frame, view] of [[3, 'left_wrist'], [0, 'front'], [4, 'front']] as const) {
      const jpeg = (await frames.frameJpeg(12, frame, view))!;
      expect(jpeg.subarray(0, 3).toString('hex')).toBe('ffd8ff');
      const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([WIDTH, HEIGHT, 3]);
      const centre = centreColour({ width: info.width, height: info.height, rgb: data });
      expect(paletteIndex(centre)).toBe(frame + SHIFT[view]);
    }
    await frames.close();
  });

  it('answers null for an episode not recorded, a frame out of range and a view without a camera', async () => {
    const frames = new RecordedFrames({ folder, config });
    expect(await frames.info(99)).toBeNull();
    expect(await frames.frameJpeg(99, 0, 'front')).toBeNull();
    expect(await frames.frameJpeg(12, 5, 'front')).toBeNull();
    expect(await frames.frameJpeg(12, -1, 'front')).toBeNull();
    expect(await frames.frameJpeg(12, 0, 'right_wrist')).toBeNull();
    await frames.close();
  });

  it('ignores a recording still being written (.partial)', async () => {
    const frames = new RecordedFrames({ folder, config });
    expect(await frames.info(13)).toBeNull();
    expect(await frames.frameJpeg(13, 0, 'front')).toBeNull();
    await frames.close();
  });

  it('says in one line that a corrupt or truncated recording cannot be read, and keeps serving others', async () => {
    const frames = new RecordedFrames({ folder, config });
    for (const episode of [14, 16]) {
      const error = await frames.info(episode).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RecordingError);
      const message = (error as Error).message;
      const file = `episode-0000${episode}\\.mcap`;
      expect(message).toMatch(new RegExp(`^episode ${episode}: recording not readable \\(.*${file}: expected .*MCAP`));
      expect(message).not.toContain('\n');
      await expect(frames.frameJpeg(episode, 0, 'front')).rejects.toThrow(RecordingError);
    }
    expect((await frames.info(12))?.frames).toBe(5);
    await frames.close();
  });
});

describe('recorded frames keep one recording open', () => {
  const stillOpen = () => opened.filter((o) => !o.closed).map((o) => o.file);

  it('opens on demand, closes the previous one and closes the last on close()', async () => {
    opened.length = 0;
    const frames = new RecordedFrames({ folder, config });
    expect(opened).toEqual([]);
    await frames.info(12);
    await frames.frameJpeg(12, 1, 'front');
    expect(opened).toHaveLength(1);
    await frames.frameJpeg(15, 1, 'right_wrist');
    await vi.waitFor(() => expect(stillOpen()).toEqual([recordingPath(folder, 15)]));
    expect(opened).toHaveLength(2);
    await frames.close();
    expect(stillOpen()).toEqual([]);
    await expect(frames.info(12)).rejects.toThrow(/closed/);
  });

  it('lets a read in progress finish before closing the recording it reads', async () => {
    opened.length = 0;
    const frames = new RecordedFrames({ folder, config });
    const [first, second] = await Promise.all([
      frames.frameJpeg(12, 2, 'left_wrist'),
      frames.frameJpeg(15, 2, 'left_wrist'),
    ]);
    expect(first?.subarray(0, 3).toString('hex')).toBe('ffd8ff');
    expect(second?.subarray(0, 3).toString('hex')).toBe('ffd8ff');
    await vi.waitFor(() => expect(stillOpen()).toEqual([recordingPath(folder, 15)]));
    await frames.close();
    expect(stillOpen()).toEqual([]);
  });

  it('closes a recording whose open was still in flight at close()', async () => {
    opened.length = 0;
    const frames = new RecordedFrames({ folder, config });
    const info = frames.info(12);
    await frames.close();
    await info.catch(() => undefined);
    expect(opened).toHaveLength(1);
    expect(stillOpen()).toEqual([]);
  });
});
