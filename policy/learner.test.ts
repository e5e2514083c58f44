import { describe, expect, it } from 'vitest';
import { weighGripperSwitches } from './learner.js';
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
