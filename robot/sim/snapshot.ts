/** The three camera views of a task's first state, side by side in one PNG. */
import sharp from 'sharp';
import type { CameraFrame } from '../types.js';

/** Joins frames left to right with a thin dark gap, into one RGB PNG. */
export async function framesSideBySide(frames: readonly CameraFrame[], gap = 4): Promise<Buffer> {
  if (frames.length === 0) throw new Error('snapshot: no camera frames');
  const height = Math.max(...frames.map((f) => f.height));
  const width = frames.reduce((sum, f) => sum + f.width, 0) + gap * (frames.length - 1);
  const canvas = Buffer.alloc(width * height * 3, 24);
  let x0 = 0;
  for (const frame of frames) {
    for (let row = 0; row < frame.height; row++) {
      const from = row * frame.width * 3;
      canvas.set(frame.rgb.subarray(from, from + frame.width * 3), (row * width + x0) * 3);
    }
    x0 += frame.width + gap;
  }
  return sharp(canvas, { raw: { width, height, channels: 3 } }).png().toBuffer();
}
