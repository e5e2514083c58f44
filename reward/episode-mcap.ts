/**
 * Reads a recorded ROS 2 demonstration (rosbag2 MCAP, `ros2 bag record -s mcap`, chunks
 * uncompressed, zstd or lz4) as an Episode, the same model the reference layout gives:
 *
 * - cameras: per configured view, /<camera>/<imageTopic> (sensor_msgs/Image) or the same + /compressed
 *   (sensor_msgs/CompressedImage, jpeg or png); the first image topic under /<camera>/ otherwise;
 * - frames: the image messages synchronised across views by header stamp (ApproximateTime, the
 *   configured queue size and slop); frame k is the k-th synchronised set;
 * - sub-tasks, first found of: a sidecar `<bag>.keyframes.json` or `annotated_keyframes.json`
 *   beside the file (the reference layout's format), the `dopamine.episode` metadata record that
 *   `mcap export` writes, std_msgs/String markers on /keyframe (each closes the sub-task begun at
 *   the previous marker or at frame 0 and names it; it lands on the frame nearest its log time);
 *   else one sub-task over the whole recording;
 * - instructions (and the episode name): the metadata record, else task_instruction.json beside the
 *   file or one folder up (and the file name);
 * - joint states: /joint_states (sensor_msgs/JointState), kept per message for the caller.
 *
 * Opening reads the index and the 12 header bytes of each image message; frames are decoded on
 * demand in runs of consecutive messages and cached.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { McapIndexedReader, type McapTypes } from '@mcap/core';
import { describeValue, InputError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { cropAndResize } from '../perception/resize.js';
import { ApproximateTimeSync, type SyncStats } from '../perception/sync.js';
import { cdrCodec } from '../robot/ros2/definitions.js';
import { compressedToRgb, imageToRgb, msFromTime, type CameraInfoMsg, type CompressedImageMsg, type ImageMsg, type JointStateMsg, type StringMsg } from '../robot/ros2/messages.js';
import { CAMERA_ROLES, type CameraRole } from '../robot/types.js';
import { validateSegments, wholeEpisodeSegment, type Episode, type RgbImage, type Segment } from './episode.js';
import { readInstructions, readKeyframes, REFERENCE_VIEWS, type CameraViewSpec, type OpenEpisodeOptions } from './episode-folder.js';
import { FrameCache } from './frame-cache.js';
import { decompressHandlers, FileReadable, headerStampMs } from './mcap-io.js';

export const IMAGE_TYPE = 'sensor_msgs/msg/Image';
export const COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage';
export const JOINT_STATES_TOPIC = '/joint_states';
export const KEYFRAME_TOPIC = '/keyframe';
/** Name of the metadata record `mcap export` writes: {name, instructions, segments} as JSON strings. */
export const EPISODE_METADATA = 'dopamine.episode';

export interface McapEpisodeOptions extends OpenEpisodeOptions {
  /** Image topic under each camera name (robot.ros2.imageTopic, default image_raw). */
  imageTopic?: string;
  /** ApproximateTime settings (cameras.sync, default queue 10, slop 50 ms). */
  sync?: { queueSize: number; slopMs: number };
}

export interface JointStates {
  names: string[];
  stampMs: number[];
  positions: number[][];
}

interface ImageEntry {
  logTime: bigint;
  sequence: number;
  stampMs: number;
}

interface ViewTopic {
  role: CameraRole;
  view: CameraViewSpec;
  topic: string;
  channelId: number;
  compressed: boolean;
  schemaName: string;
  schemaText: string;
  entries: ImageEntry[];
  /** Entry index of each frame. */
  frames: number[];
  cameraInfo: CameraInfoMsg | undefined;
}

/** One camera stream as recorded: stamps, log times, its first camera_info. */
export interface McapStream {
  role: CameraRole;
  topic: string;
  type: string;
  stampsMs: number[];
  logMs: number[];
  cameraInfo: CameraInfoMsg | undefined;
}

export interface McapEpisode extends Episode {
  readonly file: string;
  /** Topic of each real camera. */
  readonly topics: { role: CameraRole; topic: string; type: string }[];
  /** Header stamp of the front image of each frame, ms. */
  readonly frameStampsMs: number[];
  readonly jointStates: JointStates | null;
  readonly keyframeSource: 'sidecar' | 'metadata' | 'markers' | 'none';
  readonly syncStats: SyncStats;
  /** Every real camera stream, for calibration checks. */
  readonly streams: McapStream[];
  /** The topic behind a role (the front one for a role without its own camera). */
  source(role: CameraRole): string;
}

function topicJoin(...parts: string[]): string {
  return `/${parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== '').join('/')}`;
}

export function isMcapPath(path: string): boolean {
  return extname(path).toLowerCase() === '.mcap';
}

async function openReader(file: string): Promise<{ reader: McapIndexedReader; readable: FileReadable }> {
  if (!existsSync(file) || !statSync(file).isFile()) throw new InputError(file, 'expected an MCAP file, got no such file');
  const readable = new FileReadable(file);
  try {
    const head = await readable.read(0n, BigInt(Math.min(8, Number(await readable.size()))));
    if (!(head[0] === 0x89 && head[1] === 0x4d && head[2] === 0x43 && head[3] === 0x41 && head[4] === 0x50)) {
      throw new InputError(file, 'expected an MCAP file (magic \\x89MCAP), got other bytes');
    }
    const reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
    return { reader, readable };
  } catch (error) {
    readable.close();
    if (error instanceof InputError) throw error;
    throw new InputError(file, `expected a complete, indexed MCAP file (as ros2 bag record -s mcap writes), got: ${(error as Error).message}`);
  }
}

interface ChannelInfo {
  channelId: number;
  topic: string;
  schemaName: string;
  schemaEncoding: string;
  schemaText: string;
  messageEncoding: string;
}

function channels(reader: McapIndexedReader): ChannelInfo[] {
  return [...reader.channelsById.values()].map((channel) => {
    const schema = reader.schemasById.get(channel.schemaId);
    return {
      channelId: channel.id,
      topic: channel.topic,
      schemaName: schema?.name ?? '',
      schemaEncoding: schema?.encoding ?? '',
      schemaText: schema === undefined ? '' : new TextDecoder().decode(schema.data),
      messageEncoding: channel.messageEncoding,
    };
  });
}

function isImage(channel: ChannelInfo): boolean {
  return channel.schemaName === IMAGE_TYPE || channel.schemaName === COMPRESSED_TYPE;
}

function checkRos2(file: string, channel: ChannelInfo): void {
  if (channel.messageEncoding !== 'cdr' || channel.schemaEncoding !== 'ros2msg') {
    throw new InputError(file, `topic ${channel.topic}: expected ROS 2 messages (cdr with a ros2msg schema), got ${channel.messageEncoding} with ${channel.schemaEncoding || 'no'} schema`);
  }
}

/** The topic of a view: the configured raw topic, its /compressed twin, else the first image topic under /<camera>/. */
function findViewTopic(all: ChannelInfo[], view: CameraViewSpec, imageTopic: string): ChannelInfo | undefined {
  const raw = topicJoin(view.name, imageTopic);
  const images = all.filter(isImage);
  return (
    images.find((c) => c.topic === raw && c.schemaName === IMAGE_TYPE) ??
    images.find((c) => c.topic === `${raw}/compressed` && c.schemaName === COMPRESSED_TYPE) ??
    images.filter((c) => c.topic.startsWith(topicJoin(view.name) + '/')).sort((a, b) => a.topic.localeCompare(b.topic))[0]
  );
}

function readMetadataEpisode(file: string, metadata: Map<string, string> | undefined): { name?: string; instructions?: string[]; segments?: Segment[] } {
  if (metadata === undefined) return {};
  const parse = (key: string): unknown => {
    const text = metadata.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new InputError(file, `metadata ${EPISODE_METADATA}.${key}: expected JSON, got ${describeValue(text)}`);
    }
  };
  const out: { name?: string; instructions?: string[]; segments?: Segment[] } = {};
  const name = metadata.get('name');
  if (name !== undefined && name !== '') out.name = name;
  const instructions = parse('instructions');
  if (instructions !== undefined) {
    if (!Array.isArray(instructions) || instructions.length === 0 || !instructions.every((s) => typeof s === 'string' && s !== '')) {
      throw new InputError(file, `metadata ${EPISODE_METADATA}.instructions: expected a list of non-empty strings`);
    }
    out.instructions = instructions as string[];
  }
  const segments = parse('segments');
  if (segments !== undefined) {
    if (!Array.isArray(segments)) throw new InputError(file, `metadata ${EPISODE_METADATA}.segments: expected a list, got ${describeValue(segments)}`);
    out.segments = segments.map((s: unknown, i) => {
      const r = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
      if (typeof r.label !== 'string' || !Number.isInteger(r.startFrame) || !Number.isInteger(r.endFrame)) {
        throw new InputError(file, `metadata ${EPISODE_METADATA}.segments[${i}]: expected {label, startFrame, endFrame}`);
      }
      return { label: r.label, startFrame: r.startFrame as number, endFrame: r.endFrame as number };
    });
  }
  return out;
}

/** Index of the value in a rising list nearest to `t`. */
function nearest(values: readonly bigint[], t: bigint): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && t - values[lo - 1]! <= values[lo]! - t) return lo - 1;
  return lo;
}

class McapEpisodeImpl implements McapEpisode {
  readonly roles: readonly CameraRole[];
  private readonly cache: FrameCache<Uint8Array>;
  private readonly sizes = new Map<string, { width: number; height: number }>();

  constructor(
    readonly file: string,
    readonly name: string,
    readonly instructions: readonly string[],
    readonly segments: readonly Segment[],
    readonly annotated: boolean,
    readonly keyframeSource: McapEpisode['keyframeSource'],
    readonly jointStates: JointStates | null,
    readonly syncStats: SyncStats,
    private readonly views: Map<CameraRole, ViewTopic>,
    private readonly reader: McapIndexedReader,
    private readonly readable: FileReadable,
    private readonly options: McapEpisodeOptions,
  ) {
    this.roles = CAMERA_ROLES.filter((role) => views.has(role));
    this.cache = new FrameCache(options.cacheBytes ?? 256 * 1024 * 1024);
  }

  get frameCount(): number {
    return this.views.get('front')!.frames.length;
  }

  get frameStampsMs(): number[] {
    const front = this.views.get('front')!;
    return front.frames.map((e) => front.entries[e]!.stampMs);
  }

  get fps(): number {
    const stamps = this.frameStampsMs;
    const span = (stamps[stamps.length - 1]! - stamps[0]!) / 1000;
    return span > 0 ? Math.round(((stamps.length - 1) / span) * 1000) / 1000 : 30;
  }

  get topics(): { role: CameraRole; topic: string; type: string }[] {
    return [...this.views.values()].map((v) => ({ role: v.role, topic: v.topic, type: v.schemaName }));
  }

  source(role: CameraRole): string {
    return (this.views.get(role) ?? this.views.get('front')!).topic;
  }

  get streams(): McapStream[] {
    return [...this.views.values()].map((v) => ({
      role: v.role,
      topic: v.topic,
      type: v.schemaName,
      stampsMs: v.entries.map((e) => e.stampMs),
      logMs: v.entries.map((e) => Number(e.logTime / 1000n) / 1000),
      cameraInfo: v.cameraInfo,
    }));
  }

  async frame(role: CameraRole, index: number): Promise<RgbImage> {
    if (!Number.isInteger(index) || index < 0 || index >= this.frameCount) {
      throw new RangeError(`frame index: expected an integer in 0..${this.frameCount - 1}, got ${index}`);
    }
    const view = this.views.get(role) ?? this.views.get('front')!;
    const key = (k: number): string => `${view.topic}#${k}`;
    const cached = this.cache.get(key(index));
    if (cached !== undefined) return { ...this.sizes.get(view.topic)!, rgb: cached };
    // Decode a run of frames: episode tools read frames in order.
    const run = this.options.chunkFrames ?? 16;
    const first = Math.floor(index / run) * run;
    const last = Math.min(this.frameCount - 1, first + run - 1);
    const wanted = new Map<number, number>(); // sequence-or-entry -> frame
    for (let k = first; k <= last; k++) wanted.set(view.frames[k]!, k);
    const entries = view.entries;
    const byTime = new Map<bigint, number[]>();
    for (const [entry] of wanted) {
      const list = byTime.get(entries[entry]!.logTime) ?? [];
      list.push(entry);
      byTime.set(entries[entry]!.logTime, list);
    }
    const codec = cdrCodec<ImageMsg | CompressedImageMsg>(view.schemaName, view.schemaText);
    const jobs: Promise<void>[] = [];
    for await (const message of this.reader.readMessages({
      topics: [view.topic],
      startTime: entries[view.frames[first]!]!.logTime,
      endTime: entries[view.frames[last]!]!.logTime,
    })) {
      const candidates = byTime.get(message.logTime);
      if (candidates === undefined) continue;
      const stamp = headerStampMs(message.data);
      const entry = candidates.find((e) => entries[e]!.stampMs === stamp && entries[e]!.sequence === message.sequence);
      if (entry === undefined) continue;
      const frameIndex = wanted.get(entry)!;
      jobs.push(
        this.decode(view, codec.decode(message.data)).then((image) => {
          this.sizes.set(view.topic, { width: image.width, height: image.height });
          this.cache.set(key(frameIndex), image.rgb);
        }),
      );
    }
    await Promise.all(jobs);
    const rgb = this.cache.get(key(index));
    if (rgb === undefined) throw new InputError(this.file, `topic ${view.topic}: frame ${index} could not be read back from the file`);
    return { ...this.sizes.get(view.topic)!, rgb };
  }

  private async decode(view: ViewTopic, message: ImageMsg | CompressedImageMsg): Promise<RgbImage> {
    const source = `${this.file} ${view.topic}`;
    const decoded = view.compressed ? await compressedToRgb(message as CompressedImageMsg, source) : imageToRgb(message as ImageMsg, source);
    const crop = view.view.crop;
    const width = this.options.size?.width ?? crop?.[2] ?? decoded.width;
    const height = this.options.size?.height ?? crop?.[3] ?? decoded.height;
    try {
      return await cropAndResize(decoded, crop, width, height);
    } catch (error) {
      throw new InputError(source, (error as Error).message);
    }
  }

  async close(): Promise<void> {
    this.cache.clear();
    this.readable.close();
    await Promise.resolve();
  }
}

/** Opens a rosbag2 MCAP file (or a bag folder holding one) as an Episode. */
export async function openEpisodeMcap(file: string, options: McapEpisodeOptions = {}): Promise<McapEpisode> {
  const log = options.log ?? createLogger('episode');
  const views = options.views ?? REFERENCE_VIEWS;
  if (!views.some((v) => v.role === 'front')) throw new InputError('cameras.views', 'expected one view with role front');
  const { reader, readable } = await openReader(file);
  try {
    return await readEpisode(file, reader, readable, views, options, log);
  } catch (error) {
    readable.close();
    throw error;
  }
}

async function readEpisode(
  file: string,
  reader: McapIndexedReader,
  readable: FileReadable,
  views: readonly CameraViewSpec[],
  options: McapEpisodeOptions,
  log: ReturnType<typeof createLogger>,
): Promise<McapEpisode> {
  const all = channels(reader);
  const imageTopic = options.imageTopic ?? 'image_raw';
  const viewTopics = new Map<CameraRole, ViewTopic>();
  for (const view of views) {
    if (viewTopics.has(view.role)) throw new InputError('cameras.views', `expected one camera per role, got two for ${view.role}`);
    const channel = findViewTopic(all, view, imageTopic);
    if (channel === undefined) {
      if (view.role === 'front') {
        const images = all.filter(isImage).map((c) => c.topic);
        throw new InputError(
          file,
          `expected the front camera on ${topicJoin(view.name, imageTopic)} (Image) or ${topicJoin(view.name, imageTopic)}/compressed (CompressedImage), ` +
            `got image topics: ${images.length === 0 ? 'none' : images.join(', ')}`,
        );
      }
      log.info(`${file}: no image topic under /${view.name}/; the ${view.role} view repeats the front view`);
      continue;
    }
    checkRos2(file, channel);
    viewTopics.set(view.role, {
      role: view.role,
      view,
      topic: channel.topic,
      channelId: channel.channelId,
      compressed: channel.schemaName === COMPRESSED_TYPE,
      schemaName: channel.schemaName,
      schemaText: channel.schemaText,
      entries: [],
      frames: [],
      cameraInfo: undefined,
    });
  }

  const ordered = [...viewTopics.values()];
  const byChannel = new Map(ordered.map((v, i) => [v.channelId, i]));
  const jointChannel = all.find((c) => c.topic === JOINT_STATES_TOPIC && c.schemaName === 'sensor_msgs/msg/JointState');
  const markerChannel = all.find((c) => c.topic === KEYFRAME_TOPIC && c.schemaName === 'std_msgs/msg/String');
  for (const c of [jointChannel, markerChannel]) if (c !== undefined) checkRos2(file, c);

  const sync = new ApproximateTimeSync<number>({
    views: ordered.map((v) => v.topic),
    queueSize: options.sync?.queueSize ?? 10,
    slopMs: options.sync?.slopMs ?? 50,
    now: () => 0,
  });
  const takeSets = (sets: ReturnType<typeof sync.add>): void => {
    for (const set of sets) set.messages.forEach((m, i) => ordered[i]!.frames.push(m.value));
  };
  const jointStates: JointStates = { names: [], stampMs: [], positions: [] };
  const markers: { logTime: bigint; label: string }[] = [];
  const jointCodec = jointChannel === undefined ? undefined : cdrCodec<JointStateMsg>(jointChannel.schemaName, jointChannel.schemaText);
  const markerCodec = markerChannel === undefined ? undefined : cdrCodec<StringMsg>(markerChannel.schemaName, markerChannel.schemaText);
  const topics = [...ordered.map((v) => v.topic), ...(jointChannel ? [JOINT_STATES_TOPIC] : []), ...(markerChannel ? [KEYFRAME_TOPIC] : [])];
  for await (const message of reader.readMessages({ topics })) {
    const viewIndex = byChannel.get(message.channelId);
    if (viewIndex !== undefined) {
      const view = ordered[viewIndex]!;
      let stampMs: number;
      try {
        stampMs = headerStampMs(message.data);
      } catch (error) {
        throw new InputError(file, `topic ${view.topic}: ${(error as Error).message}`);
      }
      view.entries.push({ logTime: message.logTime, sequence: message.sequence, stampMs });
      takeSets(sync.add(viewIndex, stampMs, view.entries.length - 1));
    } else if (jointChannel !== undefined && message.channelId === jointChannel.channelId) {
      const msg = jointCodec!.decode(message.data);
      if (jointStates.names.length === 0) jointStates.names = [...msg.name];
      jointStates.stampMs.push(msFromTime(msg.header.stamp));
      jointStates.positions.push(Array.from(msg.position));
    } else if (markerChannel !== undefined && message.channelId === markerChannel.channelId) {
      markers.push({ logTime: message.logTime, label: markerCodec!.decode(message.data).data });
    }
  }
  // End of recording: far stamps on every view (spread beyond the slop, so they never form a set
  // themselves) prove the last pending sets.
  const end = Math.max(...ordered.flatMap((v) => v.entries.map((e) => e.stampMs)), 0) + 1e9;
  ordered.forEach((_, i) => takeSets(sync.add(i, end + i * (sync.slopMs + 1) * 2, -1)));
  const raw = sync.stats();
  const stats: SyncStats = {
    ...raw,
    views: raw.views.map((v, i) => {
      const view = ordered[i]!;
      return { ...v, received: view.entries.length, synced: view.frames.length, dropped: view.entries.length - view.frames.length };
    }),
  };
  const front = viewTopics.get('front')!;
  const out = stats.views.filter((v) => v.dropped > 0).map((v) => `${v.view}: ${v.dropped} of ${v.received}`);
  if (out.length > 0) log.warn(`${file}: image messages not in any synchronised set (slop ${sync.slopMs} ms): ${out.join(', ')}`);
  const frameCount = front.frames.length;
  if (frameCount < 2) throw new InputError(file, `expected at least 2 synchronised frames on ${ordered.map((v) => v.topic).join(', ')}, got ${frameCount}`);

  // The first camera_info of each view (sibling of the image topic), for calibration checks.
  for (const view of ordered) {
    const base = view.topic.replace(/\/compressed$/, '').split('/').slice(0, -1).join('/');
    const info = all.find((c) => c.topic === `${base}/camera_info` && c.schemaName === 'sensor_msgs/msg/CameraInfo');
    if (info === undefined) continue;
    checkRos2(file, info);
    for await (const message of reader.readMessages({ topics: [info.topic] })) {
      view.cameraInfo = cdrCodec<CameraInfoMsg>(info.schemaName, info.schemaText).decode(message.data);
      break;
    }
  }

  const stem = basename(file, extname(file));
  const dir = dirname(file);
  const metadata = new Map<string, Map<string, string>>();
  for await (const record of reader.readMetadata({ name: EPISODE_METADATA })) metadata.set(record.name, record.metadata);
  const fromMetadata = readMetadataEpisode(file, metadata.get(EPISODE_METADATA));

  let segments: Segment[] | undefined;
  let keyframeSource: McapEpisode['keyframeSource'] = 'none';
  let keyframeFile = file;
  for (const sidecar of [join(dir, `${stem}.keyframes.json`), join(dir, 'annotated_keyframes.json')]) {
    segments = readKeyframes(sidecar);
    if (segments !== undefined) {
      keyframeSource = 'sidecar';
      keyframeFile = sidecar;
      break;
    }
  }
  if (segments === undefined && fromMetadata.segments !== undefined) {
    segments = fromMetadata.segments;
    keyframeSource = 'metadata';
  }
  if (segments === undefined && markers.length > 0) {
    const frameTimes = front.frames.map((e) => front.entries[e]!.logTime);
    let start = 0;
    segments = markers.map((marker) => {
      const endFrame = nearest(frameTimes, marker.logTime);
      const segment = { label: marker.label, startFrame: start, endFrame };
      start = endFrame;
      return segment;
    });
    keyframeSource = 'markers';
    keyframeFile = `${file} ${KEYFRAME_TOPIC}`;
  }
  const annotated = segments !== undefined;
  if (segments === undefined) {
    log.warn(`${file}: no keyframes (sidecar ${stem}.keyframes.json, metadata or ${KEYFRAME_TOPIC} markers); using one sub-task over the whole recording`);
    segments = [wholeEpisodeSegment(frameCount)];
  } else {
    validateSegments(segments, frameCount, keyframeFile);
  }

  const instructions = fromMetadata.instructions ?? readInstructions(dir, log);
  return new McapEpisodeImpl(
    file,
    fromMetadata.name ?? stem,
    instructions,
    segments,
    annotated,
    keyframeSource,
    jointStates.stampMs.length === 0 ? null : jointStates,
    stats,
    viewTopics,
    reader,
    readable,
    options,
  );
}

export type { McapTypes };
