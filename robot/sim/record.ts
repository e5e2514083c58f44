/**
 * Recording expert episodes in the reference layout, so the reward core reads a simulated demo
 * like the real one:
 *
 *   <out>/task_instruction.json            paraphrases of the task text
 *   <out>/episode_000001/cam_high.mp4      one H.264 mp4 per camera (file stem = camera name),
 *                        cam_left_wrist.mp4  one frame per control step, fps = control rate
 *                        cam_right_wrist.mp4
 *                        annotated_keyframes.json  [{anotation, start_frame_id, end_frame_id}]
 *                        states.jsonl       one line per frame: proprioception, action, phase, success
 *                        episode.json       task, seeds, noise, success, sizes
 *
 * Frame 0 is the observation after reset; frame t+1 the one after the t-th action, so a video of
 * an episode with T actions has T+1 frames, as many as states.jsonl has lines.
 * Each episode is written into a temporary folder and renamed when complete: an interrupted run
 * leaves no half episode, and existing episodes are only replaced with `overwrite`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Config } from '../../config/schema.js';
import { ScriptedExpert, type Keyframe } from './expert.js';
import { deriveSeed } from './rng.js';
import { SimRobot } from './robot.js';

export type ExistingEpisodes = 'refuse' | 'overwrite' | 'append';

export interface RecordOptions {
  config: Config;
  task: string;
  episodes: number;
  noise: number;
  seed: number;
  out: string;
  /** What to do when `out` already holds episodes (default: refuse). */
  existing?: ExistingEpisodes;
  width?: number;
  height?: number;
  log?: Logger;
}

export interface RecordedEpisode {
  folder: string;
  seed: number;
  success: boolean;
  frames: number;
  keyframes: Keyframe[];
}

export interface StateLine {
  frame: number;
  stampMs: number;
  eePosition: [number, number, number];
  eeYaw: number;
  gripperOpening: number;
  jointPositions: number[];
  /** The bounded action applied after this frame [dx, dy, dz, dyaw, gripper]; null on the last frame. */
  action: number[] | null;
  /** The expert phase this frame belongs to. */
  phase: string | null;
  /** The task's success predicate at this frame. */
  success: boolean;
}

const EPISODE_PATTERN = /^episode_(\d+)$/;

/** Seed of episode `index` (0-based) of a run with seed `seed`: the same in `record` and `expert`. */
export function episodeSeed(seed: number, index: number): number {
  return seed + index;
}

/** Seed of the expert's noise in an episode. */
export function expertSeed(episodeSeedValue: number): number {
  return deriveSeed(episodeSeedValue, 1);
}

export function episodeFolderName(number: number): string {
  return `episode_${String(number).padStart(6, '0')}`;
}

function existingEpisodeNumbers(out: string): number[] {
  if (!existsSync(out)) return [];
  return readdirSync(out)
    .map((name) => EPISODE_PATTERN.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
}

export async function recordEpisodes(options: RecordOptions): Promise<RecordedEpisode[]> {
  const { config, out } = options;
  if (!Number.isInteger(options.episodes) || options.episodes < 1) throw new InputError('--episodes', `expected a whole number >= 1, got ${options.episodes}`);
  if (!(options.noise >= 0 && options.noise <= 1)) throw new InputError('--noise', `expected a number in [0, 1], got ${options.noise}`);
  const robot = await SimRobot.create(config, {
    task: options.task,
    render: true,
    ...(options.width !== undefined ? { width: options.width } : {}),
    ...(options.height !== undefined ? { height: options.height } : {}),
  });
  try {
    const first = prepareOutput(out, options.existing ?? 'refuse', robot.task.instructions);
    const recorded: RecordedEpisode[] = [];
    for (let i = 0; i < options.episodes; i++) {
      const seed = episodeSeed(options.seed, i);
      const folder = join(out, episodeFolderName(first + i));
      const episode = await recordOne(robot, { seed, noise: options.noise, folder, fps: config.robot.controlHz });
      recorded.push(episode);
      options.log?.info(`${folder}: ${episode.frames} frames, ${episode.keyframes.length} phases, ${episode.success ? 'success' : 'failure'}`);
    }
    return recorded;
  } finally {
    await robot.close();
  }
}

/** Checks and prepares the output folder; returns the number of the first new episode. */
function prepareOutput(out: string, existing: ExistingEpisodes, instructions: readonly string[]): number {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new InputError(out, 'expected an output folder, got a file');
  mkdirSync(out, { recursive: true });
  const numbers = existingEpisodeNumbers(out);
  const instructionFile = join(out, 'task_instruction.json');
  if (numbers.length > 0 && existing === 'refuse') {
    throw new InputError(out, `expected an empty output folder, got one with ${numbers.length} episodes (pass --overwrite to replace them or --append to add to them)`);
  }
  if (numbers.length > 0 && existing === 'append') {
    const current = existsSync(instructionFile) ? (JSON.parse(readFileSync(instructionFile, 'utf8')) as unknown) : undefined;
    if (JSON.stringify(current) !== JSON.stringify(instructions)) {
      throw new InputError(out, 'expected episodes of the same task to append to, got a folder whose task_instruction.json differs');
    }
    return Math.max(...numbers) + 1;
  }
  if (existing === 'overwrite') {
    for (const name of readdirSync(out)) if (EPISODE_PATTERN.test(name)) rmSync(join(out, name), { recursive: true, force: true });
  }
  writeFileSync(instructionFile, `${JSON.stringify(instructions, null, 2)}\n`);
  return 1;
}

async function recordOne(robot: SimRobot, options: { seed: number; noise: number; folder: string; fps: number }): Promise<RecordedEpisode> {
  let observation = await robot.reset(options.seed);
  const expert = new ScriptedExpert(robot.world, { noise: options.noise, seed: expertSeed(options.seed) });
  const videos = robot.cameras.map(() => [] as Uint8Array[]);
  const states: StateLine[] = [];
  let success = robot.task.success(robot.world);
  const capture = (action: number[] | null, phase: string | null): void => {
    observation.frames.forEach((frame, i) => videos[i]!.push(frame.rgb));
    const s = observation.state;
    states.push({
      frame: states.length,
      stampMs: s.stampMs,
      eePosition: s.eePosition,
      eeYaw: s.eeYaw,
      gripperOpening: s.gripperOpening,
      jointPositions: s.jointPositions,
      action,
      phase,
      success,
    });
  };
  while (robot.world.steps < robot.stepLimit) {
    const action = expert.next();
    if (!action) break;
    const phase = expert.phase ?? null;
    const result = await robot.act(action);
    const a = robot.lastApplied!;
    capture([a.dx, a.dy, a.dz, a.dyaw, a.gripper], phase);
    observation = result.observation;
    success = result.success === true;
  }
  capture(null, null);
  const frames = states.length;
  const keyframes = expert.keyframes(frames - 1);

  const partial = `${options.folder}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const { width, height } = observation.frames[0] ?? { width: 0, height: 0 };
  for (const [i, camera] of robot.cameras.entries()) {
    await encodeMp4(join(partial, `${camera.camera}.mp4`), videos[i]!, width, height, options.fps);
  }
  writeFileSync(join(partial, 'annotated_keyframes.json'), `${JSON.stringify(keyframes, null, 4)}\n`);
  writeFileSync(join(partial, 'states.jsonl'), states.map((line) => JSON.stringify(line)).join('\n') + '\n');
  writeFileSync(
    join(partial, 'episode.json'),
    `${JSON.stringify(
      {
        source: 'dopamine sim',
        task: robot.task.name,
        instruction: robot.task.instructions[0],
        seed: options.seed,
        noise: options.noise,
        success,
        frames,
        fps: options.fps,
        width,
        height,
        cameras: robot.cameras.map((c) => ({ role: c.role, name: c.camera })),
      },
      null,
      2,
    )}\n`,
  );
  rmSync(options.folder, { recursive: true, force: true });
  renameSync(partial, options.folder);
  return { folder: options.folder, seed: options.seed, success, frames, keyframes };
}

/** Encodes packed RGB frames as H.264 (yuv420p) with ffmpeg; odd sizes are padded to even. */
export function encodeMp4(file: string, frames: readonly Uint8Array[], width: number, height: number, fps: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ffmpeg = spawn(
      'ffmpeg',
      [
        '-y', '-loglevel', 'error',
        '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0',
        '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2',
        '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-r', String(fps),
        file,
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    ffmpeg.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    ffmpeg.on('error', (error) => reject(new Error(`ffmpeg could not be started (is it installed?): ${error.message}`)));
    ffmpeg.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg failed writing ${file} (exit ${code}): ${stderr.trim()}`))));
    ffmpeg.stdin.on('error', () => undefined);
    for (const frame of frames) ffmpeg.stdin.write(frame);
    ffmpeg.stdin.end();
  });
}
