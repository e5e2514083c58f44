/**
 * Evaluation of progress curves (paper section 4 and appendix): value-order consistency (VOC),
 * VOC of a reversed run, and the task-completion classifier (Eq. 58).
 */
import { checkFinite } from './hops.js';
import { progressFromHops } from './hops.js';

/** Ranks 1..n, ties get the average of the ranks they span. */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [checkFinite(v, `value ${i}`), i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]![0] === order[start]![0]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]![1]] = rank;
    start = end + 1;
  }
  return ranks;
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Spearman rank correlation with average ranks for ties; NaN when either side is constant. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`spearman: expected equal lengths, got ${x.length} and ${y.length}`);
  if (x.length < 2) throw new RangeError('spearman: expected at least 2 values');
  return pearson(averageRanks(x), averageRanks(y));
}

/**
 * VOC: Spearman correlation of progress against time (1 for a strictly rising curve). A constant
 * curve has no order and gives NaN, as scipy's spearmanr does; the reference then counts it as 0.
 */
export function voc(progress: readonly number[]): number {
  return spearman(
    progress.map((_, t) => t),
    progress,
  );
}

/**
 * VOC of a reversed run, as the reference evaluates it: the model sees each step backwards
 * (BEFORE = frame k+1, AFTER = frame k). `reversedHops[k]` is the hop for the k-th step walking
 * back from the end. Progress accumulates from 1 down the reversed video; laid back in forward
 * time order, a good model's curve rises again, so a good model scores near +1 here too.
 */
export function vocReversed(reversedHops: readonly number[]): number {
  const walkedBack = progressFromHops(reversedHops, 1);
  return voc(walkedBack.reverse());
}

export type Completion = 'success' | 'partial' | 'failure';

/**
 * Eq. 58: success when the final progress > 0.8 and the mean of the last third > 0.6; partial
 * when that mean >= 0.4; failure otherwise. The last third is the last ceil(T / 3) values.
 */
export function classifyCompletion(progress: readonly number[]): Completion {
  if (progress.length === 0) throw new RangeError('completion: expected at least one progress value');
  progress.forEach((p, i) => checkFinite(p, `progress ${i}`));
  const tail = progress.slice(progress.length - Math.ceil(progress.length / 3));
  const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
  const final = progress[progress.length - 1]!;
  if (final > 0.8 && mean > 0.6) return 'success';
  if (mean >= 0.4) return 'partial';
  return 'failure';
}
