/** Where `calibrate check` gets its frame timings: a recorded MCAP, a Robot (the simulator), live ROS 2 topics. */
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import type { SyncStats } from '../perception/sync.js';
import { openEpisodeMcap } from '../reward/episode-mcap.js';
import { Ros2Cameras } from '../robot/ros2/cameras.js';
import type { CameraInfoMsg } from '../robot/ros2/messages.js';
import { startRosRuntime } from '../robot/ros2/rclnodejs.js';
import type { Robot } from '../robot/types.js';
import { fromCameraInfoMsg, type CameraCalibration } from './camera-info.js';
import type { ViewTimings } from './check.js';

export interface TimingSource {
  source: string;
  timings: ViewTimings[];
  sync: SyncStats | null;
  /** camera_info messages that failed validation. */
  problems: string[];
}

function calibrationOf(msg: CameraInfoMsg | undefined, where: string, problems: string[]): CameraCalibration | undefined {
  if (msg === undefined) return undefined;
  try {
    return fromCameraInfoMsg(msg, where);
  } catch (error) {
    problems.push((error as Error).message);
    return undefined;
  }
}

export async function timingsFromMcap(file: string, config: Config, log: Logger): Promise<TimingSource> {
  // Crops are judged against the source size, so the views are read uncropped.
  const views = config.cameras.views.map((v) => ({ role: v.role, name: v.name }));
  const episode = await openEpisodeMcap(file, { views, imageTopic: config.robot.ros2.imageTopic, sync: config.cameras.sync, log, chunkFrames: 1 });
  try {
    const problems: string[] = [];
    const timings: ViewTimings[] = [];
    for (const stream of episode.streams) {
      const first = await episode.frame(stream.role, 0);
      const cameraInfo = calibrationOf(stream.cameraInfo, `${file} camera_info of ${stream.topic}`, problems);
      timings.push({
        role: stream.role,
        camera: views.find((v) => v.role === stream.role)!.name,
        source: stream.topic,
        stampsMs: stream.stampsMs,
        arrivalsMs: stream.logMs,
        width: first.width,
        height: first.height,
        ...(cameraInfo === undefined ? {} : { cameraInfo }),
      });
    }
    const sync: SyncStats = { ...episode.syncStats, views: episode.syncStats.views.map((v, i) => ({ ...v, view: episode.streams[i]!.topic })) };
    return { source: file, timings, sync, problems };
  } finally {
    await episode.close();
  }
}

/** Steps a robot with zero actions and records the frames of each observation (the simulator). */
export async function timingsFromRobot(robot: Robot, steps: number): Promise<TimingSource> {
  const byRole = new Map<string, ViewTimings>();
  const spreads: number[] = [];
  const record = (frames: { role: ViewTimings['role']; camera: string; stampMs: number; width: number; height: number }[]): void => {
    for (const frame of frames) {
      let t = byRole.get(frame.role);
      if (t === undefined) {
        t = { role: frame.role, camera: frame.camera, source: `${robot.name} ${frame.camera}`, stampsMs: [], width: frame.width, height: frame.height };
        byRole.set(frame.role, t);
      }
      t.stampsMs.push(frame.stampMs);
    }
    if (frames.length > 0) spreads.push(Math.max(...frames.map((f) => f.stampMs)) - Math.min(...frames.map((f) => f.stampMs)));
  };
  record((await robot.reset(0)).frames);
  for (let k = 0; k < steps; k++) record((await robot.act({ dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 })).observation.frames);
  const timings = [...byRole.values()];
  const sync: SyncStats = {
    queueSize: 1,
    slopMs: 0,
    sets: spreads.length,
    meanSpreadMs: spreads.length === 0 ? null : spreads.reduce((a, b) => a + b, 0) / spreads.length,
    maxSpreadMs: spreads.length === 0 ? null : Math.max(...spreads),
    views: timings.map((t) => ({ view: t.source, received: t.stampsMs.length, synced: t.stampsMs.length, dropped: 0, outOfOrder: 0, rateHz: 0, latencyMs: null, meanLatencyMs: null })),
  };
  return { source: robot.name, timings, sync, problems: [] };
}

/** Listens to the configured camera topics for `seconds` (needs rclnodejs and a sourced ROS 2). */
export async function timingsFromRos2(config: Config, seconds: number, log: Logger): Promise<TimingSource> {
  const runtime = await startRosRuntime(`${config.robot.ros2.nodeName}_calibrate`);
  try {
    const cameras = new Ros2Cameras(runtime.node, config, log);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const problems: string[] = [];
    const stats = cameras.stats();
    const timings = cameras.timings().map((t): ViewTimings => {
      const cameraInfo = calibrationOf(t.cameraInfo, `camera_info ${t.topic.info}`, problems);
      return {
        role: t.topic.role,
        camera: t.topic.camera,
        source: t.topic.image,
        stampsMs: t.stampsMs,
        arrivalsMs: t.arrivalsMs,
        ...(t.size === undefined ? {} : t.size),
        ...(cameraInfo === undefined ? {} : { cameraInfo }),
      };
    });
    const sync: SyncStats = { ...stats, views: stats.views.map((v, i) => ({ ...v, view: timings[i]!.source })) };
    return { source: `ROS 2 topics (${seconds} s)`, timings, sync, problems };
  } finally {
    await runtime.shutdown();
  }
}

export function checkSeconds(value: string | undefined): number {
  const seconds = Number(value ?? '5');
  if (!(seconds > 0 && seconds <= 600)) throw new InputError('--seconds', `expected a number of seconds in (0, 600], got ${value}`);
  return seconds;
}
