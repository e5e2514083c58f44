/**
 * A synthetic task for tests: a coloured square slides across a plain background from its start
 * to its goal position, with a pause and a backwards wobble in the middle; the two wrist views are
 * close-ups that follow it. Progress is known exactly, so tests can check that training and
 * adaptation learn it without running the simulator.
 */
import type { Episode, RgbImage } from '../episode.js';
import { createRng } from '../rng.js';
import { memoryEpisode } from './memory-episode.js';

function canvas(width: number, height: number, background: readonly number[]): RgbImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i += 3) rgb.set(background, i);
  return { width, height, rgb };
}

function square(image: RgbImage, cx: number, cy: number, half: number, colour: readonly number[]): void {
  for (let y = Math.max(0, Math.round(cy - half)); y < Math.min(image.height, Math.round(cy + half)); y++) {
    for (let x = Math.max(0, Math.round(cx - half)); x < Math.min(image.width, Math.round(cx + half)); x++) image.rgb.set(colour, (y * image.width + x) * 3);
  }
}

/** One synthetic episode of `frames` frames (at least 10), seeded. */
export function syntheticEpisode(options: { seed: number; frames?: number; width?: number; height?: number; name?: string; stopAt?: number }): Episode {
  const rng = createRng(options.seed);
  const count = options.frames ?? 40;
  const width = options.width ?? 64;
  const height = options.height ?? 48;
  const colour = [200 + rng.int(55), 30 + rng.int(40), 30 + rng.int(40)];
  const background = [60 + rng.int(30), 90 + rng.int(30), 60 + rng.int(30)];
  const y = height * (0.3 + 0.4 * rng.next());
  const x0 = width * 0.15;
  const x1 = width * 0.85;
  const stopAt = options.stopAt ?? 1;
  const frames = Array.from({ length: count }, (_, t) => {
    const p = Math.min(stopAt, t / (count - 1));
    const x = x0 + (x1 - x0) * p;
    const front = canvas(width, height, background);
    square(front, x, y, height * 0.12, colour);
    // goal marker: a white outline spot where the square must end
    square(front, x1, height * 0.9, 2, [250, 250, 250]);
    const left = canvas(width, height, [background[0]! - 30, background[1]! - 30, background[2]! - 30]);
    square(left, width / 2 + (x - width / 2) * 0.5, height / 2, height * 0.3, colour);
    const right = canvas(width, height, [30, 30, 30]);
    square(right, width * p, height / 2, height * 0.25, [250, 250, 250]);
    return { front, left_wrist: left, right_wrist: right };
  });
  const half = Math.floor((count - 1) / 2);
  return memoryEpisode({
    name: options.name ?? `synthetic_${options.seed}`,
    instructions: ['slide the red square to the white mark', 'move the square onto the mark'],
    frames,
    segments: [
      { label: 'first half', startFrame: 0, endFrame: half },
      { label: 'second half', startFrame: half, endFrame: count - 1 },
    ],
  });
}
