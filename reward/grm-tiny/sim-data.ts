/**
 * Simulator episodes for GRM-tiny, kept in memory: the scripted expert runs a task on the
 * embedded robot (same seeds as `dopamine sim record`), every control step's three camera frames
 * are kept, and the expert's phases become the keyframes. Nothing is written to disk.
 */
import type { Config } from '../../config/schema.js';
import { ScriptedExpert } from '../../robot/sim/expert.js';
import { episodeSeed, expertSeed } from '../../robot/sim/record.js';
import { SimRobot } from '../../robot/sim/robot.js';
import type { CameraRole, Observation } from '../../robot/types.js';
import type { Episode, RgbImage } from '../episode.js';
import { memoryEpisode } from './memory-episode.js';
import { LOCATION_SIZE } from './model.js';

export interface SimEpisode {
  episode: Episode;
  /** Per frame: the task's key bodies relative to the hand, in decimetres (the location target, model.ts). */
  locations: Float32Array[];
  success: boolean;
  seed: number;
  noise: number;
}

/** The camera views of one observation, copied (the simulator reuses its frame buffers). */
export type Views = Partial<Record<CameraRole, RgbImage>> & { front: RgbImage };

export function views(observation: Observation): Views {
  const out: Partial<Record<CameraRole, RgbImage>> = {};
  for (const frame of observation.frames) out[frame.role] = { width: frame.width, height: frame.height, rgb: Uint8Array.from(frame.rgb) };
  if (!out.front) throw new Error('simulator observation without a front camera frame');
  return out as Views;
}

/** The task's two key bodies relative to the hand, decimetres (values of order 1 for the loss). */
export function keyBodyLocations(robot: SimRobot): Float32Array {
  const world = robot.world;
  const ee = world.eePosition();
  const out = new Float32Array(LOCATION_SIZE);
  robot.task.keyBodies.forEach((body, b) => {
    const p = world.bodyPosition(body);
    for (let i = 0; i < 3; i++) out[3 * b + i] = 10 * (p[i]! - ee[i]!);
  });
  return out;
}

/** Runs one expert episode of the robot's task with seed `seed` and expert noise `noise`. */
export async function runSimEpisode(robot: SimRobot, seed: number, noise: number, options: { stopAfterPhases?: number } = {}): Promise<SimEpisode> {
  let observation = await robot.reset(seed);
  const expert = new ScriptedExpert(robot.world, { noise, seed: expertSeed(seed) });
  const frames: Views[] = [views(observation)];
  const locations: Float32Array[] = [keyBodyLocations(robot)];
  let success = robot.task.success(robot.world);
  const phaseLimit = options.stopAfterPhases;
  let phases = 0;
  let lastPhase = expert.phase;
  while (robot.world.steps < robot.stepLimit) {
    const action = expert.next();
    if (!action) break;
    if (expert.phase !== lastPhase) {
      phases++;
      lastPhase = expert.phase;
      if (phaseLimit !== undefined && phases >= phaseLimit) break;
    }
    const result = await robot.act(action);
    observation = result.observation;
    success = result.success === true;
    frames.push(views(observation));
    locations.push(keyBodyLocations(robot));
  }
  const keyframes = expert.keyframes(frames.length - 1).filter((k) => k.end_frame_id <= frames.length - 1);
  const segments = keyframes.map((k) => ({ label: k.anotation, startFrame: k.start_frame_id, endFrame: k.end_frame_id }));
  const episode = memoryEpisode({
    name: `${robot.task.name}_seed${seed}`,
    instructions: robot.task.instructions,
    frames,
    segments: segments.length > 0 ? segments : undefined,
    fps: robot.controlHz,
  });
  return { episode, locations, success, seed, noise };
}

export interface SimEpisodesOptions {
  config: Config;
  task: string;
  count: number;
  seed: number;
  /** Expert noise of episode i (default: 0.2). */
  noise?: (index: number) => number;
  width?: number;
  height?: number;
}

/** `count` episodes of a task, seeds `episodeSeed(seed, i)` as in `dopamine sim record`. */
export async function* simEpisodes(options: SimEpisodesOptions): AsyncGenerator<SimEpisode> {
  const robot = await SimRobot.create(options.config, {
    task: options.task,
    render: true,
    ...(options.width !== undefined ? { width: options.width } : {}),
    ...(options.height !== undefined ? { height: options.height } : {}),
  });
  try {
    for (let i = 0; i < options.count; i++) yield await runSimEpisode(robot, episodeSeed(options.seed, i), options.noise?.(i) ?? 0.2);
  } finally {
    await robot.close();
  }
}
