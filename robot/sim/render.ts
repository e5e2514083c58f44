/**
 * Cameras by ray casting: MuJoCo has no renderer in WebAssembly, but `mj_multiRay` casts a bundle
 * of rays from one point and reports, per ray, the distance and the geom it hit. From that we make
 * an RGB image (geom colour, Lambert shading with normals from the geom's shape, a wood grain on
 * the table and a checker floor so images are not flat), a depth image and a segmentation image.
 */
import type { DoubleBuffer, IntBuffer, MainModule, MjData, MjModel } from 'mujoco-js';

export interface RenderedView {
  width: number;
  height: number;
  /** Packed RGB, row-major. */
  rgb: Uint8Array;
  /** Distance along each pixel's ray, metres; Infinity where nothing was hit. */
  depth: Float32Array;
  /** Geom id per pixel, -1 where nothing was hit. */
  segmentation: Int32Array;
}

/** MuJoCo geom types (mjtGeom). */
const GEOM_PLANE = 0;
const GEOM_SPHERE = 2;
const GEOM_CAPSULE = 3;
const GEOM_ELLIPSOID = 4;
const GEOM_CYLINDER = 5;
const GEOM_BOX = 6;

/** Direction towards the light (from the front-right, above), normalised. */
export const DEFAULT_LIGHT: readonly [number, number, number] = [0.35, -0.3, 1];

function unit(v: readonly number[]): [number, number, number] {
  const n = Math.hypot(v[0]!, v[1]!, v[2]!);
  if (!(n > 0) || !Number.isFinite(n)) throw new RangeError(`light direction: expected a finite non-zero vector, got [${v.join(', ')}]`);
  return [v[0]! / n, v[1]! / n, v[2]! / n];
}
const AMBIENT = 0.38;
const DIFFUSE = 0.62;
const RAY_CUTOFF_M = 10;

interface CameraRays {
  camId: number;
  /** Unit ray directions in the camera frame, 3 per pixel. */
  local: Float64Array;
}

export class RayCastRenderer {
  readonly width: number;
  readonly height: number;
  private readonly mujoco: MainModule;
  private readonly model: MjModel;
  private readonly cameras = new Map<number, CameraRays>();
  /** World-frame ray directions, JS memory: mj_multiRay copies them in (a wasm view could be detached by that copy). */
  private readonly directions: Float64Array;
  private readonly distances: DoubleBuffer;
  private readonly geomIds: IntBuffer;
  private readonly geomGroups = new Uint8Array([1, 1, 1, 1, 1, 1]);
  /** Geoms with a procedural texture. */
  private readonly tableGeom: number;
  private readonly floorGeom: number;

  constructor(mujoco: MainModule, model: MjModel, width: number, height: number) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2) {
      throw new RangeError(`camera size: expected integers >= 2, got ${width}x${height}`);
    }
    this.mujoco = mujoco;
    this.model = model;
    this.width = width;
    this.height = height;
    const rays = width * height;
    this.directions = new Float64Array(rays * 3);
    this.distances = new mujoco.DoubleBuffer(rays);
    this.geomIds = new mujoco.IntBuffer(rays);
    this.tableGeom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM.value, 'table');
    this.floorGeom = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM.value, 'floor');
  }

  private camera(camId: number): CameraRays {
    let rays = this.cameras.get(camId);
    if (rays) return rays;
    const { width, height } = this;
    const fovy = (this.model.cam_fovy as Float64Array)[camId]!;
    const tanY = Math.tan((fovy * Math.PI) / 360);
    const tanX = (tanY * width) / height;
    const local = new Float64Array(width * height * 3);
    for (let row = 0; row < height; row++) {
      for (let col = 0; col < width; col++) {
        const x = ((2 * (col + 0.5)) / width - 1) * tanX;
        const y = (1 - (2 * (row + 0.5)) / height) * tanY;
        const n = Math.sqrt(x * x + y * y + 1);
        const i = (row * width + col) * 3;
        local[i] = x / n;
        local[i + 1] = y / n;
        local[i + 2] = -1 / n;
      }
    }
    rays = { camId, local };
    this.cameras.set(camId, rays);
    return rays;
  }

  /** Direction towards the light, normalised (the policy encoder's pretraining varies it). */
  private light: [number, number, number] = unit(DEFAULT_LIGHT);

  /** Sets the direction towards the light (any length; normalised here). */
  setLight(direction: readonly number[]): void {
    this.light = unit(direction);
  }

  /** Renders camera `camId` of the current state (the caller has run mj_forward or mj_step). */
  render(data: MjData, camId: number): RenderedView {
    const LIGHT = this.light;
    const { width, height, mujoco, model } = this;
    const pixels = width * height;
    const { local } = this.camera(camId);
    const camPos = data.cam_xpos as Float64Array;
    const camMat = data.cam_xmat as Float64Array;
    const o0 = camPos[camId * 3]!;
    const o1 = camPos[camId * 3 + 1]!;
    const o2 = camPos[camId * 3 + 2]!;
    const m = camMat.subarray(camId * 9, camId * 9 + 9);
    const dirs = this.directions;
    for (let i = 0; i < pixels * 3; i += 3) {
      const x = local[i]!;
      const y = local[i + 1]!;
      const z = local[i + 2]!;
      dirs[i] = m[0]! * x + m[1]! * y + m[2]! * z;
      dirs[i + 1] = m[3]! * x + m[4]! * y + m[5]! * z;
      dirs[i + 2] = m[6]! * x + m[7]! * y + m[8]! * z;
    }
    mujoco.mj_multiRay(model, data, [o0, o1, o2], dirs as unknown as number[], this.geomGroups, 1, -1, this.geomIds, this.distances, pixels, RAY_CUTOFF_M);
    // Views are re-read after the call: the wasm heap can move when it grows.
    const dist = this.distances.GetView() as Float64Array;
    const ids = this.geomIds.GetView() as Int32Array;
    const directions = dirs;

    const geomPos = data.geom_xpos as Float64Array;
    const geomMat = data.geom_xmat as Float64Array;
    const geomSize = model.geom_size as Float64Array;
    const geomType = model.geom_type as Int32Array;
    const geomRgba = model.geom_rgba as Float32Array;

    const rgb = new Uint8Array(pixels * 3);
    const depth = new Float32Array(pixels);
    const segmentation = new Int32Array(pixels);
    const normal = [0, 0, 1];
    for (let p = 0; p < pixels; p++) {
      const g = ids[p]!;
      const d = dist[p]!;
      segmentation[p] = g;
      if (g < 0 || d < 0) {
        depth[p] = Infinity;
        // Background: a soft vertical gradient, like a lab wall fading into shadow.
        const shade = 0.55 + 0.3 * (1 - Math.floor(p / width) / height);
        rgb[p * 3] = 160 * shade;
        rgb[p * 3 + 1] = 170 * shade;
        rgb[p * 3 + 2] = 185 * shade;
        continue;
      }
      depth[p] = d;
      const hx = o0 + d * directions[p * 3]!;
      const hy = o1 + d * directions[p * 3 + 1]!;
      const hz = o2 + d * directions[p * 3 + 2]!;
      surfaceNormal(normal, geomType[g]!, geomPos, geomMat, geomSize, g, hx, hy, hz);
      // Face the camera (rays that graze or see a back face).
      if (normal[0]! * directions[p * 3]! + normal[1]! * directions[p * 3 + 1]! + normal[2]! * directions[p * 3 + 2]! > 0) {
        normal[0] = -normal[0]!;
        normal[1] = -normal[1]!;
        normal[2] = -normal[2]!;
      }
      const lambert = Math.max(0, normal[0]! * LIGHT[0] + normal[1]! * LIGHT[1] + normal[2]! * LIGHT[2]);
      let light = AMBIENT + DIFFUSE * lambert;
      if (g === this.tableGeom) light *= woodGrain(hx, hy);
      else if (g === this.floorGeom) light *= (Math.floor(hx * 4) + Math.floor(hy * 4)) & 1 ? 0.85 : 1;
      // A little depth fog keeps far surfaces apart from near ones.
      const fog = Math.min(1, d / 4);
      rgb[p * 3] = 255 * Math.min(1, geomRgba[g * 4]! * light * (1 - fog) + 0.6 * fog);
      rgb[p * 3 + 1] = 255 * Math.min(1, geomRgba[g * 4 + 1]! * light * (1 - fog) + 0.63 * fog);
      rgb[p * 3 + 2] = 255 * Math.min(1, geomRgba[g * 4 + 2]! * light * (1 - fog) + 0.7 * fog);
    }
    return { width, height, rgb, depth, segmentation };
  }

  close(): void {
    this.distances.delete();
    this.geomIds.delete();
  }
}

/** One period of a sine in a table: the grain is evaluated for every table pixel, Math.sin is slow there. */
const SINE_STEPS = 1024;
const SINE = Float64Array.from({ length: SINE_STEPS }, (_, i) => Math.sin((2 * Math.PI * i) / SINE_STEPS));
function fastSin(t: number): number {
  return SINE[((t * (SINE_STEPS / (2 * Math.PI))) | 0) & (SINE_STEPS - 1)]!;
}

/** Wood-like planks along x with a wobbling grain, as a brightness factor near 1. */
function woodGrain(x: number, y: number): number {
  const grain = fastSin(x * 140 + fastSin(y * 11 + 20) * 2.5 + 200);
  const plank = Math.floor((y + 1) * 7) & 1 ? 0.95 : 1.02;
  return plank * (0.97 + 0.03 * grain);
}

/** Outward surface normal of geom g at world point h, from the geom's shape. */
function surfaceNormal(
  out: number[],
  type: number,
  pos: Float64Array,
  mat: Float64Array,
  size: Float64Array,
  g: number,
  hx: number,
  hy: number,
  hz: number,
): void {
  const m = g * 9;
  if (type === GEOM_PLANE) {
    out[0] = mat[m + 2]!;
    out[1] = mat[m + 5]!;
    out[2] = mat[m + 8]!;
    return;
  }
  // Hit point in the geom frame: R^T (h - c), with R row-major.
  const rx = hx - pos[g * 3]!;
  const ry = hy - pos[g * 3 + 1]!;
  const rz = hz - pos[g * 3 + 2]!;
  const lx = mat[m]! * rx + mat[m + 3]! * ry + mat[m + 6]! * rz;
  const ly = mat[m + 1]! * rx + mat[m + 4]! * ry + mat[m + 7]! * rz;
  const lz = mat[m + 2]! * rx + mat[m + 5]! * ry + mat[m + 8]! * rz;
  const s0 = size[g * 3]!;
  const s1 = size[g * 3 + 1]!;
  const s2 = size[g * 3 + 2]!;
  let nx = 0;
  let ny = 0;
  let nz = 0;
  switch (type) {
    case GEOM_SPHERE:
      nx = lx;
      ny = ly;
      nz = lz;
      break;
    case GEOM_CAPSULE: {
      const cz = Math.max(-s1, Math.min(s1, lz));
      nx = lx;
      ny = ly;
      nz = lz - cz;
      break;
    }
    case GEOM_ELLIPSOID:
      nx = lx / (s0 * s0);
      ny = ly / (s1 * s1);
      nz = lz / (s2 * s2);
      break;
    case GEOM_CYLINDER:
      if (Math.abs(lz) / s1 > Math.hypot(lx, ly) / s0) nz = Math.sign(lz);
      else {
        nx = lx;
        ny = ly;
      }
      break;
    case GEOM_BOX: {
      const ax = Math.abs(lx) / s0;
      const ay = Math.abs(ly) / s1;
      const az = Math.abs(lz) / s2;
      if (ax >= ay && ax >= az) nx = Math.sign(lx);
      else if (ay >= az) ny = Math.sign(ly);
      else nz = Math.sign(lz);
      break;
    }
    default:
      nz = 1;
  }
  // Back to the world frame: R n.
  const wx = mat[m]! * nx + mat[m + 1]! * ny + mat[m + 2]! * nz;
  const wy = mat[m + 3]! * nx + mat[m + 4]! * ny + mat[m + 5]! * nz;
  const wz = mat[m + 6]! * nx + mat[m + 7]! * ny + mat[m + 8]! * nz;
  const n = Math.sqrt(wx * wx + wy * wy + wz * wz) || 1;
  out[0] = wx / n;
  out[1] = wy / n;
  out[2] = wz / n;
}
