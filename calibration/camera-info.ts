/**
 * camera_info YAML files as ROS writes them (camera_calibration_parsers layout, what
 * `cameracalibrator` saves and camera drivers load):
 *
 *   image_width: 640
 *   image_height: 480
 *   camera_name: cam_high
 *   camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}
 *   distortion_model: plumb_bob
 *   distortion_coefficients: {rows: 1, cols: 5, data: [k1, k2, t1, t2, k3]}
 *   rectification_matrix: {rows: 3, cols: 3, data: [...]}
 *   projection_matrix: {rows: 3, cols: 4, data: [...]}
 *
 * Read, validated (shapes, a usable intrinsic matrix, a rotation for the rectification), and
 * turned into a sensor_msgs/CameraInfo. Errors name the file and the key.
 */
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { describeValue, InputError } from '../common/errors.js';
import type { CameraInfoMsg } from '../robot/ros2/messages.js';

/** Coefficient counts of the distortion models image_geometry knows. */
export const DISTORTION_COEFFICIENTS: Record<string, number[]> = {
  plumb_bob: [5],
  rational_polynomial: [8],
  equidistant: [4],
};

const matrix = (rows: number, cols: number | undefined) =>
  z.strictObject({
    rows: rows === 0 ? z.number().int().positive() : z.literal(rows),
    cols: cols === undefined ? z.number().int().min(0) : z.literal(cols),
    data: z.array(z.number()),
  });

const cameraInfoFile = z.strictObject({
  image_width: z.number().int().positive(),
  image_height: z.number().int().positive(),
  camera_name: z.string().min(1),
  camera_matrix: matrix(3, 3),
  distortion_model: z.string().min(1),
  distortion_coefficients: matrix(1, undefined),
  rectification_matrix: matrix(3, 3),
  projection_matrix: matrix(3, 4),
});

export type CameraInfoFile = z.output<typeof cameraInfoFile>;

export interface CameraCalibration {
  file: string;
  cameraName: string;
  width: number;
  height: number;
  /** Row-major 3x3 intrinsics. */
  k: number[];
  distortionModel: string;
  d: number[];
  r: number[];
  p: number[];
}

function zodPath(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** Checks a parsed camera_info document; `file` names it in errors. */
export function validateCameraInfo(data: unknown, file: string): CameraCalibration {
  const parsed = cameraInfoFile.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = zodPath(issue.path);
    let got = data;
    for (const p of issue.path) got = typeof got === 'object' && got !== null ? (got as Record<PropertyKey, unknown>)[p as string] : undefined;
    const reason = issue.code === 'unrecognized_keys' ? `unknown key ${issue.keys.join(', ')}` : `${issue.message.replace(/^Invalid input: /, '').replace(/, received .*$/, '')}, got ${describeValue(got)}`;
    throw new InputError(file, `${key === '' ? '' : `${key}: `}${reason}`);
  }
  const info = parsed.data;
  const fail = (key: string, reason: string): never => {
    throw new InputError(file, `${key}: ${reason}`);
  };
  for (const key of ['camera_matrix', 'distortion_coefficients', 'rectification_matrix', 'projection_matrix'] as const) {
    const m = info[key];
    if (m.data.length !== m.rows * m.cols) fail(`${key}.data`, `expected ${m.rows * m.cols} numbers (rows ${m.rows} x cols ${m.cols}), got ${m.data.length}`);
  }
  const counts = DISTORTION_COEFFICIENTS[info.distortion_model];
  if (counts === undefined) fail('distortion_model', `expected one of ${Object.keys(DISTORTION_COEFFICIENTS).join(', ')}, got ${describeValue(info.distortion_model)}`);
  const d = info.distortion_coefficients.data;
  if (!counts!.includes(d.length)) fail('distortion_coefficients.data', `expected ${counts!.join(' or ')} coefficients for ${info.distortion_model}, got ${d.length}`);
  const k = info.camera_matrix.data;
  const [fx, skew, cx, k10, fy, cy, k20, k21, k22] = k as [number, number, number, number, number, number, number, number, number];
  if (!(fx > 0 && fy > 0)) fail('camera_matrix.data', `expected positive focal lengths fx, fy, got ${fx}, ${fy}`);
  if (k10 !== 0 || k20 !== 0 || k21 !== 0 || k22 !== 1) fail('camera_matrix.data', `expected the last rows [0, fy, cy, 0, 0, 1], got [${k10}, ${fy}, ${cy}, ${k20}, ${k21}, ${k22}]`);
  if (!(cx >= 0 && cx <= info.image_width && cy >= 0 && cy <= info.image_height)) {
    fail('camera_matrix.data', `expected the principal point inside the ${info.image_width}x${info.image_height} image, got (${cx}, ${cy})`);
  }
  void skew;
  const r = info.rectification_matrix.data;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const dot = r[3 * i]! * r[3 * j]! + r[3 * i + 1]! * r[3 * j + 1]! + r[3 * i + 2]! * r[3 * j + 2]!;
      if (Math.abs(dot - (i === j ? 1 : 0)) > 1e-3) fail('rectification_matrix.data', 'expected a rotation (orthonormal rows)');
    }
  }
  const p = info.projection_matrix.data;
  if (!(p[0]! > 0 && p[5]! > 0) || p[10] !== 1) fail('projection_matrix.data', `expected positive fx', fy' and P[2][2] = 1, got ${p[0]}, ${p[5]}, ${p[10]}`);
  return { file, cameraName: info.camera_name, width: info.image_width, height: info.image_height, k, distortionModel: info.distortion_model, d, r, p };
}

export function readCameraInfo(file: string): CameraCalibration {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(file, `expected a readable camera_info YAML file, got ${(error as NodeJS.ErrnoException).code ?? 'an error'}`);
  }
  let data: unknown;
  try {
    data = parse(text) as unknown;
  } catch (error) {
    throw new InputError(file, `expected YAML, got a parse error (${(error as Error).message.split('\n')[0]})`);
  }
  return validateCameraInfo(data, file);
}

/** The YAML text of a calibration, in the camera_calibration_parsers layout. */
export function cameraInfoYaml(c: CameraCalibration): string {
  const m = (rows: number, cols: number, data: number[]) => ({ rows, cols, data });
  return stringify(
    {
      image_width: c.width,
      image_height: c.height,
      camera_name: c.cameraName,
      camera_matrix: m(3, 3, c.k),
      distortion_model: c.distortionModel,
      distortion_coefficients: m(1, c.d.length, c.d),
      rectification_matrix: m(3, 3, c.r),
      projection_matrix: m(3, 4, c.p),
    },
    { flowCollectionPadding: false },
  );
}

export function toCameraInfoMsg(c: CameraCalibration, stampMs = 0, frameId = c.cameraName): CameraInfoMsg {
  return {
    header: { stamp: { sec: Math.floor(stampMs / 1000), nanosec: Math.round((stampMs % 1000) * 1e6) }, frame_id: frameId },
    height: c.height,
    width: c.width,
    distortion_model: c.distortionModel,
    d: [...c.d],
    k: [...c.k],
    r: [...c.r],
    p: [...c.p],
    binning_x: 0,
    binning_y: 0,
    roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
  };
}

export function fromCameraInfoMsg(msg: CameraInfoMsg, file: string): CameraCalibration {
  return validateCameraInfo(
    {
      image_width: msg.width,
      image_height: msg.height,
      camera_name: msg.header.frame_id || 'camera',
      camera_matrix: { rows: 3, cols: 3, data: Array.from(msg.k) },
      distortion_model: msg.distortion_model,
      distortion_coefficients: { rows: 1, cols: msg.d.length, data: Array.from(msg.d) },
      rectification_matrix: { rows: 3, cols: 3, data: Array.from(msg.r) },
      projection_matrix: { rows: 3, cols: 4, data: Array.from(msg.p) },
    },
    file,
  );
}
