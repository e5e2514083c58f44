/**
 * The scripted expert: runs a task's phases one after another, turning each phase's waypoint into
 * a bounded end-effector action. A noise level in [0, 1] makes the same code give clean demos
 * (0), shaky but mostly successful ones, and partial attempts and failures (near 1):
 * - perception error: each object is seen displaced by a fixed random offset per episode,
 * - motor noise: Gaussian noise on every action,
 * - lapses: at each phase start the expert may give up and wander for a while.
 */
import type { ArmAction } from '../types.js';
import { createRng, type Rng } from './rng.js';
import type { Vec3 } from './scene.js';
import type { ExpertContext, Phase } from './tasks.js';
import type { SimWorld } from './world.js';

/** Standard deviation of the per-episode perception error at noise 1, metres (x and y). */
const PERCEPTION_SIGMA_M = 0.025;
/** Motor noise at noise 1, as a fraction of the step caps. */
const MOTOR_SIGMA = 0.5;
/**
 * The expert moves at this fraction of the step caps: demos then last several seconds (more frames
 * per sub-task for progress labels), and a learned policy has room to be faster than its teacher.
 */
const EXPERT_SPEED = 0.5;
/** Probability of giving up at each phase start, at noise 1. */
const LAPSE_PROBABILITY = 0.15;

export interface Keyframe {
  /** Phase name (the reference data spells the key `anotation`). */
  anotation: string;
  start_frame_id: number;
  end_frame_id: number;
}

export class ScriptedExpert {
  readonly noise: number;
  private readonly world: SimWorld;
  private readonly phases: Phase[];
  private readonly rng: Rng;
  private readonly offsets = new Map<string, Vec3>();
  private index = 0;
  private phaseSteps = 0;
  /** Control step (frame id) at which each started phase began. */
  private readonly starts: number[] = [];
  private lapseStepsLeft: number | undefined;
  private lastNoise: ArmAction = { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 };

  /**
   * `misperceive`: fixed perception errors by body ([dx, dy] metres, dyaw radians), in place of the
   * noise's random ones: a scripted near miss (the target seen beside where it is, the object seen
   * beside itself) with the expert otherwise clean.
   */
  constructor(world: SimWorld, options: { noise: number; seed: number; misperceive?: Readonly<Record<string, Vec3>> }) {
    if (!(options.noise >= 0 && options.noise <= 1)) throw new RangeError(`noise: expected a number in [0, 1], got ${options.noise}`);
    this.world = world;
    this.noise = options.noise;
    this.rng = createRng(options.seed);
    this.phases = world.task.expertPhases();
    for (const [body, offset] of Object.entries(options.misperceive ?? {})) this.offsets.set(body, [...offset]);
  }

  /** All phases are over (or the expert gave up and stopped). */
  get finished(): boolean {
    return this.index >= this.phases.length || this.lapseStepsLeft === 0;
  }

  /** Name of the current phase, or undefined when finished. */
  get phase(): string | undefined {
    return this.phases[this.index]?.name;
  }

  private context(): ExpertContext {
    return {
      world: this.world,
      sees: (body) => {
        const p = this.world.bodyPosition(body);
        const o = this.offset(body);
        return [p[0] + o[0], p[1] + o[1], p[2]];
      },
      seesYaw: (body) => this.world.bodyYaw(body) + this.offset(body)[2],
      phaseSteps: this.phaseSteps,
    };
  }

  private offset(body: string): Vec3 {
    let o = this.offsets.get(body);
    if (!o) {
      const s = this.noise * PERCEPTION_SIGMA_M;
      o = [this.rng.normal() * s, this.rng.normal() * s, this.rng.normal() * this.noise * 0.15];
      this.offsets.set(body, o);
    }
    return o;
  }

  private startPhase(): void {
    this.starts.push(this.world.steps);
    this.phaseSteps = 0;
    if (this.noise > 0 && this.rng.next() < LAPSE_PROBABILITY * this.noise) {
      this.lapseStepsLeft = 5 + Math.floor(this.rng.next() * 20);
    }
  }

  /** The next action, or undefined when the expert is finished. */
  next(): ArmAction | undefined {
    if (this.starts.length === 0) this.startPhase();
    if (this.lapseStepsLeft !== undefined) return this.wander();
    // A phase that is done hands over to the next one within the same control step.
    for (let guard = 0; guard <= this.phases.length; guard++) {
      const phase = this.phases[this.index];
      if (!phase) return undefined;
      const step = phase.step(this.context());
      if (!step.done && this.phaseSteps < phase.maxSteps) {
        this.phaseSteps += 1;
        return this.toAction(step.position, step.yaw, step.gripper);
      }
      this.index += 1;
      if (this.index >= this.phases.length) return undefined;
      this.startPhase();
      if (this.lapseStepsLeft !== undefined) return this.wander();
    }
    return undefined;
  }

  private toAction(position: Vec3, yaw: number, gripper: number): ArmAction {
    const ee = this.world.eePosition();
    const { maxStepM, maxYawStepRad } = this.world.bounds;
    const delta = [position[0] - ee[0], position[1] - ee[1], position[2] - ee[2]];
    const norm = Math.hypot(delta[0]!, delta[1]!, delta[2]!);
    const scale = Math.min(1, (EXPERT_SPEED * maxStepM) / Math.max(norm, 1e-9));
    const dyaw = yaw - this.world.eeYaw();
    const action: ArmAction = {
      dx: delta[0]! * scale,
      dy: delta[1]! * scale,
      dz: delta[2]! * scale,
      dyaw: Math.max(-EXPERT_SPEED * maxYawStepRad, Math.min(EXPERT_SPEED * maxYawStepRad, dyaw)),
      gripper,
    };
    if (this.noise > 0) {
      const s = this.noise * MOTOR_SIGMA;
      action.dx += this.rng.normal() * s * maxStepM;
      action.dy += this.rng.normal() * s * maxStepM;
      action.dz += this.rng.normal() * s * maxStepM;
      action.dyaw += this.rng.normal() * s * maxYawStepRad;
    }
    return action;
  }

  /** A lapse: smoothly wandering motion with the gripper as it was. */
  private wander(): ArmAction | undefined {
    if (this.lapseStepsLeft === 0) return undefined;
    this.lapseStepsLeft = (this.lapseStepsLeft ?? 1) - 1;
    const { maxStepM, maxYawStepRad } = this.world.bounds;
    const n = this.lastNoise;
    this.lastNoise = {
      dx: 0.7 * n.dx + 0.3 * this.rng.normal() * maxStepM,
      dy: 0.7 * n.dy + 0.3 * this.rng.normal() * maxStepM,
      dz: 0.7 * n.dz + 0.3 * this.rng.normal() * maxStepM,
      dyaw: 0.7 * n.dyaw + 0.3 * this.rng.normal() * maxYawStepRad,
      gripper: this.world.gripperCommanded(),
    };
    return { ...this.lastNoise };
  }

  /**
   * The keyframes of what happened so far: one per started phase, neighbours sharing their
   * boundary frame, the last ending at `lastFrame`. Phases that took no step are left out.
   */
  keyframes(lastFrame: number): Keyframe[] {
    const frames: Keyframe[] = [];
    this.starts.forEach((start, i) => {
      const end = i + 1 < this.starts.length ? this.starts[i + 1]! : lastFrame;
      if (end > start) frames.push({ anotation: this.phases[i]!.name, start_frame_id: start, end_frame_id: end });
    });
    return frames;
  }
}

export interface ExpertEpisode {
  success: boolean;
  /** Control steps taken. */
  steps: number;
  keyframes: Keyframe[];
}

/** Control steps allowed by the task's time limit. */
export function stepLimit(world: SimWorld): number {
  return Math.round(world.task.timeLimitS * world.controlHz);
}

/** Runs one expert episode on a world without cameras (the fast path for success rates). */
export function runExpertEpisode(
  world: SimWorld,
  options: { seed: number; noise: number; expertSeed: number; stepLimit?: number },
): ExpertEpisode {
  world.reset(options.seed);
  const expert = new ScriptedExpert(world, { noise: options.noise, seed: options.expertSeed });
  const limit = options.stepLimit ?? stepLimit(world);
  while (world.steps < limit) {
    const action = expert.next();
    if (!action) break;
    world.step(action);
  }
  return { success: world.task.success(world), steps: world.steps, keyframes: expert.keyframes(world.steps) };
}
