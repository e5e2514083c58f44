/**
 * Records every episode of a run as one MCAP file in the run folder (`episodes/episode-<n>.mcap`),
 * so a lab can open it in Foxglove, replay it on the dashboard, score it, label it or use it as a
 * demo (`policy.demos`). Per control step, at the stamp of the observation it starts from:
 *
 *   /<camera>/<imageTopic>/compressed  sensor_msgs/CompressedImage (JPEG), every real camera view
 *   /joint_states                      sensor_msgs/JointState
 *   /dopamine/state                    JSON: frame index, end-effector position, yaw, gripper
 *   /dopamine/action                   JSON: the step's action as proposed and as applied, and its
 *                                      source: policy, operator (an intervention), hold or demo
 *   /dopamine/progress                 JSON: fused progress, hop and shaped reward as scored
 *   /dopamine/episode                  JSON: start and end markers (seed; outcome, judge, counts)
 *
 * Frame k is the observation after k steps (frames = steps + 1), the layout `openEpisode` reads.
 * The control step only queues work; JPEG encoding and writing run one at a time behind it. The
 * file is written as `.partial` and renamed when the episode ended, so a killed run leaves no file
 * that looks complete. A write that fails (a full disk) drops that episode's recording with one
 * warning; the run, and the episode log the learner relies on, go on.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { McapIndexedReader, McapWriter } from '@mcap/core';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { COMPRESSED_TYPE, EPISODE_METADATA, JOINT_STATES_TOPIC } from '../reward/episode-mcap.js';
import { compressChunkLz4, decompressHandlers, FileReadable, FileWritable } from '../reward/mcap-io.js';
import { cdrCodec, schemaText } from '../robot/ros2/definitions.js';
import { jointState, nsFromTime, rgbToCompressed, timeFromMs } from '../robot/ros2/messages.js';
import type { ArmAction, ArmState, Observation } from '../robot/types.js';
import type { EpisodeSummary, ProgressPoint } from './run-loop.js';
import type { EpisodeSink, StepRecord } from './sources.js';

export const STATE_TOPIC = '/dopamine/state';
export const ACTION_TOPIC = '/dopamine/action';
export const PROGRESS_TOPIC = '/dopamine/progress';
export const EPISODE_TOPIC = '/dopamine/episode';

/** The recording of episode n in a run's episode folder. */
export function recordingPath(folder: string, episode: number): string {
  return join(folder, `episode-${String(episode).padStart(6, '0')}.mcap`);
}

export interface RecordedState {
  frame: number;
  eePosition: [number, number, number];
  eeYaw: number;
  gripperOpening: number;
  jointPositions: number[];
}

export interface RecordedAction {
  /** 1-based step; it acts from frame step - 1. */
  step: number;
  origin: StepRecord['origin'];
  proposed: ArmAction;
  applied: ArmAction;
  success: boolean | null;
}

export interface RecordedEpisodeEnd {
  event: 'end';
  episode: number;
  outcome: EpisodeSummary['outcome'];
  judgedBy: EpisodeSummary['judgedBy'];
  success: boolean;
  envSuccess: boolean | null;
  steps: number;
  interventionSteps: number;
}

const number = { type: 'number' };
const actionSchema = { type: 'object', properties: { dx: number, dy: number, dz: number, dyaw: number, gripper: number } };
/** JSON Schemas of the JSON channels, so Foxglove's panels can name their fields. */
const JSON_SCHEMAS: Record<string, object> = {
  [STATE_TOPIC]: {
    type: 'object',
    properties: { frame: number, eePosition: { type: 'array', items: number }, eeYaw: number, gripperOpening: number, jointPositions: { type: 'array', items: number } },
  },
  [ACTION_TOPIC]: {
    type: 'object',
    properties: { step: number, origin: { type: 'string', enum: ['policy', 'operator', 'hold', 'demo'] }, proposed: actionSchema, applied: actionSchema, success: { type: ['boolean', 'null'] } },
  },
  [PROGRESS_TOPIC]: { type: 'object', properties: { step: number, progress: number, hop: number, reward: number, latencyMs: number } },
  [EPISODE_TOPIC]: { type: 'object', properties: { event: { type: 'string', enum: ['start', 'end'] }, episode: number } },
};

export interface EpisodeRecorderOptions {
  /** The run's episode folder (created when missing). */
  folder: string;
  config: Config;
  /** The task instruction (the recording's metadata, as `mcap export` writes it). */
  instruction: string;
  log: Logger;
  jpegQuality?: number;
}

interface Recording {
  episode: number;
  file: string;
  writer: McapWriter;
  writable: FileWritable;
  channels: Map<string, number>;
  sequence: number;
  frames: number;
  /** Stamp of the last frame, ms: stamps are kept increasing (a held arm may repeat a camera stamp). */
  lastStampMs: number;
  /** Stamp of each frame, for the progress messages of a step. */
  frameStampsMs: number[];
  failed: boolean;
}

export class EpisodeRecorder implements EpisodeSink {
  private queue: Promise<void> = Promise.resolve();
  private current: Recording | null = null;
  private readonly imageTopic: string;
  private readonly cameras: Map<string, string>;

  constructor(private readonly options: EpisodeRecorderOptions) {
    mkdirSync(options.folder, { recursive: true });
    this.imageTopic = options.config.robot.ros2.imageTopic;
    this.cameras = new Map(options.config.cameras.views.map((view) => [view.role, view.name]));
  }

  beginEpisode(episode: number, seed: number, observation: Observation): void {
    this.enqueue(async () => {
      if (this.current) await this.finish(this.current, null);
      this.current = await this.open(episode);
      await this.write(this.current, EPISODE_TOPIC, { event: 'start', episode, seed }, this.frameStamp(this.current, observation));
      await this.writeFrame(this.current, observation);
    });
  }

  afterStep(record: StepRecord): void {
    this.enqueue(async () => {
      const recording = this.current;
      if (!recording || recording.episode !== record.episode || recording.failed) return;
      const action: RecordedAction = {
        step: record.step,
        origin: record.origin,
        proposed: record.proposed,
        applied: record.applied,
        success: record.success ?? null,
      };
      await this.write(recording, ACTION_TOPIC, action, recording.frameStampsMs[record.step - 1] ?? recording.lastStampMs);
      await this.writeFrame(recording, record.next);
    });
  }

  progress(point: ProgressPoint): void {
    this.enqueue(async () => {
      const recording = this.current;
      if (!recording || recording.episode !== point.episode || recording.failed) return;
      const message = { step: point.step, progress: point.progress, hop: point.hop, reward: point.reward, latencyMs: point.latencyMs };
      await this.write(recording, PROGRESS_TOPIC, message, recording.frameStampsMs[point.step] ?? recording.lastStampMs);
    });
  }

  endEpisode(summary: EpisodeSummary): void {
    this.enqueue(async () => {
      const recording = this.current;
      if (!recording || recording.episode !== summary.episode) return;
      this.current = null;
      const end: RecordedEpisodeEnd = {
        event: 'end',
        episode: summary.episode,
        outcome: summary.outcome,
        judgedBy: summary.judgedBy,
        success: summary.success,
        envSuccess: summary.envSuccess ?? null,
        steps: summary.steps,
        interventionSteps: summary.interventionSteps,
      };
      await this.finish(recording, end);
    });
  }

  /** Waits for the queued work; an episode still open (the run was stopped mid-episode) is finished as it stands. */
  async close(): Promise<void> {
    this.enqueue(async () => {
      if (this.current) await this.finish(this.current, null);
      this.current = null;
    });
    await this.queue;
  }

  /** Resolves when everything queued so far is written (tests, and the dashboard before a replay). */
  flushed(): Promise<void> {
    return this.queue;
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(work).catch((error: unknown) => {
      // Only open() and finish() throw past write(): the recording they were making is given up.
      this.options.log.warn(`episode recording: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  private async open(episode: number): Promise<Recording> {
    const file = recordingPath(this.options.folder, episode);
    let writable: FileWritable;
    try {
      writable = new FileWritable(`${file}.partial`);
    } catch (error) {
      throw new Error(`episode ${episode}: could not start ${file}: ${(error as Error).message}`);
    }
    const writer = new McapWriter({
      writable,
      useChunks: true,
      chunkSize: 1024 * 1024,
      compressChunk: compressChunkLz4,
    });
    const recording: Recording = { episode, file, writer, writable, channels: new Map(), sequence: 0, frames: 0, lastStampMs: -Infinity, frameStampsMs: [], failed: false };
    try {
      await writer.start({ profile: '', library: 'robo-dopamine' });
      for (const camera of new Set(this.cameras.values())) await this.channel(recording, `/${camera}/${this.imageTopic}/compressed`, COMPRESSED_TYPE);
      await this.channel(recording, JOINT_STATES_TOPIC, 'sensor_msgs/msg/JointState');
      for (const topic of Object.keys(JSON_SCHEMAS)) await this.channel(recording, topic, null);
    } catch (error) {
      this.discard(recording);
      throw new Error(`episode ${episode}: could not start ${file}: ${(error as Error).message}`);
    }
    return recording;
  }

  private async channel(recording: Recording, topic: string, rosType: string | null): Promise<void> {
    const { writer } = recording;
    const schemaId =
      rosType === null
        ? await writer.registerSchema({ name: `dopamine${topic.replace(/^\/dopamine/, '').replace(/\//g, '.')}`, encoding: 'jsonschema', data: new TextEncoder().encode(JSON.stringify(JSON_SCHEMAS[topic])) })
        : await writer.registerSchema({ name: rosType, encoding: 'ros2msg', data: new TextEncoder().encode(schemaText(rosType)) });
    const channelId = await writer.registerChannel({ topic, schemaId, messageEncoding: rosType === null ? 'json' : 'cdr', metadata: new Map() });
    recording.channels.set(topic, channelId);
  }

  private frameStamp(recording: Recording, observation: Observation): number {
    const camera = observation.frames[0]?.stampMs ?? observation.state.stampMs;
    return Math.max(camera, recording.lastStampMs + 1);
  }

  private async writeFrame(recording: Recording, observation: Observation): Promise<void> {
    if (recording.failed) return;
    const stampMs = this.frameStamp(recording, observation);
    recording.lastStampMs = stampMs;
    recording.frameStampsMs.push(stampMs);
    const frame = recording.frames++;
    for (const image of observation.frames) {
      const camera = this.cameras.get(image.role);
      // A role without its own camera repeats the front view: recorded once, under the real camera.
      if (camera === undefined || camera !== image.camera) continue;
      const message = await rgbToCompressed(image, stampMs, camera, 'jpeg', this.options.jpegQuality ?? 85);
      await this.write(recording, `/${camera}/${this.imageTopic}/compressed`, message, stampMs);
    }
    const state: ArmState = observation.state;
    const positions = state.jointPositions;
    await this.write(recording, JOINT_STATES_TOPIC, jointState(positions.map((_, i) => `joint_${i + 1}`), positions, stampMs), stampMs);
    const recorded: RecordedState = { frame, eePosition: state.eePosition, eeYaw: state.eeYaw, gripperOpening: state.gripperOpening, jointPositions: positions };
    await this.write(recording, STATE_TOPIC, recorded, stampMs);
  }

  private async write(recording: Recording, topic: string, message: unknown, stampMs: number): Promise<void> {
    if (recording.failed) return;
    const channelId = recording.channels.get(topic);
    if (channelId === undefined) return;
    const time = nsFromTime(timeFromMs(stampMs));
    const data = topic.startsWith('/dopamine/') ? new TextEncoder().encode(JSON.stringify(message)) : cdrCodec(topic === JOINT_STATES_TOPIC ? 'sensor_msgs/msg/JointState' : COMPRESSED_TYPE).encode(message);
    try {
      await recording.writer.addMessage({ channelId, sequence: ++recording.sequence, logTime: time, publishTime: time, data });
    } catch (error) {
      recording.failed = true;
      this.discard(recording);
      this.options.log.warn(`episode ${recording.episode}: recording dropped (${(error as Error).message}); the run and its episode log go on`);
    }
  }

  private async finish(recording: Recording, end: RecordedEpisodeEnd | null): Promise<void> {
    if (end) await this.write(recording, EPISODE_TOPIC, end, recording.lastStampMs);
    if (recording.failed) return;
    try {
      await recording.writer.addMetadata({
        name: EPISODE_METADATA,
        metadata: new Map([
          ['name', `episode-${recording.episode}`],
          ['instructions', JSON.stringify([this.options.instruction])],
          ['fps', String(this.options.config.robot.controlHz)],
        ]),
      });
      await recording.writer.end();
      recording.writable.close();
      renameSync(`${recording.file}.partial`, recording.file);
    } catch (error) {
      this.discard(recording);
      throw new Error(`episode ${recording.episode}: could not finish ${recording.file}: ${(error as Error).message}`);
    }
  }

  private discard(recording: Recording): void {
    try {
      recording.writable.close();
    } catch {
      // already closed
    }
    rmSync(`${recording.file}.partial`, { force: true });
  }
}

/** What a recording's JSON channels hold, read back (for demos and tests); the frames are read by `openEpisode`. */
export interface RecordedEpisode {
  file: string;
  seed: number | null;
  states: RecordedState[];
  actions: RecordedAction[];
  progress: { step: number; progress: number; hop: number; reward: number }[];
  /** The end marker; null for an episode the run was stopped in before it ended. */
  end: RecordedEpisodeEnd | null;
}

export async function readRecording(file: string): Promise<RecordedEpisode> {
  const readable = new FileReadable(file);
  try {
    let reader: McapIndexedReader;
    try {
      reader = await McapIndexedReader.Initialize({ readable, decompressHandlers });
    } catch (error) {
      throw new InputError(file, `expected a complete MCAP recording, got: ${(error as Error).message}`);
    }
    const topics = [STATE_TOPIC, ACTION_TOPIC, PROGRESS_TOPIC, EPISODE_TOPIC];
    const found = new Set([...reader.channelsById.values()].map((c) => c.topic));
    if (!found.has(STATE_TOPIC) || !found.has(ACTION_TOPIC)) {
      throw new InputError(file, `expected a recording with ${STATE_TOPIC} and ${ACTION_TOPIC} (as serve records every episode), got topics ${[...found].join(', ') || 'none'}`);
    }
    const recorded: RecordedEpisode = { file, seed: null, states: [], actions: [], progress: [], end: null };
    const decoder = new TextDecoder();
    for await (const message of reader.readMessages({ topics })) {
      const topic = reader.channelsById.get(message.channelId)!.topic;
      const value = JSON.parse(decoder.decode(message.data)) as Record<string, unknown>;
      if (topic === STATE_TOPIC) recorded.states.push(value as unknown as RecordedState);
      else if (topic === ACTION_TOPIC) recorded.actions.push(value as unknown as RecordedAction);
      else if (topic === PROGRESS_TOPIC) recorded.progress.push(value as unknown as RecordedEpisode['progress'][number]);
      else if (value.event === 'start') recorded.seed = typeof value.seed === 'number' ? value.seed : null;
      else if (value.event === 'end') recorded.end = value as unknown as RecordedEpisodeEnd;
    }
    // Messages of one stamp come back in write order; keep them ordered by what they index.
    recorded.states.sort((a, b) => a.frame - b.frame);
    recorded.actions.sort((a, b) => a.step - b.step);
    return recorded;
  } finally {
    readable.close();
  }
}
