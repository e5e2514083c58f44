/**
 * Video files through the system ffmpeg: ffprobe for the frame count and timestamps (packets
 * only, no decoding), ffmpeg for decoding a run of frames to raw rgb24 on a pipe.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { InputError } from '../common/errors.js';

const INSTALL_HINT =
  'expected ffmpeg and ffprobe on PATH to read episode videos; install them (Debian/Ubuntu: `sudo apt-get install ffmpeg`, ' +
  'macOS: `brew install ffmpeg`, Windows: `winget install ffmpeg`) or set DOPAMINE_FFMPEG / DOPAMINE_FFPROBE to their paths';

export function ffmpegPath(): string {
  return process.env.DOPAMINE_FFMPEG ?? 'ffmpeg';
}
export function ffprobePath(): string {
  return process.env.DOPAMINE_FFPROBE ?? 'ffprobe';
}

interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function run(program: string, args: string[], onStdout?: (chunk: Buffer) => void): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (onStdout ? onStdout(chunk) : out.push(chunk)));
    child.stderr.on('data', (chunk: Buffer) => {
      if (err.length < 4000) err += chunk.toString('utf8');
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(new InputError(program, INSTALL_HINT));
      else reject(error);
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err.trim() }));
  });
}

/** The last line of ffmpeg's error output, for one-line messages. */
function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1] ?? 'no error text';
}

export interface VideoInfo {
  width: number;
  height: number;
  fps: number;
  frameCount: number;
  /** Presentation time of each frame in seconds relative to the file's start, ascending. */
  frameTimes: number[];
  /**
   * Whether ffmpeg's exact input seek lands on the right frame for this container (mp4, mov,
   * mkv, webm). Others (AVI's index marks every frame as a keyframe) are decoded from the start.
   */
  seekable: boolean;
}

const SEEKABLE_EXTENSIONS = ['.mp4', '.m4v', '.mov', '.mkv', '.webm'];

function parseRate(rate: string | undefined): number {
  if (rate === undefined) return NaN;
  const [num, den] = rate.split('/').map(Number) as [number, number | undefined];
  return den === undefined ? num : den === 0 ? NaN : num / den;
}

/** Frame count, size, rate and frame times of the first video stream; InputError naming `file`. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  const result = await run(ffprobePath(), [
    '-v', 'error', '-select_streams', 'v:0',
    '-show_entries', 'stream=width,height,r_frame_rate,avg_frame_rate,time_base:format=start_time:packet=pts,flags',
    '-of', 'json', file,
  ]);
  if (result.code !== 0) throw new InputError(file, `unreadable video (${lastLine(result.stderr)})`);
  let parsed: {
    streams?: { width?: number; height?: number; r_frame_rate?: string; avg_frame_rate?: string; time_base?: string }[];
    packets?: { pts?: number; flags?: string }[];
    format?: { start_time?: string };
  };
  try {
    parsed = JSON.parse(result.stdout.toString('utf8')) as typeof parsed;
  } catch {
    throw new InputError(file, 'unreadable video (ffprobe gave no readable description)');
  }
  const stream = parsed.streams?.[0];
  if (stream === undefined || !stream.width || !stream.height) throw new InputError(file, 'unreadable video (no video stream)');
  const timeBase = parseRate(stream.time_base);
  // Packets flagged D are dropped by the demuxer's edit list and never become frames.
  const packets = (parsed.packets ?? []).filter((p) => !(p.flags ?? '').includes('D'));
  if (packets.length === 0) throw new InputError(file, 'unreadable video (no frames)');
  const start = Number(parsed.format?.start_time ?? '0') || 0;
  let fps = parseRate(stream.avg_frame_rate);
  if (!Number.isFinite(fps) || fps <= 0) fps = parseRate(stream.r_frame_rate);
  if (!Number.isFinite(fps) || fps <= 0) fps = 30;
  // Containers without packet timestamps: frames are evenly spaced from the start.
  const withPts = packets.every((p) => typeof p.pts === 'number') && Number.isFinite(timeBase);
  const frameTimes = withPts ? packets.map((p) => p.pts! * timeBase - start).sort((a, b) => a - b) : packets.map((_, k) => k / fps);
  const seekable = SEEKABLE_EXTENSIONS.some((ext) => file.toLowerCase().endsWith(ext));
  return { width: stream.width, height: stream.height, fps, frameCount: packets.length, frameTimes, seekable };
}

export interface DecodeSize {
  width: number;
  height: number;
}

export interface DecodeOptions extends Partial<DecodeSize> {
  /** Crop [x, y, width, height] in source pixels, applied before scaling. */
  crop?: [number, number, number, number] | undefined;
}

/** ffmpeg arguments that decode from frame `first` (and, with `count`, stop after count frames) to rgb24 on stdout. */
function decodeArgs(file: string, info: VideoInfo, first: number, count: number | undefined, options: DecodeOptions): { args: string[]; frameBytes: number } {
  const crop = options.crop;
  const width = options.width ?? crop?.[2] ?? info.width;
  const height = options.height ?? crop?.[3] ?? info.height;
  const args = ['-v', 'error', '-nostdin'];
  const filters: string[] = [];
  if (first > 0 && info.seekable) {
    // Halfway between frame first-1 and first: ffmpeg's exact seek then starts output at `first`.
    const seek = (info.frameTimes[first - 1]! + info.frameTimes[first]!) / 2;
    args.push('-ss', seek.toFixed(6));
  } else if (first > 0) {
    filters.push(`select=gte(n\\,${first})`);
  }
  args.push('-i', file, '-map', '0:v:0');
  if (count !== undefined) args.push('-frames:v', String(count));
  if (crop !== undefined) filters.push(`crop=${crop[2]}:${crop[3]}:${crop[0]}:${crop[1]}`);
  if (width !== (crop?.[2] ?? info.width) || height !== (crop?.[3] ?? info.height)) filters.push(`scale=${width}:${height}:flags=area`);
  if (filters.length > 0) args.push('-vf', filters.join(','));
  args.push('-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return { args, frameBytes: width * height * 3 };
}

/**
 * Decodes `count` frames starting at frame `first` as rgb24, optionally cropped and scaled, in one
 * ffmpeg run. Containers that do not seek exactly are decoded from the start, dropping earlier frames.
 */
export async function decodeFrames(file: string, info: VideoInfo, first: number, count: number, options: DecodeOptions = {}): Promise<Uint8Array[]> {
  const { args, frameBytes } = decodeArgs(file, info, first, count, options);
  const frames: Uint8Array[] = [];
  let pending: Buffer = Buffer.alloc(0);
  const result = await run(ffmpegPath(), args, (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= frameBytes) {
      frames.push(new Uint8Array(pending.subarray(0, frameBytes)));
      pending = pending.subarray(frameBytes);
    }
  });
  if (result.code !== 0) throw new InputError(file, `unreadable video (${lastLine(result.stderr)})`);
  if (frames.length < count) {
    throw new InputError(file, `unreadable video: expected frames ${first}..${first + count - 1}, decoding gave ${frames.length} from frame ${first}`);
  }
  return frames;
}

type RefSocket = Readable & { ref?: () => void; unref?: () => void };

/** One running ffmpeg that decodes forward from a frame; paused by back-pressure when nobody reads. */
interface RunningDecode {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** Index of the next frame this process will hand out. */
  position: number;
  queue: Uint8Array[];
  ended: boolean;
  error: Error | undefined;
  wake: (() => void) | undefined;
}

/**
 * Sequential-friendly random access to one video: a forward request near the decoder's position
 * reads on from the running ffmpeg (no new seek, no re-decoding from the keyframe); other
 * requests restart it with an exact seek. Calls must not overlap (the caller serialises them).
 */
export class VideoStream {
  private running: RunningDecode | undefined;
  private readonly maxQueue = 4;

  constructor(
    private readonly file: string,
    private readonly info: VideoInfo,
    private readonly options: DecodeOptions = {},
  ) {}

  /** Index of the next frame the running decoder would give (undefined when none runs). */
  get position(): number | undefined {
    return this.running?.position;
  }

  /**
   * Decodes through frame `index` and returns every frame read on the way, first index included.
   * Reads on from the running decoder when it is at most `maxSkip` frames before `index`; else
   * restarts at `restartAt` (default `index`, never after it).
   */
  async readThrough(index: number, maxSkip: number, restartAt = index): Promise<{ first: number; frames: Uint8Array[] }> {
    if (!Number.isInteger(index) || index < 0 || index >= this.info.frameCount) {
      throw new RangeError(`frame index: expected an integer in 0..${this.info.frameCount - 1}, got ${index}`);
    }
    const current = this.running;
    if (current === undefined || current.ended || index < current.position || index > current.position + maxSkip) {
      this.start(Math.max(0, Math.min(restartAt, index)));
    }
    const decode = this.running!;
    const first = decode.position;
    const frames: Uint8Array[] = [];
    while (decode.position <= index) frames.push(await this.next(decode));
    return { first, frames };
  }

  private start(first: number): void {
    this.stop();
    const { args, frameBytes } = decodeArgs(this.file, this.info, first, undefined, this.options);
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const decode: RunningDecode = { child, position: first, queue: [], ended: false, error: undefined, wake: undefined };
    this.running = decode;
    let pending: Buffer = Buffer.alloc(0);
    let stderr = '';
    const wake = (): void => {
      const w = decode.wake;
      decode.wake = undefined;
      w?.();
    };
    child.stdout.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= frameBytes) {
        decode.queue.push(new Uint8Array(pending.subarray(0, frameBytes)));
        pending = pending.subarray(frameBytes);
      }
      if (decode.queue.length >= this.maxQueue) child.stdout.pause();
      wake();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString('utf8');
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      decode.ended = true;
      decode.error = error.code === 'ENOENT' ? new InputError(ffmpegPath(), INSTALL_HINT) : error;
      wake();
    });
    child.on('close', (code, signal) => {
      decode.ended = true;
      if (decode.error === undefined && code !== 0 && signal === null) decode.error = new InputError(this.file, `unreadable video (${lastLine(stderr)})`);
      wake();
    });
    // An idle decoder must not keep the process alive; next() refs it while waiting.
    child.unref();
    (child.stdout as RefSocket).unref?.();
    (child.stderr as RefSocket).unref?.();
  }

  private async next(decode: RunningDecode): Promise<Uint8Array> {
    for (;;) {
      const frame = decode.queue.shift();
      if (frame !== undefined) {
        decode.position += 1;
        if (decode.queue.length < this.maxQueue && !decode.ended) decode.child.stdout.resume();
        return frame;
      }
      if (decode.ended) {
        throw decode.error ?? new InputError(this.file, `unreadable video: decoding ended before frame ${decode.position} of ${this.info.frameCount}`);
      }
      const stdout = decode.child.stdout as RefSocket;
      stdout.ref?.();
      await new Promise<void>((resolve) => (decode.wake = resolve));
      stdout.unref?.();
    }
  }

  /** Stops the running decoder, if any. */
  stop(): void {
    const decode = this.running;
    this.running = undefined;
    if (decode === undefined || decode.ended) return;
    decode.ended = true;
    decode.child.stdout.destroy();
    decode.child.kill('SIGKILL');
  }
}
