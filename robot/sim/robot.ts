/**
 * The embedded robot: a SimWorld with ray-cast cameras behind the same Robot / FrameSource
 * interfaces as the ROS 2 arm. Actions are checked (length, NaN) and bounded (step caps,
 * workspace) here; nothing above this file needs to know it talks to a simulator.
 */
import type { Config } from '../../config/schema.js';
import { InputError } from '../../common/errors.js';
import { checkAction, clipAction } from '../action.js';
import type { ArmAction, ArmState, CameraFrame, CameraRole, FrameSource, Observation, Robot, StepResult } from '../types.js';
import { stepLimit } from './expert.js';
import { RayCastRenderer, type RenderedView } from './render.js';
import { SIM_CAMERAS } from './scene.js';
import { findTask, taskNames, type SimTask } from './tasks.js';
import { SimWorld } from './world.js';

export interface SimRobotOptions {
  /** Task name (default: config robot.task). */
  task?: string;
  /** Render camera frames (default true); without, observations carry no frames (fast expert runs). */
  render?: boolean;
  /** Image size (default: config cameras.width x cameras.height). */
  width?: number;
  height?: number;
}

/** The task by name, or an InputError that lists the tasks. */
export function requireTask(name: string, input = 'task'): SimTask {
  const task = findTask(name);
  if (!task) throw new InputError(input, `expected one of ${taskNames().join(', ')}, got ${JSON.stringify(name)}`);
  return task;
}

/** One simulated camera: the newest frame it rendered. */
export class SimCamera implements FrameSource {
  readonly role: CameraRole;
  readonly camera: string;
  /** MuJoCo camera id. */
  readonly camId: number;
  private frame: CameraFrame | undefined;
  /** Depth and segmentation of the newest frame (tests, calibration). */
  lastView: RenderedView | undefined;

  constructor(role: CameraRole, camera: string, camId: number) {
    this.role = role;
    this.camera = camera;
    this.camId = camId;
  }

  latest(): CameraFrame | undefined {
    return this.frame;
  }

  /** Called by the robot when it renders. */
  publish(view: RenderedView, stampMs: number): CameraFrame {
    this.lastView = view;
    this.frame = { role: this.role, camera: this.camera, width: view.width, height: view.height, rgb: view.rgb, stampMs };
    return this.frame;
  }
}

export class SimRobot implements Robot {
  readonly name: string;
  readonly controlHz: number;
  readonly cameras: readonly SimCamera[];
  /** The physical world (privileged state for the expert, recorder and tests). */
  readonly world: SimWorld;
  readonly task: SimTask;
  /** The last action as applied after bounding. */
  lastApplied: ArmAction | undefined;
  private readonly renderer: RayCastRenderer | undefined;
  private readonly onViolation: 'clip' | 'refuse';
  private readonly episodeSteps: number;
  private readonly defaultSeed: number;
  private stopped = false;
  private closed = false;
  private renderedAt = -1;
  private episode = 0;
  private frames: CameraFrame[] = [];

  private constructor(world: SimWorld, config: Config, options: SimRobotOptions) {
    this.world = world;
    this.task = world.task;
    this.name = `sim:${world.task.name}`;
    this.controlHz = config.robot.controlHz;
    this.onViolation = config.safety.onViolation;
    this.defaultSeed = config.robot.sim.seed;
    this.episodeSteps = Math.min(stepLimit(world), Math.round(config.robot.episodeSeconds * config.robot.controlHz));
    const render = options.render ?? true;
    this.renderer = render
      ? new RayCastRenderer(world.mujoco, world.model, options.width ?? config.cameras.width, options.height ?? config.cameras.height)
      : undefined;
    this.cameras = config.cameras.views.map((view) => new SimCamera(view.role, view.name, world.id('camera', SIM_CAMERAS[view.role])));
  }

  /** Builds the simulated robot of the configured task (or options.task). */
  static async create(config: Config, options: SimRobotOptions = {}): Promise<SimRobot> {
    const task = requireTask(options.task ?? config.robot.task);
    const bounds = {
      maxStepM: config.safety.maxStepM,
      maxYawStepRad: config.safety.maxYawStepRad,
      workspaceMin: config.safety.workspaceMin,
      workspaceMax: config.safety.workspaceMax,
    };
    const layout = config.robot.sim.layout;
    const world = await SimWorld.create({ task, physicsStepS: config.robot.sim.physicsStepS, controlHz: config.robot.controlHz, bounds, ...(layout ? { layout } : {}) });
    return new SimRobot(world, config, options);
  }

  /** Control steps an episode may last: the task's time limit, capped by robot.episodeSeconds. */
  get stepLimit(): number {
    return this.episodeSteps;
  }

  /** New episode; without a seed, robot.sim.seed. */
  async reset(seed = this.defaultSeed): Promise<Observation> {
    this.assertOpen();
    this.world.reset(seed);
    this.stopped = false;
    this.lastApplied = undefined;
    this.episode += 1;
    return this.observe();
  }

  async act(action: ArmAction): Promise<StepResult> {
    this.assertOpen();
    const checked = checkAction(action);
    if (this.stopped) {
      this.world.hold();
      this.lastApplied = { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: this.world.gripperCommanded() };
    } else if (this.onViolation === 'refuse' && !sameAction(checked, clipAction(checked, this.world.bounds))) {
      this.world.hold();
      this.lastApplied = { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: this.world.gripperCommanded() };
    } else {
      this.lastApplied = this.world.step(checked);
    }
    return { observation: await this.observe(), success: this.task.success(this.world), timeLimit: this.world.steps >= this.episodeSteps };
  }

  async observe(): Promise<Observation> {
    this.assertOpen();
    return { state: this.state(), frames: this.render() };
  }

  async stop(_reason: string): Promise<void> {
    if (this.closed) return;
    this.stopped = true;
    this.world.hold();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.renderer?.close();
    this.world.close();
  }

  state(): ArmState {
    return {
      eePosition: this.world.eePosition(),
      eeYaw: this.world.eeYaw(),
      gripperOpening: this.world.gripperOpening(),
      jointPositions: this.world.jointPositions(),
      stampMs: this.stampMs(),
    };
  }

  private stampMs(): number {
    return Math.round(this.world.time * 1e6) / 1e3;
  }

  /** Renders every camera once per state (observe after act costs nothing extra). */
  private render(): CameraFrame[] {
    if (!this.renderer) return [];
    const at = this.episode * 1e6 + this.world.steps;
    if (at === this.renderedAt) return this.frames;
    const stamp = this.stampMs();
    this.frames = this.cameras.map((camera) => camera.publish(this.renderer!.render(this.world.data, camera.camId), stamp));
    this.renderedAt = at;
    return this.frames;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('sim robot: used after close()');
  }
}

function sameAction(a: ArmAction, b: ArmAction): boolean {
  return a.dx === b.dx && a.dy === b.dy && a.dz === b.dz && a.dyaw === b.dyaw && a.gripper === b.gripper;
}
