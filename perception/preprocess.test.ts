import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { RawImage } from './images.js';
import { viewsInRoleOrder } from './images.js';
import { Preprocessor } from './preprocess.js';

function gradient(width: number, height: number): RawImage {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = Math.round((255 * x) / (width - 1));
      rgb[i + 1] = Math.round((255 * y) / (height - 1));
      rgb[i + 2] = 128;
    }
  }
  return { width, height, rgb };
}

function solid(width: number, height: number, value: number): RawImage {
  return { width, height, rgb: new Uint8Array(width * height * 3).fill(value) };
}

describe('Preprocessor', () => {
  it('resizes raw RGB of any size to the model size, CHW, normalised to [-1, 1]', async () => {
    const pre = new Preprocessor({ width: 8, height: 6 });
    const out = new Float32Array(pre.imageFloats + 5).fill(99);
    await pre.image(gradient(640, 480), 'front', out, 5);
    expect(out.slice(0, 5).every((v) => v === 99)).toBe(true);
    const plane = 48;
    // red grows left to right, green top to bottom, blue constant 128 -> about 0.0039
    const red = (x: number, y: number): number => out[5 + y * 8 + x]!;
    const green = (x: number, y: number): number => out[5 + plane + y * 8 + x]!;
    expect(red(0, 3)).toBeLessThan(-0.8);
    expect(red(7, 3)).toBeGreaterThan(0.8);
    expect(green(4, 0)).toBeLessThan(-0.8);
    expect(green(4, 5)).toBeGreaterThan(0.8);
    for (let p = 0; p < plane; p++) expect(out[5 + 2 * plane + p]).toBeCloseTo(128 / 127.5 - 1, 2);
  });

  it('decodes JPEG and PNG bytes to the same tensor as the raw image', async () => {
    const image = gradient(32, 24);
    const png = await sharp(image.rgb, { raw: { width: 32, height: 24, channels: 3 } }).png().toBuffer();
    const jpeg = await sharp(image.rgb, { raw: { width: 32, height: 24, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    const pre = new Preprocessor({ width: 16, height: 12 });
    const fromRaw = new Float32Array(pre.imageFloats);
    const fromPng = new Float32Array(pre.imageFloats);
    const fromJpeg = new Float32Array(pre.imageFloats);
    await pre.image(image, 'front', fromRaw, 0);
    await pre.image(new Uint8Array(png), 'front', fromPng, 0);
    await pre.image(new Uint8Array(jpeg), 'front', fromJpeg, 0);
    expect(Array.from(fromPng)).toEqual(Array.from(fromRaw));
    const worst = fromJpeg.reduce((m, v, i) => Math.max(m, Math.abs(v - fromRaw[i]!)), 0);
    expect(worst).toBeLessThan(0.1);
  });

  it('crops per camera before resizing', async () => {
    // left half black, right half white; cropping the right half gives all white
    const width = 40;
    const height = 20;
    const image = solid(width, height, 0);
    for (let y = 0; y < height; y++) for (let x = 20; x < width; x++) image.rgb.fill(255, (y * width + x) * 3, (y * width + x) * 3 + 3);
    const pre = new Preprocessor({ width: 4, height: 4, crops: { left_wrist: [20, 0, 20, 20] } });
    const cropped = new Float32Array(pre.imageFloats);
    const uncropped = new Float32Array(pre.imageFloats);
    await pre.image(image, 'left_wrist', cropped, 0);
    await pre.image(image, 'front', uncropped, 0);
    expect(cropped.every((v) => v > 0.99)).toBe(true);
    expect(uncropped.some((v) => v < -0.99)).toBe(true);
    await expect(new Preprocessor({ width: 4, height: 4, crops: { front: [30, 0, 20, 20] } }).image(image, 'front', cropped, 0)).rejects.toThrow(
      /cameras\.views \(front\)\.crop: expected \[30, 0, 20, 20\] inside the 40x20 image/,
    );
  });

  it('writes the views of a state in role order, repeating front for missing wrists', async () => {
    const pre = new Preprocessor({ width: 4, height: 3 });
    const out = new Float32Array(3 * pre.imageFloats);
    await pre.views({ front: solid(10, 10, 0), right_wrist: solid(10, 10, 255) }, out, 0);
    const size = pre.imageFloats;
    expect(out.slice(0, size).every((v) => Math.abs(v + 1) < 1e-5)).toBe(true);
    expect(out.slice(size, 2 * size).every((v) => Math.abs(v + 1) < 1e-5)).toBe(true);
    expect(out.slice(2 * size).every((v) => Math.abs(v - 1) < 1e-5)).toBe(true);
    expect(viewsInRoleOrder({ front: solid(1, 1, 0) })).toHaveLength(3);
  });

  it('names bad images', async () => {
    const pre = new Preprocessor({ width: 4, height: 3 });
    const out = new Float32Array(pre.imageFloats);
    await expect(pre.image({ width: 10, height: 10, rgb: new Uint8Array(7) }, 'front', out, 0)).rejects.toThrow(/front image: expected 300 bytes of RGB for 10x10, got 7/);
    await expect(pre.image(new Uint8Array([1, 2, 3, 4]), 'right_wrist', out, 0)).rejects.toThrow(/right_wrist image: expected JPEG or PNG bytes/);
    await expect(pre.image(solid(4, 3, 0), 'front', new Float32Array(10), 0)).rejects.toThrow(/no room/);
  });
});
