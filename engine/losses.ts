/**
 * Losses as graph functions returning scalars, and the pieces of soft actor-critic (SAC) stated
 * as small functions so the learner's step graphs read like the equations.
 */
import type { Tensor, TensorLike } from './graph.js';

export function mse(prediction: Tensor, target: Tensor): Tensor {
  return prediction.sub(target).square().mean();
}

/** Huber loss: quadratic within `delta` of the target, linear beyond. */
export function huber(prediction: Tensor, target: Tensor, delta = 1): Tensor {
  const absolute = prediction.sub(target).abs();
  const quadratic = absolute.minimum(delta);
  return quadratic.square().mul(0.5).add(absolute.sub(quadratic).mul(delta)).mean();
}

/**
 * Cross-entropy between predicted logits over discrete bins [batch, bins] and target
 * distributions over the same bins (one-hot or soft, e.g. two-hot hop labels), batch mean.
 */
export function crossEntropyBins(logits: Tensor, targets: Tensor): Tensor {
  return targets.mul(logits.logSoftmax(-1)).sum([-1]).mean().neg();
}

/**
 * A value as a distribution over bins with the given centres (ascending): the two nearest bins
 * share the mass linearly ("two-hot"), so the expectation under the distribution is the value.
 */
export function twoHot(value: number, centres: readonly number[]): number[] {
  const out = new Array<number>(centres.length).fill(0);
  const last = centres.length - 1;
  if (value <= centres[0]!) out[0] = 1;
  else if (value >= centres[last]!) out[last] = 1;
  else {
    let i = 0;
    while (centres[i + 1]! < value) i++;
    const t = (value - centres[i]!) / (centres[i + 1]! - centres[i]!);
    out[i] = 1 - t;
    out[i + 1] = t;
  }
  return out;
}

export interface SquashedGaussian {
  /** tanh(mean + std * noise), in (-1, 1). */
  action: Tensor;
  /** log density of `action` [batch], with the tanh change of variables. */
  logProb: Tensor;
}

/**
 * Reparameterised sample of a tanh-squashed diagonal Gaussian. `noise` ~ N(0, 1) is a graph input
 * (the caller samples it), so the sample is differentiable in mean and log-std.
 * log p(a) = sum_i [ -noise_i^2/2 - logStd_i - log(2 pi)/2 - log(1 - tanh(u_i)^2) ],
 * with log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)) for numerical stability.
 */
export function squashedGaussian(mean: Tensor, logStd: Tensor, noise: Tensor): SquashedGaussian {
  const u = mean.add(logStd.exp().mul(noise));
  const gaussian = noise.square().mul(-0.5).sub(logStd).sub(0.5 * Math.log(2 * Math.PI));
  const squash = u.neg().sub(u.mul(-2).softplus()).add(Math.LN2).mul(2);
  return { action: u.tanh(), logProb: gaussian.sub(squash).sum([-1]) };
}

/**
 * Clipped double-Q target y = r + gamma (1 - done) (min(Q1', Q2') - alpha log pi(a'|s')),
 * all inputs [batch]; no gradient flows through it.
 */
export function clippedDoubleQTarget(args: {
  reward: Tensor;
  done: Tensor;
  gamma: number;
  nextQ1: Tensor;
  nextQ2: Tensor;
  alpha: TensorLike;
  nextLogProb: Tensor;
}): Tensor {
  const { reward, done, gamma, nextQ1, nextQ2, alpha, nextLogProb } = args;
  const soft = nextQ1.minimum(nextQ2).sub(nextLogProb.mul(alpha));
  return reward.add(done.neg().add(1).mul(gamma).mul(soft)).stopGradient();
}

/** Twin critic loss: MSE of both critics to the same target. */
export function twinCriticLoss(q1: Tensor, q2: Tensor, target: Tensor): Tensor {
  return mse(q1, target).add(mse(q2, target));
}

/** Entropy-regularised actor loss mean(alpha log pi(a|s) - min(Q1, Q2)); alpha is held fixed. */
export function actorLoss(logProb: Tensor, q1: Tensor, q2: Tensor, alpha: Tensor): Tensor {
  return logProb.mul(alpha.stopGradient()).sub(q1.minimum(q2)).mean();
}

/** Temperature loss -mean(log alpha (log pi + target entropy)); trains log alpha only. */
export function temperatureLoss(logAlpha: Tensor, logProb: Tensor, targetEntropy: number): Tensor {
  return logProb.add(targetEntropy).stopGradient().mul(logAlpha).mean().neg();
}
