/**
 * Demo-alignment progress: the baseline GRM-tiny is compared against (issue 31). Open-end dynamic
 * time warping of an episode against the one clean demo, on per-frame feature vectors.
 *
 * D(t, j) is the least summed distance of a warping path from (0, 0) to (t, j), where episode
 * frame t is matched with demo frame j and each step moves one episode frame, one demo frame, or
 * both (the symmetric step pattern):
 *
 *   D(0, 0) = d(0, 0)
 *   D(t, j) = d(t, j) + min(D(t-1, j), D(t-1, j-1), D(t, j-1))   (terms outside the grid omitted)
 *
 * The path must start at both first frames but may end anywhere in the demo (open end), so the
 * demo frame episode frame t aligns to is j*(t) = argmin_j D(t, j) (the smallest such j on a
 * tie), and its progress is j*(t) / (demo length - 1). Only column t-1 is kept, so progress is
 * computed online: that of frame t depends on frames 0..t alone, as a reward must.
 *
 * What it cannot see: the path is monotone and starts at the demo's first frame, so a rollout
 * that goes back (a regression, a reversed video) is not matched to earlier demo frames by a path;
 * only the argmin over the column can move back, and that reacts late (see alignment.test.ts).
 */

export type AlignmentDistance = 'cosine' | 'euclidean';

export interface AlignmentOptions {
  /** Distance between L2-normalised feature vectors (default cosine: 1 - dot product). */
  distance?: AlignmentDistance;
}

/** A copy of `vector` with unit Euclidean norm (a zero vector stays zero). */
export function l2Normalise(vector: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(vector as ArrayLike<number>);
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    const v = out[i]!;
    if (!Number.isFinite(v)) throw new RangeError(`feature ${i}: expected a finite number, got ${v}`);
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i]! /= norm;
  return out;
}

/** Distance of two unit vectors: cosine (1 - a.b, in [0, 2]) or Euclidean (|a - b|, in [0, 2]). */
export function unitDistance(a: Float64Array, b: Float64Array, kind: AlignmentDistance): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  const cosine = Math.max(0, 1 - dot);
  return kind === 'cosine' ? cosine : Math.sqrt(2 * cosine);
}

/** Online open-end DTW of an episode against a demo: `step` takes the episode's next frame's features and returns its progress. */
export class DemoAlignment {
  readonly demoLength: number;
  readonly featureSize: number;
  private readonly demo: Float64Array[];
  private readonly distance: AlignmentDistance;
  /** D(t-1, j) for every demo frame j; empty before the first frame. */
  private column: Float64Array;
  private frames = 0;

  constructor(demoFeatures: readonly ArrayLike<number>[], options: AlignmentOptions = {}) {
    if (demoFeatures.length < 2) throw new RangeError(`demo alignment: expected at least 2 demo frames, got ${demoFeatures.length}`);
    this.featureSize = demoFeatures[0]!.length;
    if (this.featureSize === 0) throw new RangeError('demo alignment: expected non-empty feature vectors');
    demoFeatures.forEach((f, j) => {
      if (f.length !== this.featureSize) throw new RangeError(`demo frame ${j}: expected ${this.featureSize} features, got ${f.length}`);
    });
    this.demo = demoFeatures.map((f) => l2Normalise(f));
    this.demoLength = demoFeatures.length;
    this.distance = options.distance ?? 'cosine';
    this.column = new Float64Array(0);
  }

  /** Episode frames aligned so far. */
  get length(): number {
    return this.frames;
  }

  /** Adds the episode's next frame; returns (the demo frame it aligns to) / (demo length - 1). */
  step(features: ArrayLike<number>): number {
    if (features.length !== this.featureSize) throw new RangeError(`episode frame ${this.frames}: expected ${this.featureSize} features, got ${features.length}`);
    const x = l2Normalise(features);
    const n = this.demoLength;
    const previous = this.column;
    const next = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const d = unitDistance(x, this.demo[j]!, this.distance);
      let best: number;
      if (this.frames === 0) best = j === 0 ? 0 : next[j - 1]!;
      else if (j === 0) best = previous[0]!;
      else best = Math.min(previous[j]!, previous[j - 1]!, next[j - 1]!);
      next[j] = d + best;
    }
    this.column = next;
    this.frames++;
    let arg = 0;
    for (let j = 1; j < n; j++) if (next[j]! < next[arg]!) arg = j;
    return arg / (n - 1);
  }
}

/** Progress of every frame of an episode (each computed online, from its prefix alone). */
export function alignmentProgress(demoFeatures: readonly ArrayLike<number>[], episodeFeatures: readonly ArrayLike<number>[], options: AlignmentOptions = {}): number[] {
  const alignment = new DemoAlignment(demoFeatures, options);
  return episodeFeatures.map((f) => alignment.step(f));
}
