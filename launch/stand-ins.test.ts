import { describe, expect, it } from 'vitest';
import { KinematicTestRobot } from '../robot/testing.js';
import { DistanceProgressStandIn, ScriptedReachStandIn, seededRandom, standInGoal } from './stand-ins.js';

describe('stand-ins (labelled, until the RL loop and the reward model are merged)', () => {
  it('say what they are', () => {
    expect(new ScriptedReachStandIn([0, 0, 0], 0.01).label).toMatch(/^stand-in policy/);
    expect(new DistanceProgressStandIn([0, 0, 0], 0.99).label).toMatch(/^stand-in progress/);
  });

  it('repeat with a seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });

  it('progress rises toward 1 as the scripted reach closes in, and the reward is gamma * P(s\') - P(s)', async () => {
    const min: [number, number, number] = [0.25, -0.3, 0.02];
    const max: [number, number, number] = [0.75, 0.3, 0.45];
    const goal = standInGoal(min, max);
    const robot = new KinematicTestRobot({ boxMin: min, boxMax: max });
    const policy = new ScriptedReachStandIn(goal, 0.01, 1, 0);
    const progress = new DistanceProgressStandIn(goal, 0.9);
    let observation = await robot.reset();
    progress.beginEpisode(observation);
    let previous = 0;
    for (let i = 0; i < 40; i++) {
      observation = (await robot.act(policy.next(observation))).observation;
      const score = await progress.score(observation);
      expect(score.progress).toBeGreaterThanOrEqual(previous);
      expect(score.reward).toBeCloseTo(0.9 * score.progress - previous, 12);
      expect(score.hop).toBeCloseTo(score.progress - previous, 12);
      previous = score.progress;
    }
    expect(previous).toBeGreaterThan(0.99);
  });
});
