/**
 * The task references an adapted model carries: instruction paraphrases and the start and goal
 * image of every view, taken from the demo. They live beside the model:
 *
 *   model.onnx
 *   model.task/task.json          {instructions, source, startFrame, goalFrame, roles, ...}
 *   model.task/start_front.png    start_left_wrist.png  start_right_wrist.png
 *   model.task/goal_front.png     goal_left_wrist.png   goal_right_wrist.png
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describeValue, InputError } from '../common/errors.js';
import type { RawImage, ViewSet } from '../perception/images.js';
import { isRawImage } from '../perception/images.js';
import type { CameraRole } from '../robot/types.js';
import { CAMERA_ROLES } from '../robot/types.js';

export interface TaskInfo {
  instructions: string[];
  /** Where the references come from (the demo episode folder). */
  source: string;
  startFrame: number;
  goalFrame: number;
  /** Roles with their own camera in the demo. */
  roles: CameraRole[];
  [key: string]: unknown;
}

export interface StoredReferences {
  dir: string;
  info: TaskInfo;
  start: ViewSet;
  goal: ViewSet;
}

/** `model.onnx` -> `model.task`. */
export function referencesDir(modelPath: string): string {
  return `${modelPath.replace(/\.onnx$/i, '')}.task`;
}

async function png(image: RawImage): Promise<Buffer> {
  return sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
}

/** Writes the references next to `modelPath` (into a temporary folder first, then renamed). */
export async function writeReferences(modelPath: string, info: TaskInfo, start: Record<CameraRole, RawImage>, goal: Record<CameraRole, RawImage>): Promise<string> {
  const dir = referencesDir(modelPath);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  for (const role of CAMERA_ROLES) {
    writeFileSync(join(partial, `start_${role}.png`), await png(start[role]));
    writeFileSync(join(partial, `goal_${role}.png`), await png(goal[role]));
  }
  writeFileSync(join(partial, 'task.json'), `${JSON.stringify(info, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return dir;
}

/** The references beside a model, or undefined when it has none. */
export function readReferences(modelPath: string): StoredReferences | undefined {
  const dir = referencesDir(modelPath);
  const file = join(dir, 'task.json');
  if (!existsSync(file)) return undefined;
  let info: TaskInfo;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as TaskInfo;
  } catch (error) {
    throw new InputError(file, `expected JSON task references, got a parse error (${(error as Error).message})`);
  }
  if (!Array.isArray(info.instructions) || info.instructions.length === 0 || info.instructions.some((s) => typeof s !== 'string')) {
    throw new InputError(file, `expected "instructions": a list of strings, got ${describeValue(info.instructions)}`);
  }
  const load = (kind: 'start' | 'goal'): ViewSet => {
    const views: Partial<Record<CameraRole, Uint8Array>> = {};
    for (const role of CAMERA_ROLES) {
      const image = join(dir, `${kind}_${role}.png`);
      if (!existsSync(image)) throw new InputError(image, `expected the ${kind} image of the ${role} view, got no file`);
      views[role] = new Uint8Array(readFileSync(image));
    }
    return { front: views.front!, left_wrist: views.left_wrist, right_wrist: views.right_wrist };
  };
  return { dir, info, start: load('start'), goal: load('goal') };
}

/** Raw RGB of an image input (PNG/JPEG bytes decoded with sharp). */
export async function decodeImage(image: RawImage | Uint8Array, name: string): Promise<RawImage> {
  if (isRawImage(image)) return image;
  try {
    const { data, info } = await sharp(image).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    throw new InputError(name, `expected a JPEG or PNG image, got ${(error as Error).message}`);
  }
}
