/**
 * What the reward side needs from one recorded demonstration or rollout, whatever stores it: the
 * folder layout of the reference data (reward/episode-folder.ts), the simulator's recorder, or a
 * ROS 2 MCAP bag. Frames are fetched one at a time, so a source may decode lazily.
 */
import type { CameraRole } from '../robot/types.js';
import { InputError } from '../common/errors.js';

/** One sub-task between two keyframes; neighbours may share the boundary frame. */
export interface Segment {
  /** Text label of the sub-task (`anotation` / `annotation` in the reference data). */
  label: string;
  startFrame: number;
  endFrame: number;
}

/** A decoded image: packed 8-bit RGB, row-major, no padding (width * height * 3 bytes). */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export interface Episode {
  /** Episode name (the folder name, episode_001). */
  readonly name: string;
  /** Task instruction paraphrases; at least one. */
  readonly instructions: readonly string[];
  /** Roles with a real camera behind them; front is always present. */
  readonly roles: readonly CameraRole[];
  /** Frames per camera (every camera has the same count). */
  readonly frameCount: number;
  /** Frames per second. */
  readonly fps: number;
  /** Sub-tasks in time order; one segment over the whole episode when none were annotated. */
  readonly segments: readonly Segment[];
  /** False when the segments were not annotated but default to the whole episode. */
  readonly annotated: boolean;
  /**
   * Frame `index` seen by camera `role`. A role without its own camera returns the front view
   * (what the reference does with one camera).
   */
  frame(role: CameraRole, index: number): Promise<RgbImage>;
  /** Releases decoders and caches. */
  close(): Promise<void>;
}

/**
 * Checks sub-tasks against the episode: each non-empty, in time order, not overlapping (sharing
 * the boundary frame is allowed), inside [0, frameCount - 1]. `file` names the input in errors.
 */
export function validateSegments(segments: readonly Segment[], frameCount: number, file: string): void {
  if (segments.length === 0) throw new InputError(file, 'expected at least one sub-task, got an empty list');
  segments.forEach((segment, i) => {
    const where = `sub-task ${i + 1} (${segment.label || 'unnamed'})`;
    if (segment.endFrame <= segment.startFrame) {
      throw new InputError(file, `${where}: expected end_frame_id above start_frame_id, got ${segment.startFrame}..${segment.endFrame}`);
    }
    if (segment.startFrame < 0 || segment.endFrame > frameCount - 1) {
      throw new InputError(file, `${where}: frames ${segment.startFrame}..${segment.endFrame} are outside the video (frames 0..${frameCount - 1})`);
    }
    const previous = segments[i - 1];
    if (previous === undefined) return;
    if (segment.startFrame < previous.startFrame) {
      throw new InputError(file, `${where}: out of order, starts at ${segment.startFrame} before sub-task ${i} starts (${previous.startFrame})`);
    }
    if (segment.startFrame < previous.endFrame) {
      throw new InputError(file, `${where}: overlaps sub-task ${i}, starts at ${segment.startFrame} before it ends (${previous.endFrame})`);
    }
  });
}

/** The segment used when an episode has no annotation: the whole video. */
export function wholeEpisodeSegment(frameCount: number): Segment {
  return { label: 'whole episode', startFrame: 0, endFrame: Math.max(1, frameCount - 1) };
}
