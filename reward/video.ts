/**
 * Video files through the system ffmpeg: ffprobe for the frame count and timestamps (packets
 * only, no decoding), ffmpeg for decoding a run of frames to raw rgb24 on a pipe.
 */
import { spawn } from 'node:child_process';
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

/**
 * Decodes `count` frames starting at frame `first` as rgb24, optionally cropped and scaled. Seeks to
 * halfway between frame first-1 and first, so that ffmpeg's exact seek starts output at frame
 * `first`; containers that do not seek exactly are decoded from the start, dropping earlier frames.
 */
export async function decodeFrames(
  file: string,
  info: VideoInfo,
  first: number,
  count: number,
  options: Partial<DecodeSize> & { crop?: [number, number, number, number] | undefined } = {},
): Promise<Uint8Array[]> {
  const crop = options.crop;
  const width = options.width ?? crop?.[2] ?? info.width;
  const height = options.height ?? crop?.[3] ?? info.height;
  const frameBytes = width * height * 3;
  const args = ['-v', 'error', '-nostdin'];
  const filters: string[] = [];
  if (first > 0 && info.seekable) {
    const seek = (info.frameTimes[first - 1]! + info.frameTimes[first]!) / 2;
    args.push('-ss', seek.toFixed(6));
  } else if (first > 0) {
    filters.push(`select=gte(n\\,${first})`);
  }
  args.push('-i', file, '-map', '0:v:0', '-frames:v', String(count));
  if (crop !== undefined) filters.push(`crop=${crop[2]}:${crop[3]}:${crop[0]}:${crop[1]}`);
  if (width !== (crop?.[2] ?? info.width) || height !== (crop?.[3] ?? info.height)) filters.push(`scale=${width}:${height}:flags=area`);
  if (filters.length > 0) args.push('-vf', filters.join(','));
  args.push('-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
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
