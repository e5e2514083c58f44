import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { completionRule, firstDone } from './completion.js';
import { discountedReturn, shapeEpisode, shapeTransition, type ShapingMode } from './shaping.js';

const unit = fc.double({ min: 0, max: 1, noNaN: true });

describe('reward shaping', () => {
  it('telescopes: sum_t gamma^t (gamma Phi(s_t+1) - Phi(s_t)) = gamma^T Phi(s_T) - P(s_0), Phi(s_T) = success or terminal potential if s_T is terminal', () => {
    fc.assert(
      fc.property(
        fc.array(unit, { minLength: 2, maxLength: 200 }),
        fc.double({ min: 0.5, max: 1, noNaN: true }),
        fc.boolean(),
        unit,
        unit,
        (progress, gamma, terminal, terminalPotential, successPotential) => {
          const options = { mode: 'pbrs' as const, gamma, terminalPotential, successPotential };
          const shaped = shapeEpisode({ progress, terminal }, options);
          const T = progress.length - 1;
          // the default success source: the completion judge says done first at s_T
          const success = firstDone(progress, completionRule()) === T;
          const finalPotential = terminal ? (success ? successPotential : terminalPotential) : progress[T]!;
          const expected = gamma ** T * finalPotential - progress[0]!;
          expect(discountedReturn(shaped.map((r) => r.shaping), gamma)).toBeCloseTo(expected, 9);
          // so the pbrs return is the sparse return plus a term that only depends on the end points
          const sparse = shapeEpisode({ progress, terminal }, { ...options, mode: 'sparse' });
          expect(discountedReturn(shaped.map((r) => r.reward), gamma)).toBeCloseTo(discountedReturn(sparse.map((r) => r.reward), gamma) + expected, 9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('computes each mode per transition', () => {
    const t = { progress: 0.4, nextProgress: 0.97, terminal: false };
    expect(shapeTransition(t, { mode: 'pbrs', gamma: 0.9 })).toMatchObject({ success: true, reward: 1 + 0.9 * 0.97 - 0.4 });
    expect(shapeTransition(t, { mode: 'naive', gamma: 0.9 }).reward).toBeCloseTo(0.57, 12);
    expect(shapeTransition(t, { mode: 'sparse' }).reward).toBe(1);
    expect(shapeTransition({ ...t, nextProgress: 0.94 }, { mode: 'sparse' }).reward).toBe(0);
    expect(shapeTransition({ ...t, nextProgress: 0.94 }, { mode: 'sparse', successDelta: 0.1 }).reward).toBe(1);
    // a successful terminal: Phi(s') = success potential (1 by default), whatever P(s') is
    expect(shapeTransition({ ...t, terminal: true }, { gamma: 0.9 }).reward).toBeCloseTo(1 + 0.9 - 0.4, 12);
    expect(shapeTransition({ ...t, terminal: true }, { gamma: 0.9, successPotential: 0 }).reward).toBeCloseTo(1 - 0.4, 12);
    expect(shapeTransition({ ...t, terminal: true }, { gamma: 0.9, successPotential: 0.5, terminalPotential: 0.2 }).reward).toBeCloseTo(1 + 0.45 - 0.4, 12);
    // any other terminal (a safety stop): Phi(s') = terminal potential (0 by default)
    expect(shapeTransition({ ...t, nextProgress: 0.6, terminal: true }, { gamma: 0.9 }).reward).toBeCloseTo(-0.4, 12);
    expect(shapeTransition({ ...t, nextProgress: 0.6, terminal: true }, { gamma: 0.9, terminalPotential: 0.5 }).reward).toBeCloseTo(0.45 - 0.4, 12);
    // default gamma is 0.99
    expect(shapeTransition({ progress: 0.5, nextProgress: 0.5, terminal: false }).reward).toBeCloseTo(0.99 * 0.5 - 0.5, 12);
  });

  it('judges an episode by the completion judge: one spike pays nothing, a held run pays r_success once, where the judge says done', () => {
    const spike = [0, 0.4, 0.97, 0.5, 0.6];
    expect(shapeEpisode({ progress: spike, terminal: false }, { mode: 'sparse', successWindow: 3 }).map((r) => r.reward)).toEqual([0, 0, 0, 0]);
    const held = [0, 0.4, 0.96, 0.97, 0.98, 0.99];
    const shaped = shapeEpisode({ progress: held, terminal: false }, { mode: 'sparse', successWindow: 3 });
    expect(shaped.map((r) => r.success)).toEqual([false, false, false, true, false]);
    expect(shaped.map((r) => r.reward)).toEqual([0, 0, 0, 1, 0]);
    // terminal at the judged state: the success potential there
    const ended = shapeEpisode({ progress: held.slice(0, 5), terminal: true }, { gamma: 0.9, successWindow: 3 });
    expect(ended.at(-1)!.reward).toBeCloseTo(1 + 0.9 * 1 - 0.97, 12);
    // the environment's flags are used as given with source env
    expect(shapeEpisode({ progress: spike, terminal: false, envSuccess: [false, true, false, false] }, { mode: 'sparse', success: 'env' }).map((r) => r.reward)).toEqual([0, 1, 0, 0]);
    expect(() => shapeEpisode({ progress: spike }, { successWindow: 1 })).toThrow(/success window/);
  });

  it('takes success from the environment or the operator when configured', () => {
    const t = { progress: 0.2, nextProgress: 0.99, terminal: true };
    expect(shapeTransition({ ...t, envSuccess: false }, { success: 'env', mode: 'sparse' }).success).toBe(false);
    expect(shapeTransition({ ...t, nextProgress: 0.1, envSuccess: true }, { success: 'env', mode: 'sparse' }).reward).toBe(1);
    expect(shapeTransition({ ...t, envSuccess: true }, { success: 'operator', mode: 'sparse' }).success).toBe(true);
    expect(shapeTransition(t, { success: 'operator', mode: 'sparse' }).success).toBe(false);
  });

  it('refuses NaN progress and gamma outside (0, 1]', () => {
    expect(() => shapeTransition({ progress: NaN, nextProgress: 0.5, terminal: false })).toThrow(RangeError);
    expect(() => shapeTransition({ progress: 0.1, nextProgress: 0.5, terminal: false }, { gamma: 1.5 })).toThrow(/gamma/);
    expect(() => shapeTransition({ progress: 0.1, nextProgress: 0.5, terminal: false }, { potentialWeight: -0.5 })).toThrow(/potential weight: expected a number >= 0, got -0.5/);
  });

  it('scales the potential by potentialWeight in pbrs only; weight 0 is the sparse reward', () => {
    const step = { progress: 0.4, nextProgress: 0.7, terminal: false };
    const goalStep = { progress: 0.9, nextProgress: 0.92, terminal: true, envSuccess: true };
    const full = shapeTransition(step, { gamma: 0.9 });
    const third = shapeTransition(step, { gamma: 0.9, potentialWeight: 0.3 });
    expect(third.potential).toBeCloseTo(0.3 * 0.4, 12);
    expect(third.nextPotential).toBeCloseTo(0.3 * 0.7, 12);
    expect(third.shaping).toBeCloseTo(0.3 * full.shaping, 12);
    expect(third.reward).toBeCloseTo(0.3 * (0.9 * 0.7 - 0.4), 12);
    // at the goal: r_success + w (gamma * successPotential - P(s))
    expect(shapeTransition(goalStep, { gamma: 0.9, success: 'env', potentialWeight: 0.3 }).reward).toBeCloseTo(1 + 0.3 * (0.9 - 0.9), 12);
    for (const t of [step, goalStep]) {
      expect(shapeTransition(t, { success: 'env', potentialWeight: 0 }).reward).toBe(shapeTransition(t, { success: 'env', mode: 'sparse' }).reward);
      expect(shapeTransition(t, { success: 'env', mode: 'naive', potentialWeight: 0.3 }).reward).toBe(shapeTransition(t, { success: 'env', mode: 'naive' }).reward);
    }
  });
});

/**
 * The semantic trap as a small deterministic episodic MDP. Progress rises along an approach to
 * a near-goal state N (P = 0.9). Finishing from N needs a re-grasp: progress drops to 0.1 and
 * climbs again to the goal G (P = 1, terminal, success). Actions: advance, stay, back.
 */
describe('semantic trap: naive shaping lingers near the goal, PBRS keeps the sparse-optimal policy', () => {
  const gamma = 0.9;
  const names = ['A0', 'A1', 'A2', 'A3', 'A4', 'N', 'D1', 'D2', 'D3', 'D4', 'D5', 'G'] as const;
  const progress = [0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.1, 0.3, 0.5, 0.7, 0.85, 1];
  const goal = names.length - 1;
  const actions = ['advance', 'stay', 'back'] as const;
  const next = (s: number, a: (typeof actions)[number]): number => (a === 'advance' ? s + 1 : a === 'stay' ? s : Math.max(0, s - 1));

  function solve(mode: ShapingMode, successPotential?: number, potentialWeight?: number): { values: number[]; policy: string[] } {
    const q = (values: number[], s: number, a: (typeof actions)[number]): number => {
      const s2 = next(s, a);
      const terminal = s2 === goal;
      const { reward } = shapeTransition({ progress: progress[s]!, nextProgress: progress[s2]!, terminal }, {
        mode,
        gamma,
        ...(successPotential === undefined ? {} : { successPotential }),
        ...(potentialWeight === undefined ? {} : { potentialWeight }),
      });
      return reward + (terminal ? 0 : gamma * values[s2]!);
    };
    let values = new Array<number>(names.length).fill(0);
    for (let sweep = 0; sweep < 10_000; sweep++) {
      const updated = values.map((_, s) => (s === goal ? 0 : Math.max(...actions.map((a) => q(values, s, a)))));
      const change = Math.max(...updated.map((v, s) => Math.abs(v - values[s]!)));
      values = updated;
      if (change < 1e-13) break;
    }
    const policy = names.slice(0, goal).map((_, s) => {
      const qs = actions.map((a) => q(values, s, a));
      return actions[qs.indexOf(Math.max(...qs))]!;
    });
    return { values, policy };
  }

  it('solves the three rewards exactly by value iteration and compares the optimal policies', () => {
    const sparse = solve('sparse');
    const pbrs = solve('pbrs', 0);
    const pbrsGoal = solve('pbrs');
    const naive = solve('naive');
    // sparse: always head for the goal, through the re-grasp
    expect(sparse.policy).toEqual(new Array(goal).fill('advance'));
    // pbrs: the same policy, and values shifted by exactly -P(s) (Ng et al. 1999 with Phi(terminal) = 0)
    expect(pbrs.policy).toEqual(sparse.policy);
    pbrs.values.slice(0, goal).forEach((v, s) => expect(v).toBeCloseTo(sparse.values[s]! - progress[s]!, 9));
    // the default goal potential 1: still the sparse policy; values are PBRS of the sparse task
    // with success reward 1 + gamma, i.e. (1 + gamma) V_sparse(s) - P(s)
    expect(pbrsGoal.policy).toEqual(sparse.policy);
    pbrsGoal.values.slice(0, goal).forEach((v, s) => expect(v).toBeCloseTo((1 + gamma) * sparse.values[s]! - progress[s]!, 9));
    // a weighted potential w P (w at the goal): still the sparse policy, values (1 + gamma w) V_sparse(s) - w P(s)
    for (const w of [0.3, 2]) {
      const weighted = solve('pbrs', undefined, w);
      expect(weighted.policy).toEqual(sparse.policy);
      weighted.values.slice(0, goal).forEach((v, s) => expect(v).toBeCloseTo((1 + gamma * w) * sparse.values[s]! - w * progress[s]!, 9));
    }
    // naive: reach the near-goal state and stay there forever
    expect(naive.policy.slice(0, 5)).toEqual(new Array(5).fill('advance'));
    expect(naive.policy[names.indexOf('N')]).toBe('stay');
    expect(naive.policy).not.toEqual(sparse.policy);
    // following the naive policy from A0 never reaches G: its sparse value is 0
    let s = 0;
    for (let step = 0; step < 100 && s !== goal; step++) s = next(s, naive.policy[s] as (typeof actions)[number]);
    expect(s).toBe(names.indexOf('N'));
  });
});
