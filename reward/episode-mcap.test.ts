import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@foxglove/rosmsg';
import { McapIndexedReader, McapStreamReader, McapWriter, type McapTypes } from '@mcap/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/testing.js';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { cdrCodec, schemaText } from '../robot/ros2/definitions.js';
import { rgbToImage, timeFromMs, nsFromTime } from '../robot/ros2/messages.js';
import type { CameraRole } from '../robot/types.js';
import type { Episode } from './episode.js';
import { openEpisodeFolder, REFERENCE_VIEWS } from './episode-folder.js';
import { openEpisodeMcap } from './episode-mcap.js';
import { stepwiseLabels } from './labels.js';
import { writeEpisodeMcap } from './mcap-export.js';
import { decompressHandlers, FileReadable, FileWritable } from './mcap-io.js';
import { openEpisode } from './open-episode.js';
import { centreColour, paletteColour, paletteIndex, solidFrame, writeJson, writePngFrames } from './testing.js';

const log = createLogger('test', 'silent');
const WIDTH = 24;
const HEIGHT = 16;
const FRAMES = 45;
const SEGMENTS = [
  { annotation: 'reach the cube', start_frame_id: 0, end_frame_id: 14 },
  { annotation: 'grasp it', start_frame_id: 14, end_frame_id: 30 },
  { annotation: 'lift it', start_frame_id: 30, end_frame_id: 44 },
];
/** Each camera shows frame k in its own palette shift, so views and frames are told apart. */
const SHIFT: Record<CameraRole, number> = { front: 0, left_wrist: 7, right_wrist: 13 };

let root: string;
let episodeDir: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'dopamine-mcap-'));
  episodeDir = join(root, 'demo', 'episode_001');
  mkdirSync(episodeDir, { recursive: true });
  writeJson(join(root, 'demo', 'task_instruction.json'), ['lift the red cube', 'pick up the cube']);
  writeJson(join(episodeDir, 'annotated_keyframes.json'), SEGMENTS);
  for (const view of REFERENCE_VIEWS) {
    const frames = Array.from({ length: FRAMES }, (_, k) => solidFrame(WIDTH, HEIGHT, paletteColour((k + SHIFT[view.role]) % 64)));
    await writePngFrames(join(episodeDir, view.name), frames, WIDTH, HEIGHT);
  }
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function jitter(role: CameraRole, frame: number): number {
  return ((frame * 7 + SHIFT[role] * 3) % 17) - 8; // -8..8 ms, under the 50 ms slop
}

function jointsPerFrame(): { names: string[]; positions: number[][] } {
  return { names: ['j1', 'j2', 'gripper_joint'], positions: Array.from({ length: FRAMES }, (_, k) => [k * 0.01, -k * 0.02, 0.04]) };
}

async function expectSameFrames(a: Episode, b: Episode, tolerance: Partial<Record<CameraRole, number>> = {}): Promise<void> {
  expect(b.frameCount).toBe(a.frameCount);
  for (const role of ['front', 'left_wrist', 'right_wrist'] as const) {
    for (const k of [0, 1, 17, 44]) {
      const fa = await a.frame(role, k);
      const fb = await b.frame(role, k);
      expect([fb.width, fb.height]).toEqual([fa.width, fa.height]);
      const tol = tolerance[role] ?? 0;
      if (tol === 0) expect(Buffer.compare(Buffer.from(fa.rgb), Buffer.from(fb.rgb))).toBe(0);
      else {
        expect(paletteIndex(centreColour(fb))).toBe((k + SHIFT[role]) % 64);
        const worst = fb.rgb.reduce((m, v, i) => Math.max(m, Math.abs(v - fa.rgb[i]!)), 0);
        expect(worst).toBeLessThanOrEqual(tol);
      }
    }
  }
}

describe('recorded demos in MCAP', () => {
  it('reads three camera topics (raw and compressed) and joint states as the same episode as the reference layout', async () => {
    const folder = await openEpisodeFolder(episodeDir, { log });
    const file = join(root, 'mixed.mcap');
    const written = await writeEpisodeMcap(folder, file, {
      views: REFERENCE_VIEWS,
      transport: { front: 'raw', left_wrist: 'png', right_wrist: 'jpeg' },
      stampOffsetMs: jitter,
      jointStates: jointsPerFrame(),
    });
    expect(written.topics.map((t) => `${t.type} ${t.topic} ${t.messages}`)).toEqual([
      `sensor_msgs/msg/Image /cam_high/image_raw ${FRAMES}`,
      `sensor_msgs/msg/CompressedImage /cam_left_wrist/image_raw/compressed ${FRAMES}`,
      `sensor_msgs/msg/CompressedImage /cam_right_wrist/image_raw/compressed ${FRAMES}`,
      `sensor_msgs/msg/JointState /joint_states ${FRAMES}`,
      'std_msgs/msg/String /keyframe 3',
    ]);

    const mcap = await openEpisodeMcap(file, { log });
    expect(mcap.topics.map((t) => t.topic)).toEqual(['/cam_high/image_raw', '/cam_left_wrist/image_raw/compressed', '/cam_right_wrist/image_raw/compressed']);
    expect(mcap.roles).toEqual(folder.roles);
    expect(mcap.instructions).toEqual(['lift the red cube', 'pick up the cube']);
    expect(mcap.segments).toEqual(folder.segments);
    expect(mcap.keyframeSource).toBe('metadata');
    expect(mcap.syncStats.views.map((v) => [v.received, v.synced, v.dropped])).toEqual([
      [FRAMES, FRAMES, 0],
      [FRAMES, FRAMES, 0],
      [FRAMES, FRAMES, 0],
    ]);
    expect(mcap.fps).toBeCloseTo(folder.fps, 0);
    expect(stepwiseLabels(mcap.segments, mcap.frameCount, { sampleFactor: 5 })).toEqual(stepwiseLabels(folder.segments, folder.frameCount, { sampleFactor: 5 }));
    await expectSameFrames(folder, mcap, { right_wrist: 24 });
    expect(mcap.jointStates!.names).toEqual(['j1', 'j2', 'gripper_joint']);
    expect(mcap.jointStates!.positions[10]).toEqual([0.1, -0.2, 0.04]);
    await mcap.close();
    await folder.close();
  });

  it('takes sub-tasks from /keyframe markers, or from a sidecar file before them', async () => {
    const folder = await openEpisodeFolder(episodeDir, { log });
    const dir = join(root, 'markers');
    mkdirSync(dir);
    const file = join(dir, 'bag_0.mcap');
    await writeEpisodeMcap(folder, file, { views: REFERENCE_VIEWS, transport: 'png', metadata: false, stampOffsetMs: jitter });
    const fromMarkers = await openEpisodeMcap(file, { log });
    expect(fromMarkers.keyframeSource).toBe('markers');
    expect(fromMarkers.segments).toEqual(folder.segments);
    // No metadata: the instructions come from task_instruction.json beside the file, else the default.
    expect(fromMarkers.instructions).toEqual(['perform the task']);
    await fromMarkers.close();
    writeJson(join(dir, 'bag_0.keyframes.json'), [{ annotation: 'all of it', start_frame_id: 2, end_frame_id: 40 }]);
    writeJson(join(dir, 'task_instruction.json'), { instruction: 'lift the cube' });
    const fromSidecar = await openEpisodeMcap(file, { log });
    expect(fromSidecar.keyframeSource).toBe('sidecar');
    expect(fromSidecar.segments).toEqual([{ label: 'all of it', startFrame: 2, endFrame: 40 }]);
    expect(fromSidecar.instructions).toEqual(['lift the cube']);
    await fromSidecar.close();
    writeJson(join(dir, 'bag_0.keyframes.json'), [{ annotation: 'too long', start_frame_id: 2, end_frame_id: 400 }]);
    await expect(openEpisodeMcap(file, { log })).rejects.toThrow(/bag_0\.keyframes\.json: .*outside the video/);
    await folder.close();
  });

  it('an exported MCAP round-trips: episode -> MCAP -> episode -> MCAP gives the same frames and sub-tasks', async () => {
    const folder = await openEpisodeFolder(episodeDir, { log });
    const first = join(root, 'first.mcap');
    const second = join(root, 'second.mcap');
    await writeEpisodeMcap(folder, first, { views: REFERENCE_VIEWS });
    const once = await openEpisodeMcap(first, { log });
    await writeEpisodeMcap(once, second, { views: REFERENCE_VIEWS });
    const twice = await openEpisodeMcap(second, { log });
    await expectSameFrames(folder, twice);
    expect(twice.segments).toEqual(folder.segments);
    expect(twice.instructions).toEqual(folder.instructions);
    expect(twice.frameStampsMs).toEqual(once.frameStampsMs);
    for (const e of [folder, once, twice]) await e.close();
  });

  it('writes what Foxglove opens: ros2 profile, ros2msg schemas that parse, cdr channels with QoS metadata, an index', async () => {
    const file = join(root, 'first.mcap');
    const reader = new McapStreamReader({ decompressHandlers });
    reader.append(readFileSync(file));
    const records: McapTypes.TypedMcapRecord[] = [];
    for (let r; (r = reader.nextRecord()); ) records.push(r);
    expect(reader.done()).toBe(true);
    const header = records.find((r) => r.type === 'Header') as McapTypes.TypedMcapRecords['Header'];
    expect(header.profile).toBe('ros2');
    const schemas = records.filter((r): r is McapTypes.TypedMcapRecords['Schema'] => r.type === 'Schema');
    for (const schema of schemas) {
      expect(schema.encoding).toBe('ros2msg');
      expect(parse(new TextDecoder().decode(schema.data), { ros2: true }).length).toBeGreaterThan(0);
    }
    expect(schemas.map((s) => s.name)).toContain('sensor_msgs/msg/Image');
    const channels = records.filter((r): r is McapTypes.TypedMcapRecords['Channel'] => r.type === 'Channel');
    for (const channel of channels) {
      expect(channel.messageEncoding).toBe('cdr');
      expect(channel.metadata.get('offered_qos_profiles')).toMatch(/reliability: 1/);
    }
    expect(records.some((r) => r.type === 'ChunkIndex')).toBe(true);
    expect(records.some((r) => r.type === 'Statistics')).toBe(true);
    const image = records.find((r): r is McapTypes.TypedMcapRecords['Message'] => r.type === 'Message' && r.channelId === channels[0]!.id)!;
    const decoded = cdrCodec<{ encoding: string; width: number; step: number }>('sensor_msgs/msg/Image').decode(image.data);
    expect(decoded).toMatchObject({ encoding: 'rgb8', width: WIDTH, step: WIDTH * 3 });
  });

  it('reads lz4-compressed chunks and synchronises views with dropped and late frames', async () => {
    const lz4 = createRequire(import.meta.url)('lz4js') as { compress(src: Uint8Array): Uint8Array };
    const file = join(root, 'lz4.mcap');
    const writable = new FileWritable(file);
    const writer = new McapWriter({ writable, chunkSize: 2000, compressChunk: (data) => ({ compression: 'lz4', compressedData: lz4.compress(data) }) });
    await writer.start({ profile: 'ros2', library: 'test' });
    const schemaId = await writer.registerSchema({ name: 'sensor_msgs/msg/Image', encoding: 'ros2msg', data: new TextEncoder().encode(schemaText('sensor_msgs/msg/Image')) });
    const ids = [];
    for (const view of REFERENCE_VIEWS) ids.push(await writer.registerChannel({ topic: `/${view.name}/image_raw`, schemaId, messageEncoding: 'cdr', metadata: new Map() }));
    const codec = cdrCodec('sensor_msgs/msg/Image');
    // 20 frames at 10 Hz; the left wrist drops frame 5, the right wrist's frame 9 arrives 60 ms late (after the other views' frame 10).
    const messages: { channel: number; stamp: number; log: number; k: number; v: number }[] = [];
    for (let k = 0; k < 20; k++) {
      for (let v = 0; v < 3; v++) {
        if (v === 1 && k === 5) continue;
        const stamp = 1000 + k * 100 + v * 4;
        messages.push({ channel: ids[v]!, stamp, log: stamp + (v === 2 && k === 9 ? 70 : 10), k, v });
      }
    }
    messages.sort((a, b) => a.log - b.log);
    let sequence = 0;
    for (const m of messages) {
      const image = rgbToImage({ width: 8, height: 6, rgb: solidFrame(8, 6, paletteColour((m.k + SHIFT[REFERENCE_VIEWS[m.v]!.role]) % 64)) }, m.stamp, 'cam', 'bgr8');
      const time = nsFromTime(timeFromMs(m.log));
      await writer.addMessage({ channelId: m.channel, sequence: ++sequence, logTime: time, publishTime: time, data: codec.encode(image) });
    }
    await writer.end();
    writable.close();
    const episode = await openEpisodeMcap(file, { log, size: { width: 4, height: 3 } });
    expect(episode.frameCount).toBe(19);
    expect(episode.frameStampsMs).toEqual([...Array(20).keys()].filter((k) => k !== 5).map((k) => 1000 + k * 100));
    expect(episode.syncStats.views.map((v) => v.dropped)).toEqual([1, 0, 1]);
    for (const [index, k] of [[4, 4], [5, 6], [8, 9], [18, 19]] as const) {
      for (const role of ['front', 'left_wrist', 'right_wrist'] as const) {
        const frame = await episode.frame(role, index);
        expect([frame.width, frame.height]).toEqual([4, 3]);
        expect(paletteIndex(centreColour(frame))).toBe((k + SHIFT[role]) % 64);
      }
    }
    expect(episode.annotated).toBe(false);
    expect(episode.segments).toEqual([{ label: 'whole episode', startFrame: 0, endFrame: 18 }]);
    await episode.close();
  });

  it('refuses what is not a complete ROS 2 MCAP with a line naming the file', async () => {
    const notMcap = join(root, 'not.mcap');
    writeFileSync(notMcap, 'hello, this is text');
    await expect(openEpisodeMcap(notMcap, { log })).rejects.toThrow(/not\.mcap: expected an MCAP file \(magic/);
    await expect(openEpisodeMcap(join(root, 'missing.mcap'), { log })).rejects.toThrow(/missing\.mcap: expected an MCAP file, got no such file/);
    const truncated = join(root, 'truncated.mcap');
    const bytes = readFileSync(join(root, 'first.mcap'));
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(openEpisodeMcap(truncated, { log })).rejects.toThrow(/truncated\.mcap: expected a complete, indexed MCAP file/);
    const views = [{ role: 'front' as const, name: 'cam_top' }];
    await expect(openEpisodeMcap(join(root, 'first.mcap'), { log, views })).rejects.toThrow(
      /expected the front camera on \/cam_top\/image_raw .*got image topics: \/cam_high\/image_raw, \/cam_left_wrist\/image_raw, \/cam_right_wrist\/image_raw/,
    );
  });

  it('openEpisode takes a folder, an .mcap file or a rosbag2 folder alike', async () => {
    const config = configSchema.parse({});
    const bag = join(root, 'rosbag');
    mkdirSync(bag);
    copyFileSync(join(root, 'first.mcap'), join(bag, 'rosbag_0.mcap'));
    writeFileSync(join(bag, 'metadata.yaml'), 'rosbag2_bagfile_information:\n  storage_identifier: mcap\n');
    const opened = await Promise.all([openEpisode(episodeDir, config, { log }), openEpisode(join(root, 'first.mcap'), config, { log }), openEpisode(bag, config, { log })]);
    expect(opened.map((e) => e.format)).toEqual(['folder', 'mcap', 'mcap']);
    for (const e of opened) {
      expect(e.segments).toEqual(opened[0]!.segments);
      expect(e.frameCount).toBe(FRAMES);
      await e.close();
    }
  });

  it('labels and pairs give the same output for the folder, its MCAP export and a bag recorded with compressed images', async () => {
    const out = join(root, 'cli.mcap');
    const exported = runCli(['mcap', 'export', episodeDir, '--out', out, '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    const report = JSON.parse(exported.stdout) as { frames: number; topics: { topic: string; type: string }[] };
    expect(report.frames).toBe(FRAMES);
    // JPEG by default, in lz4-compressed chunks.
    expect(report.topics.filter((t) => t.type === 'sensor_msgs/msg/CompressedImage').length).toBeGreaterThan(0);
    expect(report.topics.some((t) => t.type === 'sensor_msgs/msg/Image')).toBe(false);
    const readable = new FileReadable(out);
    try {
      const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
      expect(new Set(reader.chunkIndexes.map((c) => c.compression))).toEqual(new Set(['lz4']));
    } finally {
      readable.close();
    }
    // labels: the folder and its export; pairs: the folder and the bag with compressed views.
    const cases: [string[], string][] = [
      [['labels', '--sample-factor', '5'], out],
      [['pairs', '--max', '40', '--sample-factor', '5'], join(root, 'mixed.mcap')],
    ];
    for (const [[name, ...flags], mcapFile] of cases) {
      const fromFolder = runCli([name!, episodeDir, ...flags, '--json']);
      const fromMcap = runCli([name!, mcapFile, ...flags, '--json']);
      expect(fromFolder.code, fromFolder.stderr).toBe(0);
      expect(fromMcap.code, fromMcap.stderr).toBe(0);
      expect(JSON.parse(fromMcap.stdout)).toEqual(JSON.parse(fromFolder.stdout));
    }
    const bad = runCli(['labels', join(root, 'not.mcap'), '--json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not\.mcap: expected an MCAP file/);
    const noOut = runCli(['mcap', 'export', episodeDir]);
    expect(noOut.code).toBe(2);
  }, 180_000);

  it('score and adapt (GRM-tiny, shipped in models/) give the same output for the folder and its export', async () => {
    const out = join(root, 'score.mcap');
    const folder = await openEpisodeFolder(episodeDir, { log });
    await writeEpisodeMcap(folder, out, { views: REFERENCE_VIEWS });
    await folder.close();
    const fromFolder = runCli(['score', episodeDir, '--stride', '11', '--json']);
    const fromMcap = runCli(['score', out, '--stride', '11', '--json']);
    expect(fromFolder.code, fromFolder.stderr).toBe(0);
    expect(fromMcap.code, fromMcap.stderr).toBe(0);
    const scores = JSON.parse(fromFolder.stdout) as { steps: { frame: number; progress: number }[] };
    expect(scores.steps.map((step) => step.frame)).toEqual([0, 11, 22, 33, 44]);
    expect(JSON.parse(fromMcap.stdout)).toEqual(scores);
    const adapted = (input: string, name: string): Record<string, unknown> => {
      const run = runCli(['adapt', input, '--out', join(root, `${name}.onnx`), '--steps', '3', '--min-voc', '-1', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const { out: _out, references: _references, seconds: _seconds, ...report } = JSON.parse(run.stdout) as Record<string, unknown>;
      return report;
    };
    const adaptedFolder = adapted(episodeDir, 'from-folder');
    expect(adaptedFolder.before).toBeDefined();
    expect(adapted(out, 'from-mcap')).toEqual(adaptedFolder);
  }, 180_000);
});
