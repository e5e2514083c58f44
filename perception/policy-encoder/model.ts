/**
 * The policy's own visual encoder (issue 32), made for control rather than for judging progress:
 *
 *   per camera view, its own convolutional stem at the camera's full 128x96 (views see different
 *   things: the front camera the table, the wrist cameras the object against the fingers):
 *     conv 5x5 stride 2 (3 -> 16), conv 3x3 stride 2 (16 -> 32), conv 3x3 (32 -> 32), each
 *     followed by instance normalisation and ReLU, then conv 3x3 (32 -> K) keypoint maps
 *                                                                              params enc.view<v>.*
 *   spatial softmax over each standardised keypoint map with a learned temperature -> K image
 *     points (x, y in the image's [-1, 1] frame): where that channel responds
 *   pooled vector: the mean of each raw keypoint map (what is there, not where)
 *   -> per view [2K keypoint coordinates, K pooled] (3K features)
 *
 * Pretraining heads (training only, never exported), one set per training task, all LINEAR so
 * that the frozen features are linearly useful to the small networks RL trains on them:
 *   hand head: the task's two key bodies relative to the hand (decimetres) from every view's
 *     features and the proprioception                                         params head.task<t>.hand
 *   image head, per view: where each key body appears in that view (x, y, in view)
 *                                                                          params head.task<t>.image<view>
 */
import type { Graph, Tensor } from '../../engine/index.js';
import { concat, conv2d, linear } from '../../engine/index.js';

export interface PolicyEncoderConfig {
  width: number;
  height: number;
  views: number;
  /** Channels of the three stem convolutions. */
  channels: [number, number, number];
  /** Keypoints per view. */
  keypoints: number;
}

export const POLICY_ENCODER_CONFIG: PolicyEncoderConfig = { width: 128, height: 96, views: 3, channels: [16, 32, 32], keypoints: 32 };

/** Features per view: 2K keypoint coordinates and K pooled values. */
export function featuresPerView(config: PolicyEncoderConfig): number {
  return 3 * config.keypoints;
}

/** Side lengths of the keypoint maps (valid convolutions: 5/2, 3/2, 3, 3). */
export function keypointMapSize(config: PolicyEncoderConfig): { rows: number; cols: number } {
  const after = (n: number, kernel: number, stride: number): number => Math.floor((n - kernel) / stride) + 1;
  const side = (n: number): number => after(after(after(after(n, 5, 2), 3, 2), 3, 1), 3, 1);
  return { rows: side(config.height), cols: side(config.width) };
}

/** One view's stem: images [B, 3, H, W] -> features [B, 3K]. */
/**
 * Each map of each image standardised over its positions (instance normalisation): the
 * activations stay of order 1 whatever the scene's light and colours, in place of batch norm
 * (no running statistics to carry into the exported model).
 */
function instanceNorm(maps: Tensor): Tensor {
  const centred = maps.sub(maps.mean([2, 3], true));
  return centred.div(centred.square().mean([2, 3], true).add(1e-5).sqrt());
}

function viewFeatures(images: Tensor, view: number, config: PolicyEncoderConfig): Tensor {
  const name = `enc.view${view}`;
  const [c1, c2, c3] = config.channels;
  const act = (t: Tensor): Tensor => instanceNorm(t).relu();
  let x = act(conv2d(images, `${name}.conv0`, c1, 5, 2));
  x = act(conv2d(x, `${name}.conv1`, c2, 3, 2));
  x = act(conv2d(x, `${name}.conv2`, c3, 3, 1));
  const raw = conv2d(x, `${name}.keypoints`, config.keypoints, 3, 1); // [B, K, rows, cols]
  // Standardised maps: the learned temperature alone sets how sharply a keypoint follows its peak.
  const maps = instanceNorm(raw);
  const [b, k, rows, cols] = maps.shape as [number, number, number, number];
  const flat = maps.reshape([b, k, rows * cols]);
  const temperature = images.graph.param(`${name}.log_temperature`, [1], { kind: 'constant', value: Math.log(3) }).exp();
  const weights = flat.mul(temperature).softmax(2);
  const grid: number[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) grid.push(cols > 1 ? (2 * c) / (cols - 1) - 1 : 0, rows > 1 ? (2 * r) / (rows - 1) - 1 : 0);
  const points = weights.matmul(images.graph.constant(grid, [rows * cols, 2])).reshape([b, 2 * k]); // [B, 2K]: x0, y0, x1, y1, ...
  // What is there (not where): each raw map's mean (the normalised maps have mean 0).
  const pooled = raw.mean([2, 3]); // [B, K]
  return concat([points, pooled], 1);
}

/**
 * Features of a batch of scenes: images [B, V, 3, H, W] in [-1, 1] -> [B, V, 3K], each view
 * through its own stem.
 */
export function encodeScenes(images: Tensor, config: PolicyEncoderConfig): Tensor {
  const [b, v, , h, w] = images.shape as [number, number, number, number, number];
  const perView: Tensor[] = [];
  for (let i = 0; i < v; i++) perView.push(viewFeatures(images.slice(1, i, i + 1).reshape([b, 3, h, w]), i, config).reshape([b, 1, featuresPerView(config)]));
  return concat(perView, 1);
}

/**
 * The exported encoder (docs/policy-encoder-contract.md): one image per view, in view order,
 * images [V, 3, H, W] -> features [V, 3K].
 */
export function encodeViews(images: Tensor, config: PolicyEncoderConfig): Tensor {
  const [v, , h, w] = images.shape as [number, number, number, number];
  return encodeScenes(images.reshape([1, v, 3, h, w]), config).reshape([v, featuresPerView(config)]);
}

/** Values of the hand target: two key bodies relative to the hand (x, y, z each, decimetres). */
export const HAND_TARGET_SIZE = 6;
/** Values of the image target per view: per key body (x, y, in view). */
export const IMAGE_TARGET_SIZE = 6;
export const PROPRIO_INPUTS = 5;

/**
 * Training heads on scene features [B, V, 3K] and proprioception [B, 5], one set per training
 * task (each task's key bodies are other objects, so one shared linear map cannot read them all);
 * `task` [B, T] one-hot picks each row's task.
 */
export function pretrainHeads(features: Tensor, proprio: Tensor, task: Tensor, config: PolicyEncoderConfig): { hand: Tensor; image: Tensor } {
  const [b, v, f] = features.shape as [number, number, number];
  const tasks = task.shape[1]!;
  const flat = concat([features.reshape([b, v * f]), proprio], 1);
  let hand: Tensor | undefined;
  let image: Tensor | undefined;
  for (let t = 0; t < tasks; t++) {
    const pick = task.slice(1, t, t + 1); // [B, 1]
    const h = linear(flat, `head.task${t}.hand`, HAND_TARGET_SIZE).mul(pick);
    const views: Tensor[] = [];
    for (let i = 0; i < config.views; i++) views.push(linear(features.slice(1, i, i + 1).reshape([b, f]), `head.task${t}.image${i}`, IMAGE_TARGET_SIZE).reshape([b, 1, IMAGE_TARGET_SIZE]));
    const im = concat(views, 1).mul(pick.reshape([b, 1, 1]));
    hand = hand ? hand.add(h) : h;
    image = image ? image.add(im) : im;
  }
  return { hand: hand!, image: image! };
}

export function isEncoderParam(name: string): boolean {
  return name.startsWith('enc.');
}

/** Builds a graph whose parameters are the encoder's and the heads', for a fresh seeded store. */
export function buildAll(graph: Graph, batch: number, tasks: number, config: PolicyEncoderConfig): void {
  const features = encodeScenes(graph.input('images', [batch, config.views, 3, config.height, config.width]), config);
  pretrainHeads(features, graph.input('proprio', [batch, PROPRIO_INPUTS]), graph.input('task', [batch, tasks]), config);
}
