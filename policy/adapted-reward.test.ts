import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/log.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { readReferences } from '../reward/task-references.js';
import { findTask } from '../robot/sim/tasks.js';
import { adaptedRewardModel } from './adapted-reward.js';
import { SimEnvironment } from './environment.js';

const dir = mkdtempSync(join(tmpdir(), 'adapted-reward-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bounds = { maxStepM: 0.03, maxYawStepRad: 0.1, workspaceMin: [0.25, -0.3, 0.02] as [number, number, number], workspaceMax: [0.75, 0.3, 0.45] as [number, number, number] };

describe('the adapted reward model of a run', () => {
  it('adapts GRM-tiny on one clean expert demo of the task, writes model + references into the run folder, and reuses them', async () => {
    const env = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds, cameras: { width: 128, height: 96 } });
    const options = { base: DEFAULT_GRM_TINY, dir, seed: 11, steps: 3, pairs: 40, log: createLogger('test', 'silent') };
    const path = await adaptedRewardModel(env, findTask('pick-place')!, options);
    expect(path).toBe(join(dir, 'adapted-grm-tiny.onnx'));
    const references = readReferences(path)!;
    expect(references.info.instructions[0]).toBe('put the cube in the bin');
    expect(references.info.source).toMatch(/^pick-place_demo_seed\d+$/);
    const written = statSync(path).mtimeMs;
    expect(await adaptedRewardModel(env, findTask('pick-place')!, options)).toBe(path);
    expect(statSync(path).mtimeMs).toBe(written); // cached: not adapted again
    await env.close();
  });
});
