/**
 * Setting the completion judge on data: given labelled episodes' fused-progress curves (real
 * successes and non-successes), every (threshold, window) pair of a grid is scored by how many
 * episodes the judge classes right (done somewhere in a success, never in a non-success), and the
 * pair with the best accuracy among those with at most `maxFalseRate` false successes is chosen
 * (at most floor(maxFalseRate * non-successes) of them: with fewer than 50 non-successes and the
 * default 1 in 50, none). Ties go to the longer window, then the higher threshold: the more
 * conservative judge. Where the data cannot tell pairs apart (accuracy within `margin` of the
 * best, by default one episode), `conservative` is the one with the longest window among them
 * at the best pair's threshold (the threshold is the data's; only the window is lengthened):
 * a policy optimising against the model holds a false high progress longer than the passive
 * failures of a data set do, so a window the data does not reject is the safer default.
 */
import { firstDone, MIN_SUCCESS_WINDOW, type CompletionRule } from './completion.js';

export interface LabelledCurve {
  /** Whether the task was really done (the simulator's predicate, a human label). */
  success: boolean;
  /** Fused progress P(s_0) .. P(s_T) of the scored states. */
  progress: readonly number[];
}

export interface CalibrationRow extends CompletionRule {
  /** Successes the judge calls done. */
  truePositives: number;
  /** Non-successes the judge calls done. */
  falsePositives: number;
  accuracy: number;
  /** Within the false-success limit. */
  allowed: boolean;
}

export interface CalibrationResult {
  successes: number;
  failures: number;
  /** False successes allowed: floor(maxFalseRate * failures). */
  falseLimit: number;
  /** The pair of the best accuracy, or null when no pair keeps to the limit. */
  chosen: CalibrationRow | null;
  /** Allowed pairs whose accuracy is within `margin` of the chosen one's (the data cannot tell them apart). */
  ties: CalibrationRow[];
  /** Of the ties at the chosen pair's threshold, the longest window. */
  conservative: CalibrationRow | null;
  rows: CalibrationRow[];
}

export interface CalibrationOptions {
  thresholds?: readonly number[];
  windows?: readonly number[];
  /** Largest share of non-successes that may be called done (default 1 / 50). */
  maxFalseRate?: number;
  /** Accuracy differences up to this count as ties (default one episode, 1 / curves). */
  margin?: number;
}

export const DEFAULT_THRESHOLDS: readonly number[] = [0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92, 0.95, 0.97];
export const DEFAULT_WINDOWS: readonly number[] = [2, 3, 4, 5, 6, 8, 10, 12];

const better = (a: CalibrationRow, b: CalibrationRow): boolean =>
  a.accuracy !== b.accuracy ? a.accuracy > b.accuracy : a.window !== b.window ? a.window > b.window : a.threshold > b.threshold;

export function calibrateCompletion(curves: readonly LabelledCurve[], options: CalibrationOptions = {}): CalibrationResult {
  if (curves.length === 0) throw new RangeError('calibration: expected at least one labelled curve');
  const thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
  const windows = options.windows ?? DEFAULT_WINDOWS;
  const maxFalseRate = options.maxFalseRate ?? 1 / 50;
  if (!(maxFalseRate >= 0 && maxFalseRate <= 1)) throw new RangeError(`calibration: expected a false-success rate in [0, 1], got ${maxFalseRate}`);
  for (const w of windows) if (!Number.isSafeInteger(w) || w < MIN_SUCCESS_WINDOW) throw new RangeError(`calibration: expected windows >= ${MIN_SUCCESS_WINDOW}, got ${w}`);
  const successes = curves.filter((c) => c.success).length;
  const failures = curves.length - successes;
  // A small tolerance so that 0.02 * 50 counts as 1, not 0.999...
  const falseLimit = Math.floor(maxFalseRate * failures + 1e-9);
  const rows: CalibrationRow[] = [];
  for (const threshold of thresholds) {
    for (const window of windows) {
      let truePositives = 0;
      let falsePositives = 0;
      for (const curve of curves) {
        const done = firstDone(curve.progress, { threshold, window }) !== undefined;
        if (done && curve.success) truePositives++;
        if (done && !curve.success) falsePositives++;
      }
      const accuracy = (truePositives + failures - falsePositives) / curves.length;
      rows.push({ threshold, window, truePositives, falsePositives, accuracy, allowed: falsePositives <= falseLimit });
    }
  }
  let chosen: CalibrationRow | null = null;
  for (const row of rows) if (row.allowed && (chosen === null || better(row, chosen))) chosen = row;
  const margin = options.margin ?? 1 / curves.length;
  const ties = chosen === null ? [] : rows.filter((r) => r.allowed && r.accuracy >= chosen.accuracy - margin - 1e-12);
  let conservative: CalibrationRow | null = null;
  for (const row of ties) if (row.threshold === chosen!.threshold && (conservative === null || row.window > conservative.window)) conservative = row;
  return { successes, failures, falseLimit, chosen, ties, conservative, rows };
}
