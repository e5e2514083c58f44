/**
 * A linear read-out of frozen features: how much of a target a policy's first linear layer can
 * get from them. Inputs are standardised with the fitting rows' mean and deviation; the weights
 * are fitted on the engine (full-batch least squares by AdamW with a small weight decay, the
 * ridge term), so no numeric kernel is written here. Errors are reported per test row.
 */
import { Graph, linear, ParamStore, Predictor, Trainer } from '../../engine/index.js';

export interface ReadoutRow {
  x: Float32Array;
  y: Float32Array;
}

export interface ReadoutOptions {
  steps?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
}

/** Fits y ~ W x + b on `fit`; returns the predictions for `test`, row by row. */
export async function fitLinearReadout(fit: readonly ReadoutRow[], test: readonly ReadoutRow[], options: ReadoutOptions = {}): Promise<Float32Array[]> {
  if (fit.length === 0 || test.length === 0) throw new RangeError('linear read-out: expected fitting and test rows');
  const inputs = fit[0]!.x.length;
  const outputs = fit[0]!.y.length;
  const mean = new Float64Array(inputs);
  const deviation = new Float64Array(inputs);
  for (const r of fit) for (let i = 0; i < inputs; i++) mean[i]! += r.x[i]! / fit.length;
  for (const r of fit) for (let i = 0; i < inputs; i++) deviation[i]! += (r.x[i]! - mean[i]!) ** 2 / fit.length;
  const scale = Array.from(deviation, (v) => 1 / Math.max(Math.sqrt(v), 1e-4));
  const standardise = (x: Float32Array, out: Float32Array, offset: number): void => {
    for (let i = 0; i < inputs; i++) out[offset + i] = (x[i]! - mean[i]!) * scale[i]!;
  };
  const n = fit.length;
  const store = new ParamStore({ seed: options.seed ?? 1 });
  linear(new Graph({ store }).input('x', [1, inputs]), 'readout', outputs);
  const trainer = await Trainer.create({
    store,
    name: 'linear read-out',
    executionProvider: 'cpu',
    optimizer: { kind: 'adamw', lr: options.lr ?? 0.01, weightDecay: options.weightDecay ?? 1e-3 },
    build: (g) => ({ loss: linear(g.input('x', [n, inputs]), 'readout', outputs).sub(g.input('y', [n, outputs])).square().mean() }),
  });
  const x = new Float32Array(n * inputs);
  const y = new Float32Array(n * outputs);
  fit.forEach((r, k) => {
    standardise(r.x, x, k * inputs);
    y.set(r.y, k * outputs);
  });
  const steps = options.steps ?? 3000;
  const lr = options.lr ?? 0.01;
  try {
    for (let s = 0; s < steps; s++) await trainer.run({ x, y }, { lr: lr * 0.5 * (1 + Math.cos((Math.PI * s) / steps)) });
  } finally {
    await trainer.dispose();
  }
  const predictor = await Predictor.create({ store, name: 'linear read-out', executionProvider: 'cpu', build: (g) => ({ y: linear(g.input('x', [1, inputs]), 'readout', outputs) }) });
  const row = new Float32Array(inputs);
  const out: Float32Array[] = [];
  try {
    for (const r of test) {
      standardise(r.x, row, 0);
      out.push(Float32Array.from((await predictor.run({ x: row })).y!));
    }
  } finally {
    await predictor.dispose();
  }
  return out;
}

/** Median and 90th percentile, rounded to 0.01. */
export function medianP90(values: readonly number[]): { median: number; p90: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 100) / 100;
  return { median: at(0.5), p90: at(0.9) };
}
