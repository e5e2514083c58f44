import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SimEnvironment } from './environment.js';
import { runEpisode, scoreEpisode } from './episode.js';
import { privilegedObservations } from './observation.js';
import { LineOperator } from './operator.js';
import { privilegedProgressScorer } from './scorer.js';

const bounds = { maxStepM: 0.03, maxYawStepRad: 0.1, workspaceMin: [0.25, -0.3, 0.02] as [number, number, number], workspaceMax: [0.75, 0.3, 0.45] as [number, number, number] };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('the operator at the terminal', () => {
  it('reads success and stop lines, reports unknown ones, and forgets them at the next episode', async () => {
    const input = new PassThrough();
    const unknown: string[] = [];
    const operator = new LineOperator(input, (l) => unknown.push(l));
    input.write('\n  S \n');
    await tick();
    expect(operator.successRequested()).toBe(true);
    expect(operator.stopRequested()).toBeUndefined();
    input.write('hello\nstop\n');
    await tick();
    expect(operator.stopRequested()).toMatch(/stop requested/);
    expect(unknown).toEqual(['hello']);
    operator.newEpisode();
    expect(operator.successRequested()).toBe(false);
    expect(operator.stopRequested()).toBeUndefined();
    operator.close();
  });

  it('ends an operator-judged episode as a terminal success where the operator said so', async () => {
    const env = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds, maxSteps: 30 });
    const input = new PassThrough();
    const operator = new LineOperator(input);
    input.write('s\n'); // a stale decision from before the episode: forgotten at its start
    await tick();
    let steps = 0;
    const collected = await runEpisode({
      env, encoder: privilegedObservations(8), scorer: privilegedProgressScorer(), limits: bounds, seed: 2, success: 'operator', successDelta: 0.05, operator,
      policy: async () => Float32Array.of(0, 0, 0, 0, -1),
      afterStep: async () => {
        if (++steps === 7) {
          input.write('success\n');
          await tick();
        }
      },
    });
    expect(collected.end).toBe('success');
    expect(collected.actions).toHaveLength(7);
    const scored = await scoreEpisode(collected, { mode: 'sparse', gamma: 0.99, successDelta: 0.05, success: 'operator', terminalPotential: 0, successPotential: 1 });
    expect(scored.terminal).toBe(true);
    expect(scored.rewards).toEqual([0, 0, 0, 0, 0, 0, 1]);
    operator.close();
    await env.close();
  });
});
