/**
 * The robot as the rest of the stack sees it. The embedded MuJoCo arm and the ROS 2 bridge both
 * implement these interfaces, so perception, reward, policy and the dashboard never know which
 * one they talk to.
 */

/** Camera roles the reward model knows, in its view order. */
export type CameraRole = 'front' | 'left_wrist' | 'right_wrist';
export const CAMERA_ROLES: readonly CameraRole[] = ['front', 'left_wrist', 'right_wrist'];

/** One image from one camera: packed 8-bit RGB, row-major, no padding. */
export interface CameraFrame {
  role: CameraRole;
  /** Camera name (cam_high, a ROS topic prefix). */
  camera: string;
  width: number;
  height: number;
  /** width * height * 3 bytes. */
  rgb: Uint8Array;
  /** Capture time, milliseconds (simulation time for the simulator, header stamp on ROS 2). */
  stampMs: number;
}

/** A source of frames from one camera. */
export interface FrameSource {
  readonly role: CameraRole;
  readonly camera: string;
  /** The newest frame, or undefined before the first one. */
  latest(): CameraFrame | undefined;
}

/**
 * One policy command: end-effector translation deltas in metres (base frame), a yaw delta in
 * radians, and the gripper target (0 open, 1 closed).
 */
export interface ArmAction {
  dx: number;
  dy: number;
  dz: number;
  dyaw: number;
  gripper: number;
}

/**
 * An operator's teleop command, as a SpaceMouse or joystick gives it (launch/teleop.ts turns it
 * into actions during an intervention): end-effector velocity in m/s (base frame), yaw rate in
 * rad/s, and the gripper.
 */
export interface TeleopCommand {
  translation: [number, number, number];
  yaw: number;
  gripper: 'open' | 'closed';
}

/** Action as a flat vector, in ArmAction field order, for the policy networks. */
export const ACTION_SIZE = 5;

export function actionToVector(action: ArmAction): Float32Array {
  return Float32Array.of(action.dx, action.dy, action.dz, action.dyaw, action.gripper);
}

export function actionFromVector(vector: ArrayLike<number>): ArmAction {
  if (vector.length !== ACTION_SIZE) throw new RangeError(`action: expected ${ACTION_SIZE} numbers, got ${vector.length}`);
  return { dx: vector[0]!, dy: vector[1]!, dz: vector[2]!, dyaw: vector[3]!, gripper: vector[4]! };
}

/** Proprioception: what the arm reports about itself. */
export interface ArmState {
  /** End-effector position [x, y, z], metres, base frame. */
  eePosition: [number, number, number];
  /** End-effector yaw, radians. */
  eeYaw: number;
  /** Gripper opening, 0 closed .. 1 open. */
  gripperOpening: number;
  /** Joint positions, radians or metres, in the arm's joint order. */
  jointPositions: number[];
  stampMs: number;
}

/** What the robot observes after a reset or a step. */
export interface Observation {
  state: ArmState;
  /** Frames of every configured camera, taken together (one per role). */
  frames: CameraFrame[];
}

export interface StepResult {
  observation: Observation;
  /** The environment's own success predicate, when it has one (the simulator does; a lab arm may not). */
  success?: boolean;
  /** The episode reached its time limit. */
  timeLimit: boolean;
}

/** An arm with its cameras: act at the control rate, observe, reset, stop. */
export interface Robot {
  readonly name: string;
  readonly controlHz: number;
  readonly cameras: readonly FrameSource[];
  /** Starts a new episode (seeded where the robot can be). */
  reset(seed?: number): Promise<Observation>;
  /** Applies one action for one control period and returns what follows. */
  act(action: ArmAction): Promise<StepResult>;
  /** Current observation without acting. */
  observe(): Promise<Observation>;
  /** Brings the arm to a safe stop: hold position, no further motion until the next reset. */
  stop(reason: string): Promise<void>;
  /** Releases resources (wasm memory, ROS nodes). */
  close(): Promise<void>;
}
