import { parse } from '@foxglove/rosmsg';
import { describe, expect, it } from 'vitest';
import { cdrCodec, fieldTypes, schemaText } from './definitions.js';
import {
  actionToTwist,
  compressedToRgb,
  diagnosticArray,
  DIAGNOSTIC_LEVEL,
  followJointTrajectoryGoal,
  gripperGoal,
  imageToRgb,
  jointState,
  jointTrajectory,
  msFromTime,
  parseJointState,
  pinholeCameraInfo,
  rgbToCompressed,
  rgbToImage,
  timeFromMs,
  type ImageMsg,
  type RgbImage,
} from './messages.js';

function gradient(width: number, height: number): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      rgb[o] = (x * 255) / (width - 1);
      rgb[o + 1] = (y * 255) / (height - 1);
      rgb[o + 2] = (x * 7 + y * 13) % 256;
    }
  }
  return { width, height, rgb };
}

/** Plain arrays for comparing decoded messages (the CDR reader gives typed arrays). */
function plain(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function roundTrip<T>(type: string, message: T): T {
  const codec = cdrCodec<T>(type);
  return codec.decode(codec.encode(message));
}

describe('message definitions', () => {
  it('hold the field lists of the ROS interface definitions', () => {
    const fields = (type: string): string[] =>
      parse(schemaText(type), { ros2: true })[0]!.definitions.filter((f) => f.isConstant !== true).map((f) => `${f.type}${f.isArray === true ? `[${f.arrayLength ?? ''}]` : ''} ${f.name}`);
    expect(fields('sensor_msgs/msg/Image')).toEqual([
      'std_msgs/Header header', 'uint32 height', 'uint32 width', 'string encoding', 'uint8 is_bigendian', 'uint32 step', 'uint8[] data',
    ]);
    expect(fields('sensor_msgs/msg/CameraInfo')).toEqual([
      'std_msgs/Header header', 'uint32 height', 'uint32 width', 'string distortion_model', 'float64[] d', 'float64[9] k', 'float64[9] r',
      'float64[12] p', 'uint32 binning_x', 'uint32 binning_y', 'sensor_msgs/RegionOfInterest roi',
    ]);
    expect(fields('geometry_msgs/msg/TwistStamped')).toEqual(['std_msgs/Header header', 'geometry_msgs/Twist twist']);
    expect(fieldTypes('trajectory_msgs/msg/JointTrajectory')).toEqual(['std_msgs/msg/Header', 'trajectory_msgs/msg/JointTrajectoryPoint']);
  });

  it('write schemas the way rosbag2 does: own text, then each dependency once after MSG:', () => {
    const text = schemaText('diagnostic_msgs/msg/DiagnosticArray');
    expect(text.split('\n')[0]).toBe('std_msgs/Header header');
    expect(text.match(/^MSG: .*/gm)).toEqual(['MSG: std_msgs/Header', 'MSG: builtin_interfaces/Time', 'MSG: diagnostic_msgs/DiagnosticStatus', 'MSG: diagnostic_msgs/KeyValue']);
    expect(text).toContain(`${'='.repeat(80)}\nMSG: std_msgs/Header\n`);
    expect(() => schemaText('sensor_msgs/msg/NoSuchType')).toThrow(/no definition/);
  });

  it('encode CDR byte for byte (little-endian encapsulation header, aligned fields)', () => {
    const float = cdrCodec<{ data: number }>('std_msgs/msg/Float32').encode({ data: 0.5 });
    expect(Array.from(float)).toEqual([0, 1, 0, 0, 0x00, 0x00, 0x00, 0x3f]);
    const text = cdrCodec<{ data: string }>('std_msgs/msg/String').encode({ data: 'hi' });
    // uint32 length including the terminating NUL, then the bytes.
    expect(Array.from(text)).toEqual([0, 1, 0, 0, 3, 0, 0, 0, 0x68, 0x69, 0]);
  });
});

describe('images', () => {
  it('round-trip rgb8 and bgr8 with padded rows through CDR', () => {
    const image = gradient(13, 7);
    for (const encoding of ['rgb8', 'bgr8'] as const) {
      const msg = rgbToImage(image, 1234.5, 'cam_high_optical', encoding, 13 * 3 + 5);
      expect(msg.step).toBe(44);
      expect(msg.data.length).toBe(44 * 7);
      const back = roundTrip<ImageMsg>('sensor_msgs/msg/Image', msg);
      expect(back.encoding).toBe(encoding);
      expect(msFromTime(back.header.stamp)).toBeCloseTo(1234.5, 6);
      const decoded = imageToRgb(back);
      expect(decoded.width).toBe(13);
      expect(Array.from(decoded.rgb)).toEqual(Array.from(image.rgb));
    }
    // bgr8 really stores blue first.
    const bgr = rgbToImage({ width: 1, height: 1, rgb: Uint8Array.of(10, 20, 30) }, 0, '', 'bgr8');
    expect(Array.from(bgr.data)).toEqual([30, 20, 10]);
  });

  it('reads mono8 (grey to three channels), rgba8 and mono16 in both byte orders', () => {
    const mono: ImageMsg = { header: { stamp: timeFromMs(0), frame_id: '' }, width: 2, height: 2, encoding: 'mono8', is_bigendian: 0, step: 4, data: Uint8Array.of(1, 2, 99, 99, 3, 4, 99, 99) };
    expect(Array.from(imageToRgb(mono).rgb)).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    const rgba: ImageMsg = { ...mono, width: 1, height: 1, encoding: 'rgba8', step: 4, data: Uint8Array.of(5, 6, 7, 255) };
    expect(Array.from(imageToRgb(rgba).rgb)).toEqual([5, 6, 7]);
    const little: ImageMsg = { ...mono, width: 1, height: 1, encoding: 'mono16', step: 2, data: Uint8Array.of(0x34, 0x12) };
    expect(Array.from(imageToRgb(little).rgb)).toEqual([0x12, 0x12, 0x12]);
    expect(Array.from(imageToRgb({ ...little, is_bigendian: 1 }).rgb)).toEqual([0x34, 0x34, 0x34]);
    const viaMono = imageToRgb(rgbToImage({ width: 1, height: 1, rgb: Uint8Array.of(200, 100, 50) }, 0, '', 'mono8'));
    expect(viaMono.rgb[0]).toBe(Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50));
  });

  it('refuses unknown encodings, short data and a step below the row size, naming the topic', () => {
    const msg = rgbToImage(gradient(4, 4), 0, '');
    expect(() => imageToRgb({ ...msg, encoding: 'yuv422' }, '/cam_high/image_raw')).toThrow(/\/cam_high\/image_raw: expected an image encoding among .*got "yuv422"/);
    expect(() => imageToRgb({ ...msg, data: msg.data.subarray(0, 20) })).toThrow(/expected 48 data bytes/);
    expect(() => imageToRgb({ ...msg, step: 5 })).toThrow(/step >= 12/);
  });

  it('round-trip CompressedImage png exactly and jpeg closely through CDR, decoded with sharp', async () => {
    const image = gradient(32, 24);
    const png = roundTrip('sensor_msgs/msg/CompressedImage', await rgbToCompressed(image, 5, 'cam', 'png'));
    expect(png.format).toBe('png');
    const fromPng = await compressedToRgb(png);
    expect(Array.from(fromPng.rgb)).toEqual(Array.from(image.rgb));
    const jpeg = roundTrip('sensor_msgs/msg/CompressedImage', await rgbToCompressed(image, 5, 'cam', 'jpeg', 95));
    const fromJpeg = await compressedToRgb({ ...jpeg, format: 'rgb8; jpeg compressed bgr8' });
    expect([fromJpeg.width, fromJpeg.height]).toEqual([32, 24]);
    const meanError = fromJpeg.rgb.reduce((sum, v, k) => sum + Math.abs(v - image.rgb[k]!), 0) / image.rgb.length;
    expect(meanError).toBeLessThan(6);
    await expect(compressedToRgb({ ...jpeg, format: 'theora' }, '/cam/compressed')).rejects.toThrow(/\/cam\/compressed: expected a jpeg or png/);
    await expect(compressedToRgb({ ...jpeg, data: Uint8Array.of(1, 2, 3) })).rejects.toThrow(/decodable/);
  });
});

describe('other messages', () => {
  it('CameraInfo round-trips with its fixed-size matrices', () => {
    const info = pinholeCameraInfo(640, 480, 500, 10, 'cam_high_optical');
    const back = plain(roundTrip('sensor_msgs/msg/CameraInfo', info)) as Record<string, unknown>;
    expect(back).toEqual(plain(info));
    expect((back.k as number[]).length).toBe(9);
    expect((back.p as number[]).length).toBe(12);
  });

  it('JointState parses positions per name and refuses a mismatch', () => {
    const msg = roundTrip('sensor_msgs/msg/JointState', jointState(['j1', 'j2', 'finger'], [0.1, -0.2, 0.04], 2500));
    const reading = parseJointState(msg);
    expect(reading.names).toEqual(['j1', 'j2', 'finger']);
    expect(Array.from(reading.positions)).toEqual([0.1, -0.2, 0.04]);
    expect(reading.stampMs).toBe(2500);
    expect(() => parseJointState({ ...msg, position: [1] }, '/joint_states')).toThrow(/\/joint_states: expected one position per joint name \(3\), got 1/);
  });

  it('TwistStamped carries the action as velocities over one control period', () => {
    const twist = roundTrip('geometry_msgs/msg/TwistStamped', actionToTwist({ dx: 0.01, dy: -0.02, dz: 0.005, dyaw: 0.05, gripper: 1 }, 10, 100, 'base_link'));
    expect(twist.header.frame_id).toBe('base_link');
    expect(twist.twist.linear.x).toBeCloseTo(0.1, 12);
    expect(twist.twist.linear.y).toBeCloseTo(-0.2, 12);
    expect(twist.twist.linear.z).toBeCloseTo(0.05, 12);
    expect(twist.twist.angular).toEqual({ x: 0, y: 0, z: expect.closeTo(0.5, 12) as number });
  });

  it('JointTrajectory and the FollowJointTrajectory goal carry names, positions and time_from_start', () => {
    const trajectory = jointTrajectory(['j1', 'j2'], [0.5, 1.5], 2.25);
    const back = plain(roundTrip('trajectory_msgs/msg/JointTrajectory', trajectory)) as typeof trajectory;
    expect(back.joint_names).toEqual(['j1', 'j2']);
    expect(back.points[0]!.positions).toEqual([0.5, 1.5]);
    expect(back.points[0]!.time_from_start).toEqual({ sec: 2, nanosec: 250_000_000 });
    expect(followJointTrajectoryGoal(trajectory, 1.5).goal_time_tolerance).toEqual({ sec: 1, nanosec: 500_000_000 });
    expect(() => jointTrajectory(['j1'], [1, 2], 1)).toThrow(/expected 1 positions/);
  });

  it('GripperCommand goal interpolates the open and closed positions and round-trips', () => {
    const goal = roundTrip('control_msgs/action/GripperCommand_Goal', gripperGoal(0.25, 0.08, 0, 40));
    expect(goal.command.position).toBeCloseTo(0.06, 12);
    expect(goal.command.max_effort).toBe(40);
    expect(gripperGoal(7, 0.08, 0, 40).command.position).toBe(0);
  });

  it('DiagnosticArray heartbeat and Float32 round-trip', () => {
    const beat = diagnosticArray(3000, { level: DIAGNOSTIC_LEVEL.WARN, name: 'dopamine: bridge', message: 'stale frames', hardwareId: 'arm', values: { steps: 12, estopped: false } });
    expect(plain(roundTrip('diagnostic_msgs/msg/DiagnosticArray', beat))).toEqual(plain(beat));
    expect(beat.status[0]!.values).toEqual([{ key: 'steps', value: '12' }, { key: 'estopped', value: 'false' }]);
    expect(roundTrip('std_msgs/msg/Float32', { data: 0.75 }).data).toBe(0.75);
  });

  it('stamps convert between ms and sec/nanosec', () => {
    expect(timeFromMs(1500.25)).toEqual({ sec: 1, nanosec: 500_250_000 });
    expect(msFromTime({ sec: 2, nanosec: 1_000_000 })).toBe(2001);
  });
});
