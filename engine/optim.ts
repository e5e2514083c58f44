/**
 * Adam / AdamW with global-norm gradient clipping, written as graph operations so the update runs
 * inside the same onnxruntime call as the forward and backward pass.
 */
import type { Tensor } from './graph.js';

export interface AdamOptions {
  /** 'adamw': decoupled weight decay (Loshchilov & Hutter); 'adam': decay added to the gradient. */
  kind?: 'adam' | 'adamw';
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Scale all gradients down together when their global L2 norm exceeds this. */
  clipNorm?: number;
}

export interface AdamTensors {
  params: readonly Tensor[];
  grads: readonly Tensor[];
  m: readonly Tensor[];
  v: readonly Tensor[];
  /** Scalar: the 1-based number of this update (for bias correction). */
  step: Tensor;
  /** Scalar learning rate, fed each step so schedules need no new graph. */
  lr: Tensor;
}

export interface AdamUpdate {
  params: Tensor[];
  m: Tensor[];
  v: Tensor[];
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: Tensor;
}

export function globalNorm(tensors: readonly Tensor[]): Tensor {
  const first = tensors[0];
  if (!first) throw new Error('global norm of no tensors');
  let total = first.square().sum();
  for (const t of tensors.slice(1)) total = total.add(t.square().sum());
  return total.sqrt();
}

export function adamUpdate(t: AdamTensors, options: AdamOptions): AdamUpdate {
  const { kind = 'adamw', beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, clipNorm } = options;
  const gradNorm = globalNorm(t.grads);
  let grads = [...t.grads];
  if (clipNorm !== undefined) {
    const scale = gradNorm.add(1e-6).div(clipNorm).maximum(1);
    grads = grads.map((g) => g.div(scale));
  }
  if (kind === 'adam' && weightDecay > 0) grads = grads.map((g, i) => g.add(t.params[i]!.mul(weightDecay)));
  // Bias corrections 1 - beta^step, with beta^step = exp(step * ln beta).
  const c1 = t.step.mul(Math.log(beta1)).exp().neg().add(1);
  const c2 = t.step.mul(Math.log(beta2)).exp().neg().add(1);
  const m = grads.map((g, i) => t.m[i]!.mul(beta1).add(g.mul(1 - beta1)));
  const v = grads.map((g, i) => t.v[i]!.mul(beta2).add(g.square().mul(1 - beta2)));
  const params = t.params.map((p, i) => {
    let update = m[i]!.div(c1).div(v[i]!.div(c2).sqrt().add(eps));
    if (kind === 'adamw' && weightDecay > 0) update = update.add(p.mul(weightDecay));
    return p.sub(update.mul(t.lr));
  });
  return { params, m, v, gradNorm };
}
