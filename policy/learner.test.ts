import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../common/log.js';
import type { ScoredEpisode } from './episode.js';
import type { LearnerSettings } from './learner.js';
import { LocalLearner, weighGripperSwitches } from './learner.js';
import { toRecord } from './records.js';
import type { Transition } from './replay.js';

const step = (gripper: number): Transition => ({ observation: [0], action: [0, 0, 0, 0, gripper], reward: 0, nextObservation: [0], terminal: false });

describe('gripper switches in demos', () => {
  it('weighs the steps whose gripper command changes sign (close at the cube, open over the bin), an episode starting open', () => {
    const demo = [-0.5, -0.5, 0.5, 0.5, 0.5, -0.5, -0.5].map(step);
    weighGripperSwitches(demo, 6);
    expect(demo.map((t) => t.weight ?? 1)).toEqual([1, 1, 6, 1, 1, 6, 1]);
  });

  it('counts a first step that closes as a switch, and leaves every weight at 1 with weight 1', () => {
    const closing = [0.5, 0.5].map(step);
    weighGripperSwitches(closing, 4);
    expect(closing.map((t) => t.weight ?? 1)).toEqual([4, 1]);
    const plain = [-0.5, 0.5, -0.5].map(step);
    weighGripperSwitches(plain, 1);
    expect(plain.map((t) => t.weight ?? 1)).toEqual([1, 1, 1]);
  });
});

/** A tiny learner for one-value observations. */
const testSettings = (overrides: Partial<LearnerSettings>): LearnerSettings => ({
  observationSize: 1, hidden: [8], batchSize: 4, learningRate: 1e-3, gamma: 0.99, tau: 0.005, initialAlpha: 0.01, seed: 1, demoCapacity: 100, bufferCapacity: 100,
  updatesPerStep: 1, bcSteps: 0, criticWarmupSteps: 0, rewardScale: 1, bcWeight: 1, nStep: 1, actorDelaySteps: 0, executionProvider: 'cpu', threads: 1, ...overrides,
});

describe('successful rollouts as demos', () => {
  const episode = (success: boolean, steps = 4): ScoredEpisode => ({
    seed: 1,
    observations: Array.from({ length: steps + 1 }, (_, t) => Float32Array.of(t)),
    actions: Array.from({ length: steps }, () => Float32Array.of(0.1, 0, 0, 0, 0.5)),
    envSuccess: Array.from({ length: steps }, (_, t) => success && t === steps - 1),
    progress: Array.from({ length: steps + 1 }, (_, t) => t / steps),
    rewards: Array.from({ length: steps }, () => 0.1),
    terminal: success,
    success,
    end: success ? 'success' : 'time-limit',
  });
  const settings = (successDemos: boolean): LearnerSettings => testSettings({ successDemos });

  it('with successDemos a successful training episode enters the demo buffer as well; a failed one, or any without it, only the online buffer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'learner-test-'));
    try {
      for (const on of [true, false]) {
        const learner = await LocalLearner.create(settings(on), dir, createLogger('test', 'error'));
        await learner.addRecord(toRecord('demo', 0, episode(true), 0.8));
        await learner.addRecord(toRecord('episode', 0, episode(false), 0.8));
        await learner.addRecord(toRecord('episode', 1, episode(true, 3), 0.8));
        expect(learner.online.size).toBe(7);
        expect(learner.demos.size).toBe(on ? 4 + 3 : 4);
        await learner.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the operator's intervention steps", () => {
  const episode: ScoredEpisode = {
    seed: 1,
    observations: Array.from({ length: 6 }, (_, t) => Float32Array.of(t)),
    actions: Array.from({ length: 5 }, (_, t) => Float32Array.of(t / 10, 0, 0, 0, 0)),
    envSuccess: [false, false, false, false, false],
    progress: [0, 0.1, 0.2, 0.3, 0.4, 0.5],
    rewards: [0.1, 0.1, 0.1, 0.1, 0.1],
    terminal: false,
    success: false,
    end: 'time-limit',
  };

  it('enter the demo buffer as well as the online one (HIL-SERL); indices outside the episode are refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'learner-test-'));
    try {
      const learner = await LocalLearner.create(testSettings({}), dir, createLogger('test', 'error'));
      await learner.addRecord({ ...toRecord('episode', 0, episode, 0.8), interventionSteps: [1, 2] });
      expect(learner.online.size).toBe(5);
      expect(learner.demos.size).toBe(2);
      // The demo rows are those steps' transitions: observation t, the operator's action, observation t + 1.
      const rows = [0, 1].map((i) => ({ o: learner.demos.observation[i], a: learner.demos.action[i * 5], next: learner.demos.nextObservation[i] }));
      expect(rows).toEqual([
        { o: 1, a: Math.fround(0.1), next: 2 },
        { o: 2, a: Math.fround(0.2), next: 3 },
      ]);
      await expect(learner.addRecord({ ...toRecord('episode', 1, episode, 0.8), interventionSteps: [5] })).rejects.toThrow(/expected intervention steps from 0 to 4, got 5/);
      await learner.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
