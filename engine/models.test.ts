import { describe, expect, it } from 'vitest';
import type { Graph, Tensor } from './graph.js';
import { concat } from './graph.js';
import { gradCheck } from './gradcheck.js';
import { imageEncoder, linear, mlp } from './layers.js';
import { actorLoss, clippedDoubleQTarget, crossEntropyBins, mse, squashedGaussian, temperatureLoss, twinCriticLoss, twoHot } from './losses.js';
import { normalSampler, ParamStore, polyakUpdate, seededRandom } from './params.js';
import { Predictor, Trainer } from './trainer.js';

const TOLERANCE = 1e-3;

function critic(obs: Tensor, action: Tensor, name: string): Tensor {
  const q = mlp(concat([obs, action], 1), name, [16, 16, 1]);
  return q.reshape([obs.shape[0]!]);
}

function actor(obs: Tensor, noise: Tensor, actionDim: number): { action: Tensor; logProb: Tensor } {
  const out = mlp(obs, 'actor', [16, 2 * actionDim]);
  const mean = out.slice(1, 0, actionDim);
  const logStd = out.slice(1, actionDim, 2 * actionDim).maximum(-5).minimum(2);
  return squashedGaussian(mean, logStd, noise);
}

describe('whole-model gradient checks (float64, central differences)', () => {
  it('small MLP with MSE', async () => {
    const { errors, maxError } = await gradCheck((_g, { x, y }) => mse(mlp(x!, 'mlp', [6, 5, 2], 'tanh'), y!), { x: { shape: [4, 3] }, y: { shape: [4, 2] } });
    expect(Object.keys(errors)).toHaveLength(8);
    expect(maxError, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
  });

  it('patch encoder with transformer block and attention pooling, hop-bin cross-entropy head', async () => {
    const { errors, maxError } = await gradCheck(
      (_g, { images, bins }) => crossEntropyBins(linear(imageEncoder(images!, 'enc', { patch: 4, dim: 8, heads: 2, depth: 1 }), 'head', 5), bins!),
      { images: { shape: [2, 3, 8, 12] }, bins: { shape: [2, 5], values: [...twoHot(0.3, [-1, -0.5, 0, 0.5, 1]), ...twoHot(-0.8, [-1, -0.5, 0, 0.5, 1])] } },
      { samplesPerTensor: 12 },
    );
    expect(Object.keys(errors).length).toBeGreaterThan(20);
    expect(maxError, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
  });

  it('twin-Q critic against a clipped double-Q target', async () => {
    const { errors, maxError } = await gradCheck(
      (_g, { obs, act, reward, done, nextObs, nextAct, nextLogProb }) => {
        const target = clippedDoubleQTarget({
          reward: reward!, done: done!, gamma: 0.9, alpha: 0.2, nextLogProb: nextLogProb!,
          nextQ1: critic(nextObs!, nextAct!, 'target1'), nextQ2: critic(nextObs!, nextAct!, 'target2'),
        });
        return twinCriticLoss(critic(obs!, act!, 'critic1'), critic(obs!, act!, 'critic2'), target);
      },
      { obs: { shape: [5, 3] }, act: { shape: [5, 2] }, reward: { shape: [5] }, done: { shape: [5], values: [0, 1, 0, 0, 1] }, nextObs: { shape: [5, 3] }, nextAct: { shape: [5, 2] }, nextLogProb: { shape: [5] } },
      { only: ['obs', 'act', 'critic1.0.weight', 'critic1.2.bias', 'critic2.1.weight', 'critic2.0.bias'] },
    );
    expect(Object.keys(errors)).toHaveLength(6);
    expect(maxError, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
  });

  it('SAC actor: tanh-squashed Gaussian log-prob through twin critics, entropy-regularised actor loss', async () => {
    const { errors, maxError } = await gradCheck(
      (g, { obs, noise }) => {
        const { action, logProb } = actor(obs!, noise!, 2);
        return actorLoss(logProb, critic(obs!, action, 'critic1'), critic(obs!, action, 'critic2'), g.scalar(0.2));
      },
      { obs: { shape: [4, 3] }, noise: { shape: [4, 2] } },
      { only: ['obs', 'noise', 'actor.0.weight', 'actor.0.bias', 'actor.1.weight', 'actor.1.bias', 'critic1.0.weight'] },
    );
    expect(Object.keys(errors)).toHaveLength(7);
    expect(maxError, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
  });

  it('SAC temperature: the learnable log-temperature gets the gradient of its loss only', async () => {
    // Actor loss + temperature loss in one graph: alpha is held fixed in the actor loss and the
    // log-prob in the temperature loss, so d/d log_alpha is that of the temperature loss alone.
    const { errors, analytic } = await gradCheck(
      (g, { obs, noise }) => {
        const { action, logProb } = actor(obs!, noise!, 2);
        const logAlpha = g.param('log_alpha', [], { kind: 'constant', value: -1 });
        const total = actorLoss(logProb, critic(obs!, action, 'critic1'), critic(obs!, action, 'critic2'), logAlpha.exp());
        return total.add(temperatureLoss(logAlpha, logProb, -2));
      },
      { obs: { shape: [4, 3] }, noise: { shape: [4, 2] } },
      { only: ['log_alpha'] },
    );
    expect(errors.log_alpha).toBeGreaterThan(0.01); // finite differences also see alpha inside the actor loss
    const separate = await gradCheck(
      (g, { obs, noise }) => temperatureLoss(g.param('log_alpha', [], { kind: 'constant', value: -1 }), actor(obs!, noise!, 2).logProb, -2),
      { obs: { shape: [4, 3] }, noise: { shape: [4, 2] } },
      { only: ['log_alpha'] },
    );
    expect(separate.maxError).toBeLessThan(TOLERANCE);
    expect(analytic.log_alpha![0]).toBeCloseTo(separate.analytic.log_alpha![0]!, 12);
  });

  it('squashed Gaussian log-prob equals the density computed directly', async () => {
    // a = tanh(u), u = mean + std * noise: log p(a) = log N(u; mean, std) - log(1 - a^2).
    const { analytic } = await gradCheck((g, { m }) => squashedGaussian(m!, g.constant([0.3], [1, 1]), g.constant([0.7], [1, 1])).logProb.sum(), { m: { shape: [1, 1], values: [0.2] } });
    const std = Math.exp(0.3);
    const u = 0.2 + std * 0.7;
    // d/dmean log p = d/dmean [-(log(1 - tanh(u)^2))] at fixed noise = 2 tanh(u).
    expect(analytic.m![0]).toBeCloseTo(2 * Math.tanh(u), 10);
  });
});

describe('a worked SAC update on a one-step continuous bandit', () => {
  it('critics learn the reward, the actor moves to the best action, targets follow by Polyak averaging', async () => {
    const B = 64;
    const store = new ParamStore({ seed: 11 });
    const random = seededRandom(3);
    const normal = normalSampler(random);
    const best = (s: number): number => 0.6 * Math.tanh(s);
    const criticStep = (g: Graph): { loss: Tensor } => {
      const obs = g.input('obs', [B, 2]);
      const act = g.input('act', [B, 1]);
      const reward = g.input('reward', [B]);
      const done = g.input('done', [B]);
      const nextObs = g.input('next_obs', [B, 2]);
      const next = actor(nextObs, g.input('next_noise', [B, 1]), 1);
      const alpha = g.param('log_alpha', [], { kind: 'constant', value: Math.log(0.05) }).exp();
      const target = clippedDoubleQTarget({
        reward, done, gamma: 0.9, alpha, nextLogProb: next.logProb,
        nextQ1: critic(nextObs, next.action, 'target.critic1'), nextQ2: critic(nextObs, next.action, 'target.critic2'),
      });
      return { loss: twinCriticLoss(critic(obs, act, 'critic1'), critic(obs, act, 'critic2'), target) };
    };
    const actorStep = (g: Graph): { loss: Tensor; outputs: Record<string, Tensor> } => {
      const obs = g.input('obs', [B, 2]);
      const { action, logProb } = actor(obs, g.input('noise', [B, 1]), 1);
      const logAlpha = g.param('log_alpha', [], { kind: 'constant', value: Math.log(0.05) });
      const loss = actorLoss(logProb, critic(obs, action, 'critic1'), critic(obs, action, 'critic2'), logAlpha.exp()).add(temperatureLoss(logAlpha, logProb, -1));
      return { loss, outputs: { entropy: logProb.mean().neg() } };
    };
    // Parameters first created by the actor graph; target critics start as copies of the critics.
    const actorTrainer = await Trainer.create({ store, build: actorStep, optimizer: { lr: 3e-3 }, trainable: (n) => n.startsWith('actor.') || n === 'log_alpha', executionProvider: 'cpu', name: 'actor' });
    store.copyPrefix('critic1.', 'target.critic1.');
    store.copyPrefix('critic2.', 'target.critic2.');
    const criticTrainer = await Trainer.create({ store, build: criticStep, optimizer: { lr: 3e-3 }, trainable: (n) => n.startsWith('critic'), executionProvider: 'cpu', name: 'critic' });
    const policy = await Predictor.create({ store, build: (g) => ({ mean: mlp(g.input('obs', [B, 2]), 'actor', [16, 2]).slice(1, 0, 1).tanh() }), executionProvider: 'cpu' });

    const batchObs = (): Float32Array => Float32Array.from({ length: B * 2 }, normal);
    const evalObs = batchObs();
    const meanError = async (): Promise<number> => {
      const { mean } = await policy.run({ obs: evalObs });
      let total = 0;
      for (let b = 0; b < B; b++) total += Math.abs(mean![b]! - best(evalObs[2 * b]!));
      return total / B;
    };
    const errorBefore = await meanError();
    const targetBefore = Float32Array.from(store.get('target.critic1.0.weight').data);
    const criticLosses: number[] = [];
    for (let step = 0; step < 400; step++) {
      const obs = batchObs();
      const act = Float32Array.from({ length: B }, () => 2 * random() - 1);
      const reward = Float32Array.from({ length: B }, (_, b) => -((act[b]! - best(obs[2 * b]!)) ** 2));
      const critic = await criticTrainer.run({ obs, act, reward, done: new Float32Array(B).fill(1), next_obs: batchObs(), next_noise: Float32Array.from({ length: B }, normal) });
      criticLosses.push(critic.loss);
      if (step >= 100) await actorTrainer.run({ obs, noise: Float32Array.from({ length: B }, normal) });
      polyakUpdate(store, 'critic', 'target.critic', 0.01);
    }
    const early = criticLosses.slice(0, 20).reduce((a, b) => a + b) / 20;
    const late = criticLosses.slice(-20).reduce((a, b) => a + b) / 20;
    expect(late).toBeLessThan(early * 0.2);
    const errorAfter = await meanError();
    expect(errorAfter).toBeLessThan(0.12);
    expect(errorAfter).toBeLessThan(errorBefore / 2);
    expect(Array.from(store.get('target.critic1.0.weight').data)).not.toEqual(Array.from(targetBefore));
    expect(store.get('log_alpha').data[0]).not.toBeCloseTo(Math.log(0.05), 3);
  });
});
