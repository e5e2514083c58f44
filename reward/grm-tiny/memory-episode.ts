/**
 * An episode held in memory (frames already decoded): the simulator's rollouts before or instead
 * of being written to disk, and synthetic episodes in tests.
 */
import type { CameraRole } from '../../robot/types.js';
import type { Episode, RgbImage, Segment } from '../episode.js';
import { validateSegments, wholeEpisodeSegment } from '../episode.js';

export interface MemoryEpisodeInit {
  name: string;
  instructions: readonly string[];
  /** frames[t] = the views of frame t; a missing wrist view repeats front. */
  frames: ReadonlyArray<Partial<Record<CameraRole, RgbImage>> & { front: RgbImage }>;
  segments?: readonly Segment[];
  fps?: number;
}

export function memoryEpisode(init: MemoryEpisodeInit): Episode {
  const frameCount = init.frames.length;
  const segments = init.segments && init.segments.length > 0 ? [...init.segments] : [wholeEpisodeSegment(frameCount)];
  validateSegments(segments, frameCount, `${init.name} keyframes`);
  const roles = (['front', 'left_wrist', 'right_wrist'] as const).filter((r) => init.frames[0]?.[r] !== undefined);
  return {
    name: init.name,
    instructions: init.instructions,
    roles,
    frameCount,
    fps: init.fps ?? 10,
    segments,
    annotated: init.segments !== undefined,
    async frame(role: CameraRole, index: number): Promise<RgbImage> {
      const views = init.frames[index];
      if (!views) throw new RangeError(`${init.name}: frame ${index} outside 0..${frameCount - 1}`);
      return views[role] ?? views.front;
    },
    async close(): Promise<void> {},
  };
}
