/**
 * Reads an episode in the reference layout:
 *
 *   <root>/task_instruction.json        ["paraphrase", ...] or {instruction} or {instructions}
 *   <root>/episode_001/cam_high.mp4     one video per camera, or a folder cam_high/ of PNG/JPEG frames
 *   <root>/episode_001/annotated_keyframes.json
 *        [{anotation|annotation, start_frame_id, end_frame_id}, ...]
 *
 * Opening probes the cameras (frame counts from ffprobe's packet list, no decoding) and checks
 * the keyframes. Frames are decoded on demand by one ffmpeg per camera that keeps decoding forward
 * (so walking a video costs one decode per frame) and re-seeks exactly on a jump; decoded frames
 * are kept in an LRU cache bounded in bytes.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { describeValue, InputError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { CAMERA_ROLES, type CameraRole } from '../robot/types.js';
import { validateSegments, wholeEpisodeSegment, type Episode, type RgbImage, type Segment } from './episode.js';
import { FrameCache } from './frame-cache.js';
import { probeVideo, VideoStream, type DecodeSize, type VideoInfo } from './video.js';

/** A camera as the configuration names it (`cameras.views`). */
export interface CameraViewSpec {
  role: CameraRole;
  /** File stem in the episode folder: cam_high -> cam_high.mp4 or cam_high/. */
  name: string;
  /** Optional crop [x, y, width, height] in source pixels, applied before resizing. */
  crop?: [number, number, number, number] | undefined;
}

export const REFERENCE_VIEWS: readonly CameraViewSpec[] = [
  { role: 'front', name: 'cam_high' },
  { role: 'left_wrist', name: 'cam_left_wrist' },
  { role: 'right_wrist', name: 'cam_right_wrist' },
];

export interface OpenEpisodeOptions {
  /** Cameras and their roles (default: the reference names). */
  views?: readonly CameraViewSpec[];
  /** Decode at this size instead of the source size (after the crop). */
  size?: DecodeSize;
  /** Bound of the decoded-frame cache, bytes (default 256 MiB). */
  cacheBytes?: number;
  /**
   * Frames decoded before a frame reached by seeking backwards, so that walking a video backwards
   * does not seek for every frame (default 16).
   */
  chunkFrames?: number;
  /** Largest forward jump served by reading on from the running decoder instead of seeking (default 60). */
  seekThreshold?: number;
  /** Frame rate of image-folder cameras (default 30). */
  imageFps?: number;
  log?: Logger;
}

const VIDEO_EXTENSIONS = ['.mp4', '.mkv', '.mov', '.avi', '.webm'];
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);
const DEFAULT_INSTRUCTION = 'perform the task';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InputError(file, `expected a readable file, got ${(error as NodeJS.ErrnoException).code ?? 'an error'}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(file, `expected JSON, got a parse error (${(error as Error).message})`);
  }
}

/**
 * Where the episode is: an `episode_*` folder (or any folder holding camera files) is the
 * episode; a folder holding `episode_*` folders must hold exactly one.
 */
export function resolveEpisodeDir(path: string): string {
  const dir = resolve(path);
  if (!isDirectory(dir)) throw new InputError(path, 'expected an episode folder or a root holding one episode_* folder, got no such folder');
  const episodes = readdirSync(dir)
    .filter((name) => name.toLowerCase().startsWith('episode_') && isDirectory(join(dir, name)))
    .sort();
  if (episodes.length === 0) return dir;
  if (episodes.length === 1) return join(dir, episodes[0]!);
  throw new InputError(path, `expected one episode, got ${episodes.length} (${episodes.slice(0, 4).join(', ')}${episodes.length > 4 ? ', ...' : ''}); give one episode_* folder`);
}

/** Instruction paraphrases from the episode's own task_instruction.json, else its parent's. */
export function readInstructions(episodeDir: string, log: Logger): string[] {
  const candidates = [join(episodeDir, 'task_instruction.json'), join(dirname(episodeDir), 'task_instruction.json')];
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined) {
    log.warn(`${candidates[1]}: missing; using the instruction "${DEFAULT_INSTRUCTION}"`);
    return [DEFAULT_INSTRUCTION];
  }
  const data = readJson(file);
  let list: unknown[] | undefined;
  if (Array.isArray(data)) list = data;
  else if (typeof data === 'object' && data !== null) {
    const record = data as Record<string, unknown>;
    if (Array.isArray(record.instructions)) list = record.instructions;
    else if (typeof record.instruction === 'string') list = [record.instruction];
  }
  if (list === undefined) throw new InputError(file, `expected a list of instruction strings, {"instruction": "..."} or {"instructions": [...]}, got ${describeValue(data)}`);
  const strings = list.filter((x): x is string => typeof x === 'string' && x.trim() !== '');
  if (strings.length !== list.length || strings.length === 0) {
    throw new InputError(file, 'expected one or more non-empty instruction strings');
  }
  return strings;
}

/** Sub-tasks from annotated_keyframes.json, unchecked against the video; undefined when the file is missing. */
export function readKeyframes(file: string): Segment[] | undefined {
  if (!existsSync(file)) return undefined;
  const data = readJson(file);
  if (!Array.isArray(data)) throw new InputError(file, `expected a list of {annotation, start_frame_id, end_frame_id}, got ${describeValue(data)}`);
  return data.map((item: unknown, i) => {
    const record = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const start = record.start_frame_id;
    const end = record.end_frame_id;
    if (!Number.isInteger(start) || !Number.isInteger(end)) {
      throw new InputError(file, `sub-task ${i + 1}: expected integer start_frame_id and end_frame_id, got ${describeValue(start)} and ${describeValue(end)}`);
    }
    const label = record.annotation ?? record.anotation;
    return { label: typeof label === 'string' ? label : `subtask${i + 1}`, startFrame: start as number, endFrame: end as number };
  });
}

/** One camera's frames, however they are stored. */
interface CameraSource {
  readonly file: string;
  readonly frameCount: number;
  readonly fps: number;
  readonly width: number;
  readonly height: number;
  /** Decodes frame `index`; returns it with the frames decoded on the way, from index `first`. */
  decode(index: number): Promise<{ first: number; frames: Uint8Array[] }>;
  close(): void;
}

interface StreamPolicy {
  chunkFrames: number;
  seekThreshold: number;
}

function checkCrop(file: string, crop: CameraViewSpec['crop'], width: number, height: number): void {
  if (crop === undefined) return;
  const [x, y, w, h] = crop;
  if (x + w > width || y + h > height) {
    throw new InputError(file, `expected the crop [${crop.join(', ')}] inside the ${width}x${height} frame`);
  }
}

async function openVideoCamera(file: string, view: CameraViewSpec, size: DecodeSize | undefined, policy: StreamPolicy): Promise<CameraSource> {
  const info: VideoInfo = await probeVideo(file);
  checkCrop(file, view.crop, info.width, info.height);
  const out = size ?? { width: view.crop?.[2] ?? info.width, height: view.crop?.[3] ?? info.height };
  const stream = new VideoStream(file, info, { ...out, crop: view.crop });
  return {
    file,
    frameCount: info.frameCount,
    fps: info.fps,
    width: out.width,
    height: out.height,
    decode: (index) => {
      const position = stream.position;
      // Seeking backwards: start a little earlier, so the next frames back are already decoded.
      const restartAt = position !== undefined && index < position ? index - policy.chunkFrames + 1 : index;
      return stream.readThrough(index, policy.seekThreshold, restartAt);
    },
    close: () => stream.stop(),
  };
}

async function openImageCamera(dir: string, view: CameraViewSpec, size: DecodeSize | undefined, fps: number): Promise<CameraSource> {
  const files = readdirSync(dir)
    .filter((name) => IMAGE_EXTENSIONS.has(extname(name).toLowerCase()))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name) => join(dir, name));
  if (files.length === 0) throw new InputError(dir, 'expected PNG or JPEG frames in the camera folder, got none');
  let meta: { width?: number; height?: number };
  try {
    meta = await sharp(files[0]!).metadata();
  } catch (error) {
    throw new InputError(files[0]!, `unreadable image (${(error as Error).message})`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  checkCrop(files[0]!, view.crop, width, height);
  const out = size ?? { width: view.crop?.[2] ?? width, height: view.crop?.[3] ?? height };
  const decodeOne = async (index: number): Promise<Uint8Array> => {
    const file = files[index]!;
    try {
      let image = sharp(file).removeAlpha().toColourspace('srgb');
      const m = await sharp(file).metadata();
      if (m.width !== width || m.height !== height) {
        throw new InputError(file, `expected a ${width}x${height} image like ${basename(files[0]!)}, got ${m.width}x${m.height}`);
      }
      if (view.crop !== undefined) image = image.extract({ left: view.crop[0], top: view.crop[1], width: view.crop[2], height: view.crop[3] });
      if (out.width !== (view.crop?.[2] ?? width) || out.height !== (view.crop?.[3] ?? height)) {
        image = image.resize(out.width, out.height, { fit: 'fill' });
      }
      const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== 3) throw new InputError(file, `expected an RGB image, got ${info.channels} channels`);
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new InputError(file, `unreadable image (${(error as Error).message})`);
    }
  };
  return {
    file: dir,
    frameCount: files.length,
    fps,
    width: out.width,
    height: out.height,
    decode: async (index) => ({ first: index, frames: [await decodeOne(index)] }),
    close: () => {},
  };
}

/** Finds camera `name` in the episode folder: a video file or a folder of frames. */
function findCamera(episodeDir: string, name: string): { kind: 'video' | 'images'; path: string } | undefined {
  for (const ext of VIDEO_EXTENSIONS) {
    const file = join(episodeDir, `${name}${ext}`);
    if (existsSync(file) && !isDirectory(file)) return { kind: 'video', path: file };
  }
  const dir = join(episodeDir, name);
  if (isDirectory(dir)) return { kind: 'images', path: dir };
  return undefined;
}

class FolderEpisode implements Episode {
  readonly roles: readonly CameraRole[];
  private readonly cache: FrameCache<Uint8Array>;
  /** Per camera file: the tail of its queue of decode calls (a decoder serves one call at a time). */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly instructions: readonly string[],
    readonly segments: readonly Segment[],
    readonly annotated: boolean,
    private readonly cameras: Map<CameraRole, CameraSource>,
    cacheBytes: number,
  ) {
    this.roles = CAMERA_ROLES.filter((role) => cameras.has(role));
    this.cache = new FrameCache(cacheBytes);
  }

  get frameCount(): number {
    return this.cameras.get('front')!.frameCount;
  }

  get fps(): number {
    return this.cameras.get('front')!.fps;
  }

  /** The file or folder behind a role (the front camera for a role without its own). */
  source(role: CameraRole): string {
    return (this.cameras.get(role) ?? this.cameras.get('front')!).file;
  }

  async frame(role: CameraRole, index: number): Promise<RgbImage> {
    if (!Number.isInteger(index) || index < 0 || index >= this.frameCount) {
      throw new RangeError(`frame index: expected an integer in 0..${this.frameCount - 1}, got ${index}`);
    }
    const camera = this.cameras.get(role) ?? this.cameras.get('front')!;
    const key = (i: number): string => `${camera.file}#${i}`;
    const image = (rgb: Uint8Array): RgbImage => ({ width: camera.width, height: camera.height, rgb });
    const cached = this.cache.get(key(index));
    if (cached !== undefined) return image(cached);
    const job = (this.locks.get(camera.file) ?? Promise.resolve()).then(async () => {
      const again = this.cache.get(key(index));
      if (again !== undefined) return again;
      const { first, frames } = await camera.decode(index);
      frames.forEach((frame, k) => this.cache.set(key(first + k), frame));
      return frames[index - first]!;
    });
    this.locks.set(
      camera.file,
      job.catch(() => undefined),
    );
    return image(await job);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.locks.values()]);
    for (const camera of this.cameras.values()) camera.close();
    this.cache.clear();
  }
}

export type { FolderEpisode };

/**
 * Opens an episode folder (or a root holding exactly one). Checks that every camera has the same
 * number of frames and that the keyframes fit the video; a missing keyframes file gives one
 * segment over the whole video and a warning. Missing wrist cameras repeat the front view.
 */
export async function openEpisodeFolder(path: string, options: OpenEpisodeOptions = {}): Promise<Episode & { source(role: CameraRole): string }> {
  const log = options.log ?? createLogger('episode');
  const episodeDir = resolveEpisodeDir(path);
  const views = options.views ?? REFERENCE_VIEWS;
  if (!views.some((v) => v.role === 'front')) throw new InputError('cameras.views', 'expected one view with role front');
  const size = options.size;
  if (size !== undefined && !(Number.isInteger(size.width) && size.width > 0 && Number.isInteger(size.height) && size.height > 0)) {
    throw new RangeError(`decode size: expected positive integers, got ${size.width}x${size.height}`);
  }

  const policy: StreamPolicy = { chunkFrames: Math.max(1, options.chunkFrames ?? 16), seekThreshold: Math.max(0, options.seekThreshold ?? 60) };
  const cameras = new Map<CameraRole, CameraSource>();
  const repeated: string[] = [];
  for (const view of views) {
    if (cameras.has(view.role)) throw new InputError('cameras.views', `expected one camera per role, got two for ${view.role}`);
    const found = findCamera(episodeDir, view.name);
    if (found === undefined) {
      if (view.role === 'front') {
        throw new InputError(episodeDir, `expected the front camera ${view.name}.mp4 or a frame folder ${view.name}/, found neither`);
      }
      repeated.push(`${view.role} (${view.name})`);
      continue;
    }
    const camera =
      found.kind === 'video'
        ? await openVideoCamera(found.path, view, size, policy)
        : await openImageCamera(found.path, view, size, options.imageFps ?? 30);
    cameras.set(view.role, camera);
  }
  if (repeated.length > 0) log.info(`${basename(episodeDir)}: no camera for ${repeated.join(', ')}; the front view stands in`);
  const front = cameras.get('front')!;
  for (const [role, camera] of cameras) {
    if (camera.frameCount !== front.frameCount) {
      throw new InputError(camera.file, `${role} camera has ${camera.frameCount} frames, expected ${front.frameCount} like ${front.file}`);
    }
  }
  if (front.frameCount < 2) throw new InputError(front.file, `expected at least 2 frames, got ${front.frameCount}`);

  const keyframesFile = join(episodeDir, 'annotated_keyframes.json');
  let segments = readKeyframes(keyframesFile);
  const annotated = segments !== undefined;
  if (segments === undefined) {
    log.warn(`${keyframesFile}: missing; using one sub-task over the whole video (frames 0..${front.frameCount - 1})`);
    segments = [wholeEpisodeSegment(front.frameCount)];
  } else {
    validateSegments(segments, front.frameCount, keyframesFile);
  }

  return new FolderEpisode(
    basename(episodeDir),
    episodeDir,
    readInstructions(episodeDir, log),
    segments,
    annotated,
    cameras,
    options.cacheBytes ?? 256 * 1024 * 1024,
  );
}
