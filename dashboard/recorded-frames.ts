/**
 * The camera frames serve records of every episode (one MCAP file each, written by
 * launch/episode-recorder.ts), read back as JPEG for the dashboard's episode replay.
 *
 * One recording is open at a time: an operator replays one episode, and each open file holds a
 * reader and a frame cache. A recording still being written is `<file>.partial` and is not seen;
 * the recorder renames it when the episode is complete.
 */
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { createLogger, type Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { openEpisode, type OpenedEpisode } from '../reward/open-episode.js';
import type { CameraRole } from '../robot/types.js';
import { recordingPath } from '../launch/episode-recorder.js';

export interface RecordingInfo {
  /** Observations recorded: the episode's steps + 1 (frame k is the observation after step k). */
  frames: number;
  /** Camera roles with frames in the recording. */
  views: CameraRole[];
  fps: number;
}

/** What the dashboard's routes read (RecordedFrames; tests may give a fake). */
export interface RecordedFrameSource {
  /** Null when the episode has no complete recording; a RecordingError when its file cannot be read. */
  info(episode: number): Promise<RecordingInfo | null>;
  /** Null when the episode, the frame or the view is not recorded; a RecordingError as info(). */
  frameJpeg(episode: number, frame: number, view: CameraRole): Promise<Buffer | null>;
}

/** A recording that exists but cannot be read (a corrupt or truncated file); its message is one line. */
export class RecordingError extends Error {
  override readonly name = 'RecordingError';
}

const JPEG_QUALITY = 80;
// Frames are decoded in runs and cached; a replay needs only a window around the slider.
const CACHE_BYTES = 64 * 1024 * 1024;

interface OpenRecording {
  episode: number;
  opened: Promise<OpenedEpisode>;
  /** Reads in progress: a replaced recording is closed when the last one ends. */
  users: number;
  replaced: boolean;
  closed: boolean;
}

export class RecordedFrames implements RecordedFrameSource {
  private readonly folder: string;
  private readonly config: Config;
  private readonly log: Logger;
  private current: OpenRecording | null = null;
  private readonly closing = new Set<Promise<void>>();
  private shut = false;

  constructor(options: { folder: string; config: Config; log?: Logger }) {
    this.folder = options.folder;
    this.config = options.config;
    this.log = options.log ?? createLogger('recorded-frames', 'silent');
  }

  async info(episode: number): Promise<RecordingInfo | null> {
    return this.read(episode, async (recording) => ({
      frames: recording.frameCount,
      views: [...recording.roles],
      fps: recording.fps,
    }));
  }

  async frameJpeg(episode: number, frame: number, view: CameraRole): Promise<Buffer | null> {
    return this.read(episode, async (recording) => {
      // A role without its own camera would repeat the front view: not recorded, so not shown.
      if (!recording.roles.includes(view)) return null;
      if (!Number.isInteger(frame) || frame < 0 || frame >= recording.frameCount) return null;
      const { width, height, rgb } = await recording.frame(view, frame);
      const raw = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
      return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: JPEG_QUALITY }).toBuffer();
    });
  }

  /** Closes the open recording (reads still in progress on it fail). */
  async close(): Promise<void> {
    this.shut = true;
    if (this.current) this.dispose(this.current);
    this.current = null;
    await Promise.all([...this.closing]);
  }

  private async read<T>(episode: number, use: (recording: OpenedEpisode) => Promise<T>): Promise<T | null> {
    if (this.shut) throw new Error('recorded frames: closed');
    const file = recordingPath(this.folder, episode);
    if (!existsSync(file)) return null;
    const open = this.current?.episode === episode ? this.current : this.open(episode, file);
    open.users++;
    try {
      return await use(await open.opened);
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
      throw new RecordingError(`episode ${episode}: recording not readable (${message})`);
    } finally {
      open.users--;
      if (open.replaced && open.users === 0) this.dispose(open);
    }
  }

  private open(episode: number, file: string): OpenRecording {
    if (this.current) {
      this.current.replaced = true;
      if (this.current.users === 0) this.dispose(this.current);
    }
    const open: OpenRecording = {
      episode,
      opened: openEpisode(file, this.config, { log: this.log, cacheBytes: CACHE_BYTES }),
      users: 0,
      replaced: false,
      closed: false,
    };
    // A file that failed to open is tried again on the next request, not kept.
    open.opened.catch(() => {
      if (this.current === open) this.current = null;
    });
    this.current = open;
    return open;
  }

  /** Closes a recording once it has opened (an open still in flight is closed when it lands). */
  private dispose(open: OpenRecording): void {
    if (open.closed) return;
    open.closed = true;
    const done = open.opened
      .then(
        (recording) => recording.close(),
        () => undefined,
      )
      .catch((error: unknown) => this.log.warn(`recording of episode ${open.episode} not closed: ${String(error)}`));
    this.closing.add(done);
    void done.then(() => this.closing.delete(done));
  }
}
