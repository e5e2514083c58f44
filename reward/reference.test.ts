/**
 * `dopamine labels` and `dopamine pairs` on the real clean-table demo (../shared) against an
 * independent re-derivation of the reference algorithm (FlagOpen/Robo-Dopamine,
 * dataset/utils/0_preprocess_data.py and 1_generate_data.py), written here from its rules and
 * sharing no code with reward/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/testing.js';

const root = join(import.meta.dirname, '..', '..', 'shared', 'data', 'clean-table');
const episodeDir = join(root, 'episode_001');
const present = existsSync(join(episodeDir, 'annotated_keyframes.json'));
if (!present) console.warn(`skipping the reference-agreement tests: ${episodeDir} is absent (../shared not checked out)`);

const FRAME_COUNT = 1277; // SOURCE.md: 1277 frames per camera

/** Python's round() / numpy.round: half to even. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

function referenceFrames(sampleFactor: number, floor: boolean): { ids: number[]; subtasks: number } {
  const keys = JSON.parse(readFileSync(join(episodeDir, 'annotated_keyframes.json'), 'utf8')) as Array<{ start_frame_id: number; end_frame_id: number }>;
  const n = (keys[keys.length - 1]!.end_frame_id - keys[0]!.start_frame_id) / sampleFactor;
  const m = floor ? Math.floor(n / keys.length) : pyRound(n / keys.length);
  const points = Math.max(2, m + 1);
  const ids = new Set<number>();
  for (const k of keys) {
    const step = (k.end_frame_id - k.start_frame_id) / (points - 1);
    for (let i = 0; i < points; i++) {
      const v = i === points - 1 ? k.end_frame_id : k.start_frame_id + i * step;
      const id = pyRound(v);
      if (id >= 0 && id < FRAME_COUNT) ids.add(id);
    }
  }
  return { ids: [...ids].sort((a, b) => a - b), subtasks: keys.length };
}

/** The reference's one-decimal percent label of pair i -> j among n points, by exact rational rounding. */
function referenceLabel(i: number, j: number, n: number): string {
  const d = j > i ? n - 1 - i : i;
  const num = 1000 * Math.abs(j - i); // tenths of a percent = num / d
  let tenths = Math.floor(num / d);
  const rest = num - tenths * d;
  // No hop percent of this demo is an inexact binary tie (denominators <= 64), so the rational rule equals Python's.
  if (2 * rest > d || (2 * rest === d && tenths % 2 === 1)) tenths += 1;
  return `${j > i ? '+' : '-'}${Math.floor(tenths / 10)}.${tenths % 10}%`;
}

interface Pair {
  before: number;
  after: number;
  hop: number;
  instruction: string;
  label: string;
}

describe.skipIf(!present)('labels and pairs agree with the reference algorithm on clean-table/episode_001', () => {
  it('labels: the same frame ids and progress i / M, both roundings', () => {
    for (const [rounding, floor] of [
      ['reference', false],
      ['floor', true],
    ] as const) {
      const run = runCli(['labels', episodeDir, '--json', '--rounding', rounding]);
      expect(run.code, run.stderr).toBe(0);
      const labels = JSON.parse(run.stdout) as { frames: number[]; progress: number[]; subtasks: number };
      const expected = referenceFrames(20, floor);
      expect(labels.frames).toEqual(expected.ids);
      expect(labels.subtasks).toBe(16);
      expect(labels.progress).toHaveLength(expected.ids.length);
      labels.progress.forEach((p, i) => expect(Math.abs(p - i / (expected.ids.length - 1))).toBeLessThan(1e-9));
    }
    // 1255 / 20 / 16 = 3.92: m = 4 (round) -> 65 points, m = 3 (floor) -> 49
    expect(referenceFrames(20, false).ids).toHaveLength(65);
    expect(referenceFrames(20, true).ids).toHaveLength(49);
  });

  it('pairs: hops and labels of every pair, zero-hop shifts, and score-bin counts under the quota rules', () => {
    const run = runCli(['pairs', root, '--json', '--max', '1000', '--seed', '1']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { pairs: Pair[]; scoreBins: number[] };
    const ids = referenceFrames(20, false).ids;
    const n = ids.length;
    const instructions = JSON.parse(readFileSync(join(root, 'task_instruction.json'), 'utf8')) as string[];
    expect(result.pairs).toHaveLength(1000);

    const zeroCount = 50; // round(1000 * 0.05)
    const nonZero = result.pairs.slice(0, 1000 - zeroCount);
    const zero = result.pairs.slice(1000 - zeroCount);
    const seen = new Set<string>();
    const histogram = new Array<number>(25).fill(0);
    for (const pair of nonZero) {
      const i = ids.indexOf(pair.before);
      const j = ids.indexOf(pair.after);
      expect(i, `before ${pair.before} is a sample point`).toBeGreaterThanOrEqual(0);
      expect(j, `after ${pair.after} is a sample point`).toBeGreaterThanOrEqual(0);
      expect(i).not.toBe(j);
      const exact = j > i ? (j - i) / (n - 1 - i) : (j - i) / i;
      expect(Math.abs(pair.hop - exact)).toBeLessThan(1e-9);
      expect(pair.label).toBe(referenceLabel(i, j, n));
      expect(instructions).toContain(pair.instruction);
      seen.add(`${i},${j}`);
      const percent = j > i ? (100 * (j - i)) / (n - 1 - i) : (100 * (j - i)) / i;
      histogram[Math.min(24, Math.floor((percent + 100) / 8))]! += 1;
    }
    expect(seen.size).toBe(nonZero.length); // no pair twice
    expect(result.scoreBins).toEqual(histogram);

    for (const pair of zero) {
      const i = ids.indexOf(pair.before);
      expect(i).toBeGreaterThanOrEqual(0);
      const delta = Math.max(1, Math.floor((ids[Math.min(n - 1, i + 1)]! - ids[Math.max(0, i - 1)]!) * 0.075));
      const options = [pair.before + delta, pair.before - delta].map((f) => Math.min(ids[n - 1]!, Math.max(ids[0]!, f)));
      expect(options).toContain(pair.after);
      expect(pair.hop).toBe(0);
      expect(instructions).toContain(pair.instruction);
    }

    // Score-bin counts from the quota rules. The candidate pool target (950 * 100) exceeds the
    // 65 * 64 ordered pairs, so the reference's pool is every pair and the counts are determined.
    const want = 950;
    const available = Array.from({ length: 25 }, () => [0, 0, 0, 0]);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i === j) continue;
        const percent = j > i ? (100 * (j - i)) / (n - 1 - i) : (100 * (j - i)) / i;
        const s = Math.min(24, Math.floor((percent + 100) / 8));
        const w = (n - 2) / 4;
        const g = Math.min(3, Math.floor((Math.min(n - 2, Math.abs(i - j)) - 1) / w));
        available[s]![g]! += 1;
      }
    }
    const centreFirst = [...Array(25).keys()].sort((a, b) => Math.abs(a - 12) - Math.abs(b - 12) || a - b);
    const quota = new Array<number>(25).fill(Math.floor(want / 25));
    centreFirst.slice(0, want % 25).forEach((k) => (quota[k]! += 1));
    const taken = new Array<number>(25).fill(0);
    for (let s = 0; s < 25; s++) {
      const gaps = available[s]!;
      if (gaps.every((c) => c === 0)) continue;
      const gapQuota = [0, 1, 2, 3].map(() => Math.floor(quota[s]! / 4));
      const fullest = [0, 1, 2, 3].sort((a, b) => gaps[b]! - gaps[a]! || a - b);
      fullest.slice(0, quota[s]! % 4).forEach((g) => (gapQuota[g]! += 1));
      taken[s] = gaps.reduce((sum, c, g) => sum + Math.min(c, gapQuota[g]!), 0);
    }
    let deficit = want - taken.reduce((a, b) => a + b, 0);
    for (const s of centreFirst) {
      const left = available[s]!.reduce((a, b) => a + b, 0) - taken[s]!;
      const more = Math.min(left, deficit);
      taken[s]! += more;
      deficit -= more;
    }
    expect(deficit).toBe(0);
    expect(result.scoreBins).toEqual(taken);
  });
});
