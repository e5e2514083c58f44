/**
 * The physical world of one task: MuJoCo model and data, the arm's servo targets, and privileged
 * access to object poses for tasks, the scripted expert and tests. Knows nothing about cameras.
 */
import type { MainModule, MjData, MjModel } from 'mujoco-js';
import { clipAction, clipToWorkspace, type ActionBounds } from '../action.js';
import type { ArmAction } from '../types.js';
import { compileModel } from './mujoco.js';
import { createLayoutRng, createRng } from './rng.js';
import { FINGER_TRAVEL, HOME, sceneXml, type Vec3 } from './scene.js';
import type { SimTask } from './tasks.js';

export interface WorldOptions {
  task: SimTask;
  physicsStepS: number;
  controlHz: number;
  bounds: ActionBounds;
  /**
   * A lab's reset (rng.ts createLayoutRng): the same objects every episode, placed within `spread`
   * of each randomised range around the layout drawn from `seed`. Absent: every episode draws
   * the task's full randomisation, colours included.
   */
  layout?: SceneLayout;
}

export interface SceneLayout {
  seed: number;
  /** Fraction of each of the task's randomised ranges (0: the same scene every episode, 1: the full range). */
  spread: number;
}

/** Seconds the objects settle after a reset, before the first observation. */
const SETTLE_S = 0.3;
/** Finger servo target when the gripper command is 1: past closed, so the force limit sets the squeeze. */
const FINGER_SQUEEZE = -0.02;

export class SimWorld {
  readonly mujoco: MainModule;
  readonly model: MjModel;
  readonly data: MjData;
  readonly task: SimTask;
  readonly bounds: ActionBounds;
  readonly physicsStepS: number;
  readonly controlHz: number;
  readonly layout: SceneLayout | undefined;
  /** Physics steps per control step. */
  readonly substeps: number;
  /** Control steps since the last reset. */
  steps = 0;
  /** Task-specific per-episode values (targets, latches), set by the task's randomise. */
  taskState: Record<string, unknown> = {};
  private readonly armQpos: number[];
  private readonly fingerQpos: [number, number];
  private readonly ids = new Map<string, number>();
  private gripperCommand = 0;

  private constructor(mujoco: MainModule, model: MjModel, options: WorldOptions) {
    this.mujoco = mujoco;
    this.model = model;
    this.data = new mujoco.MjData(model);
    this.task = options.task;
    this.bounds = options.bounds;
    this.physicsStepS = options.physicsStepS;
    this.controlHz = options.controlHz;
    this.layout = options.layout;
    this.substeps = Math.max(1, Math.round(1 / (options.controlHz * options.physicsStepS)));
    this.armQpos = ['x', 'y', 'z', 'yaw'].map((joint) => this.qposAddress(joint));
    this.fingerQpos = [this.qposAddress('finger_left'), this.qposAddress('finger_right')];
  }

  static async create(options: WorldOptions): Promise<SimWorld> {
    const xml = sceneXml({ physicsStepS: options.physicsStepS, objectsXml: options.task.objectsXml(), contactExcludes: options.task.contactExcludes });
    const { mujoco, model } = await compileModel(xml);
    return new SimWorld(mujoco, model, options);
  }

  /** Object id by name (cached). */
  id(kind: 'body' | 'joint' | 'geom' | 'camera', name: string): number {
    const key = `${kind}:${name}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      const objects = this.mujoco.mjtObj;
      const type = { body: objects.mjOBJ_BODY, joint: objects.mjOBJ_JOINT, geom: objects.mjOBJ_GEOM, camera: objects.mjOBJ_CAMERA }[kind];
      id = this.mujoco.mj_name2id(this.model, type.value, name);
      if (id < 0) throw new Error(`scene has no ${kind} named ${name}`);
      this.ids.set(key, id);
    }
    return id;
  }

  private qposAddress(joint: string): number {
    return (this.model.jnt_qposadr as Int32Array)[this.id('joint', joint)]!;
  }

  /** New episode: arm at home with the gripper open, objects placed by the task's seeded randomisation (near the layout, if one is set). */
  reset(seed: number): void {
    this.mujoco.mj_resetData(this.model, this.data);
    const qpos = this.data.qpos as Float64Array;
    HOME.forEach((value, axis) => (qpos[this.armQpos[axis]!] = value));
    qpos[this.armQpos[3]!] = 0;
    qpos[this.fingerQpos[0]] = FINGER_TRAVEL;
    qpos[this.fingerQpos[1]] = FINGER_TRAVEL;
    this.taskState = {};
    this.task.randomise(this, this.layout ? createLayoutRng(this.layout.seed, seed, this.layout.spread) : createRng(seed));
    this.mujoco.mj_forward(this.model, this.data);
    this.setServoTargets(HOME, 0, 0);
    for (let i = 0; i < Math.round(SETTLE_S / this.physicsStepS); i++) this.mujoco.mj_step(this.model, this.data);
    this.data.time = 0;
    this.steps = 0;
    this.task.update?.(this);
  }

  /**
   * One control period: clip the action to the step caps, add it to the measured end-effector pose,
   * clip into the workspace, then ramp the servo targets there over the period's physics steps.
   * Returns the action that was applied.
   */
  step(action: ArmAction): ArmAction {
    const applied = clipAction(action, this.bounds);
    const ee = this.eePosition();
    const target = clipToWorkspace([ee[0] + applied.dx, ee[1] + applied.dy, ee[2] + applied.dz], this.bounds);
    const yaw = this.eeYaw() + applied.dyaw;
    this.driveTo(target, yaw, applied.gripper);
    return { ...applied, dx: target[0] - ee[0], dy: target[1] - ee[1], dz: target[2] - ee[2] };
  }

  /** Holds the current pose (stop): same servo targets as now, gripper unchanged. */
  hold(): void {
    this.driveTo(this.eePosition(), this.eeYaw(), this.gripperCommand);
  }

  private driveTo(target: Vec3, yaw: number, gripper: number): void {
    const ctrl = this.data.ctrl as Float64Array;
    const start = [ctrl[0]!, ctrl[1]!, ctrl[2]!, ctrl[3]!];
    const goal = [target[0], target[1], target[2], yaw];
    // Ramp over most of the period: smooth motion, so a held object is not jerked out of the fingers.
    const rampSteps = Math.max(1, Math.round(this.substeps * 0.7));
    for (let i = 1; i <= this.substeps; i++) {
      const f = Math.min(1, i / rampSteps);
      const c = this.data.ctrl as Float64Array;
      for (let axis = 0; axis < 4; axis++) c[axis] = start[axis]! + (goal[axis]! - start[axis]!) * f;
      this.setGripperTarget(gripper);
      this.mujoco.mj_step(this.model, this.data);
    }
    this.gripperCommand = gripper;
    this.steps += 1;
    this.task.update?.(this);
  }

  private setServoTargets(position: Vec3, yaw: number, gripper: number): void {
    const ctrl = this.data.ctrl as Float64Array;
    ctrl[0] = position[0];
    ctrl[1] = position[1];
    ctrl[2] = position[2];
    ctrl[3] = yaw;
    this.setGripperTarget(gripper);
    this.gripperCommand = gripper;
  }

  private setGripperTarget(gripper: number): void {
    const ctrl = this.data.ctrl as Float64Array;
    const finger = FINGER_TRAVEL + (FINGER_SQUEEZE - FINGER_TRAVEL) * gripper;
    ctrl[4] = finger;
    ctrl[5] = finger;
  }

  /** Simulation time since the reset, seconds. */
  get time(): number {
    return this.data.time;
  }

  eePosition(): Vec3 {
    const qpos = this.data.qpos as Float64Array;
    return [qpos[this.armQpos[0]!]!, qpos[this.armQpos[1]!]!, qpos[this.armQpos[2]!]!];
  }

  eeYaw(): number {
    return (this.data.qpos as Float64Array)[this.armQpos[3]!]!;
  }

  /** 0 closed .. 1 open. */
  gripperOpening(): number {
    const qpos = this.data.qpos as Float64Array;
    return Math.max(0, Math.min(1, (qpos[this.fingerQpos[0]]! + qpos[this.fingerQpos[1]]!) / (2 * FINGER_TRAVEL)));
  }

  /** The last gripper command, 0 open .. 1 closed. */
  gripperCommanded(): number {
    return this.gripperCommand;
  }

  jointPositions(): number[] {
    const qpos = this.data.qpos as Float64Array;
    return [...this.armQpos, ...this.fingerQpos].map((adr) => qpos[adr]!);
  }

  bodyPosition(body: string): Vec3 {
    const xpos = this.data.xpos as Float64Array;
    const id = this.id('body', body);
    return [xpos[id * 3]!, xpos[id * 3 + 1]!, xpos[id * 3 + 2]!];
  }

  bodyYaw(body: string): number {
    const q = (this.data.xquat as Float64Array).subarray(this.id('body', body) * 4);
    const [w, x, y, z] = [q[0]!, q[1]!, q[2]!, q[3]!];
    return Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
  }

  /** Height of a body's local z axis above the horizontal (1 upright), to tell a toppled object. */
  bodyUpright(body: string): number {
    const q = (this.data.xquat as Float64Array).subarray(this.id('body', body) * 4);
    const [, x, y] = [q[0]!, q[1]!, q[2]!];
    return 1 - 2 * (x * x + y * y);
  }

  jointPosition(joint: string): number {
    return (this.data.qpos as Float64Array)[this.qposAddress(joint)]!;
  }

  /** Sets a joint's position and recomputes the kinematics (tests, task set-up). */
  setJointPosition(joint: string, value: number): void {
    (this.data.qpos as Float64Array)[this.qposAddress(joint)] = value;
    this.mujoco.mj_forward(this.model, this.data);
  }

  /** Places a free body (joint `<body>_free`) at a position with a yaw, at rest. */
  placeFreeBody(body: string, position: Vec3, yaw = 0): void {
    const jointId = this.id('joint', `${body}_free`);
    const qpos = this.data.qpos as Float64Array;
    const adr = (this.model.jnt_qposadr as Int32Array)[jointId]!;
    qpos.set([position[0], position[1], position[2], Math.cos(yaw / 2), 0, 0, Math.sin(yaw / 2)], adr);
    const dof = (this.model.jnt_dofadr as Int32Array)[jointId]!;
    (this.data.qvel as Float64Array).fill(0, dof, dof + 6);
  }

  /** Moves a fixed body (no joint) by rewriting its position in the model. */
  placeFixedBody(body: string, position: Vec3): void {
    (this.model.body_pos as Float64Array).set(position, this.id('body', body) * 3);
  }

  setGeomColour(geom: string, rgb: readonly [number, number, number]): void {
    (this.model.geom_rgba as Float32Array).set([rgb[0], rgb[1], rgb[2], 1], this.id('geom', geom) * 4);
  }

  /** Raw physics steps with the current servo targets (benchmarks). */
  physicsSteps(count: number): void {
    for (let i = 0; i < count; i++) this.mujoco.mj_step(this.model, this.data);
  }

  close(): void {
    this.data.delete();
    this.model.delete();
  }
}
