/**
 * Appearance variants of a demo for one-shot adaptation. One demo shows one colouring and one
 * layout of the scene; the episodes the adapted model then judges show others. A variant
 * re-colours every image of the demo the same way (a hue rotation, so grey surfaces stay grey)
 * and may mirror it left-right (objects change side; the wrist cameras swap roles), so the head
 * learns progress that does not hinge on the demo's colours and positions. Done with sharp on
 * the model-size bytes.
 */
import sharp from 'sharp';
import type { Rng } from '../rng.js';
import type { FrameViews } from './dataset.js';

export interface AppearanceVariant {
  /** Hue rotation in degrees. */
  hue: number;
  /** Mirror left-right (and swap the two wrist views). */
  mirror: boolean;
}

/** `count` variants drawn from `rng`: hues spread around the circle, every other one mirrored. */
export function drawVariants(count: number, rng: Rng): AppearanceVariant[] {
  return Array.from({ length: count }, (_, i) => ({ hue: Math.round((360 * (i + rng.next())) / count) % 360, mirror: i % 2 === 1 }));
}

async function variantImage(rgb: Uint8Array, width: number, height: number, variant: AppearanceVariant): Promise<Uint8Array> {
  let pipeline = sharp(rgb, { raw: { width, height, channels: 3 } });
  if (variant.hue !== 0) pipeline = pipeline.modulate({ hue: variant.hue });
  if (variant.mirror) pipeline = pipeline.flop();
  const out = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (out.data.length !== rgb.length) throw new Error(`appearance variant: expected ${rgb.length} bytes, got ${out.data.length}`);
  return new Uint8Array(out.data);
}

/** One frame's views (front, left wrist, right wrist) under a variant. */
export async function variantViews(views: FrameViews, width: number, height: number, variant: AppearanceVariant): Promise<FrameViews> {
  const [front, left, right] = await Promise.all(views.map((view) => variantImage(view, width, height, variant)));
  // Mirrored, the left wrist camera sees what the right one would.
  return variant.mirror ? [front!, right!, left!] : [front!, left!, right!];
}
