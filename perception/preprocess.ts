/**
 * Frames of any size -> the reward model's input: optional crop per camera (cameras.views[].crop),
 * resize with sharp to the model's size, scale to floats with the model's normalisation, written
 * channel-first (CHW) into a caller's Float32Array at an offset. Callers keep their buffers and
 * reuse them, so the steady state allocates no large arrays here (sharp returns one small
 * byte buffer of the resized image per call).
 */
import sharp from 'sharp';
import { InputError } from '../common/errors.js';
import type { CameraRole } from '../robot/types.js';
import { CAMERA_ROLES } from '../robot/types.js';
import type { ImageInput, RawImage, ViewSet } from './images.js';
import { isRawImage, viewFor } from './images.js';

export type Crop = readonly [x: number, y: number, width: number, height: number];

export interface PreprocessOptions {
  /** Model input width and height, pixels. */
  width: number;
  height: number;
  /** Crop [x, y, width, height] in source pixels per role, applied before resizing. */
  crops?: Partial<Record<CameraRole, Crop | undefined>>;
  /** Per-channel normalisation: value = (pixel / 255 - mean) / std. Default mean 0.5, std 0.5 (range [-1, 1]). */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

/** Floats per image: 3 * height * width. */
export function imageSize(options: { width: number; height: number }): number {
  return 3 * options.width * options.height;
}

export class Preprocessor {
  readonly width: number;
  readonly height: number;
  private readonly crops: Partial<Record<CameraRole, Crop | undefined>>;
  private readonly scale: Float32Array;
  private readonly shift: Float32Array;

  constructor(options: PreprocessOptions) {
    if (!Number.isInteger(options.width) || !Number.isInteger(options.height) || options.width < 1 || options.height < 1) {
      throw new RangeError(`model image size: expected positive integers, got ${options.width}x${options.height}`);
    }
    this.width = options.width;
    this.height = options.height;
    this.crops = options.crops ?? {};
    const mean = options.mean ?? [0.5, 0.5, 0.5];
    const std = options.std ?? [0.5, 0.5, 0.5];
    // value = pixel * scale + shift, with scale = 1 / (255 std), shift = -mean / std.
    this.scale = Float32Array.from(std, (s) => 1 / (255 * s));
    this.shift = Float32Array.from(mean, (m, c) => -m / std[c]!);
  }

  /** Floats one image takes in a buffer. */
  get imageFloats(): number {
    return imageSize(this);
  }

  /** Resized RGB bytes of one image for `role` (crop, resize; no normalisation). */
  async resizeRgb(image: ImageInput, role: CameraRole = 'front'): Promise<Uint8Array> {
    const crop = this.crops[role];
    if (isRawImage(image)) {
      checkRaw(image, role);
      if (!crop && image.width === this.width && image.height === this.height) return image.rgb;
    }
    let pipeline = isRawImage(image)
      ? sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } })
      : sharp(image, { failOn: 'error' });
    let sourceWidth: number;
    let sourceHeight: number;
    if (isRawImage(image)) {
      sourceWidth = image.width;
      sourceHeight = image.height;
    } else {
      let meta: { width?: number | undefined; height?: number | undefined };
      try {
        meta = await pipeline.metadata();
      } catch (error) {
        throw new InputError(`${role} image`, `expected JPEG or PNG bytes, got undecodable data (${(error as Error).message})`);
      }
      sourceWidth = meta.width ?? 0;
      sourceHeight = meta.height ?? 0;
    }
    if (crop) {
      const [x, y, w, h] = crop;
      if (x + w > sourceWidth || y + h > sourceHeight) {
        throw new InputError(`cameras.views (${role}).crop`, `expected [${crop.join(', ')}] inside the ${sourceWidth}x${sourceHeight} image, got a crop reaching ${x + w}x${y + h}`);
      }
      pipeline = pipeline.extract({ left: x, top: y, width: w, height: h });
    }
    try {
      const out = await pipeline
        .removeAlpha()
        .toColourspace('srgb')
        .resize(this.width, this.height, { fit: 'fill', kernel: 'linear' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      if (out.info.channels !== 3) throw new Error(`got ${out.info.channels} channels`);
      return out.data;
    } catch (error) {
      throw new InputError(`${role} image`, `expected a decodable image, got ${(error as Error).message}`);
    }
  }

  /** One image into `out` at `offset`, CHW, normalised. */
  async image(image: ImageInput, role: CameraRole, out: Float32Array, offset: number): Promise<void> {
    const rgb = await this.resizeRgb(image, role);
    this.normalise(rgb, out, offset);
  }

  /** The three views of a state in role order (missing wrist views repeat front): 3 images from `offset`. */
  async views(views: ViewSet, out: Float32Array, offset: number): Promise<void> {
    const size = this.imageFloats;
    await Promise.all(CAMERA_ROLES.map((role, i) => this.image(viewFor(views, role), role, out, offset + i * size)));
  }

  /** Resized RGB bytes (HWC) -> normalised floats (CHW) at `offset`. */
  normalise(rgb: Uint8Array, out: Float32Array, offset: number): void {
    const plane = this.width * this.height;
    if (rgb.length !== plane * 3) throw new RangeError(`normalise: expected ${plane * 3} bytes, got ${rgb.length}`);
    if (offset < 0 || offset + plane * 3 > out.length) throw new RangeError(`normalise: buffer of ${out.length} floats has no room at ${offset}`);
    const [s0, s1, s2] = this.scale as unknown as [number, number, number];
    const [b0, b1, b2] = this.shift as unknown as [number, number, number];
    for (let p = 0, q = 0; p < plane; p++, q += 3) {
      out[offset + p] = rgb[q]! * s0 + b0;
      out[offset + plane + p] = rgb[q + 1]! * s1 + b1;
      out[offset + 2 * plane + p] = rgb[q + 2]! * s2 + b2;
    }
  }
}

function checkRaw(image: RawImage, role: CameraRole): void {
  if (!Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width < 1 || image.height < 1) {
    throw new InputError(`${role} image`, `expected a positive integer size, got ${image.width}x${image.height}`);
  }
  if (image.rgb.length !== image.width * image.height * 3) {
    throw new InputError(`${role} image`, `expected ${image.width * image.height * 3} bytes of RGB for ${image.width}x${image.height}, got ${image.rgb.length}`);
  }
}
