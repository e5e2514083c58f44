/**
 * Camera side of the ROS 2 bridge: one image subscription per configured view (sensor_msgs/Image
 * on /<camera>/<imageTopic>, or sensor_msgs/CompressedImage on that topic + /compressed) and its
 * sibling camera_info. Raw messages are synchronised by header stamp (ApproximateTime) first and
 * only the emitted sets are decoded, cropped and resized to the model's input size.
 */
import type { Logger } from '../../common/log.js';
import type { Config } from '../../config/schema.js';
import { cropAndResize } from '../../perception/resize.js';
import { ApproximateTimeSync, type SyncStats } from '../../perception/sync.js';
import type { CameraFrame, CameraRole, FrameSource } from '../types.js';
import { compressedToRgb, imageToRgb, msFromTime, ROS_TYPES, type CameraInfoMsg, type CompressedImageMsg, type ImageMsg } from './messages.js';
import type { RosNode } from './rclnodejs.js';

type View = Config['cameras']['views'][number];

export interface CameraTopics {
  role: CameraRole;
  camera: string;
  crop: View['crop'];
  image: string;
  compressed: boolean;
  info: string;
}

function topicJoin(...parts: string[]): string {
  return `/${parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== '').join('/')}`;
}

/** Topics of each configured view: /<camera>/image_raw[/compressed] and /<camera>/camera_info. */
export function cameraTopics(config: Config): CameraTopics[] {
  const ros2 = config.robot.ros2;
  const compressed = ros2.cameraTransport === 'compressed';
  return config.cameras.views.map((view) => {
    const image = topicJoin(view.name, ros2.imageTopic);
    const siblings = image.split('/').slice(0, -1);
    return {
      role: view.role,
      camera: view.name,
      crop: view.crop,
      image: compressed ? `${image}/compressed` : image,
      compressed,
      info: topicJoin(...siblings, 'camera_info'),
    };
  });
}

/** Per-view extras next to the synchroniser's counters. */
export interface CameraStats extends SyncStats {
  cameraInfo: { camera: string; width: number; height: number; distortionModel: string; matchesImage: boolean | null }[];
  decodeErrors: number[];
}

interface RawFrame {
  compressed: boolean;
  message: ImageMsg | CompressedImageMsg;
}

class LatestFrame implements FrameSource {
  frame: CameraFrame | undefined;
  constructor(
    readonly role: CameraRole,
    readonly camera: string,
  ) {}
  latest(): CameraFrame | undefined {
    return this.frame;
  }
}

export class Ros2Cameras {
  readonly topics: CameraTopics[];
  readonly sources: LatestFrame[];
  private readonly sync: ApproximateTimeSync<RawFrame>;
  private readonly now: () => number;
  private readonly infos: (CameraInfoMsg | undefined)[];
  private readonly sourceSizes: ({ width: number; height: number } | undefined)[];
  private readonly decodeErrors: number[];
  private latestSet: CameraFrame[] | undefined;
  private setSequence = 0;
  private storedSequence = 0;
  private waiters: ((frames: CameraFrame[]) => void)[] = [];
  /** Stamps and arrival times of the recent image messages per view, for `calibrate check`. */
  private readonly seen: { stampsMs: number[]; arrivalsMs: number[] }[];

  constructor(
    node: RosNode,
    private readonly config: Config,
    private readonly log: Logger,
    now: () => number = Date.now,
  ) {
    this.topics = cameraTopics(config);
    this.sources = this.topics.map((t) => new LatestFrame(t.role, t.camera));
    this.infos = this.topics.map(() => undefined);
    this.sourceSizes = this.topics.map(() => undefined);
    this.decodeErrors = this.topics.map(() => 0);
    this.seen = this.topics.map(() => ({ stampsMs: [], arrivalsMs: [] }));
    this.now = now;
    this.sync = new ApproximateTimeSync<RawFrame>({
      views: this.topics.map((t) => t.camera),
      queueSize: config.cameras.sync.queueSize,
      slopMs: config.cameras.sync.slopMs,
      now,
    });
    this.topics.forEach((topic, i) => {
      node.createSubscription(topic.compressed ? ROS_TYPES.compressedImage : ROS_TYPES.image, topic.image, { sensorData: true }, (message) => {
        this.onImage(i, topic.compressed, message as ImageMsg | CompressedImageMsg);
      });
      node.createSubscription(ROS_TYPES.cameraInfo, topic.info, {}, (message) => {
        this.infos[i] = message as CameraInfoMsg;
      });
    });
  }

  /** Offers one image message of view i (what the subscription callback does). */
  onImage(i: number, compressed: boolean, message: ImageMsg | CompressedImageMsg): void {
    const stampMs = msFromTime(message.header.stamp);
    const seen = this.seen[i]!;
    if (seen.stampsMs.length >= 10_000) {
      seen.stampsMs.shift();
      seen.arrivalsMs.shift();
    }
    seen.stampsMs.push(stampMs);
    seen.arrivalsMs.push(this.now());
    const sets = this.sync.add(i, stampMs, { compressed, message });
    for (const set of sets) void this.decodeSet(set.messages.map((m) => m.value));
  }

  private async decodeSet(raw: RawFrame[]): Promise<void> {
    const sequence = ++this.setSequence;
    const { width, height } = this.config.cameras;
    let frames: CameraFrame[];
    try {
      frames = await Promise.all(
        raw.map(async (item, i) => {
          const topic = this.topics[i]!;
          try {
            const decoded = item.compressed ? await compressedToRgb(item.message as CompressedImageMsg, topic.image) : imageToRgb(item.message as ImageMsg, topic.image);
            this.sourceSizes[i] = { width: decoded.width, height: decoded.height };
            const image = await cropAndResize(decoded, topic.crop, width, height);
            return { role: topic.role, camera: topic.camera, width, height, rgb: image.rgb, stampMs: msFromTime(item.message.header.stamp) };
          } catch (error) {
            // A bad frame is logged and counted; the set is skipped, the stream goes on.
            this.decodeErrors[i]! += 1;
            if (this.decodeErrors[i] === 1 || this.decodeErrors[i]! % 100 === 0) this.log.warn(`${topic.image}: ${(error as Error).message} (${this.decodeErrors[i]} so far)`);
            throw error;
          }
        }),
      );
    } catch {
      return;
    }
    if (sequence < this.storedSequence) return; // a newer set finished decoding first
    this.storedSequence = sequence;
    this.latestSet = frames;
    frames.forEach((frame, i) => {
      this.sources[i]!.frame = frame;
    });
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve(frames);
  }

  /** The newest synchronised, decoded set (one frame per view, in view order). */
  latest(): CameraFrame[] | undefined {
    return this.latestSet;
  }

  /** The next set decoded after this call, or the current one when `fresh` is false and one exists. */
  async nextSet(timeoutMs: number, fresh = false): Promise<CameraFrame[]> {
    if (!fresh && this.latestSet !== undefined) return this.latestSet;
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`cameras: no synchronised set of ${this.topics.map((t) => t.image).join(', ')} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (frames: CameraFrame[]): void => {
        clearTimeout(timer);
        resolve(frames);
      };
      this.waiters.push(done);
    });
  }

  /** Recent stamps and arrivals per view, with the source size and camera_info seen. */
  timings(): { topic: CameraTopics; stampsMs: number[]; arrivalsMs: number[]; size: { width: number; height: number } | undefined; cameraInfo: CameraInfoMsg | undefined }[] {
    return this.topics.map((topic, i) => ({ topic, ...this.seen[i]!, size: this.sourceSizes[i], cameraInfo: this.infos[i] }));
  }

  stats(): CameraStats {
    return {
      ...this.sync.stats(),
      cameraInfo: this.infos.flatMap((info, i) => {
        if (info === undefined) return [];
        const size = this.sourceSizes[i];
        return [
          {
            camera: this.topics[i]!.camera,
            width: info.width,
            height: info.height,
            distortionModel: info.distortion_model,
            matchesImage: size === undefined ? null : size.width === info.width && size.height === info.height,
          },
        ];
      }),
      decodeErrors: [...this.decodeErrors],
    };
  }
}
