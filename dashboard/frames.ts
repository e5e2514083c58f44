/**
 * Camera tiles: at a fixed rate, the newest frame of every camera is JPEG-encoded once (sharp)
 * and handed to the server, which sends the same bytes to every viewer. A tick is skipped when
 * the previous encoding has not finished, so a slow encoder never queues work.
 */
import sharp from 'sharp';
import type { Logger } from '../common/log.js';
import type { CameraFrame, FrameSource } from '../robot/types.js';

export interface EncodedFrame {
  camera: string;
  role: string;
  stampMs: number;
  width: number;
  height: number;
  /** Base64 JPEG. */
  jpeg: string;
}

export async function encodeJpeg(frame: CameraFrame, quality = 80): Promise<Buffer> {
  return sharp(frame.rgb, { raw: { width: frame.width, height: frame.height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

export class FrameStreamer {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly sentStamp = new Map<string, number>();
  private readonly newest = new Map<string, EncodedFrame>();
  private encoded = 0;
  private skippedEncoder = 0;

  constructor(
    private readonly cameras: readonly FrameSource[],
    private readonly fps: number,
    private readonly publish: (frame: EncodedFrame) => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), 1000 / this.fps);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The newest encoded frame of each camera, for viewers that just connected. */
  latest(): EncodedFrame[] {
    return [...this.newest.values()];
  }

  stats(): { framesEncoded: number; framesSkippedEncoder: number } {
    return { framesEncoded: this.encoded, framesSkippedEncoder: this.skippedEncoder };
  }

  async tick(): Promise<void> {
    if (this.busy) {
      this.skippedEncoder++;
      return;
    }
    this.busy = true;
    try {
      const fresh = this.cameras
        .map((camera) => camera.latest())
        .filter((frame): frame is CameraFrame => frame !== undefined && this.sentStamp.get(frame.camera) !== frame.stampMs);
      const encoded = await Promise.all(
        fresh.map(async (frame) => ({
          camera: frame.camera,
          role: frame.role,
          stampMs: frame.stampMs,
          width: frame.width,
          height: frame.height,
          jpeg: (await encodeJpeg(frame)).toString('base64'),
        })),
      );
      for (const frame of encoded) {
        this.encoded++;
        this.sentStamp.set(frame.camera, frame.stampMs);
        this.newest.set(frame.camera, frame);
        this.publish(frame);
      }
    } catch (error) {
      this.log.warn(`camera tile encoding failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.busy = false;
    }
  }
}
