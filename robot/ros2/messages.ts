/**
 * ROS 2 messages as plain typed objects (the field names of the interface definitions, which is
 * also what rclnodejs and the CDR reader give), with the conversions the bridge needs: images to
 * packed RGB, policy actions to MoveIt Servo twists, joint states to arrays, heartbeats.
 */
import sharp from 'sharp';
import { InputError } from '../../common/errors.js';
import type { ArmAction } from '../types.js';

export interface Time {
  sec: number;
  nanosec: number;
}
export type Duration = Time;

export interface Header {
  stamp: Time;
  frame_id: string;
}

export interface ImageMsg {
  header: Header;
  height: number;
  width: number;
  encoding: string;
  is_bigendian: number;
  step: number;
  data: Uint8Array;
}

export interface CompressedImageMsg {
  header: Header;
  format: string;
  data: Uint8Array;
}

export interface RegionOfInterestMsg {
  x_offset: number;
  y_offset: number;
  height: number;
  width: number;
  do_rectify: boolean;
}

export interface CameraInfoMsg {
  header: Header;
  height: number;
  width: number;
  distortion_model: string;
  d: number[] | Float64Array;
  k: number[] | Float64Array;
  r: number[] | Float64Array;
  p: number[] | Float64Array;
  binning_x: number;
  binning_y: number;
  roi: RegionOfInterestMsg;
}

export interface JointStateMsg {
  header: Header;
  name: string[];
  position: number[] | Float64Array;
  velocity: number[] | Float64Array;
  effort: number[] | Float64Array;
}

export interface Vector3Msg {
  x: number;
  y: number;
  z: number;
}

export interface TwistStampedMsg {
  header: Header;
  twist: { linear: Vector3Msg; angular: Vector3Msg };
}

export interface JointTrajectoryPointMsg {
  positions: number[];
  velocities: number[];
  accelerations: number[];
  effort: number[];
  time_from_start: Duration;
}

export interface JointTrajectoryMsg {
  header: Header;
  joint_names: string[];
  points: JointTrajectoryPointMsg[];
}

export interface GripperCommandGoalMsg {
  command: { position: number; max_effort: number };
}

/** The goal fields the bridge sets; rclnodejs fills the others with their defaults. */
export interface FollowJointTrajectoryGoalMsg {
  trajectory: JointTrajectoryMsg;
  goal_time_tolerance: Duration;
}

export interface KeyValueMsg {
  key: string;
  value: string;
}

export const DIAGNOSTIC_LEVEL = { OK: 0, WARN: 1, ERROR: 2, STALE: 3 } as const;
export type DiagnosticLevel = (typeof DIAGNOSTIC_LEVEL)[keyof typeof DIAGNOSTIC_LEVEL];

export interface DiagnosticStatusMsg {
  level: number;
  name: string;
  message: string;
  hardware_id: string;
  values: KeyValueMsg[];
}

export interface DiagnosticArrayMsg {
  header: Header;
  status: DiagnosticStatusMsg[];
}

export interface Float32Msg {
  data: number;
}

export interface StringMsg {
  data: string;
}

/** controller_manager_msgs/srv/SwitchController request (Humble and later field names). */
export interface SwitchControllerRequest {
  activate_controllers: string[];
  deactivate_controllers: string[];
  strictness: number;
  activate_asap: boolean;
  timeout: Duration;
}
export const SWITCH_BEST_EFFORT = 1;
export const SWITCH_STRICT = 2;

/** Decoded image: packed 8-bit RGB, row-major, no padding. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export function timeFromMs(ms: number): Time {
  const sec = Math.floor(ms / 1000);
  const nanosec = Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6));
  return { sec, nanosec };
}

export function msFromTime(time: Time): number {
  return time.sec * 1000 + time.nanosec / 1e6;
}

export function nsFromTime(time: Time): bigint {
  return BigInt(time.sec) * 1_000_000_000n + BigInt(time.nanosec);
}

export function timeFromNs(ns: bigint): Time {
  return { sec: Number(ns / 1_000_000_000n), nanosec: Number(ns % 1_000_000_000n) };
}

export function header(stampMs: number, frameId = ''): Header {
  return { stamp: timeFromMs(stampMs), frame_id: frameId };
}

/** Bytes per pixel and channel order of the raw encodings the bridge reads (sensor_msgs image_encodings). */
const RAW_ENCODINGS: Record<string, { bytes: number; order: 'rgb' | 'bgr' | 'mono' | 'rgba' | 'bgra' | 'mono16' }> = {
  rgb8: { bytes: 3, order: 'rgb' },
  bgr8: { bytes: 3, order: 'bgr' },
  mono8: { bytes: 1, order: 'mono' },
  '8UC1': { bytes: 1, order: 'mono' },
  '8UC3': { bytes: 3, order: 'bgr' },
  rgba8: { bytes: 4, order: 'rgba' },
  bgra8: { bytes: 4, order: 'bgra' },
  mono16: { bytes: 2, order: 'mono16' },
};

export const SUPPORTED_ENCODINGS = Object.keys(RAW_ENCODINGS);

/**
 * sensor_msgs/Image -> packed RGB. Honours `step` (row padding) and `is_bigendian` (mono16);
 * `source` names the topic in errors.
 */
export function imageToRgb(msg: ImageMsg, source = 'sensor_msgs/Image'): RgbImage {
  const layout = RAW_ENCODINGS[msg.encoding];
  if (layout === undefined) {
    throw new InputError(source, `expected an image encoding among ${SUPPORTED_ENCODINGS.join(', ')}, got "${msg.encoding}"`);
  }
  const { width, height, step } = msg;
  if (!(width > 0 && height > 0)) throw new InputError(source, `expected a non-empty image, got ${width}x${height}`);
  if (step < width * layout.bytes) throw new InputError(source, `expected step >= ${width * layout.bytes} for ${width} ${msg.encoding} pixels, got ${step}`);
  if (msg.data.length < step * (height - 1) + width * layout.bytes) {
    throw new InputError(source, `expected ${step * height} data bytes (${height} rows of ${step}), got ${msg.data.length}`);
  }
  const rgb = new Uint8Array(width * height * 3);
  const data = msg.data;
  for (let y = 0; y < height; y++) {
    let i = y * step;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      switch (layout.order) {
        case 'rgb':
        case 'rgba':
          rgb[o] = data[i]!;
          rgb[o + 1] = data[i + 1]!;
          rgb[o + 2] = data[i + 2]!;
          break;
        case 'bgr':
        case 'bgra':
          rgb[o] = data[i + 2]!;
          rgb[o + 1] = data[i + 1]!;
          rgb[o + 2] = data[i]!;
          break;
        case 'mono':
          rgb[o] = rgb[o + 1] = rgb[o + 2] = data[i]!;
          break;
        case 'mono16': {
          // Keep the high byte: 16-bit mono shown as 8-bit.
          const high = msg.is_bigendian ? data[i]! : data[i + 1]!;
          rgb[o] = rgb[o + 1] = rgb[o + 2] = high;
          break;
        }
      }
      i += layout.bytes;
    }
  }
  return { width, height, rgb };
}

/** Packed RGB -> sensor_msgs/Image in rgb8, bgr8 or mono8 (luma), rows padded to `step` when given. */
export function rgbToImage(image: RgbImage, stampMs: number, frameId: string, encoding: 'rgb8' | 'bgr8' | 'mono8' = 'rgb8', step?: number): ImageMsg {
  const bytes = encoding === 'mono8' ? 1 : 3;
  const rowStep = step ?? image.width * bytes;
  if (rowStep < image.width * bytes) throw new RangeError(`step: expected >= ${image.width * bytes}, got ${rowStep}`);
  const data = new Uint8Array(rowStep * image.height);
  const { rgb, width } = image;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const o = y * rowStep + x * bytes;
      if (encoding === 'rgb8') {
        data[o] = rgb[s]!;
        data[o + 1] = rgb[s + 1]!;
        data[o + 2] = rgb[s + 2]!;
      } else if (encoding === 'bgr8') {
        data[o] = rgb[s + 2]!;
        data[o + 1] = rgb[s + 1]!;
        data[o + 2] = rgb[s]!;
      } else {
        data[o] = Math.round(0.299 * rgb[s]! + 0.587 * rgb[s + 1]! + 0.114 * rgb[s + 2]!);
      }
    }
  }
  return { header: header(stampMs, frameId), height: image.height, width: image.width, encoding, is_bigendian: 0, step: rowStep, data };
}

/** sensor_msgs/CompressedImage (jpeg or png, as image_transport writes `format`) -> packed RGB. */
export async function compressedToRgb(msg: CompressedImageMsg, source = 'sensor_msgs/CompressedImage'): Promise<RgbImage> {
  const format = msg.format.toLowerCase();
  if (!/jpe?g|png/.test(format)) throw new InputError(source, `expected a jpeg or png CompressedImage, got format "${msg.format}"`);
  try {
    const { data, info } = await sharp(msg.data).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    let rgb = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (info.channels === 1) {
      const grey = rgb;
      rgb = new Uint8Array(grey.length * 3);
      for (let k = 0; k < grey.length; k++) rgb[3 * k] = rgb[3 * k + 1] = rgb[3 * k + 2] = grey[k]!;
    } else if (info.channels !== 3) {
      throw new Error(`${info.channels} channels`);
    }
    return { width: info.width, height: info.height, rgb };
  } catch (error) {
    throw new InputError(source, `expected a decodable ${format} image, got ${(error as Error).message}`);
  }
}

/** Packed RGB -> sensor_msgs/CompressedImage (format "jpeg" or "png", as image_transport names them). */
export async function rgbToCompressed(image: RgbImage, stampMs: number, frameId: string, format: 'jpeg' | 'png', quality = 90): Promise<CompressedImageMsg> {
  const input = sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } });
  const buffer = format === 'jpeg' ? await input.jpeg({ quality }).toBuffer() : await input.png().toBuffer();
  return { header: header(stampMs, frameId), format, data: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) };
}

/** A pinhole sensor_msgs/CameraInfo (plumb_bob, no distortion) for an image size and focal length. */
export function pinholeCameraInfo(width: number, height: number, focalPx: number, stampMs: number, frameId: string): CameraInfoMsg {
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  return {
    header: header(stampMs, frameId),
    height,
    width,
    distortion_model: 'plumb_bob',
    d: [0, 0, 0, 0, 0],
    k: [focalPx, 0, cx, 0, focalPx, cy, 0, 0, 1],
    r: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    p: [focalPx, 0, cx, 0, 0, focalPx, cy, 0, 0, 0, 1, 0],
    binning_x: 0,
    binning_y: 0,
    roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
  };
}

export interface JointReading {
  names: string[];
  positions: Float64Array;
  stampMs: number;
}

/** sensor_msgs/JointState -> names and positions; positions must match names one to one. */
export function parseJointState(msg: JointStateMsg, source = 'sensor_msgs/JointState'): JointReading {
  if (msg.position.length !== msg.name.length) {
    throw new InputError(source, `expected one position per joint name (${msg.name.length}), got ${msg.position.length}`);
  }
  return { names: [...msg.name], positions: Float64Array.from(msg.position), stampMs: msFromTime(msg.header.stamp) };
}

export function jointState(names: string[], positions: ArrayLike<number>, stampMs: number): JointStateMsg {
  return { header: header(stampMs), name: [...names], position: Array.from(positions), velocity: [], effort: [] };
}

/**
 * One policy action as a MoveIt Servo twist: the per-step deltas become velocities held for one
 * control period (delta * controlHz), in the planning frame.
 */
export function actionToTwist(action: ArmAction, controlHz: number, stampMs: number, frameId: string): TwistStampedMsg {
  return {
    header: header(stampMs, frameId),
    twist: {
      linear: { x: action.dx * controlHz, y: action.dy * controlHz, z: action.dz * controlHz },
      angular: { x: 0, y: 0, z: action.dyaw * controlHz },
    },
  };
}

/** A zero twist: MoveIt Servo halts. */
export function zeroTwist(stampMs: number, frameId: string): TwistStampedMsg {
  return actionToTwist({ dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 }, 1, stampMs, frameId);
}

/** A one-point trajectory to `positions`, reached after `seconds`. */
export function jointTrajectory(names: string[], positions: ArrayLike<number>, seconds: number, stampMs = 0): JointTrajectoryMsg {
  if (positions.length !== names.length) throw new RangeError(`trajectory: expected ${names.length} positions, got ${positions.length}`);
  const sec = Math.floor(seconds);
  return {
    header: header(stampMs),
    joint_names: [...names],
    points: [
      {
        positions: Array.from(positions),
        velocities: [],
        accelerations: [],
        effort: [],
        time_from_start: { sec, nanosec: Math.round((seconds - sec) * 1e9) },
      },
    ],
  };
}

export function followJointTrajectoryGoal(trajectory: JointTrajectoryMsg, toleranceS = 0.5): FollowJointTrajectoryGoalMsg {
  const sec = Math.floor(toleranceS);
  return { trajectory, goal_time_tolerance: { sec, nanosec: Math.round((toleranceS - sec) * 1e9) } };
}

/**
 * The policy's gripper target (0 open, 1 closed) as a GripperCommand goal: position interpolates
 * between the configured open and closed positions (metres for parallel grippers).
 */
export function gripperGoal(target: number, openPosition: number, closedPosition: number, maxEffort: number): GripperCommandGoalMsg {
  const t = Math.min(1, Math.max(0, target));
  return { command: { position: openPosition + (closedPosition - openPosition) * t, max_effort: maxEffort } };
}

export function diagnosticArray(stampMs: number, status: { level: DiagnosticLevel; name: string; message: string; hardwareId: string; values: Record<string, string | number | boolean> }): DiagnosticArrayMsg {
  return {
    header: header(stampMs),
    status: [
      {
        level: status.level,
        name: status.name,
        message: status.message,
        hardware_id: status.hardwareId,
        values: Object.entries(status.values).map(([key, value]) => ({ key, value: String(value) })),
      },
    ],
  };
}

export function switchOffControllers(controllers: string[], timeoutS = 2): SwitchControllerRequest {
  return { activate_controllers: [], deactivate_controllers: [...controllers], strictness: SWITCH_BEST_EFFORT, activate_asap: true, timeout: { sec: Math.floor(timeoutS), nanosec: 0 } };
}

/** ROS 2 interface types the bridge uses, as rclnodejs names them. */
export const ROS_TYPES = {
  image: 'sensor_msgs/msg/Image',
  compressedImage: 'sensor_msgs/msg/CompressedImage',
  cameraInfo: 'sensor_msgs/msg/CameraInfo',
  jointState: 'sensor_msgs/msg/JointState',
  twistStamped: 'geometry_msgs/msg/TwistStamped',
  twist: 'geometry_msgs/msg/Twist',
  joy: 'sensor_msgs/msg/Joy',
  jointTrajectory: 'trajectory_msgs/msg/JointTrajectory',
  followJointTrajectory: 'control_msgs/action/FollowJointTrajectory',
  gripperCommand: 'control_msgs/action/GripperCommand',
  switchController: 'controller_manager_msgs/srv/SwitchController',
  trigger: 'std_srvs/srv/Trigger',
  diagnosticArray: 'diagnostic_msgs/msg/DiagnosticArray',
  float32: 'std_msgs/msg/Float32',
  string: 'std_msgs/msg/String',
  empty: 'std_msgs/msg/Empty',
} as const;
