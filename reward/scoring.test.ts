import { describe, expect, it } from 'vitest';
import type { RawImage, ViewSet } from '../perception/images.js';
import type { Episode } from './episode.js';
import type { HopQuery, RewardModel, TaskReferences } from './model.js';
import { scoreFrames } from './scoring.js';

/** Frame k is a 1x1 image whose red value is k; the forward hop of frame k is curve[k] (progress from 0 = the hop). */
const view = (k: number): ViewSet => ({ front: { width: 1, height: 1, rgb: Uint8Array.of(k, 0, 0) } });
function forwardModel(curve: readonly number[]): RewardModel {
  return {
    name: 'scripted',
    predict: async (_task: TaskReferences, queries: readonly HopQuery[]) => queries.map((q) => ({ hop: curve[(q.after.front as RawImage).rgb[0]!]! })),
    close: async () => undefined,
  };
}
const task: TaskReferences = { instruction: 'test', start: view(0), goal: view(0) };
const episode = { name: 'scripted' } as Episode;
const score = (curve: number[], window = 3) =>
  scoreFrames(forwardModel(curve), episode, task, curve.map((_, k) => k), { mode: 'forward', views: async (k) => view(k), completion: { threshold: 0.95, window } });

describe('scoreFrames completion (issue 31)', () => {
  it('a one-frame spike to 0.96 is not a success for the judge, though Eq. 58 calls it one', async () => {
    const spiked = await score([0, 0.5, 0.96, 0.6, 0.85]);
    expect(spiked.steps.map((s) => s.progress)).toEqual([0, 0.5, 0.96, 0.6, 0.85]);
    expect(spiked.completion).toBe('partial');
    expect(spiked.completionPaper).toBe('success');
  });

  it('progress held for the window is a success, whatever Eq. 58 says of the end', async () => {
    const held = await score([0, 0.5, 0.96, 0.97, 0.98, 0.1, 0.1, 0.1, 0.1]);
    expect(held.completion).toBe('success');
    expect(held.completionPaper).toBe('failure');
    expect((await score([0, 0.5, 0.96, 0.97, 0.98, 0.1, 0.1, 0.1, 0.1], 4)).completion).toBe('failure');
  });
});
