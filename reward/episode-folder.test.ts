import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { runCli } from '../cli/testing.js';
import { openEpisodeFolder } from './episode-folder.js';
import { centreColour, paletteColour, paletteIndex, solidFrame, writeJson, writePngFrames, writeVideo } from './testing.js';

const W = 32;
const H = 24;
const FRAMES = 40;
const work = mkdtempSync(join(tmpdir(), 'dopamine-episode-'));

/** Camera c shows palette colour (k + 5c) % 64 at frame k, so cameras and frames are told apart. */
function cameraFrames(camera: number, count = FRAMES): Uint8Array[] {
  return Array.from({ length: count }, (_, k) => solidFrame(W, H, paletteColour((k + 5 * camera) % 64)));
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger: Logger & { warnings: string[] } = {
    warnings,
    debug: () => {},
    info: () => {},
    warn: (m) => warnings.push(m),
    error: () => {},
    child: () => logger,
  };
  return logger;
}

const keyframes = [
  { anotation: 'reach', start_frame_id: 2, end_frame_id: 20 },
  { anotation: 'place', start_frame_id: 20, end_frame_id: 38 },
];

/** Makes <root>/task_instruction.json and <root>/episode_001 with the given cameras. */
function makeEpisode(name: string, cameras: Array<'cam_high' | 'cam_left_wrist' | 'cam_right_wrist'>, options: { keyframes?: unknown; counts?: number[] } = {}): string {
  const root = join(work, name);
  const dir = join(root, 'episode_001');
  mkdirSync(dir, { recursive: true });
  writeJson(join(root, 'task_instruction.json'), ['stack the cubes', 'put one cube on the other']);
  cameras.forEach((camera, c) => writeVideo(join(dir, `${camera}.mp4`), cameraFrames(c, options.counts?.[c] ?? FRAMES), W, H));
  if (options.keyframes !== null) writeJson(join(dir, 'annotated_keyframes.json'), options.keyframes ?? keyframes);
  return dir;
}

async function expectInputError(promise: Promise<unknown>, file: string, reason: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).message).toContain(file);
  expect((error as InputError).message).toMatch(reason);
}

let threeCameras: string;
beforeAll(() => {
  threeCameras = makeEpisode('three', ['cam_high', 'cam_left_wrist', 'cam_right_wrist']);
});

describe('episode folder reader: videos', () => {
  it('reads instructions, keyframes, frame count, fps and roles without decoding', async () => {
    const episode = await openEpisodeFolder(join(threeCameras, '..'), { log: recordingLogger() });
    expect(episode.name).toBe('episode_001');
    expect(episode.instructions).toEqual(['stack the cubes', 'put one cube on the other']);
    expect(episode.frameCount).toBe(FRAMES);
    expect(episode.fps).toBe(10);
    expect(episode.roles).toEqual(['front', 'left_wrist', 'right_wrist']);
    expect(episode.segments).toEqual([
      { label: 'reach', startFrame: 2, endFrame: 20 },
      { label: 'place', startFrame: 20, endFrame: 38 },
    ]);
    expect(episode.annotated).toBe(true);
    await episode.close();
  });

  it('returns the right frame of each camera in any access order', async () => {
    const episode = await openEpisodeFolder(threeCameras, { chunkFrames: 6, log: recordingLogger() });
    const order = [37, 3, 20, 0, 39, 8, 7, 16, 15];
    for (const index of order) {
      for (const [c, role] of (['front', 'left_wrist', 'right_wrist'] as const).entries()) {
        const image = await episode.frame(role, index);
        expect(image.width).toBe(W);
        expect(image.height).toBe(H);
        expect(image.rgb.length).toBe(W * H * 3);
        const colour = centreColour(image);
        expect(paletteIndex(colour), `${role} frame ${index}`).toBe((index + 5 * c) % 64);
        paletteColour((index + 5 * c) % 64).forEach((v, ch) => expect(Math.abs(colour[ch]! - v)).toBeLessThanOrEqual(12));
      }
    }
    await episode.close();
  });

  it('walks a video forwards and backwards frame by frame', async () => {
    const episode = await openEpisodeFolder(threeCameras, { chunkFrames: 5, seekThreshold: 6, log: recordingLogger() });
    const forward = [...Array(FRAMES).keys()];
    const backward = [...forward].reverse();
    const requests = [...forward, ...backward, 2, 30, 31, 9];
    const seen: number[] = [];
    for (const index of requests) seen.push(paletteIndex(centreColour(await episode.frame('left_wrist', index))) - 5);
    expect(seen).toEqual(requests);
    await episode.close();
  });

  it('decodes at a reduced size and stays right with a cache smaller than one chunk', async () => {
    const episode = await openEpisodeFolder(threeCameras, { size: { width: 16, height: 12 }, cacheBytes: 16 * 12 * 3 * 2, chunkFrames: 8, log: recordingLogger() });
    for (const index of [30, 5, 31, 12]) {
      const image = await episode.frame('front', index);
      expect([image.width, image.height, image.rgb.length]).toEqual([16, 12, 16 * 12 * 3]);
      expect(paletteIndex(centreColour(image))).toBe(index);
    }
    await Promise.all([episode.frame('left_wrist', 9), episode.frame('left_wrist', 10)]).then((images) =>
      expect(images.map((image) => paletteIndex(centreColour(image)))).toEqual([14, 15]),
    );
    await episode.close();
  });

  it('repeats the front view for missing wrist cameras (one and two cameras)', async () => {
    const one = await openEpisodeFolder(makeEpisode('one', ['cam_high']), { log: recordingLogger() });
    expect(one.roles).toEqual(['front']);
    const front = await one.frame('front', 11);
    expect(Buffer.from((await one.frame('left_wrist', 11)).rgb).equals(Buffer.from(front.rgb))).toBe(true);
    expect(Buffer.from((await one.frame('right_wrist', 11)).rgb).equals(Buffer.from(front.rgb))).toBe(true);
    await one.close();

    const two = await openEpisodeFolder(makeEpisode('two', ['cam_high', 'cam_left_wrist']), { log: recordingLogger() });
    expect(two.roles).toEqual(['front', 'left_wrist']);
    expect(paletteIndex(centreColour(await two.frame('left_wrist', 11)))).toBe(16);
    expect(paletteIndex(centreColour(await two.frame('right_wrist', 11)))).toBe(11);
    await two.close();
  });

  it('maps configured camera names to roles (and reads AVI)', async () => {
    const dir = join(work, 'renamed', 'episode_007');
    mkdirSync(dir, { recursive: true });
    writeVideo(join(dir, 'top.mp4'), cameraFrames(0), W, H);
    writeVideo(join(dir, 'gripper.avi'), cameraFrames(2), W, H); // AVI: decoded from the start, not seeked
    const episode = await openEpisodeFolder(dir, {
      views: [
        { role: 'front', name: 'top' },
        { role: 'right_wrist', name: 'gripper' },
      ],
      log: recordingLogger(),
    });
    expect(episode.roles).toEqual(['front', 'right_wrist']);
    expect(paletteIndex(centreColour(await episode.frame('right_wrist', 4)))).toBe(14);
    expect(paletteIndex(centreColour(await episode.frame('right_wrist', 35)))).toBe(45);
    expect(paletteIndex(centreColour(await episode.frame('right_wrist', 17)))).toBe(27);
    expect(paletteIndex(centreColour(await episode.frame('left_wrist', 4)))).toBe(4);
    expect(episode.instructions).toEqual(['perform the task']);
    await episode.close();
  });

  it('gives one segment over the whole video and a warning when keyframes are missing', async () => {
    const log = recordingLogger();
    const episode = await openEpisodeFolder(makeEpisode('nokeys', ['cam_high'], { keyframes: null }), { log });
    expect(episode.segments).toEqual([{ label: 'whole episode', startFrame: 0, endFrame: FRAMES - 1 }]);
    expect(episode.annotated).toBe(false);
    expect(log.warnings.join('\n')).toMatch(/annotated_keyframes\.json: missing/);
    await episode.close();
  });
});

describe('episode folder reader: frame folders', () => {
  it('reads PNG frames exactly, and JPEG frames closely', async () => {
    const dir = join(work, 'png', 'episode_001');
    await writePngFrames(join(dir, 'cam_high'), cameraFrames(0, 12), W, H);
    mkdirSync(join(dir, 'cam_left_wrist'), { recursive: true });
    // JPEG frames named without zero padding: the reader sorts them numerically.
    await Promise.all(
      cameraFrames(1, 12).map(async (rgb, k) => {
        const { default: sharp } = await import('sharp');
        await sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 95 }).toFile(join(dir, 'cam_left_wrist', `${k}.jpg`));
      }),
    );
    writeJson(join(dir, 'annotated_keyframes.json'), [{ annotation: 'all', start_frame_id: 0, end_frame_id: 11 }]);
    const episode = await openEpisodeFolder(dir, { log: recordingLogger() });
    expect(episode.frameCount).toBe(12);
    expect(episode.roles).toEqual(['front', 'left_wrist']);
    for (const index of [9, 2, 11, 0]) {
      const front = await episode.frame('front', index);
      expect(Buffer.from(front.rgb).equals(Buffer.from(cameraFrames(0, 12)[index]!))).toBe(true);
      expect(paletteIndex(centreColour(await episode.frame('left_wrist', index)))).toBe(index + 5);
      expect(Buffer.from((await episode.frame('right_wrist', index)).rgb).equals(Buffer.from(front.rgb))).toBe(true);
    }
    const small = await openEpisodeFolder(dir, { size: { width: 8, height: 6 }, log: recordingLogger() });
    const image = await small.frame('front', 10);
    expect([image.width, image.height, image.rgb.length]).toEqual([8, 6, 8 * 6 * 3]);
    expect(paletteIndex(centreColour(image))).toBe(10);
    await episode.close();
    await small.close();
  });
});

describe('episode folder reader: crops', () => {
  it('applies a configured crop before resizing, for videos and frame folders', async () => {
    // Left half shows frame k's colour, right half colour k + 20.
    const halves = (count: number): Uint8Array[] =>
      Array.from({ length: count }, (_, k) => {
        const rgb = solidFrame(W, H, paletteColour(k));
        const right = paletteColour(k + 20);
        for (let y = 0; y < H; y++) for (let x = W / 2; x < W; x++) rgb.set(right, (y * W + x) * 3);
        return rgb;
      });
    const dir = join(work, 'crop', 'episode_001');
    mkdirSync(dir, { recursive: true });
    writeVideo(join(dir, 'cam_high.mp4'), halves(12), W, H);
    await writePngFrames(join(dir, 'cam_left_wrist'), halves(12), W, H);
    const crop: [number, number, number, number] = [W / 2 + 2, 2, W / 2 - 4, H - 4];
    const episode = await openEpisodeFolder(dir, {
      views: [
        { role: 'front', name: 'cam_high', crop },
        { role: 'left_wrist', name: 'cam_left_wrist', crop },
      ],
      log: recordingLogger(),
    });
    for (const role of ['front', 'left_wrist'] as const) {
      const image = await episode.frame(role, 7);
      expect([image.width, image.height]).toEqual([W / 2 - 4, H - 4]);
      expect(paletteIndex(centreColour(image)), role).toBe(27);
      expect(paletteIndex([image.rgb[0]!, image.rgb[1]!, image.rgb[2]!]), role).toBe(27);
    }
    await episode.close();
    const outside = openEpisodeFolder(dir, { views: [{ role: 'front', name: 'cam_high', crop: [20, 0, 20, 10] }], log: recordingLogger() });
    await expectInputError(outside, join(dir, 'cam_high.mp4'), /expected the crop \[20, 0, 20, 10\] inside the 32x24 frame/);
  });
});

describe('episode folder reader: bad input names the file and the reason', () => {
  it('refuses cameras with different frame counts', async () => {
    const dir = makeEpisode('counts', ['cam_high', 'cam_left_wrist'], { counts: [FRAMES, 30] });
    await expectInputError(openEpisodeFolder(dir, { log: recordingLogger() }), join(dir, 'cam_left_wrist.mp4'), /30 frames, expected 40/);
  });

  it('refuses keyframes out of order, overlapping, outside the video, empty or malformed', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [[keyframes[1], keyframes[0]], /out of order/],
      [[{ start_frame_id: 0, end_frame_id: 20 }, { start_frame_id: 15, end_frame_id: 30 }], /overlaps sub-task 1/],
      [[{ start_frame_id: 0, end_frame_id: 40 }], /outside the video \(frames 0\.\.39\)/],
      [[{ start_frame_id: -1, end_frame_id: 10 }], /outside the video/],
      [[{ start_frame_id: 5, end_frame_id: 5 }], /expected end_frame_id above start_frame_id/],
      [[], /at least one sub-task/],
      [[{ start_frame_id: '0', end_frame_id: 10 }], /expected integer start_frame_id/],
      [{ start_frame_id: 0 }, /expected a list/],
    ];
    const dir = makeEpisode('keys', ['cam_high']);
    const file = join(dir, 'annotated_keyframes.json');
    for (const [value, reason] of cases) {
      writeJson(file, value);
      await expectInputError(openEpisodeFolder(dir, { log: recordingLogger() }), file, reason);
    }
    writeFileSync(file, '[{"start_frame_id": 0,');
    await expectInputError(openEpisodeFolder(dir, { log: recordingLogger() }), file, /expected JSON/);
  });

  it('refuses an unreadable video, a missing front camera, and a root with two episodes', async () => {
    const dir = makeEpisode('broken', ['cam_high']);
    writeFileSync(join(dir, 'cam_high.mp4'), Buffer.from('this is not a video at all'));
    await expectInputError(openEpisodeFolder(dir, { log: recordingLogger() }), join(dir, 'cam_high.mp4'), /unreadable video/);

    const empty = join(work, 'empty', 'episode_001');
    mkdirSync(empty, { recursive: true });
    await expectInputError(openEpisodeFolder(empty, { log: recordingLogger() }), empty, /front camera cam_high\.mp4/);

    const root = join(work, 'twins');
    mkdirSync(join(root, 'episode_001'), { recursive: true });
    mkdirSync(join(root, 'episode_002'), { recursive: true });
    await expectInputError(openEpisodeFolder(root, { log: recordingLogger() }), root, /expected one episode, got 2/);

    const badInstructions = makeEpisode('instructions', ['cam_high']);
    writeJson(join(badInstructions, '..', 'task_instruction.json'), { task: 'x' });
    await expectInputError(openEpisodeFolder(badInstructions, { log: recordingLogger() }), 'task_instruction.json', /expected a list of instruction strings/);
  });

  it('says how to install ffmpeg when it is missing', async () => {
    const saved = process.env.DOPAMINE_FFPROBE;
    process.env.DOPAMINE_FFPROBE = join(work, 'no-such-ffprobe');
    try {
      await expectInputError(openEpisodeFolder(threeCameras, { log: recordingLogger() }), 'no-such-ffprobe', /install .*apt-get install ffmpeg/);
    } finally {
      if (saved === undefined) delete process.env.DOPAMINE_FFPROBE;
      else process.env.DOPAMINE_FFPROBE = saved;
    }
  });
});

describe('labels and pairs commands on synthetic episodes', () => {
  it('exit 2 with one line naming the file for bad keyframes', () => {
    const dir = makeEpisode('cli-bad', ['cam_high'], { keyframes: [{ start_frame_id: 0, end_frame_id: 99 }] });
    const run = runCli(['labels', dir, '--json']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const errors = run.stderr.split('\n').filter((line) => line.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(join(dir, 'annotated_keyframes.json'));
    expect(errors[0]).toMatch(/outside the video/);
  });

  it('exit 2 with install instructions when ffmpeg is not on PATH', () => {
    const run = runCli(['labels', threeCameras, '--json'], { env: { PATH: join(work, 'no-bin') } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/ffprobe: expected ffmpeg and ffprobe on PATH/);
    expect(run.stderr).toMatch(/apt-get install ffmpeg/);
  });

  it('labels a missing-keyframes episode over the whole video with a warning, without decoding frames', () => {
    const dir = makeEpisode('cli-nokeys', ['cam_high', 'cam_left_wrist'], { keyframes: null });
    // A broken ffmpeg proves that labels and pairs never decode a frame (ffprobe only).
    const env = { DOPAMINE_FFMPEG: join(work, 'no-such-ffmpeg') };
    const run = runCli(['labels', dir, '--json', '--sample-factor', '4'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/annotated_keyframes\.json: missing/);
    const labels = JSON.parse(run.stdout) as { frames: number[]; progress: number[]; subtasks: number };
    expect(labels.subtasks).toBe(1);
    expect(labels.frames[0]).toBe(0);
    expect(labels.frames[labels.frames.length - 1]).toBe(FRAMES - 1);
    // n = 39 / 4 = 9.75 -> m = 10 points per sub-task, 11 ids
    expect(labels.frames).toHaveLength(11);
    const pairs = runCli(['pairs', dir, '--json', '--sample-factor', '4', '--max', '40', '--seed', '3'], { env });
    expect(pairs.code, pairs.stderr).toBe(0);
    const sample = JSON.parse(pairs.stdout) as { pairs: Array<{ before: number; after: number; instruction: string }> };
    expect(sample.pairs).toHaveLength(40);
    for (const pair of sample.pairs) expect(['stack the cubes', 'put one cube on the other']).toContain(pair.instruction);
  });

  it('refuses bad flag values with exit 2 naming the flag', () => {
    for (const [args, flag] of [
      [['labels', threeCameras, '--sample-factor', '0'], '--sample-factor'],
      [['labels', threeCameras, '--rounding', 'ceil'], '--rounding'],
      [['pairs', threeCameras, '--max', 'many'], '--max'],
      [['pairs', threeCameras, '--seed', '-4'], '--seed'],
    ] as const) {
      const run = runCli([...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain(`${flag}: expected`);
    }
  });
});

const cleanTable = join(import.meta.dirname, '..', '..', 'shared', 'data', 'clean-table', 'episode_001');
const haveCleanTable = existsSync(join(cleanTable, 'cam_high.mp4'));
if (!haveCleanTable) console.warn(`skipping the real-video random-access test: ${cleanTable} is absent (../shared not checked out)`);

describe.skipIf(!haveCleanTable)('episode folder reader on the real clean-table demo (../shared)', () => {
  it('random access matches a sequential decode of the whole video', async () => {
    const size = { width: 32, height: 24 };
    const full = spawnSync('ffmpeg', ['-v', 'error', '-i', join(cleanTable, 'cam_high.mp4'), '-vf', `scale=${size.width}:${size.height}:flags=area`, '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const frameBytes = size.width * size.height * 3;
    expect(full.stdout.length).toBe(1277 * frameBytes);
    const episode = await openEpisodeFolder(cleanTable, { size, log: recordingLogger() });
    expect(episode.frameCount).toBe(1277);
    expect(episode.fps).toBe(30);
    expect(episode.roles).toEqual(['front', 'left_wrist', 'right_wrist']);
    expect(episode.instructions).toHaveLength(5);
    for (const index of [700, 0, 1276, 15, 16, 250, 251]) {
      const image = await episode.frame('front', index);
      const expected = full.stdout.subarray(index * frameBytes, (index + 1) * frameBytes);
      expect(Buffer.from(image.rgb).equals(expected), `frame ${index}`).toBe(true);
    }
    await episode.close();
  });
});

