/**
 * Layers as plain functions: (tensor, parameter name prefix, sizes) -> tensor. Parameters are
 * looked up by name in the graph's store, so calling the same layer with the same name in
 * another graph (another batch size, a training step, an export) shares the weights.
 */
import type { Tensor } from './graph.js';
import { conv2d as conv2dOp } from './graph.js';
import { fanInUniform } from './params.js';

export type Activation = 'relu' | 'gelu' | 'tanh' | 'silu' | 'none';

export function activate(x: Tensor, activation: Activation): Tensor {
  switch (activation) {
    case 'relu': return x.relu();
    case 'gelu': return x.gelu();
    case 'tanh': return x.tanh();
    case 'silu': return x.silu();
    case 'none': return x;
  }
}

/** x @ W + b over the last axis; W is [in, out]. */
export function linear(x: Tensor, name: string, outDim: number, options: { bias?: boolean } = {}): Tensor {
  const inDim = x.shape[x.rank - 1]!;
  const w = x.graph.param(`${name}.weight`, [inDim, outDim], fanInUniform(inDim));
  const y = x.rank === 1 ? x.reshape([1, inDim]).matmul(w).reshape([outDim]) : x.matmul(w);
  if (options.bias === false) return y;
  return y.add(x.graph.param(`${name}.bias`, [outDim], fanInUniform(inDim)));
}

/** A stack of linear layers with `activation` between them (none after the last). */
export function mlp(x: Tensor, name: string, sizes: readonly number[], activation: Activation = 'relu'): Tensor {
  let h = x;
  sizes.forEach((size, i) => {
    h = linear(h, `${name}.${i}`, size);
    if (i < sizes.length - 1) h = activate(h, activation);
  });
  return h;
}

/** Layer normalisation over the last axis, with learned scale and shift. */
export function layerNorm(x: Tensor, name: string, eps = 1e-5): Tensor {
  const dim = x.shape[x.rank - 1]!;
  const mean = x.mean([-1], true);
  const centred = x.sub(mean);
  const variance = centred.square().mean([-1], true);
  const normed = centred.div(variance.add(eps).sqrt());
  return normed.mul(x.graph.param(`${name}.scale`, [dim], { kind: 'ones' })).add(x.graph.param(`${name}.shift`, [dim], { kind: 'zeros' }));
}

/**
 * Split NCHW images into non-overlapping `patch` x `patch` tiles and project each to `dim`
 * (reshape + transpose + matmul: a stride-`patch` convolution without convolution operators),
 * plus a learned position embedding. Output: [batch, tokens, dim], tokens in row-major order.
 */
export function patchEmbed(images: Tensor, name: string, patch: number, dim: number): Tensor {
  const [b, c, h, w] = images.shape as [number, number, number, number];
  if (images.rank !== 4 || h % patch !== 0 || w % patch !== 0) {
    throw new Error(`patchEmbed needs [batch, channels, height, width] divisible by ${patch}, got [${images.shape.join(', ')}]`);
  }
  const rows = h / patch;
  const cols = w / patch;
  const tiles = images
    .reshape([b, c, rows, patch, cols, patch])
    .transpose([0, 2, 4, 1, 3, 5])
    .reshape([b, rows * cols, c * patch * patch]);
  const tokens = linear(tiles, `${name}.proj`, dim);
  return tokens.add(images.graph.param(`${name}.position`, [rows * cols, dim], { kind: 'normal', std: 0.02 }));
}

/** Multi-head self-attention over tokens [batch, tokens, dim]. */
export function selfAttention(x: Tensor, name: string, heads: number): Tensor {
  const [b, n, d] = x.shape as [number, number, number];
  const dh = d / heads;
  const qkv = linear(x, `${name}.qkv`, 3 * d);
  const split = (i: number): Tensor => qkv.slice(2, i * d, (i + 1) * d).reshape([b, n, heads, dh]).transpose([0, 2, 1, 3]);
  const [q, k, v] = [split(0), split(1), split(2)];
  const weights = q.matmul(k.mT()).mul(1 / Math.sqrt(dh)).softmax(-1);
  const mixed = weights.matmul(v).transpose([0, 2, 1, 3]).reshape([b, n, d]);
  return linear(mixed, `${name}.out`, d);
}

/** Pre-norm transformer block: x + attention(norm(x)), then x + MLP(norm(x)). */
export function transformerBlock(x: Tensor, name: string, options: { heads: number; hidden: number }): Tensor {
  const d = x.shape[x.rank - 1]!;
  const h = x.add(selfAttention(layerNorm(x, `${name}.norm1`), `${name}.attn`, options.heads));
  return h.add(mlp(layerNorm(h, `${name}.norm2`), `${name}.mlp`, [options.hidden, d], 'gelu'));
}

/**
 * Attention pooling: per head a learned query scores every token's key; the softmax-weighted sum
 * of the tokens' values is the pooled vector. [batch, tokens, dim] -> [batch, dim].
 */
export function attentionPool(x: Tensor, name: string, heads = 1): Tensor {
  const [b, n, d] = x.shape as [number, number, number];
  const dh = d / heads;
  if (!Number.isInteger(dh)) throw new Error(`attentionPool: dim ${d} not divisible by ${heads} heads`);
  const keys = linear(x, `${name}.key`, d).reshape([b, n, heads, dh]);
  const values = linear(x, `${name}.value`, d).reshape([b, n, heads, dh]);
  const query = x.graph.param(`${name}.query`, [heads, dh], { kind: 'normal', std: 1 / Math.sqrt(dh) });
  const weights = keys.mul(query).sum([3], true).mul(1 / Math.sqrt(dh)).softmax(1); // [b, n, heads, 1]
  return values.mul(weights).sum([1]).reshape([b, d]);
}

/** 2-D convolution layer, NCHW, valid padding, with bias. */
export function conv2d(x: Tensor, name: string, outChannels: number, kernel: number, stride = 1): Tensor {
  const inChannels = x.shape[1]!;
  const fanIn = inChannels * kernel * kernel;
  const w = x.graph.param(`${name}.weight`, [outChannels, inChannels, kernel, kernel], fanInUniform(fanIn));
  const bias = x.graph.param(`${name}.bias`, [outChannels, 1, 1], fanInUniform(fanIn));
  return conv2dOp(x, w, stride).add(bias);
}

export interface ImageEncoderOptions {
  patch?: number;
  dim?: number;
  depth?: number;
  heads?: number;
  /** Width of the MLP inside each block. */
  hidden?: number;
}

/**
 * The GRM-tiny image encoder: 16x16 patch embedding (128x96 RGB -> 48 tokens), `depth` pre-norm
 * transformer blocks, a final layer norm and attention pooling to one feature vector per image.
 * images: [batch, 3, height, width] scaled to about [-1, 1]; output [batch, dim].
 */
export function imageEncoder(images: Tensor, name: string, options: ImageEncoderOptions = {}): Tensor {
  const { patch = 16, dim = 64, depth = 1, heads = 4, hidden = 2 * dim } = options;
  let tokens = patchEmbed(images, `${name}.patch`, patch, dim);
  for (let i = 0; i < depth; i++) tokens = transformerBlock(tokens, `${name}.block${i}`, { heads, hidden });
  return attentionPool(layerNorm(tokens, `${name}.norm`), `${name}.pool`, heads);
}
