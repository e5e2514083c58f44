/**
 * TEST DOUBLE. A deterministic kinematic "robot" for tests, benchmarks and, until the MuJoCo
 * simulator is merged, `dopamine serve`: the end effector is a point that integrates the actions
 * exactly, and each camera draws a small generated RGB image of that point (a different
 * projection per view), so frames change with the state. It is not a physics simulation and it
 * has no objects to manipulate.
 */
import type { JointLimits, ReportsJointLimits } from './safety.js';
import type { ArmAction, ArmState, CameraFrame, CameraRole, FrameSource, Observation, Robot, StepResult } from './types.js';

export const TEST_ROBOT_LABEL = 'kinematic test robot (test double)';

export interface KinematicTestRobotOptions {
  controlHz?: number;
  episodeSteps?: number;
  width?: number;
  height?: number;
  views?: { role: CameraRole; name: string }[];
  /** Start position of the end effector; default the middle of the box below. */
  start?: [number, number, number];
  /** Region the cameras look at (also where the point is drawn from). */
  boxMin?: [number, number, number];
  boxMax?: [number, number, number];
  jointLimits?: JointLimits;
  /** Wall-clock milliseconds each act() takes (a stand-in for physics and rendering time). */
  actDelayMs?: number;
}

/** What reached the robot, for tests to check the safety layer against. */
export interface ReceivedAction {
  action: ArmAction;
  /** performance.now() when it arrived. */
  atMs: number;
  /** Arrived after stop() and before the next reset (it must never happen through SafeRobot). */
  whileStopped: boolean;
}

class TestCamera implements FrameSource {
  frame: CameraFrame | undefined;
  frozen = false;

  constructor(
    readonly role: CameraRole,
    readonly camera: string,
  ) {}

  latest(): CameraFrame | undefined {
    return this.frame;
  }
}

export class KinematicTestRobot implements Robot, ReportsJointLimits {
  readonly name = TEST_ROBOT_LABEL;
  readonly controlHz: number;
  readonly cameras: readonly FrameSource[];
  readonly jointLimits: JointLimits;
  readonly received: ReceivedAction[] = [];
  stopCalls: { reason: string; atMs: number }[] = [];

  private readonly testCameras: TestCamera[];
  private readonly width: number;
  private readonly height: number;
  private readonly boxMin: [number, number, number];
  private readonly boxMax: [number, number, number];
  private readonly startPosition: [number, number, number];
  private readonly episodeSteps: number;
  private readonly actDelayMs: number;
  private position: [number, number, number];
  private yaw = 0;
  private gripper = 1;
  private simMs = 0;
  private step = 0;
  private stopped = false;
  private closed = false;

  constructor(options: KinematicTestRobotOptions = {}) {
    this.controlHz = options.controlHz ?? 10;
    this.episodeSteps = options.episodeSteps ?? 200;
    this.width = options.width ?? 128;
    this.height = options.height ?? 96;
    this.boxMin = options.boxMin ?? [0.25, -0.3, 0.02];
    this.boxMax = options.boxMax ?? [0.75, 0.3, 0.45];
    this.startPosition = options.start ?? [0, 1, 2].map((i) => (this.boxMin[i]! + this.boxMax[i]!) / 2) as [number, number, number];
    this.position = [...this.startPosition];
    this.actDelayMs = options.actDelayMs ?? 0;
    // Joints of a point robot: its Cartesian coordinates and yaw.
    this.jointLimits = options.jointLimits ?? { lower: [-2, -2, -1, -Math.PI * 4], upper: [2, 2, 2, Math.PI * 4] };
    const views = options.views ?? [
      { role: 'front' as const, name: 'cam_high' },
      { role: 'left_wrist' as const, name: 'cam_left_wrist' },
      { role: 'right_wrist' as const, name: 'cam_right_wrist' },
    ];
    this.testCameras = views.map((view) => new TestCamera(view.role, view.name));
    this.cameras = this.testCameras;
    this.render();
  }

  /** Stops updating one camera's frames (a dead camera driver). */
  freezeCamera(name: string, frozen = true): void {
    const camera = this.testCameras.find((c) => c.camera === name);
    if (!camera) throw new Error(`no test camera ${name}`);
    camera.frozen = frozen;
  }

  /** Moves the point directly (tests of joint limits). */
  teleport(position: [number, number, number]): void {
    this.position = [...position];
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  async reset(_seed?: number): Promise<Observation> {
    this.assertOpen();
    this.position = [...this.startPosition];
    this.yaw = 0;
    this.gripper = 1;
    this.step = 0;
    this.stopped = false;
    this.simMs += 1000 / this.controlHz;
    this.render();
    return this.observation();
  }

  async act(action: ArmAction): Promise<StepResult> {
    this.assertOpen();
    this.received.push({ action: { ...action }, atMs: performance.now(), whileStopped: this.stopped });
    if (this.actDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.actDelayMs));
    if (!this.stopped) {
      this.position = [this.position[0] + action.dx, this.position[1] + action.dy, this.position[2] + action.dz];
      this.yaw += action.dyaw;
      this.gripper = 1 - Math.min(1, Math.max(0, action.gripper));
    }
    this.step++;
    this.simMs += 1000 / this.controlHz;
    this.render();
    return { observation: this.observation(), timeLimit: this.step >= this.episodeSteps };
  }

  async observe(): Promise<Observation> {
    this.assertOpen();
    return this.observation();
  }

  async stop(reason: string): Promise<void> {
    this.stopped = true;
    this.stopCalls.push({ reason, atMs: performance.now() });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('test robot is closed');
  }

  private state(): ArmState {
    return {
      eePosition: [...this.position],
      eeYaw: this.yaw,
      gripperOpening: this.gripper,
      jointPositions: [...this.position, this.yaw],
      stampMs: this.simMs,
    };
  }

  private observation(): Observation {
    return { state: this.state(), frames: this.testCameras.map((c) => c.frame!).filter((f) => f !== undefined) };
  }

  /** Each view projects the point onto two axes and draws a disc on a gradient background. */
  private render(): void {
    const axesByRole: Record<CameraRole, [number, number]> = { front: [1, 2], left_wrist: [0, 2], right_wrist: [0, 1] };
    for (const camera of this.testCameras) {
      if (camera.frozen && camera.frame) continue;
      const [u, v] = axesByRole[camera.role];
      const fu = (this.position[u]! - this.boxMin[u]!) / (this.boxMax[u]! - this.boxMin[u]!);
      const fv = 1 - (this.position[v]! - this.boxMin[v]!) / (this.boxMax[v]! - this.boxMin[v]!);
      const cx = fu * (this.width - 1);
      const cy = fv * (this.height - 1);
      const radius = Math.max(3, Math.round(this.height / 10));
      const rgb = new Uint8Array(this.width * this.height * 3);
      const tint = Math.round(this.gripper * 120);
      for (let y = 0; y < this.height; y++) {
        for (let x = 0; x < this.width; x++) {
          const i = (y * this.width + x) * 3;
          const inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius;
          rgb[i] = inside ? 230 : 30 + Math.round((x / this.width) * 60);
          rgb[i + 1] = inside ? 90 + tint : 40 + Math.round((y / this.height) * 60);
          rgb[i + 2] = inside ? 40 : 70;
        }
      }
      camera.frame = { role: camera.role, camera: camera.camera, width: this.width, height: this.height, rgb, stampMs: this.simMs };
    }
  }
}

/**
 * Wraps any robot (the simulator in the dashboard tests) and records what reaches it, so a test
 * can check through the safety layer that nothing arrives after an e-stop.
 */
export class RecordingRobot implements Robot {
  readonly received: ReceivedAction[] = [];
  stopCalls: { reason: string; atMs: number }[] = [];
  private stopped = false;

  constructor(readonly inner: Robot) {}

  get name(): string {
    return this.inner.name;
  }

  get controlHz(): number {
    return this.inner.controlHz;
  }

  get cameras(): readonly FrameSource[] {
    return this.inner.cameras;
  }

  async reset(seed?: number): Promise<Observation> {
    this.stopped = false;
    return this.inner.reset(seed);
  }

  async act(action: ArmAction): Promise<StepResult> {
    this.received.push({ action: { ...action }, atMs: performance.now(), whileStopped: this.stopped });
    return this.inner.act(action);
  }

  observe(): Promise<Observation> {
    return this.inner.observe();
  }

  async stop(reason: string): Promise<void> {
    this.stopCalls.push({ reason, atMs: performance.now() });
    this.stopped = true;
    await this.inner.stop(reason);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
