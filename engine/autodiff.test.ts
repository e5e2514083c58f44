import { describe, expect, it } from 'vitest';
import type { Tensor } from './graph.js';
import { concat, conv2d } from './graph.js';
import type { GradCheckInput } from './gradcheck.js';
import { gradCheck } from './gradcheck.js';
import { attentionPool, layerNorm, linear, patchEmbed, transformerBlock } from './layers.js';
import { crossEntropyBins, huber, mse } from './losses.js';

const TOLERANCE = 1e-3;
const positive = (shape: number[]): GradCheckInput => ({ shape, values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.5 + ((i * 7919) % 13) / 7) });

type Case = [string, (t: Record<string, Tensor>) => Tensor, Record<string, GradCheckInput>];
const ab = { a: { shape: [3, 4] }, b: { shape: [3, 4] } };
const broadcastAb = { a: { shape: [2, 3, 4] }, b: { shape: [3, 1] } };

// One case per operation (and per broadcasting pattern), float64, central differences.
const cases: Case[] = [
  ['add (broadcast)', ({ a, b }) => a!.add(b!), broadcastAb],
  ['sub (broadcast)', ({ a, b }) => a!.sub(b!), broadcastAb],
  ['mul (broadcast)', ({ a, b }) => a!.mul(b!), broadcastAb],
  ['div', ({ a, b }) => a!.div(b!), { a: { shape: [3, 4] }, b: positive([4]) }],
  ['neg', ({ a }) => a!.neg(), ab],
  ['exp', ({ a }) => a!.exp(), ab],
  ['log', ({ a }) => a!.log(), { a: positive([3, 4]) }],
  ['sqrt', ({ a }) => a!.sqrt(), { a: positive([3, 4]) }],
  ['tanh', ({ a }) => a!.tanh(), ab],
  ['sigmoid', ({ a }) => a!.sigmoid(), ab],
  ['relu', ({ a }) => a!.relu(), ab],
  ['gelu', ({ a }) => a!.gelu(), ab],
  ['silu', ({ a }) => a!.silu(), ab],
  ['softplus', ({ a }) => a!.softplus(), ab],
  ['abs', ({ a }) => a!.abs(), ab],
  ['maximum', ({ a, b }) => a!.maximum(b!), ab],
  ['minimum (broadcast)', ({ a, b }) => a!.minimum(b!), { a: { shape: [3, 4] }, b: { shape: [4] } }],
  ['matmul', ({ a, b }) => a!.matmul(b!), { a: { shape: [3, 4] }, b: { shape: [4, 5] } }],
  ['matmul (batched, broadcast)', ({ a, b }) => a!.matmul(b!), { a: { shape: [2, 3, 4] }, b: { shape: [4, 5] } }],
  ['matmul (batch both)', ({ a, b }) => a!.matmul(b!), { a: { shape: [2, 2, 3, 4] }, b: { shape: [2, 1, 4, 2] } }],
  ['reshape', ({ a }) => a!.reshape([2, 6]).mul(a!.reshape([2, 6])), ab],
  ['transpose', ({ a }) => a!.transpose([2, 0, 1]).mul(a!.transpose([2, 0, 1])), { a: { shape: [2, 3, 4] } }],
  ['expand', ({ a }) => a!.expand([2, 3, 4]).square(), { a: { shape: [3, 1] } }],
  ['sum', ({ a }) => a!.sum([1]).square(), { a: { shape: [2, 3, 4] } }],
  ['sum (keepdims)', ({ a }) => a!.sum([0, 2], true).square(), { a: { shape: [2, 3, 4] } }],
  ['mean', ({ a }) => a!.mean([-1]).square(), { a: { shape: [2, 3, 4] } }],
  ['max', ({ a }) => a!.max([1]), { a: { shape: [2, 5, 3] } }],
  ['softmax', ({ a }) => a!.softmax(1), { a: { shape: [2, 5, 3] } }],
  ['logSoftmax', ({ a }) => a!.logSoftmax(-1), { a: { shape: [2, 5] } }],
  ['slice', ({ a }) => a!.slice(1, 1, 3).square(), { a: { shape: [2, 4, 3] } }],
  ['concat', ({ a, b }) => concat([a!, b!, a!], 1).square(), { a: { shape: [2, 3] }, b: { shape: [2, 2] } }],
  ['mse', ({ a, b }) => mse(a!, b!), ab],
  ['huber', ({ a, b }) => huber(a!.mul(2), b!, 1), ab],
  ['crossEntropyBins', ({ a, b }) => crossEntropyBins(a!, b!.mul(0.3).add(0.5)), { a: { shape: [3, 5] }, b: positive([3, 5]) }],
];

describe('gradient rules agree with central finite differences (float64)', () => {
  it.each(cases)('%s', async (_name, build, inputs) => {
    const { errors, maxError } = await gradCheck((_g, t) => build(t), inputs);
    expect(Object.keys(errors).length).toBeGreaterThan(0);
    expect(maxError, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
  });

  it('stopGradient blocks the gradient of one path only', async () => {
    // loss = sum(a * stop(b) + b): d/da = b, d/db = 1 (finite differences would see a + 1).
    const b = [0.5, -1, 2, 3];
    const { errors, analytic } = await gradCheck((_g, t) => t.a!.mul(t.b!.stopGradient()).add(t.b!).sum(), { a: { shape: [4] }, b: { shape: [4], values: b } }, { only: ['a'] });
    expect(errors.a).toBeLessThan(TOLERANCE);
    expect(analytic.b).toEqual([1, 1, 1, 1]);
    expect(analytic.a).toEqual(b);
  });

  it('greater has no gradient and masks correctly', async () => {
    const { errors } = await gradCheck((_g, { a }) => a!.mul(a!.greater(0)), { a: { shape: [3, 4] } });
    expect(errors.a).toBeLessThan(TOLERANCE);
  });
});

describe('layer gradients', () => {
  it.each([
    ['linear', (x: Tensor) => linear(x, 'l', 3), [4, 5]],
    ['layerNorm', (x: Tensor) => layerNorm(x, 'ln'), [3, 6]],
    ['patchEmbed', (x: Tensor) => patchEmbed(x, 'pe', 2, 3), [2, 3, 4, 6]],
    ['attentionPool (2 heads)', (x: Tensor) => attentionPool(x, 'pool', 2), [2, 5, 4]],
    ['transformerBlock', (x: Tensor) => transformerBlock(x, 'blk', { heads: 2, hidden: 8 }), [2, 3, 4]],
  ] as const)('%s', async (_name, layer, shape) => {
    const { errors, maxError } = await gradCheck((_g, { x }) => layer(x!), { x: { shape: [...shape] } });
    expect(Object.keys(errors).length).toBeGreaterThan(1); // input and parameters
    expect(maxError, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
  });

  it('conv2d (float32: onnxruntime has no float64 convolution; bilinear, so a large step is exact)', async () => {
    for (const stride of [1, 2]) {
      const { errors, maxError } = await gradCheck(
        (_g, { x, w }) => conv2d(x!, w!, stride),
        { x: { shape: [2, 2, 7, 6] }, w: { shape: [3, 2, 3, 2] } },
        { dtype: 'float32', eps: 0.25 },
      );
      expect(maxError, JSON.stringify(errors)).toBeLessThan(TOLERANCE);
    }
  });
});
