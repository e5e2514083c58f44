/**
 * GRM-tiny, the project's own General Reward Model, defined on the engine:
 *
 *   image encoder (shared by every view and reference): 8x8 patches -> tokens with learned
 *     positions, a residual per-token MLP (optionally transformer blocks), multi-head attention
 *     pooling -> one vector per image                                          params enc.*
 *   instruction: hashed word n-grams (reward/grm-contract.ts) -> tanh(linear)  params text.*
 *   view fusion per state: a learned gate scores each view from its vector and the instruction;
 *     the softmax over the three views weighs them, so a missing or misleading view can be
 *     down-weighted (the weights are an output, view_weights)                  params fuse.*
 *   head: the progress of BEFORE and AFTER (a distance-ratio prior to START and GOAL corrected
 *     by an MLP) gives the hop of Eq. 2; the logits over the hop bins peak there, plus a learned
 *     residual; hop = expectation of the bin centres under the softmax         params head.*
 *
 * The graph is split at the image vectors so that adaptation can train fusion and head on
 * precomputed vectors (the encoder frozen) at a fraction of the cost.
 *
 * Pretraining may add an auxiliary location head (params aux.*, never exported): where the task's
 * objects are relative to the hand, read linearly from the features a policy gets from the frozen
 * encoder (pooled vector + spatial-softmax keypoints).
 */
import type { Graph, Tensor } from '../../engine/index.js';
import { attentionPool, concat, layerNorm, linear, mlp, patchEmbed, transformerBlock } from '../../engine/index.js';
import { evenHopBins } from '../grm-contract.js';

export interface GrmTinyConfig {
  width: number;
  height: number;
  patch: number;
  dim: number;
  /** Transformer blocks over the patch tokens (0: none, the cheap encoder). */
  depth: number;
  /** A residual per-token MLP after the blocks. */
  tokenMlp: boolean;
  heads: number;
  textDim: number;
  bins: number;
  hidden: number;
}

export const GRM_TINY_CONFIG: GrmTinyConfig = {
  width: 64,
  height: 48,
  patch: 8,
  dim: 48,
  depth: 0,
  tokenMlp: true,
  heads: 4,
  textDim: 128,
  bins: 21,
  hidden: 128,
};

export function hopBins(config: GrmTinyConfig): number[] {
  return evenHopBins(config.bins);
}

export function imageFloats(config: GrmTinyConfig): number {
  return 3 * config.width * config.height;
}

/** The normalised token map of a batch of images [M, 3, H, W] -> [M, rows * cols, dim]. */
export function encodeImageTokens(images: Tensor, config: GrmTinyConfig): Tensor {
  let tokens = patchEmbed(images, 'enc.patch', config.patch, config.dim);
  for (let i = 0; i < config.depth; i++) tokens = transformerBlock(tokens, `enc.block${i}`, { heads: config.heads, hidden: 2 * config.dim });
  if (config.tokenMlp) tokens = tokens.add(mlp(layerNorm(tokens, 'enc.mlp_norm'), 'enc.mlp', [2 * config.dim, config.dim], 'gelu'));
  return layerNorm(tokens, 'enc.norm');
}

/** Image vectors of a batch of images [M, 3, H, W] -> [M, dim]. */
export function encodeImages(images: Tensor, config: GrmTinyConfig): Tensor {
  return poolTokens(encodeImageTokens(images, config), config);
}

function poolTokens(tokens: Tensor, config: GrmTinyConfig): Tensor {
  return attentionPool(tokens, 'enc.pool', config.heads);
}

/**
 * Spatial softmax over a token map [M, rows * cols, dim]: per channel, a softmax over the grid
 * positions and the expected (x, y) in [-1, 1] under it -> [M, 2 * dim]. A keypoint per channel:
 * where in the image that channel responds most (pooled vectors lose the where). `sharpness`
 * multiplies the tokens before the softmax: above 1 the keypoint follows the strongest response
 * more closely, instead of drifting to the image centre.
 */
export function spatialSoftmax(tokens: Tensor, config: GrmTinyConfig, sharpness = 1): Tensor {
  const [m, n, dim] = tokens.shape as [number, number, number];
  const rows = config.height / config.patch;
  const cols = config.width / config.patch;
  const grid: number[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) grid.push(cols > 1 ? (2 * c) / (cols - 1) - 1 : 0, rows > 1 ? (2 * r) / (rows - 1) - 1 : 0);
  const weights = (sharpness === 1 ? tokens : tokens.mul(sharpness)).softmax(1); // [m, n, dim]
  const xy = weights.mT().matmul(tokens.graph.constant(grid, [n, 2])); // [m, dim, 2]
  return xy.reshape([m, 2 * dim]);
}

/**
 * What a policy reads from the frozen encoder per image (policy/observation.ts): the reward
 * model's attention-pooled vector and the token map's spatial-softmax keypoints, [M, 3 * dim].
 */
export function imageFeatures(tokens: Tensor, config: GrmTinyConfig, keypointSharpness = 1): Tensor {
  return concat([poolTokens(tokens, config), spatialSoftmax(tokens, config, keypointSharpness)], 1);
}

/** Values of the location target per image: two key bodies' positions relative to the hand (x, y, z each). */
export const LOCATION_SIZE = 6;

/**
 * Auxiliary pretraining head (training only, never exported): the key bodies' positions relative
 * to the hand, linearly from an image's policy features. Training it with the reward losses makes
 * the frozen encoder's features say where the objects are, which a grasping policy needs and the
 * progress losses alone do not ask for.
 */
export function locationHead(features: Tensor): Tensor {
  return linear(features, 'aux.location', LOCATION_SIZE);
}

/** Image vectors of one pair and its references. */
export interface PairVectors {
  /** [N, 3, dim] */
  before: Tensor;
  /** [N, 3, dim] */
  after: Tensor;
  /** [N, dim] */
  start: Tensor;
  /** [N, dim] */
  goal: Tensor;
  /** [N, textDim] */
  instruction: Tensor;
}

export interface GrmOutputs {
  /** Training only, with `withLocations`: the location head's output per BEFORE and AFTER view [N, 6, LOCATION_SIZE]. */
  locations?: Tensor;
  hop_logits: Tensor;
  hop: Tensor;
  view_weights: Tensor;
  /** Training only (not exported): the head's progress of the BEFORE and AFTER states [N]. */
  progress_before: Tensor;
  progress_after: Tensor;
}

/** Weighted sum of a state's view vectors [N, 3, dim] by a gate conditioned on the instruction. */
function fuseViews(views: Tensor, text: Tensor): { state: Tensor; weights: Tensor } {
  const [n, v, d] = views.shape as [number, number, number];
  const textPerView = text.reshape([n, 1, d]).expand([n, v, d]);
  const gate = linear(concat([views, textPerView], 2), 'fuse.gate0', d).tanh();
  const weights = linear(gate, 'fuse.gate1', 1).softmax(1); // [n, v, 1]
  return { state: views.mul(weights).sum([1]), weights: weights.reshape([n, v]) };
}

/**
 * Progress of one state in [0, 1] (the structured path of the head): a feature-space distance
 * ratio to START and GOAL (like the pixel-distance baseline, but on learned vectors of the front
 * view) as a prior, corrected by an MLP on the fused state vector, the references and the task.
 */
function stateProgress(state: Tensor, front: Tensor, start: Tensor, goal: Tensor, text: Tensor, config: GrmTinyConfig): Tensor {
  const graph = state.graph;
  const toStart = front.sub(start).square().mean([1], true);
  const toGoal = front.sub(goal).square().mean([1], true);
  const ratio = toStart.div(toStart.add(toGoal).add(1e-6)); // [n, 1]: 0 at START, 1 at GOAL
  const features = concat([state, state.sub(start), goal.sub(state), ratio, text], 1);
  const correction = linear(linear(layerNorm(features, 'head.progress_norm'), 'head.progress0', config.hidden).gelu(), 'head.progress1', 1);
  const priorGain = graph.param('head.prior_gain', [1], { kind: 'constant', value: 6 });
  return ratio.sub(0.5).mul(priorGain).add(correction).sigmoid();
}

/**
 * Fusion and head: pair vectors -> logits, expected hop, view weights. The logits are a peak at
 * the hop that Eq. 2 gives between the two states' progress (structured path), plus a learned
 * residual over the bins that starts at zero.
 */
export function headFromVectors(vectors: PairVectors, config: GrmTinyConfig): GrmOutputs {
  const graph = vectors.before.graph;
  const n = vectors.before.shape[0]!;
  const d = config.dim;
  const text = linear(vectors.instruction, 'text.proj', d).tanh();
  const before = fuseViews(vectors.before, text);
  const after = fuseViews(vectors.after, text);
  const s = vectors.start;
  const g = vectors.goal;
  const frontOf = (views: Tensor): Tensor => views.slice(1, 0, 1).reshape([n, d]);
  const pb = stateProgress(before.state, frontOf(vectors.before), s, g, text, config);
  const pa = stateProgress(after.state, frontOf(vectors.after), s, g, text, config);
  // Eq. 2: gain relative to what remained, or loss relative to what was achieved.
  const gain = pa.sub(pb).relu().div(pb.neg().add(1 + 1e-3));
  const loss = pb.sub(pa).relu().div(pb.add(1e-3));
  const structuredHop = gain.sub(loss); // [n, 1]
  const centres = graph.constant(hopBins(config), [1, config.bins]);
  const sharpness = graph.param('head.log_sharpness', [1], { kind: 'constant', value: Math.log(30) }).exp();
  const peak = centres.sub(structuredHop).square().mul(sharpness).neg();

  const b = before.state;
  const a = after.state;
  const features = concat([b, a, a.sub(b), s, g, a.sub(s), g.sub(a), b.sub(s), g.sub(b), text], 1);
  let h = layerNorm(features, 'head.norm');
  h = linear(h, 'head.0', config.hidden).gelu();
  const residualScale = graph.param('head.residual_scale', [1], { kind: 'zeros' });
  const logits = peak.add(linear(h, 'head.out', config.bins).mul(residualScale));
  const hop = logits.softmax(-1).matmul(centres.reshape([config.bins, 1])).reshape([n]);
  const viewWeights = concat([before.weights.reshape([n, 1, 3]), after.weights.reshape([n, 1, 3])], 1);
  return { hop_logits: logits, hop, view_weights: viewWeights, progress_before: pb.reshape([n]), progress_after: pa.reshape([n]) };
}

/** The contract's inputs on a graph, for a batch of `n` pairs. */
export function contractInputs(graph: Graph, n: number, config: GrmTinyConfig): Record<'start' | 'goal' | 'before' | 'after' | 'instruction', Tensor> {
  const { width: w, height: h } = config;
  return {
    start: graph.input('start', [n, 3, h, w]),
    goal: graph.input('goal', [n, 3, h, w]),
    before: graph.input('before', [n, 3, 3, h, w]),
    after: graph.input('after', [n, 3, 3, h, w]),
    instruction: graph.input('instruction', [n, config.textDim]),
  };
}

/**
 * The whole model on contract inputs. All 8 images of a pair go through the encoder in one
 * batch [8N, 3, H, W]: before views, after views, start, goal.
 */
export function grmFromInputs(inputs: ReturnType<typeof contractInputs>, config: GrmTinyConfig, options: { withLocations?: boolean } = {}): GrmOutputs {
  const n = inputs.start.shape[0]!;
  const { width: w, height: h, dim } = config;
  const images = concat(
    [inputs.before.reshape([3 * n, 3, h, w]), inputs.after.reshape([3 * n, 3, h, w]), inputs.start, inputs.goal],
    0,
  );
  const tokens = encodeImageTokens(images, config);
  const vectors = poolTokens(tokens, config);
  const outputs = headFromVectors(
    {
      before: vectors.slice(0, 0, 3 * n).reshape([n, 3, dim]),
      after: vectors.slice(0, 3 * n, 6 * n).reshape([n, 3, dim]),
      start: vectors.slice(0, 6 * n, 7 * n),
      goal: vectors.slice(0, 7 * n, 8 * n),
      instruction: inputs.instruction,
    },
    config,
  );
  if (options.withLocations) {
    // Rows k * 3 + v are view v of pair k's BEFORE state, then the same for AFTER.
    const stateViews = 6 * n;
    const locations = locationHead(concat([vectors.slice(0, 0, stateViews), spatialSoftmax(tokens.slice(0, 0, stateViews), config)], 1));
    outputs.locations = concat([locations.slice(0, 0, 3 * n).reshape([n, 3, LOCATION_SIZE]), locations.slice(0, 3 * n, 6 * n).reshape([n, 3, LOCATION_SIZE])], 1);
  }
  return outputs;
}

/** Names of the parameters one-shot adaptation trains: fusion, head and instruction projection. */
export function isAdaptedParam(name: string): boolean {
  return name.startsWith('fuse.') || name.startsWith('head.') || name.startsWith('text.');
}
