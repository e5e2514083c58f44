import { describe, expect, it } from 'vitest';
import { allocateBatch, ReplayBuffer, sampleSymmetric } from './replay.js';
import { Rng } from './rng.js';

function fill(buffer: ReplayBuffer, count: number, reward: (i: number) => number): void {
  for (let i = 0; i < count; i++) {
    const o = Float32Array.of(i, -i);
    buffer.add({ observation: o, action: Float32Array.of(i / 100), reward: reward(i), nextObservation: Float32Array.of(i + 1, -i - 1), terminal: i % 2 === 0 });
  }
}

describe('replay buffer', () => {
  it('keeps the newest `capacity` transitions in its ring', () => {
    const buffer = new ReplayBuffer('b', 4, 2, 1);
    fill(buffer, 6, (i) => i);
    expect(buffer.size).toBe(4);
    expect(buffer.added).toBe(6);
    expect([...buffer.reward].sort()).toEqual([2, 3, 4, 5]);
  });

  it('samples whole transitions (rows stay aligned across arrays)', () => {
    const buffer = new ReplayBuffer('b', 50, 2, 1);
    fill(buffer, 50, (i) => i);
    const batch = allocateBatch(64, 2, 1);
    buffer.sampleInto(batch, 0, 64, new Rng(3));
    for (let r = 0; r < 64; r++) {
      const i = batch.reward[r]!;
      expect(batch.observation[2 * r]).toBe(i);
      expect(batch.nextObservation[2 * r]).toBe(i + 1);
      expect(batch.action[r]).toBeCloseTo(i / 100, 6);
      expect(batch.done[r]).toBe(i % 2 === 0 ? 1 : 0);
    }
  });

  it('symmetric sampling takes half of every batch from demos, half from online, reproducibly per seed', () => {
    const demo = new ReplayBuffer('demo', 10, 2, 1);
    const online = new ReplayBuffer('online', 1000, 2, 1);
    fill(demo, 10, () => 1);
    fill(online, 1000, () => 0);
    const a = allocateBatch(256, 2, 1);
    const b = allocateBatch(256, 2, 1);
    sampleSymmetric(demo, online, a, new Rng(9));
    sampleSymmetric(demo, online, b, new Rng(9));
    expect(a.reward.reduce((s, x) => s + x, 0)).toBe(128);
    expect([...a.reward.subarray(0, 128)].every((x) => x === 1)).toBe(true);
    expect([...a.observation]).toEqual([...b.observation]);
    // The demo rows are marked (the actor's BC term reads them).
    expect([...a.demo]).toEqual([...a.reward]);
  });

  it('uses demos alone while the online buffer is empty, and refuses to sample nothing', () => {
    const demo = new ReplayBuffer('demo', 10, 2, 1);
    const online = new ReplayBuffer('online', 10, 2, 1);
    const batch = allocateBatch(8, 2, 1);
    expect(() => sampleSymmetric(demo, online, batch, new Rng(1))).toThrow(/empty/);
    fill(demo, 3, () => 1);
    sampleSymmetric(demo, online, batch, new Rng(1));
    expect([...batch.reward].every((x) => x === 1)).toBe(true);
    expect([...batch.demo].every((x) => x === 1)).toBe(true);
  });

  it('carries each demo row\'s weight into the batch (the BC terms read it); online rows weigh 0', () => {
    const demo = new ReplayBuffer('demo', 4, 2, 1);
    const online = new ReplayBuffer('online', 4, 2, 1);
    demo.add({ observation: [1, 1], action: [0], reward: 3, nextObservation: [1, 1], terminal: false, weight: 3 });
    demo.add({ observation: [2, 2], action: [0], reward: 1, nextObservation: [2, 2], terminal: false });
    online.add({ observation: [0, 0], action: [0], reward: 0, nextObservation: [0, 0], terminal: false, weight: 5 });
    const batch = allocateBatch(64, 2, 1);
    sampleSymmetric(demo, online, batch, new Rng(2));
    expect([...batch.demo.subarray(0, 32)]).toEqual([...batch.reward.subarray(0, 32)]); // weight 3 where reward 3, the default 1 where reward 1
    expect(new Set(batch.demo.subarray(0, 32))).toEqual(new Set([1, 3]));
    expect([...batch.demo.subarray(32)].every((x) => x === 0)).toBe(true);
    expect(() => demo.add({ observation: [1, 1], action: [0], reward: 0, nextObservation: [1, 1], terminal: false, weight: -1 })).toThrow(/weight must be/);
  });

  it('rejects transitions of the wrong shape or with a non-finite reward', () => {
    const buffer = new ReplayBuffer('b', 4, 2, 1);
    expect(() => buffer.add({ observation: [1], action: [0], reward: 0, nextObservation: [1, 2], terminal: false })).toThrow(/observation must have 2/);
    expect(() => buffer.add({ observation: [1, 2], action: [0], reward: Number.NaN, nextObservation: [1, 2], terminal: false })).toThrow(/finite/);
  });
});
