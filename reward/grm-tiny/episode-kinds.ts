/**
 * Simulator episodes of what a learning policy will find, not only clean successes, each frame
 * labelled with the task's true progress (robot/sim/progress.ts):
 * - clean: the scripted expert, noise 0, to success, then resting (sim-data.ts REST_STEPS);
 * - failed: the clean expert stops (holds still) or wanders from the start of phase k;
 * - near-miss: the task nearly done and not a success: the object put beside the target or
 *   released over its rim (the expert sees the target displaced), a grasp that never lifts, the
 *   object held over the target and never let go, fingers closed beside the object (the expert
 *   sees the object displaced), a drawer pulled part-way, a button pressed beside;
 * - regression: a clean episode played forward to its end and then back to an early frame (the
 *   task undone, frame for frame).
 * Seeded and reproducible: the same options give the same episodes. A failed or near-miss episode
 * never satisfies the success predicate at any frame (checked; such a try is dropped).
 */
import type { Config } from '../../config/schema.js';
import { ScriptedExpert } from '../../robot/sim/expert.js';
import { keyBodyLocations } from '../../robot/sim/key-bodies.js';
import { startPoses, taskProgress } from '../../robot/sim/progress.js';
import { expertSeed } from '../../robot/sim/record.js';
import { createRng, deriveSeed, type Rng } from '../../robot/sim/rng.js';
import type { SimRobot } from '../../robot/sim/robot.js';
import type { Vec3 } from '../../robot/sim/scene.js';
import type { ArmAction } from '../../robot/types.js';
import { memoryEpisode } from './memory-episode.js';
import { renderingRobot, REST_STEPS, restAction, views, type SimEpisode, type Views } from './sim-data.js';

export type EpisodeKind = 'clean' | 'failed' | 'near-miss' | 'regression';
export const EPISODE_KINDS: readonly EpisodeKind[] = ['clean', 'failed', 'near-miss', 'regression'];

export interface KindEpisode extends SimEpisode {
  kind: EpisodeKind;
  /** What happened: 'expert'; 'stop at <phase>' / 'wander at <phase>'; the near-miss class; 'back to frame <n>'. */
  variant: string;
  /** True progress of every frame, in [0, 1]; 1 exactly where the success predicate holds. */
  progress: number[];
  /** `success` (SimEpisode): the predicate at the last frame. This: at any frame. */
  reachedSuccess: boolean;
}

/**
 * One scripted near miss. `misperceive`: the expert sees `body` displaced by a distance in
 * [min, max] metres along a random axis direction (the object lands beside the target, or the
 * fingers close beside the object). `holdFrom`: the expert holds still from the start of that
 * phase (index into the task's phases), `after` steps into it. `untouched`: the body must end
 * within 1.5 cm of its start and never rise 1.5 cm (nothing was grasped or moved).
 */
interface NearMissSpec {
  name: string;
  misperceive?: { body: string; min: number; max: number };
  holdFrom?: { phase: number; after: number };
  untouched?: string;
}

/** The near misses of each task (the expert's phase indices are those of tasks.ts). */
const NEAR_MISSES: Record<string, readonly NearMissSpec[]> = {
  'pick-place': [
    { name: 'beside-target', misperceive: { body: 'bin', min: 0.1, max: 0.14 } },
    { name: 'released-over-rim', misperceive: { body: 'bin', min: 0.065, max: 0.085 } },
    { name: 'grasp-without-lift', holdFrom: { phase: 2, after: 0 } },
    { name: 'held-over-target', holdFrom: { phase: 4, after: 0 } },
    { name: 'closed-on-nothing', misperceive: { body: 'cube', min: 0.065, max: 0.08 }, untouched: 'cube' },
  ],
  'stack-blocks': [
    { name: 'beside-target', misperceive: { body: 'big_block', min: 0.06, max: 0.08 } },
    { name: 'released-over-edge', misperceive: { body: 'big_block', min: 0.025, max: 0.035 } },
    { name: 'grasp-without-lift', holdFrom: { phase: 2, after: 0 } },
    { name: 'held-over-target', holdFrom: { phase: 4, after: 0 } },
    { name: 'closed-on-nothing', misperceive: { body: 'small_block', min: 0.065, max: 0.08 }, untouched: 'small_block' },
  ],
  'push-cube': [{ name: 'beside-target', misperceive: { body: 'target', min: 0.05, max: 0.08 } }],
  'open-drawer': [
    { name: 'closed-on-nothing', misperceive: { body: 'drawer', min: 0.035, max: 0.05 }, untouched: 'drawer' },
    { name: 'grasp-without-pull', holdFrom: { phase: 2, after: 0 } },
    { name: 'pulled-part-way', holdFrom: { phase: 2, after: 2 } },
  ],
  'press-button': [
    { name: 'pressed-beside', misperceive: { body: 'button', min: 0.035, max: 0.05 } },
    { name: 'hover-above', holdFrom: { phase: 1, after: 0 } },
  ],
};

/** The near-miss classes a task has, in the order episodes cycle through them. */
export function nearMissClasses(task: string): string[] {
  return (NEAR_MISSES[task] ?? []).map((n) => n.name);
}

/** How a rollout departs from the clean expert. */
interface Departure {
  /** From the start of phase `phase`, `after` steps into it, the expert is replaced by `mode`. */
  at?: { phase: number; after: number; mode: 'stop' | 'wander'; steps: number };
  misperceive?: Record<string, Vec3>;
}

/** Control steps of holding still or wandering after a departure (1.5 s, 2.5 s at 10 Hz). */
const HOLD_STEPS = 15;
const WANDER_STEPS = 25;

interface Rollout {
  frames: Views[];
  locations: Float32Array[];
  progress: number[];
  successes: boolean[];
  keyframes: ReturnType<ScriptedExpert['keyframes']>;
  /** Per frame, how far the first key body is from where it started, and its height gain (m). */
  moved: number[];
  lifted: number[];
}

/** Smoothly wandering motion with the gripper as it was (as the expert's lapses). */
function wanderer(rng: Rng, robot: SimRobot): () => ArmAction {
  let last = { dx: 0, dy: 0, dz: 0, dyaw: 0 };
  return () => {
    const { maxStepM, maxYawStepRad } = robot.world.bounds;
    last = {
      dx: 0.7 * last.dx + 0.3 * rng.normal() * maxStepM,
      dy: 0.7 * last.dy + 0.3 * rng.normal() * maxStepM,
      dz: 0.7 * last.dz + 0.3 * rng.normal() * maxStepM,
      dyaw: 0.7 * last.dyaw + 0.3 * rng.normal() * maxYawStepRad,
    };
    return { ...last, gripper: robot.world.gripperCommanded() };
  };
}

async function rollout(robot: SimRobot, seed: number, departure: Departure, rng: Rng): Promise<Rollout> {
  const world = robot.world;
  const task = robot.task;
  let observation = await robot.reset(seed);
  const start = startPoses(world);
  const body = task.keyBodies[0];
  const out: Rollout = { frames: [], locations: [], progress: [], successes: [], keyframes: [], moved: [], lifted: [] };
  const record = (): void => {
    out.frames.push(views(observation));
    out.locations.push(keyBodyLocations(robot.world));
    out.progress.push(taskProgress(task, world, start));
    out.successes.push(task.success(world));
    const p = world.bodyPosition(body);
    const s = start[body]!;
    out.moved.push(Math.hypot(p[0] - s[0], p[1] - s[1], p[2] - s[2]));
    out.lifted.push(p[2] - s[2]);
  };
  record();
  const expert = new ScriptedExpert(world, { noise: 0, seed: expertSeed(seed), ...(departure.misperceive ? { misperceive: departure.misperceive } : {}) });
  const at = departure.at;
  let departed: (() => ArmAction) | undefined;
  let departedSteps = 0;
  let phaseSteps = 0;
  let lastPhase: string | undefined;
  while (world.steps < robot.stepLimit) {
    let action: ArmAction | undefined;
    if (!departed) {
      action = expert.next();
      if (!action) break;
      if (expert.phase !== lastPhase) {
        lastPhase = expert.phase;
        phaseSteps = 0;
      }
      const index = task.phaseNames.indexOf(expert.phase ?? '');
      if (at && (index > at.phase || (index === at.phase && phaseSteps >= at.after))) {
        departed = at.mode === 'stop' ? () => restAction(robot) : wanderer(rng, robot);
        out.keyframes = expert.keyframes(out.frames.length - 1);
      }
      phaseSteps++;
    }
    if (departed) {
      if (departedSteps++ >= at!.steps) break;
      action = departed();
    }
    observation = (await robot.act(action!)).observation;
    record();
  }
  if (!departed) {
    out.keyframes = expert.keyframes(out.frames.length - 1);
    // The expert finished: the arm rests, as after a departure (sim-data.ts REST_STEPS).
    for (let rest = 0; rest < REST_STEPS && world.steps < robot.stepLimit; rest++) {
      observation = (await robot.act(restAction(robot))).observation;
      record();
    }
  }
  return out;
}

function toEpisode(robot: SimRobot, seed: number, kind: EpisodeKind, variant: string, r: Rollout, withKeyframes: boolean): KindEpisode {
  const last = r.frames.length - 1;
  const segments = withKeyframes ? r.keyframes.filter((k) => k.end_frame_id <= last && k.end_frame_id > k.start_frame_id).map((k) => ({ label: k.anotation, startFrame: k.start_frame_id, endFrame: k.end_frame_id })) : [];
  const episode = memoryEpisode({
    name: `${robot.task.name}_${kind}_seed${seed}`,
    instructions: robot.task.instructions,
    frames: r.frames,
    ...(segments.length > 0 ? { segments } : {}),
    fps: robot.controlHz,
  });
  return { episode, locations: r.locations, success: r.successes[last]!, seed, noise: 0, kind, variant, progress: r.progress, reachedSuccess: r.successes.some((s) => s) };
}

/** A random axis direction (+-x or +-y) scaled to [min, max] metres: clearly off along one side. */
function sideways(rng: Rng, min: number, max: number): Vec3 {
  const d = rng.uniform(min, max);
  const axis = rng.pick([[1, 0], [-1, 0], [0, 1], [0, -1]] as const);
  return [axis[0] * d, axis[1] * d, 0];
}

export interface KindEpisodesOptions {
  config: Config;
  task: string;
  kind: EpisodeKind;
  count: number;
  /** Episode seeds are seed, seed + 1, ... (tries that do not give the kind are skipped). */
  seed: number;
  /** Tries per wanted episode before giving up with fewer (default 4). */
  triesPer?: number;
  width?: number;
  height?: number;
}

/**
 * Up to `count` episodes of one kind on a robot of its own (kindTries). Failed episodes stop at
 * each phase, then wander at each; near misses cycle through the task's classes. A try that
 * succeeds, or whose near miss did not happen as scripted, is dropped.
 */
export async function* kindEpisodes(options: KindEpisodesOptions): AsyncGenerator<KindEpisode> {
  const robot = await renderingRobot(options);
  try {
    yield* kindTries(robot, options.kind, options.count, options.seed, options.triesPer);
  } finally {
    await robot.close();
  }
}

/**
 * Up to `count` episodes of a kind on a robot, seeds `seed`, `seed` + 1, ..., at most
 * `count * triesPer` tries. Failed tries cycle through the phases by try (a phase that cannot fail
 * costs one try per cycle); a dropped near miss is tried again with the next seed, so that every
 * class gets its share.
 */
export async function* kindTries(robot: SimRobot, kind: EpisodeKind, count: number, seed: number, triesPer = 4): AsyncGenerator<KindEpisode> {
  let made = 0;
  for (let i = 0; made < count && i < count * triesPer; i++) {
    const episode = await kindEpisode(robot, kind, seed + i, kind === 'near-miss' ? made : i);
    if (episode) {
      made++;
      yield episode;
    }
  }
}

/** One try at an episode of `kind` with seed `seed`; `index` picks the phase and mode, or the class. Undefined when the try does not give the kind. */
export async function kindEpisode(robot: SimRobot, kind: EpisodeKind, seed: number, index: number): Promise<KindEpisode | undefined> {
  const task = robot.task;
  const rng = createRng(deriveSeed(seed, 31));
  if (kind === 'clean') {
    const r = await rollout(robot, seed, {}, rng);
    return r.successes[r.successes.length - 1] ? toEpisode(robot, seed, kind, 'expert', r, true) : undefined;
  }
  if (kind === 'failed') {
    const phases = task.phaseNames.length;
    const phase = index % phases;
    const mode = Math.floor(index / phases) % 2 === 0 ? 'stop' : 'wander';
    const r = await rollout(robot, seed, { at: { phase, after: 0, mode, steps: mode === 'stop' ? HOLD_STEPS : WANDER_STEPS } }, rng);
    // Stopping after the task is done (the last phases) is no failure: such tries are dropped.
    return r.successes.some((s) => s) ? undefined : toEpisode(robot, seed, kind, `${mode} at ${task.phaseNames[phase]}`, r, true);
  }
  if (kind === 'near-miss') {
    const specs = NEAR_MISSES[task.name] ?? [];
    if (specs.length === 0) throw new Error(`no near misses scripted for task ${task.name}`);
    const spec = specs[index % specs.length]!;
    const departure: Departure = {};
    if (spec.misperceive) departure.misperceive = { [spec.misperceive.body]: sideways(rng, spec.misperceive.min, spec.misperceive.max) };
    if (spec.holdFrom) departure.at = { ...spec.holdFrom, mode: 'stop', steps: HOLD_STEPS };
    const r = await rollout(robot, seed, departure, rng);
    if (r.successes.some((s) => s)) return undefined;
    if (spec.untouched && (r.moved[r.moved.length - 1]! > 0.015 || Math.max(...r.lifted) > 0.015)) return undefined;
    return toEpisode(robot, seed, kind, spec.name, r, true);
  }
  // Regression: forward to the clean episode's end, then back to a frame before the first success.
  const r = await rollout(robot, seed, {}, rng);
  const first = r.successes.indexOf(true);
  if (first < 0 || !r.successes[r.successes.length - 1]) return undefined;
  const back = Math.floor(rng.uniform(0, first / 2));
  const order = [...r.frames.keys(), ...Array.from({ length: r.frames.length - 1 - back }, (_, k) => r.frames.length - 2 - k)];
  const played: Rollout = {
    frames: order.map((f) => r.frames[f]!),
    locations: order.map((f) => r.locations[f]!),
    progress: order.map((f) => r.progress[f]!),
    successes: order.map((f) => r.successes[f]!),
    keyframes: [],
    moved: order.map((f) => r.moved[f]!),
    lifted: order.map((f) => r.lifted[f]!),
  };
  return toEpisode(robot, seed, kind, `back to frame ${back}`, played, false);
}
