/**
 * Writes an episode as a ROS 2 MCAP file that Foxglove and `ros2 bag play` open: schemas in
 * `ros2msg` encoding (the .msg text with its dependencies, as rosbag2 stores them), messages in
 * CDR, channels with rosbag2's `offered_qos_profiles` metadata, profile `ros2`.
 *
 * Topics: /<camera>/<imageTopic> (sensor_msgs/Image rgb8) or its /compressed twin
 * (sensor_msgs/CompressedImage jpeg or png) per real camera, /joint_states when joint positions
 * are given, std_msgs/String markers on /keyframe at the end frame of each sub-task, and the
 * `dopamine.episode` metadata record (name, instructions, sub-tasks) so a read-back is exact.
 * Chunks are lz4-compressed. The file is written beside the target and renamed when complete.
 */
import { renameSync, rmSync, statSync } from 'node:fs';
import { McapWriter } from '@mcap/core';
import { cdrCodec, schemaText } from '../robot/ros2/definitions.js';
import { jointState, rgbToCompressed, rgbToImage, timeFromMs, nsFromTime } from '../robot/ros2/messages.js';
import type { CameraRole } from '../robot/types.js';
import type { Episode } from './episode.js';
import { COMPRESSED_TYPE, EPISODE_METADATA, IMAGE_TYPE, JOINT_STATES_TOPIC, KEYFRAME_TOPIC } from './episode-mcap.js';
import type { CameraViewSpec } from './episode-folder.js';
import { compressChunkLz4, FileWritable } from './mcap-io.js';

export type ImageTransport = 'raw' | 'jpeg' | 'png';

export interface McapExportOptions {
  /** Camera names of the roles (topic prefixes). */
  views: readonly CameraViewSpec[];
  /** Image topic under each camera name (default image_raw). */
  imageTopic?: string;
  /** raw Image, or CompressedImage jpeg/png; per role or for all (default raw). */
  transport?: ImageTransport | Partial<Record<CameraRole, ImageTransport>>;
  /** Stamp of frame 0, ms since the epoch (default 2025-01-01T00:00:00Z). */
  startMs?: number;
  /** Added to the stamp of (role, frame), ms: recorded cameras are never exactly together. */
  stampOffsetMs?: (role: CameraRole, frame: number) => number;
  /** Joint positions per frame (same count as frames). */
  jointStates?: { names: string[]; positions: number[][] };
  jpegQuality?: number;
  /** Write the dopamine.episode metadata record (default true); /keyframe markers are always written. */
  metadata?: boolean;
}

export interface McapExportResult {
  file: string;
  frames: number;
  messages: number;
  bytes: number;
  topics: { topic: string; type: string; messages: number }[];
}

/** rosbag2's default QoS of a recorded topic, as it writes it in channel metadata. */
const OFFERED_QOS = `- history: 3
  depth: 0
  reliability: 1
  durability: 2
  deadline:
    sec: 9223372036
    nsec: 854775807
  lifespan:
    sec: 9223372036
    nsec: 854775807
  liveliness: 1
  liveliness_lease_duration:
    sec: 9223372036
    nsec: 854775807
  avoid_ros_namespace_conventions: false
`;

function topicJoin(...parts: string[]): string {
  return `/${parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== '').join('/')}`;
}

export async function writeEpisodeMcap(episode: Episode, file: string, options: McapExportOptions): Promise<McapExportResult> {
  if (options.jointStates !== undefined && options.jointStates.positions.length !== episode.frameCount) {
    throw new RangeError(`joint states: expected one per frame (${episode.frameCount}), got ${options.jointStates.positions.length}`);
  }
  const partial = `${file}.partial`;
  const writable = new FileWritable(partial);
  try {
    const writer = new McapWriter({ writable, useChunks: true, chunkSize: 4 * 1024 * 1024, compressChunk: compressChunkLz4 });
    await writer.start({ profile: 'ros2', library: 'robo-dopamine mcap export' });
    const schemaIds = new Map<string, number>();
    const schema = async (type: string): Promise<number> => {
      let id = schemaIds.get(type);
      if (id === undefined) {
        id = await writer.registerSchema({ name: type, encoding: 'ros2msg', data: new TextEncoder().encode(schemaText(type)) });
        schemaIds.set(type, id);
      }
      return id;
    };
    const counts = new Map<string, { type: string; channelId: number; sequence: number }>();
    const channel = async (topic: string, type: string): Promise<void> => {
      const channelId = await writer.registerChannel({
        topic,
        schemaId: await schema(type),
        messageEncoding: 'cdr',
        metadata: new Map([['offered_qos_profiles', OFFERED_QOS]]),
      });
      counts.set(topic, { type, channelId, sequence: 0 });
    };
    const write = async (topic: string, message: unknown, stampMs: number): Promise<void> => {
      const entry = counts.get(topic)!;
      entry.sequence += 1;
      const time = nsFromTime(timeFromMs(stampMs));
      await writer.addMessage({ channelId: entry.channelId, sequence: entry.sequence, logTime: time, publishTime: time, data: cdrCodec(entry.type).encode(message) });
    };

    const imageTopic = options.imageTopic ?? 'image_raw';
    const transportOf = (role: CameraRole): ImageTransport => (typeof options.transport === 'string' ? options.transport : (options.transport?.[role] ?? 'raw'));
    const cameras = episode.roles.map((role) => {
      const view = options.views.find((v) => v.role === role);
      if (view === undefined) throw new RangeError(`views: expected a camera name for role ${role}`);
      const transport = transportOf(role);
      const raw = topicJoin(view.name, imageTopic);
      return { role, name: view.name, transport, topic: transport === 'raw' ? raw : `${raw}/compressed`, type: transport === 'raw' ? IMAGE_TYPE : COMPRESSED_TYPE };
    });
    for (const camera of cameras) await channel(camera.topic, camera.type);
    if (options.jointStates !== undefined) await channel(JOINT_STATES_TOPIC, 'sensor_msgs/msg/JointState');
    await channel(KEYFRAME_TOPIC, 'std_msgs/msg/String');

    const startMs = options.startMs ?? Date.UTC(2025, 0, 1);
    const periodMs = 1000 / episode.fps;
    const stampOf = (k: number): number => startMs + k * periodMs;
    const ends = new Map<number, string[]>();
    if (episode.annotated) for (const s of episode.segments) ends.set(s.endFrame, [...(ends.get(s.endFrame) ?? []), s.label]);

    for (let k = 0; k < episode.frameCount; k++) {
      for (const camera of cameras) {
        const image = await episode.frame(camera.role, k);
        const stamp = stampOf(k) + (options.stampOffsetMs?.(camera.role, k) ?? 0);
        const message =
          camera.transport === 'raw' ? rgbToImage(image, stamp, camera.name) : await rgbToCompressed(image, stamp, camera.name, camera.transport, options.jpegQuality ?? 90);
        await write(camera.topic, message, stamp);
      }
      if (options.jointStates !== undefined) await write(JOINT_STATES_TOPIC, jointState(options.jointStates.names, options.jointStates.positions[k]!, stampOf(k)), stampOf(k));
      for (const label of ends.get(k) ?? []) await write(KEYFRAME_TOPIC, { data: label }, stampOf(k));
    }
    if (options.metadata !== false) {
      await writer.addMetadata({
      name: EPISODE_METADATA,
      metadata: new Map([
        ['name', episode.name],
        ['instructions', JSON.stringify(episode.instructions)],
        ...(episode.annotated ? [['segments', JSON.stringify(episode.segments)] as [string, string]] : []),
        ['fps', String(episode.fps)],
      ]),
      });
    }
    await writer.end();
    writable.close();
    renameSync(partial, file);
    const topics = [...counts].map(([topic, c]) => ({ topic, type: c.type, messages: c.sequence }));
    return { file, frames: episode.frameCount, messages: topics.reduce((n, t) => n + t.messages, 0), bytes: statSync(file).size, topics };
  } catch (error) {
    try {
      writable.close();
    } catch {
      // already closed
    }
    rmSync(partial, { force: true });
    throw error;
  }
}
