import { describe, expect, it } from 'vitest';
import { gradients } from './autodiff.js';
import type { Tensor } from './graph.js';
import { Graph } from './graph.js';
import { interpret } from './interpret.js';
import { imageEncoder, linear } from './layers.js';
import { crossEntropyBins, huber } from './losses.js';
import { emitModel } from './onnx.js';
import { normalSampler, ParamStore, seededRandom } from './params.js';
import { ort } from './runtime.js';

describe('plain TypeScript interpreter agrees with onnxruntime on the same graph', () => {
  it('encoder forward + every gradient, float64, to 1e-9', async () => {
    const store = new ParamStore({ seed: 3, dtype: 'float64' });
    const g = new Graph({ store });
    const images = g.input('images', [2, 3, 8, 12]);
    const targets = g.input('targets', [2, 4]);
    const logits = linear(imageEncoder(images, 'enc', { patch: 4, dim: 8, heads: 2 }), 'head', 4);
    const loss = crossEntropyBins(logits, targets.softmax(-1)).add(huber(logits.max([1]), targets.sum([1]).minimum(0.5)));
    const names = [...g.params.keys()];
    const grads = gradients(loss, names.map((n) => g.params.get(n)!));
    const outputs: Record<string, Tensor> = { loss };
    names.forEach((n, i) => (outputs[`grad/${n}`] = grads[i]!));
    const emitted = emitModel(g, { outputs });
    const session = await ort.InferenceSession.create(emitted.bytes);
    const normal = normalSampler(seededRandom(5));
    const feeds = new Map<string, Float64Array>([
      ['images', Float64Array.from({ length: 2 * 3 * 8 * 12 }, normal)],
      ['targets', Float64Array.from({ length: 8 }, normal)],
    ]);
    for (const n of names) feeds.set(n, store.get(n).data as Float64Array);
    const ortFeeds = Object.fromEntries([...feeds].map(([n, d]) => [n, new ort.Tensor('float64', d, n === 'images' ? [2, 3, 8, 12] : n === 'targets' ? [2, 4] : store.get(n).shape)]));
    const fromOrt = await session.run(ortFeeds);
    const plain = interpret(Object.values(outputs), feeds);
    Object.keys(outputs).forEach((name, i) => {
      const a = fromOrt[name]!.data as Float64Array;
      const b = plain[i]!;
      expect(b.length).toBe(a.length);
      for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b[k]!)).toBeLessThan(1e-9 * (1 + Math.abs(a[k]!)));
    });
    expect(Math.abs(plain[0]![0]!)).toBeGreaterThan(0);
  });
});
