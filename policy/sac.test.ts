import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allocateBatch, ReplayBuffer } from './replay.js';
import { Rng } from './rng.js';
import { concat } from '../engine/graph.js';
import { layerNorm, linear } from '../engine/layers.js';
import { Predictor } from '../engine/trainer.js';
import { criticAt, GRIPPER_UNIT, SacLearner } from './sac.js';

const dir = mkdtempSync(join(tmpdir(), 'sac-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options = { observationSize: 2, actionSize: 5, hidden: [32, 32], batchSize: 64, learningRate: 3e-3, gamma: 0.5, tau: 0.05, initialAlpha: 0.01, seed: 3, executionProvider: 'cpu' as const };

/** One-step task: reward is highest when the first action dimension equals the observation's sign * 0.5. */
function bandit(rng: Rng, count: number): ReplayBuffer {
  const buffer = new ReplayBuffer('bandit', count, 2, 5);
  for (let i = 0; i < count; i++) {
    const sign = rng.next() < 0.5 ? -1 : 1;
    const action = Float32Array.from({ length: 5 }, () => rng.next() * 2 - 1);
    buffer.add({ observation: [sign, 1], action, reward: -Math.abs(action[0]! - 0.5 * sign), nextObservation: [sign, 1], terminal: true });
  }
  return buffer;
}

describe('SAC learner on the engine', () => {
  it('learns the best action of a one-step task from replayed data (critic -> actor)', async () => {
    const learner = await SacLearner.create(options);
    const rng = new Rng(1);
    const buffer = bandit(rng, 2000);
    const batch = allocateBatch(64, 2, 5);
    const first = await learner.act(Float32Array.of(1, 1), rng, true);
    let stats;
    for (let i = 0; i < 300; i++) {
      buffer.sampleInto(batch, 0, 64, rng);
      stats = await learner.update(batch, rng);
    }
    const up = (await learner.act(Float32Array.of(1, 1), rng, true))[0]!;
    const down = (await learner.act(Float32Array.of(-1, 1), rng, true))[0]!;
    expect(Math.abs(up - 0.5)).toBeLessThan(Math.abs(first[0]! - 0.5) + 0.05);
    expect(Math.abs(up - 0.5)).toBeLessThan(0.2);
    expect(Math.abs(down + 0.5)).toBeLessThan(0.2);
    expect(stats!.criticLoss).toBeLessThan(0.05);
    expect(learner.updates).toBe(300);
    await learner.dispose();
  });

  it('learns the discrete gripper from the critic: closed where closing pays, open where opening does', async () => {
    const learner = await SacLearner.create(options);
    const rng = new Rng(5);
    const buffer = new ReplayBuffer('gripper bandit', 2000, 2, 5);
    for (let i = 0; i < 2000; i++) {
      const sign = rng.next() < 0.5 ? -1 : 1;
      const closed = rng.next() < 0.5;
      const action = [rng.next() * 2 - 1, 0, 0, 0, closed ? GRIPPER_UNIT : -GRIPPER_UNIT];
      buffer.add({ observation: [sign, 1], action, reward: closed === sign > 0 ? 1 : 0, nextObservation: [sign, 1], terminal: true });
    }
    const batch = allocateBatch(64, 2, 5);
    for (let i = 0; i < 300; i++) {
      buffer.sampleInto(batch, 0, 64, rng);
      await learner.update(batch, rng);
    }
    expect((await learner.act(Float32Array.of(1, 1), rng, true))[4]).toBe(GRIPPER_UNIT);
    expect((await learner.act(Float32Array.of(-1, 1), rng, true))[4]).toBe(-GRIPPER_UNIT);
    // Sampled, the gripper takes only its two values.
    const sampled = await learner.act(Float32Array.of(1, 1), rng, false);
    expect(Math.abs(sampled[4]!)).toBe(GRIPPER_UNIT);
    await learner.dispose();
  });

  it('behaviour cloning moves the deterministic action to the demos', async () => {
    const learner = await SacLearner.create(options);
    const rng = new Rng(2);
    const demos = new ReplayBuffer('demo', 64, 2, 5);
    for (let i = 0; i < 64; i++) demos.add({ observation: [1, 0], action: [0.6, -0.3, 0, 0, 1], reward: 0, nextObservation: [1, 0], terminal: false });
    const batch = allocateBatch(64, 2, 5);
    demos.sampleInto(batch, 0, 64, rng);
    for (let i = 0; i < 200; i++) await learner.cloneStep(batch);
    const a = await learner.act(Float32Array.of(1, 0), rng, true);
    expect(a[0]).toBeCloseTo(0.6, 1);
    expect(a[1]).toBeCloseTo(-0.3, 1);
    await learner.dispose();
  });

  it('behaviour cloning weighs rows: one heavy "close" label outweighs three "open" ones at the same state, and not at weight 1', async () => {
    const gripperAfterCloning = async (switchWeight: number): Promise<number> => {
      const learner = await SacLearner.create(options);
      const rng = new Rng(4);
      const demos = new ReplayBuffer('demo', 64, 2, 5);
      for (let i = 0; i < 16; i++) {
        for (let k = 0; k < 3; k++) demos.add({ observation: [1, 0], action: [0, 0, 0, 0, -0.5], reward: 0, nextObservation: [1, 0], terminal: false });
        demos.add({ observation: [1, 0], action: [0, 0, 0, 0, 0.5], reward: 0, nextObservation: [1, 0], terminal: false, weight: switchWeight });
      }
      const batch = allocateBatch(64, 2, 5);
      for (let i = 0; i < 600; i++) {
        demos.sampleInto(batch, 0, 64, rng);
        await learner.cloneStep(batch);
      }
      const gripper = (await learner.act(Float32Array.of(1, 0), rng, true))[4]!;
      await learner.dispose();
      return gripper;
    };
    // p(closed) fits the weighted share of "close" labels: 6 / 9 closes, 1 / 4 stays open.
    expect(await gripperAfterCloning(6)).toBe(GRIPPER_UNIT);
    expect(await gripperAfterCloning(1)).toBe(-GRIPPER_UNIT);
  });

  it('the BC term on demo rows holds the actor at the demo action where the critic is indifferent; online rows are not cloned', async () => {
    // Zero reward everywhere: Q gives the actor no direction, so only the BC term moves its mode.
    const learner = await SacLearner.create({ ...options, bcWeight: 5 });
    const plain = await SacLearner.create({ ...options, bcWeight: 0 });
    const rng = new Rng(4);
    const batch = allocateBatch(64, 2, 5);
    for (let i = 0; i < 64; i++) {
      const demoRow = i < 32;
      batch.observation.set(demoRow ? [1, 0] : [-1, 0], i * 2);
      batch.action.set(demoRow ? [0.6, -0.3, 0, 0, 0.5] : [-0.7, 0.7, 0, 0, 0], i * 5);
      batch.nextObservation.set(demoRow ? [1, 0] : [-1, 0], i * 2);
      batch.done[i] = 1;
      batch.demo[i] = demoRow ? 1 : 0;
    }
    for (let i = 0; i < 200; i++) {
      await learner.update(batch, rng);
      await plain.update(batch, rng);
    }
    const cloned = await learner.act(Float32Array.of(1, 0), rng, true);
    expect(cloned[0]).toBeCloseTo(0.6, 1);
    expect(cloned[1]).toBeCloseTo(-0.3, 1);
    const online = await learner.act(Float32Array.of(-1, 0), rng, true);
    expect(Math.abs(online[0]! + 0.7)).toBeGreaterThan(0.3); // not pulled to the online action
    const unregularised = await plain.act(Float32Array.of(1, 0), rng, true);
    expect(Math.abs(unregularised[0]! - 0.6)).toBeGreaterThan(0.2);
    await learner.dispose();
    await plain.dispose();
  });

  it('qFilter clones a demo only where the critics value its action above the policy\'s: a bad demo stops holding the actor', async () => {
    // Half of each batch: demo rows at s = (1, 1) doing dx = -0.5 (return -1); half: the bandit, best at dx = +0.5 there.
    const settle = async (qFilter: boolean): Promise<number> => {
      const learner = await SacLearner.create({ ...options, bcWeight: 5, qFilter });
      const rng = new Rng(9);
      const buffer = bandit(rng, 1000);
      const batch = allocateBatch(64, 2, 5);
      for (let i = 0; i < 300; i++) {
        buffer.sampleInto(batch, 32, 32, rng);
        for (let k = 0; k < 32; k++) {
          batch.observation.set([1, 1], k * 2);
          batch.action.set([-0.5, 0, 0, 0, 0], k * 5);
          batch.nextObservation.set([1, 1], k * 2);
          batch.reward[k] = -1;
          batch.done[k] = 1;
          batch.demo[k] = 1;
        }
        await learner.update(batch, rng);
      }
      const dx = (await learner.act(Float32Array.of(1, 1), rng, true))[0]!;
      await learner.dispose();
      return dx;
    };
    const filtered = await settle(true);
    const cloned = await settle(false);
    expect(Math.abs(filtered - 0.5)).toBeLessThan(0.2);
    expect(cloned).toBeLessThan(0);
  });

  it('normaliseQ divides the actor\'s SAC term by the batch\'s mean |Q|: its loss is about -1 whatever the returns\' scale', async () => {
    // Positive returns of two scales; no BC. Without normalisation the actor's loss is about -mean Q.
    const actorLoss = async (normaliseQ: boolean, rewardScale: number): Promise<{ loss: number; meanQ: number }> => {
      const learner = await SacLearner.create({ ...options, normaliseQ, rewardScale });
      const rng = new Rng(6);
      const buffer = bandit(rng, 1000);
      const batch = allocateBatch(64, 2, 5);
      let stats;
      for (let i = 0; i < 150; i++) {
        buffer.sampleInto(batch, 0, 64, rng);
        for (let k = 0; k < 64; k++) batch.reward[k] = 2 + batch.reward[k]!;
        stats = await learner.update(batch, rng);
      }
      await learner.dispose();
      return { loss: stats!.actorLoss, meanQ: stats!.meanQ };
    };
    for (const scale of [1, 10]) {
      const plain = await actorLoss(false, scale);
      const normalised = await actorLoss(true, scale);
      expect(plain.meanQ).toBeGreaterThan(0.5 * scale);
      expect(plain.loss).toBeLessThan(-0.5 * scale);
      expect(normalised.loss).toBeGreaterThan(-1.2);
      expect(normalised.loss).toBeLessThan(-0.8);
    }
  });

  it('gripperLogitLimit bounds the cloned gripper, so the critic can still open a hand the demos always closed', async () => {
    // Demos close the hand at this state every time; online, opening there pays (reward 1) and closing does not.
    const cloneThenLearn = async (gripperLogitLimit: number): Promise<{ clonedLogit: number; gripper: number; qClosed: number; qOpen: number }> => {
      const learner = await SacLearner.create({ ...options, gripperLogitLimit });
      const rng = new Rng(6);
      const demos = new ReplayBuffer('demo', 64, 2, 5);
      for (let i = 0; i < 64; i++) demos.add({ observation: [1, 0], action: [0, 0, 0, 0, GRIPPER_UNIT], reward: 0, nextObservation: [1, 0], terminal: false });
      const batch = allocateBatch(64, 2, 5);
      for (let i = 0; i < 500; i++) {
        demos.sampleInto(batch, 0, 64, rng);
        await learner.cloneStep(batch);
      }
      const clonedLogit = (await learner.inspectGripper(Float32Array.of(1, 0))).logit;
      const online = new ReplayBuffer('online', 2000, 2, 5);
      for (let i = 0; i < 2000; i++) {
        const closed = rng.next() < 0.5;
        online.add({ observation: [1, 0], action: [0, 0, 0, 0, closed ? GRIPPER_UNIT : -GRIPPER_UNIT], reward: closed ? 0 : 1, nextObservation: [1, 0], terminal: true });
      }
      for (let i = 0; i < 200; i++) {
        online.sampleInto(batch, 0, 64, rng);
        await learner.update(batch, rng);
      }
      const gripper = (await learner.act(Float32Array.of(1, 0), rng, true))[4]!;
      const { qClosed, qOpen } = await learner.inspectGripper(Float32Array.of(1, 0));
      await learner.dispose();
      return { clonedLogit, gripper, qClosed, qOpen };
    };
    const bounded = await cloneThenLearn(3);
    const unbounded = await cloneThenLearn(0);
    expect(bounded.clonedLogit).toBeGreaterThan(2);
    expect(bounded.clonedLogit).toBeLessThan(3);
    expect(bounded.qOpen).toBeGreaterThan(bounded.qClosed);
    expect(bounded.gripper).toBe(-GRIPPER_UNIT);
    expect(unbounded.clonedLogit).toBeGreaterThan(3);
  });

  it('criticAt, its first layer split into observation and action rows, gives the values of one linear layer on concat(obs, action)', async () => {
    const learner = await SacLearner.create({ ...options, observationSize: 6, hidden: [16, 8] });
    const rng = new Rng(5);
    const rows = 4;
    const predictor = await Predictor.create({
      name: 'critic-check', store: learner.store, executionProvider: 'cpu',
      build: (g) => {
        const [obs, first, second] = [g.input('obs', [rows, 6]), g.input('first', [rows, 5]), g.input('second', [rows, 5])];
        // The plain formulation, with the same parameter names.
        const plain = (action: typeof obs): typeof obs => {
          let h = concat([obs, action], 1);
          [16, 8].forEach((width, i) => {
            h = layerNorm(linear(h, `q2.${i}`, width), `q2.${i}.norm`).relu();
          });
          return linear(h, 'q2.out', 1).reshape([rows]);
        };
        const split = criticAt(obs, 'q2', [16, 8], 5);
        return { split_first: split(first), split_second: split(second), plain_first: plain(first), plain_second: plain(second) };
      },
    });
    const draw = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());
    const out = await predictor.run({ obs: draw(rows * 6), first: draw(rows * 5), second: draw(rows * 5) });
    for (const which of ['first', 'second']) {
      const [split, plain] = [out[`split_${which}`]!, out[`plain_${which}`]!];
      expect(split.length).toBe(rows);
      for (let i = 0; i < rows; i++) expect(split[i]!).toBeCloseTo(plain[i]!, 4);
    }
    // Two actions at the same states give two different values (the action rows are used).
    expect(out.split_first![0]).not.toBeCloseTo(out.split_second![0]!, 4);
    await predictor.dispose();
    await learner.dispose();
  });

  it('a saved learner acts identically after loading; a corrupted file is refused and changes nothing', async () => {
    const a = await SacLearner.create(options);
    const rng = new Rng(5);
    const buffer = bandit(rng, 256);
    const batch = allocateBatch(64, 2, 5);
    for (let i = 0; i < 5; i++) {
      buffer.sampleInto(batch, 0, 64, rng);
      await a.update(batch, rng);
    }
    const path = join(dir, 'learner.ckpt');
    a.save(path);
    const b = await SacLearner.create({ ...options, seed: 99 });
    const before = await b.act(Float32Array.of(1, 1), new Rng(0), true);
    const bytes = readFileSync(path);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    writeFileSync(join(dir, 'bad.ckpt'), bytes);
    expect(() => b.load(join(dir, 'bad.ckpt'))).toThrow(/checksum mismatch/);
    expect([...(await b.act(Float32Array.of(1, 1), new Rng(0), true))]).toEqual([...before]);
    b.load(path);
    expect([...(await b.act(Float32Array.of(1, 1), new Rng(0), true))]).toEqual([...(await a.act(Float32Array.of(1, 1), new Rng(0), true))]);
    expect(b.alpha).toBe(a.alpha);
    await a.dispose();
    await b.dispose();
  });
});
