/**
 * Gradient check: the engine's reverse-mode gradients against central finite differences, on a
 * float64 graph. The output is reduced to a scalar with fixed random weights, so every output
 * element's gradient contributes.
 */
import { gradients } from './autodiff.js';
import type { Tensor } from './graph.js';
import { Graph } from './graph.js';
import { emitModel } from './onnx.js';
import { normalSampler, ParamStore, seededRandom } from './params.js';
import { createSession, ort } from './runtime.js';

export interface GradCheckInput {
  shape: number[];
  /** Values; default standard normal from the seed. */
  values?: number[];
}

export interface GradCheckResult {
  /** Input or parameter name -> relative error ||analytic - numeric|| / max(norms). */
  errors: Record<string, number>;
  maxError: number;
  /** Name -> the engine's gradient (all elements). */
  analytic: Record<string, number[]>;
}

export async function gradCheck(
  build: (graph: Graph, inputs: Record<string, Tensor>) => Tensor,
  inputs: Record<string, GradCheckInput>,
  options: { seed?: number; eps?: number; samplesPerTensor?: number; dtype?: 'float32' | 'float64'; only?: string[] } = {},
): Promise<GradCheckResult> {
  const { seed = 1, eps = 1e-6, samplesPerTensor = 24, dtype = 'float64' } = options;
  const store = new ParamStore({ seed, dtype });
  const graph = new Graph({ store });
  const random = seededRandom(seed + 17);
  const normal = normalSampler(random);
  const Typed = dtype === 'float64' ? Float64Array : Float32Array;
  const symbolic: Record<string, Tensor> = {};
  const values = new Map<string, Float64Array | Float32Array>();
  for (const [name, spec] of Object.entries(inputs)) {
    symbolic[name] = graph.input(name, spec.shape);
    const size = spec.shape.reduce((n, d) => n * d, 1);
    values.set(name, Typed.from(spec.values ?? Array.from({ length: size }, normal)));
  }
  const out = build(graph, symbolic);
  const weights = graph.constant(Array.from({ length: out.size }, normal), out.shape);
  const loss = out.rank === 0 ? out : out.mul(weights).sum();
  const wrt: [string, Tensor][] = [...Object.entries(symbolic), ...graph.params.entries()];
  for (const [name] of graph.params) values.set(name, store.get(name).data);
  const grads = gradients(loss, wrt.map(([, t]) => t));
  const outputs: Record<string, Tensor> = { loss };
  wrt.forEach(([name], i) => (outputs[`grad/${name}`] = grads[i]!));
  const emitted = emitModel(graph, { outputs });
  const session = await createSession(emitted.bytes, { executionProvider: 'cpu' });
  const shapes = new Map(wrt.map(([name, t]) => [name, t.shape]));
  const run = async (): Promise<Record<string, ArrayLike<number>>> => {
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    for (const name of [...emitted.inputNames, ...emitted.paramInputs]) feeds[name] = new ort.Tensor(dtype, values.get(name)!, shapes.get(name)!);
    const result = await session.run(feeds);
    return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, v.data as Float64Array]));
  };
  const analytic = await run();
  const errors: Record<string, number> = {};
  for (const [name] of wrt) {
    if (options.only && !options.only.includes(name)) continue;
    const data = values.get(name)!;
    const indices = data.length <= samplesPerTensor ? data.map((_, i) => i) : Array.from({ length: samplesPerTensor }, () => Math.floor(random() * data.length));
    let diff = 0;
    let normA = 0;
    let normN = 0;
    for (const i of indices) {
      const original = data[i]!;
      data[i] = original + eps;
      const plus = (await run()).loss![0]!;
      data[i] = original - eps;
      const minus = (await run()).loss![0]!;
      data[i] = original;
      const numeric = (plus - minus) / (2 * eps);
      const a = analytic[`grad/${name}`]![i]!;
      diff += (a - numeric) ** 2;
      normA += a * a;
      normN += numeric * numeric;
    }
    const scale = Math.sqrt(Math.max(normA, normN));
    errors[name] = scale < 1e-10 ? Math.sqrt(diff) : Math.sqrt(diff) / scale;
  }
  await session.release();
  const gradientsByName = Object.fromEntries(wrt.map(([name]) => [name, Array.from(analytic[`grad/${name}`]!)]));
  return { errors, maxError: Math.max(...Object.values(errors)), analytic: gradientsByName };
}
