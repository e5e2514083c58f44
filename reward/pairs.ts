/**
 * The training-pair sampler of the reference (`1_generate_data.py`), rewritten: pairs of sample
 * points (BEFORE i, AFTER j) balanced over 25 equal score bins of the hop percent on [-100, 100]
 * and, inside each, over 4 gap bins of |i - j| on [1, n - 2]; plus 5% zero-hop pairs whose AFTER
 * is BEFORE shifted by a few raw frames. Seeded: the same seed gives the same pairs.
 */
import { clamp, formatPercentLabel, hopBetweenIndices } from './hops.js';
import { roundHalfEven } from './labels.js';
import { createRng, type Rng } from './rng.js';

export interface PairOptions {
  /** Samples per episode, zero-hop ones included (reference: 1000). */
  max?: number;
  seed?: number;
  /** Share of zero-hop pairs (reference: 0.05). */
  zeroRatio?: number;
  scoreBins?: number;
  gapBins?: number;
  /** Candidate pool size as a multiple of the wanted count (reference: 100). */
  oversample?: number;
}

export interface TrainingPair {
  /** Frame id of the BEFORE state. */
  before: number;
  /** Frame id of the AFTER state. */
  after: number;
  /** Exact hop (Eq. 2) in [-1, 1]; 0 for zero-hop pairs. */
  hop: number;
  /** The reference's label text: one-decimal percent, `+12.5%`, `-3.1%`, `0.0%` for zero-hop pairs. */
  label: string;
  instruction: string;
}

export interface PairSample {
  /** Non-zero pairs first (in score-bin order), then zero-hop pairs. */
  pairs: TrainingPair[];
  /** Count of non-zero pairs per score bin (bin k covers [-100 + k*w, -100 + (k+1)*w), w = 200 / bins). */
  scoreBins: number[];
  /** Count of non-zero pairs per score bin and gap bin. */
  gapBins: number[][];
  /** Number of zero-hop pairs. */
  zeroHop: number;
}

/** Hop percent of sample point i -> j among n, computed in the reference's order of operations. */
export function referencePercent(i: number, j: number, n: number): number {
  if (i === j) return 0;
  const denom = j > i ? n - 1 - i : i;
  return denom === 0 ? 0 : (100 * (j - i)) / denom;
}

export function scoreBinOf(percent: number, bins: number): number {
  const width = 200 / bins;
  const k = Math.floor((clamp(percent, -100, 100) + 100) / width);
  return Math.min(k, bins - 1);
}

export function gapBinOf(gap: number, maxGap: number, bins: number): number {
  const width = maxGap / bins;
  const k = width > 0 ? Math.floor((clamp(gap, 1, maxGap) - 1) / width) : 0;
  return Math.min(k, bins - 1);
}

/** Bin indices ordered by distance to the centre bin; ties keep index order (sort is stable). */
export function centreOrder(bins: number): number[] {
  const centre = (bins - 1) / 2;
  return Array.from({ length: bins }, (_, k) => k).sort((a, b) => Math.abs(a - centre) - Math.abs(b - centre));
}

/**
 * Candidate (i, j) pairs, i != j: every pair when the pool target covers them all, else random
 * draws. Exported for its tests only.
 */
export function candidatePool(n: number, want: number, oversample: number, rng: Rng): Array<[number, number]> {
  const target = Math.min(100_000, Math.max(want * oversample, want * 10));
  const pairs: Array<[number, number]> = [];
  if (target >= n * (n - 1)) {
    // The reference draws up to 20x target random pairs; with target >= all pairs that finds them all.
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) pairs.push([i, j]);
    return pairs;
  }
  const seen = new Set<number>();
  for (let tries = 0; pairs.length < target && tries < target * 20; tries++) {
    const i = rng.int(n);
    const j = rng.int(n);
    if (i === j || seen.has(i * n + j)) continue;
    seen.add(i * n + j);
    pairs.push([i, j]);
  }
  return pairs;
}

/**
 * Samples training pairs over the sample points `frames` (ascending frame ids, progress
 * k / (n - 1)). Needs at least 3 points.
 */
export function samplePairs(frames: readonly number[], instructions: readonly string[], options: PairOptions = {}): PairSample {
  const max = options.max ?? 1000;
  const scoreBinCount = options.scoreBins ?? 25;
  const gapBinCount = options.gapBins ?? 4;
  const oversample = options.oversample ?? 100;
  const n = frames.length;
  if (n < 3) throw new RangeError(`sample points: expected at least 3, got ${n}`);
  if (!Number.isInteger(max) || max < 0) throw new RangeError(`max: expected a non-negative integer, got ${max}`);
  if (instructions.length === 0) throw new RangeError('instructions: expected at least one');
  const rng = createRng(options.seed ?? 1);

  const zeroCount = roundHalfEven(max * clamp(options.zeroRatio ?? 0.05, 0, 1));
  const want = Math.max(0, max - zeroCount);
  const maxGap = n - 2;
  const binOf = (i: number, j: number): [number, number] => [
    scoreBinOf(referencePercent(i, j, n), scoreBinCount),
    gapBinOf(Math.abs(i - j), maxGap, gapBinCount),
  ];

  // buckets[score][gap] = candidate pairs
  const buckets: Array<Array<Array<[number, number]>>> = Array.from({ length: scoreBinCount }, () =>
    Array.from({ length: gapBinCount }, () => []),
  );
  if (want > 0) {
    for (const [i, j] of candidatePool(n, want, oversample, rng)) {
      const [s, g] = binOf(i, j);
      buckets[s]![g]!.push([i, j]);
    }
  }

  // Equal quotas per score bin, the remainder to the bins nearest the centre.
  const order = centreOrder(scoreBinCount);
  const quota = new Array<number>(scoreBinCount).fill(Math.floor(want / scoreBinCount));
  for (const k of order.slice(0, want - quota.reduce((a, b) => a + b, 0))) quota[k]! += 1;

  const selected: Array<[number, number]> = [];
  for (let s = 0; s < scoreBinCount; s++) {
    const gaps = buckets[s]!;
    if (quota[s]! <= 0 || gaps.every((list) => list.length === 0)) continue;
    // Inside a score bin: equal quotas per gap bin, the remainder to the fullest gap bins (the
    // lower index first among equals: sort is stable).
    const gapQuota = new Array<number>(gapBinCount).fill(Math.floor(quota[s]! / gapBinCount));
    const byFullness = Array.from({ length: gapBinCount }, (_, g) => g).sort((a, b) => gaps[b]!.length - gaps[a]!.length);
    for (const g of byFullness.slice(0, quota[s]! - gapQuota.reduce((a, b) => a + b, 0))) gapQuota[g]! += 1;
    for (let g = 0; g < gapBinCount; g++) {
      const list = rng.shuffle(gaps[g]!);
      selected.push(...list.splice(0, gapQuota[g]!));
    }
  }

  // Deficits: from the score bins nearest the centre out. The reference then takes from anything
  // left at random; visiting every bin leaves nothing for that, so it is not written here.
  let deficit = want - selected.length;
  for (const s of order) {
    if (deficit <= 0) break;
    for (const g of rng.shuffle(Array.from({ length: gapBinCount }, (_, k) => k))) {
      const list = buckets[s]![g]!;
      while (list.length > 0 && deficit > 0) {
        selected.push(list.pop()!);
        deficit--;
      }
    }
  }

  const scoreBins = new Array<number>(scoreBinCount).fill(0);
  const gapBins = Array.from({ length: scoreBinCount }, () => new Array<number>(gapBinCount).fill(0));
  const pairs: TrainingPair[] = selected.map(([i, j]) => {
    const [s, g] = binOf(i, j);
    scoreBins[s]! += 1;
    gapBins[s]![g]! += 1;
    return {
      before: frames[i]!,
      after: frames[j]!,
      hop: hopBetweenIndices(i, j, n),
      label: formatPercentLabel(referencePercent(i, j, n)),
      instruction: rng.choice(instructions),
    };
  });

  // Zero-hop pairs: AFTER = BEFORE moved by max(1, floor(0.075 * local spacing)) raw frames.
  const first = frames[0]!;
  const last = frames[n - 1]!;
  for (let k = 0; k < zeroCount; k++) {
    const i = rng.int(n);
    const spacing = frames[Math.min(n - 1, i + 1)]! - frames[Math.max(0, i - 1)]!;
    const delta = Math.max(1, Math.floor(spacing * 0.075));
    const sign = rng.int(2) === 0 ? 1 : -1;
    pairs.push({
      before: frames[i]!,
      after: clamp(frames[i]! + sign * delta, first, last),
      hop: 0,
      label: '0.0%',
      instruction: rng.choice(instructions),
    });
  }
  return { pairs, scoreBins, gapBins, zeroHop: zeroCount };
}
