/** Crop and resize of packed RGB frames with sharp: a camera's source pixels to the model's input size. */
import sharp from 'sharp';

export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export type Crop = readonly [number, number, number, number];

/** Crops [x, y, width, height] (source pixels) then resizes to width x height (fill). */
export async function cropAndResize(image: RgbImage, crop: Crop | undefined, width: number, height: number): Promise<RgbImage> {
  if (crop !== undefined) {
    const [x, y, w, h] = crop;
    if (x + w > image.width || y + h > image.height) {
      throw new RangeError(`crop [${crop.join(', ')}]: expected inside the ${image.width}x${image.height} frame`);
    }
  }
  const sourceWidth = crop?.[2] ?? image.width;
  const sourceHeight = crop?.[3] ?? image.height;
  if (crop === undefined && sourceWidth === width && sourceHeight === height) return image;
  let pipeline = sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (crop !== undefined) pipeline = pipeline.extract({ left: crop[0], top: crop[1], width: crop[2], height: crop[3] });
  if (sourceWidth !== width || sourceHeight !== height) pipeline = pipeline.resize(width, height, { fit: 'fill' });
  const data = await pipeline.raw().toBuffer();
  return { width, height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
