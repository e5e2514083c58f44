import { describe, expect, it } from 'vitest';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';
import { SimEnvironment } from './environment.js';
import { rewardModelScorer, viewsOf } from './reward-model.js';
import { ProgressQueue } from './scorer.js';

const bounds = { maxStepM: 0.03, maxYawStepRad: 0.1, workspaceMin: [0.25, -0.3, 0.02] as [number, number, number], workspaceMax: [0.75, 0.3, 0.45] as [number, number, number] };

describe('the GRM as the RL loop\'s reward scorer', () => {
  it('scores simulator observations with GRM-tiny: one fused step per state, progress in [0, 1], s_0 at 0', async () => {
    const env = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds, cameras: { width: 128, height: 96 } });
    const model = await OnnxRewardModel.load(DEFAULT_GRM_TINY, { executionProvider: 'cpu' });
    const first = await env.reset(5);
    const goal = viewsOf(first.observation);
    const scorer = rewardModelScorer(model, { instruction: 'put the cube in the bin', goal });
    expect(scorer.privileged).toBe(false);
    expect(scorer.label).toMatch(/fused progress from/);
    const queue = new ProgressQueue(scorer.beginEpisode());
    queue.push(first);
    for (let t = 0; t < 3; t++) queue.push((await env.act({ dx: 0.03, dy: 0, dz: -0.03, dyaw: 0, gripper: 0 })).next);
    const progress = await queue.all();
    expect(progress).toHaveLength(4);
    expect(progress[0]).toBe(0);
    for (const p of progress) expect(p >= 0 && p <= 1).toBe(true);
    await model.close();
    await env.close();
  });

  it('needs rendered cameras', () => {
    expect(() => viewsOf({ state: { eePosition: [0, 0, 0], eeYaw: 0, gripperOpening: 1, jointPositions: [], stampMs: 0 }, frames: [] })).toThrow(/no front camera frame/);
  });
});
