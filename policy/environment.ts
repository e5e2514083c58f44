/**
 * The robot as the RL loop sees it: reset, act, stop, observations in the robot interface's types.
 * `SimEnvironment` runs a simulator task directly on its MuJoCo world, so that it can also hand out
 * the privileged quantities (object poses, a geometric progress estimate) used only by the
 * debugging options, which are labelled as such wherever they appear.
 */
import { InputError } from '../common/errors.js';
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { EventStream } from '../robot/events.js';
import { SafeRobot, type SafetySettings } from '../robot/safety.js';
import type { ArmAction, CameraFrame, CameraRole, Observation, Robot } from '../robot/types.js';
import { ScriptedExpert, stepLimit } from '../robot/sim/expert.js';
import { startPoses, taskProgress, type StartPoses } from '../robot/sim/progress.js';
import { RayCastRenderer } from '../robot/sim/render.js';
import { SIM_CAMERAS } from '../robot/sim/scene.js';
import { findTask, taskNames } from '../robot/sim/tasks.js';
import { SimWorld, type SceneLayout } from '../robot/sim/world.js';
import { Rng } from './rng.js';
import { GRIPPER_UNIT } from './sac.js';

/** What the loop gets after a reset or a step. */
export interface EnvObservation {
  observation: Observation;
  /** Privileged simulator state (debugging only): object poses and geometric task progress. */
  privileged?: { state: Float32Array; progress: number };
}

export interface EnvStep {
  next: EnvObservation;
  /** The environment's own success predicate, when it has one. */
  success: boolean | undefined;
  /** Set when the safety layer forwarded nothing (e-stop, refused action): the episode stops. */
  heldBy?: string;
  /** The action that reached the arm (after the safety layer's clipping), where a safety layer reports it. */
  applied?: ArmAction;
}

export interface RlEnvironment {
  readonly task: string;
  /** Control steps per episode (the task's time limit). */
  readonly maxSteps: number;
  reset(seed: number): Promise<EnvObservation>;
  act(action: ArmAction): Promise<EnvStep>;
  /** Safety stop: hold position until the next reset. */
  stop(reason: string): Promise<void>;
  close(): Promise<void>;
}

export interface ActionLimits {
  maxStepM: number;
  maxYawStepRad: number;
}

/**
 * Policy output to an arm command: motion in [-1, 1]^4 scaled to the per-step caps; the gripper
 * is binary, closed where the output is positive (the learner's gripper is a discrete choice,
 * +-GRIPPER_UNIT; sac.ts).
 */
export function vectorToAction(v: ArrayLike<number>, limits: ActionLimits): ArmAction {
  const c = (x: number): number => Math.max(-1, Math.min(1, x));
  return { dx: c(v[0]!) * limits.maxStepM, dy: c(v[1]!) * limits.maxStepM, dz: c(v[2]!) * limits.maxStepM, dyaw: c(v[3]!) * limits.maxYawStepRad, gripper: v[4]! > 0 ? 1 : 0 };
}

/** The inverse of vectorToAction (clipped), for demo actions. */
export function actionToVector(a: ArmAction, limits: ActionLimits): Float32Array {
  const c = (x: number): number => Math.max(-1, Math.min(1, x));
  return Float32Array.of(c(a.dx / limits.maxStepM), c(a.dy / limits.maxStepM), c(a.dz / limits.maxStepM), c(a.dyaw / limits.maxYawStepRad), a.gripper > 0.5 ? GRIPPER_UNIT : -GRIPPER_UNIT);
}

/**
 * Any arm behind the robot interface (a lab arm over ROS 2, or the simulator's SimRobot) as an RL
 * environment. No privileged state: observations are what the robot reports.
 */
export class RobotEnvironment implements RlEnvironment {
  readonly task: string;

  constructor(
    private readonly robot: Robot,
    task: string,
    readonly maxSteps: number,
  ) {
    this.task = task;
  }

  async reset(seed: number): Promise<EnvObservation> {
    return { observation: await this.robot.reset(seed) };
  }

  async act(action: ArmAction): Promise<EnvStep> {
    const step = await this.robot.act(action);
    return { next: { observation: step.observation }, success: step.success };
  }

  stop(reason: string): Promise<void> {
    return this.robot.stop(reason);
  }

  close(): Promise<void> {
    return this.robot.close();
  }
}

type Vec3 = [number, number, number];

/** Object position relative to the hand, in decimetres (inputs of order 1 for the networks). */
function relative(world: SimWorld, body: string): number[] {
  const ee = world.eePosition();
  const p = world.bodyPosition(body);
  return [10 * (p[0] - ee[0]), 10 * (p[1] - ee[1]), 10 * (p[2] - ee[2])];
}

/** Cube yaw relative to the hand's, modulo the cube's quarter-turn symmetry, as (sin, cos). */
function graspYaw(world: SimWorld, body: string): number[] {
  const d = 4 * (world.bodyYaw(body) - world.eeYaw());
  return [Math.sin(d), Math.cos(d)];
}

/**
 * PRIVILEGED simulator state (debugging and development only; it reads object poses the policy
 * and the reward model never see): what a perfect object detector would give, object positions
 * relative to the hand and the cube's yaw relative to the hand's. The matching progress is the
 * task's true progress (robot/sim/progress.ts), 1 exactly at success.
 */
export const PRIVILEGED_STATE_SIZE = 8;
const privilegedTasks: Record<string, { state(world: SimWorld): number[] }> = {
  'pick-place': { state: (world) => [...relative(world, 'cube'), ...relative(world, 'bin'), ...graspYaw(world, 'cube')] },
  'push-cube': { state: (world) => [...relative(world, 'cube'), ...relative(world, 'target'), ...graspYaw(world, 'cube')] },
};

/** Whether PRIVILEGED state and progress exist for the named task (checked before a simulator is built). */
export function hasPrivilegedState(task: string): boolean {
  return Object.hasOwn(privilegedTasks, task);
}

export interface SimEnvironmentOptions {
  task: string;
  physicsStepS: number;
  controlHz: number;
  bounds: { maxStepM: number; maxYawStepRad: number; workspaceMin: Vec3; workspaceMax: Vec3 };
  /** Render the three camera views each step (needed for image features and the reward model). */
  cameras?: { width: number; height: number };
  /** Override of the task's time limit, in control steps (short test runs). */
  maxSteps?: number;
  /**
   * PRIVILEGED debugging: the first key body's (the object the hand moves) horizontal position in
   * the privileged state is off by one offset per episode, N(0, error^2) metres per axis: a
   * detector with that error. Measures how precisely an image encoder must locate the object.
   */
  privilegedErrorM?: number;
  /** A lab's reset near one layout (robot/sim/world.ts); absent: the task's full randomisation. */
  layout?: SceneLayout;
}

export class SimEnvironment implements RlEnvironment {
  readonly task: string;
  readonly maxSteps: number;
  private startPoses: StartPoses = {};
  /** This episode's error of the privileged object position, decimetres (the state's unit). */
  private privilegedOffsetDm: [number, number] = [0, 0];
  private readonly cameraIds: { role: CameraRole; camera: string; id: number }[];

  private constructor(
    readonly world: SimWorld,
    private readonly renderer: RayCastRenderer | undefined,
    private readonly options: SimEnvironmentOptions,
  ) {
    this.task = options.task;
    this.maxSteps = options.maxSteps ?? stepLimit(world);
    this.cameraIds = (['front', 'left_wrist', 'right_wrist'] as const).map((role) => ({ role, camera: SIM_CAMERAS[role], id: world.id('camera', SIM_CAMERAS[role]) }));
  }

  static async create(options: SimEnvironmentOptions): Promise<SimEnvironment> {
    const task = findTask(options.task);
    if (!task) throw new InputError('--task', `expected one of ${taskNames().join(', ')}, got ${JSON.stringify(options.task)}`);
    const world = await SimWorld.create({ task, physicsStepS: options.physicsStepS, controlHz: options.controlHz, bounds: options.bounds, ...(options.layout ? { layout: options.layout } : {}) });
    const renderer = options.cameras ? new RayCastRenderer(world.mujoco, world.model, options.cameras.width, options.cameras.height) : undefined;
    return new SimEnvironment(world, renderer, options);
  }

  /** Whether PRIVILEGED state and progress exist for this task. */
  get hasPrivileged(): boolean {
    return hasPrivilegedState(this.task);
  }

  async reset(seed: number): Promise<EnvObservation> {
    this.world.reset(seed);
    this.startPoses = startPoses(this.world);
    const error = this.options.privilegedErrorM ?? 0;
    if (error > 0) {
      const rng = new Rng(seed);
      this.privilegedOffsetDm = [10 * error * rng.normal(), 10 * error * rng.normal()];
    }
    return this.observe();
  }

  async act(action: ArmAction): Promise<EnvStep> {
    this.world.step(action);
    return { next: this.observe(), success: this.world.task.success(this.world) };
  }

  async stop(): Promise<void> {
    this.world.hold();
  }

  async close(): Promise<void> {
    this.renderer?.close();
    this.world.close();
  }

  /** A scripted expert for this episode (demos), acting on the same world. */
  expert(noise: number, seed: number): ScriptedExpert {
    return new ScriptedExpert(this.world, { noise, seed });
  }

  private observe(): EnvObservation {
    const w = this.world;
    const stampMs = w.time * 1000;
    const frames: CameraFrame[] = this.renderer
      ? this.cameraIds.map(({ role, camera, id }) => {
          const view = this.renderer!.render(w.data, id);
          return { role, camera, width: view.width, height: view.height, rgb: view.rgb, stampMs };
        })
      : [];
    const observation: Observation = {
      state: { eePosition: w.eePosition(), eeYaw: w.eeYaw(), gripperOpening: w.gripperOpening(), jointPositions: w.jointPositions(), stampMs },
      frames,
    };
    const spec = privilegedTasks[this.task];
    if (!spec) return { observation };
    const state = Float32Array.from(spec.state(w));
    state[0] = state[0]! + this.privilegedOffsetDm[0];
    state[1] = state[1]! + this.privilegedOffsetDm[1];
    return { observation, privileged: { state, progress: taskProgress(w.task, w, this.startPoses) } };
  }
}

/**
 * A simulator task behind the same safety layer as a lab arm (robot/safety.ts): every policy and
 * demo action passes the SafeRobot (per-step caps on the translation's length and the yaw, the
 * workspace box, refusal of non-finite actions, the latching e-stop) before it reaches the world,
 * and what it clipped or refused is counted. The PRIVILEGED quantities of the debugging options
 * still come from the simulator underneath.
 */
export class SafeSimEnvironment implements RlEnvironment {
  readonly safety: SafeRobot;
  private current: EnvObservation | undefined;

  constructor(
    readonly sim: SimEnvironment,
    settings: SafetySettings,
    deps: { clock: Clock; events: EventStream; log: Logger },
  ) {
    // The world behind the Robot interface, keeping the last observation with its privileged part.
    const arm: Robot = {
      name: `simulator (${sim.task})`,
      controlHz: sim.world.controlHz,
      cameras: [],
      reset: async (seed) => {
        this.current = await sim.reset(seed ?? 0);
        return this.current.observation;
      },
      act: async (action) => {
        const step = await sim.act(action);
        this.current = step.next;
        return { observation: step.next.observation, ...(step.success === undefined ? {} : { success: step.success }), timeLimit: false };
      },
      observe: async () => this.latest().observation,
      stop: () => sim.stop(),
      close: async () => undefined,
    };
    this.safety = new SafeRobot(arm, settings, deps);
  }

  get task(): string {
    return this.sim.task;
  }

  get maxSteps(): number {
    return this.sim.maxSteps;
  }

  private latest(): EnvObservation {
    if (!this.current) throw new Error('the safe simulator environment was used before its first reset');
    return this.current;
  }

  async reset(seed: number): Promise<EnvObservation> {
    await this.safety.reset(seed);
    return this.latest();
  }

  async act(action: ArmAction): Promise<EnvStep> {
    const result = await this.safety.act(action);
    if (result.applied === null) return { next: this.latest(), success: false, heldBy: result.heldBy ?? 'held by the safety layer' };
    return { next: this.latest(), success: result.success, applied: result.applied };
  }

  /** Hold position until the next reset (a policy fault or the operator's stop during training). */
  stop(): Promise<void> {
    return this.sim.stop();
  }

  close(): Promise<void> {
    return this.sim.close();
  }
}
