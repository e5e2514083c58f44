/** Helpers for tests that need small synthetic episodes: solid-colour frames as mp4 or PNG folders. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export type Rgb = [number, number, number];

/** A colour that encodes frame index k (k < 64) in three coarse levels, robust to lossy H.264. */
export function paletteColour(k: number): Rgb {
  return [40 + 60 * (k % 4), 40 + 60 * (Math.floor(k / 4) % 4), 40 + 60 * (Math.floor(k / 16) % 4)];
}

/** Inverse of paletteColour, from a decoded (slightly lossy) colour. */
export function paletteIndex([r, g, b]: Rgb): number {
  const level = (v: number): number => Math.max(0, Math.min(3, Math.round((v - 40) / 60)));
  return level(r) + 4 * level(g) + 16 * level(b);
}

export function solidFrame(width: number, height: number, colour: Rgb): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set(colour, p * 3);
  return rgb;
}

/** Colour of the pixel at the image centre. */
export function centreColour(image: { width: number; height: number; rgb: Uint8Array }): Rgb {
  const p = (Math.floor(image.height / 2) * image.width + Math.floor(image.width / 2)) * 3;
  return [image.rgb[p]!, image.rgb[p + 1]!, image.rgb[p + 2]!];
}

/** Encodes raw rgb24 frames with ffmpeg: H.264 with B-frames and a short GOP (to exercise seeking), MPEG-4 part 2 for .avi. */
export function writeVideo(file: string, frames: Uint8Array[], width: number, height: number, options: { fps?: number; gop?: number } = {}): void {
  const input = Buffer.concat(frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)));
  const result = spawnSync(
    'ffmpeg',
    [
      '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(options.fps ?? 10),
      '-i', 'pipe:0',
      ...(file.endsWith('.avi') ? ['-c:v', 'mpeg4', '-q:v', '2'] : ['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '10', '-bf', '2']),
      '-g', String(options.gop ?? 8),
      '-pix_fmt', 'yuv420p', file,
    ],
    { input },
  );
  if (result.status !== 0) throw new Error(`ffmpeg failed writing ${file}: ${result.stderr?.toString() ?? result.error?.message}`);
}

/** Writes frames as frame_000000.png ... into `dir` (lossless). */
export async function writePngFrames(dir: string, frames: Uint8Array[], width: number, height: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await Promise.all(
    frames.map((rgb, k) =>
      sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } })
        .png()
        .toFile(join(dir, `frame_${String(k).padStart(6, '0')}.png`)),
    ),
  );
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, JSON.stringify(value, null, 2));
}
