/**
 * The hop (paper Eq. 2): the relative progress from a BEFORE state to an AFTER state, and its
 * inverse, progress accumulated from hops (Eqs. 4-5). Progress lives in [0, 1], hops in [-1, 1].
 */

/** Refuses NaN and infinities: a broken model output must stop the caller, not poison a curve. */
export function checkFinite(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new RangeError(`${what}: expected a finite number, got ${value}`);
  return value;
}

export function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}

/**
 * Eq. 2. Ahead: the gain relative to what remained, (Pq - Pp) / (1 - Pp). Behind: the loss
 * relative to what was achieved, (Pq - Pp) / Pp. Equal progress: 0.
 */
export function hop(progressBefore: number, progressAfter: number): number {
  const p = clamp(checkFinite(progressBefore, 'progress before'), 0, 1);
  const q = clamp(checkFinite(progressAfter, 'progress after'), 0, 1);
  if (q > p) return (q - p) / (1 - p);
  if (q < p) return (q - p) / p;
  return 0;
}

/**
 * Eq. 2 for sample points i -> j of an evenly labelled list of n points (progress k / (n - 1)),
 * in the exact integer form (j - i) / (n - 1 - i) or (j - i) / i: no rounding of i / (n - 1).
 */
export function hopBetweenIndices(before: number, after: number, count: number): number {
  if (after > before) return (after - before) / (count - 1 - before);
  if (after < before) return (after - before) / before;
  return 0;
}

/**
 * Eqs. 4-5: the progress after one hop. Finite hops outside [-1, 1] are clipped (as the reference
 * clips the model's percent), so the result always stays in [0, 1]; NaN is refused.
 */
export function progressAfterHop(progress: number, hopValue: number): number {
  const p = clamp(checkFinite(progress, 'progress'), 0, 1);
  const h = clamp(checkFinite(hopValue, 'hop'), -1, 1);
  const next = h >= 0 ? p + (1 - p) * h : p + p * h;
  return clamp(next, 0, 1);
}

/** Progress after each hop, starting from `start` (0 for a forward run, 1 for a reversed one). */
export function progressFromHops(hops: readonly number[], start = 0): number[] {
  const curve: number[] = [];
  let progress = start;
  for (const h of hops) {
    progress = progressAfterHop(progress, h);
    curve.push(progress);
  }
  return curve;
}

/**
 * Round half to even on the exact binary value, as Python's `f"{x:+.1f}"` does (JavaScript's
 * toFixed rounds ties away from zero). Used for the reference's one-decimal percent labels.
 */
export function formatPercentLabel(percent: number): string {
  checkFinite(percent, 'percent');
  const sign = percent > 0 ? '+' : percent < 0 ? '-' : '+';
  const magnitude = Math.abs(percent);
  // 20 exact decimals separate a true tie (x.x5 exactly) from its neighbours for |x| <= 1e5.
  const exact = magnitude.toFixed(20);
  const [whole, fraction] = exact.split('.') as [string, string];
  let tenths = BigInt(whole) * 10n + BigInt(fraction[0]!);
  const rest = fraction.slice(1);
  const half = '5'.padEnd(rest.length, '0');
  if (rest > half || (rest === half && tenths % 2n === 1n)) tenths += 1n;
  const text = `${tenths / 10n}.${tenths % 10n}`;
  return `${tenths === 0n ? (Object.is(percent, -0) || percent < 0 ? '-' : '+') : sign}${text}%`;
}

/** The reference's label of a hop: one-decimal percent with sign, e.g. `+12.5%`, `-3.1%`, `+0.0%`. */
export function hopLabel(hopValue: number): string {
  return formatPercentLabel(100 * hopValue);
}

/**
 * Reads a hop from model text the way the reference does: the text between the last `<score>`
 * and the following `</score>`, `%` removed, clipped to [-100, 100], divided by 100.
 * Returns undefined when there is no number to read.
 */
export function parseScore(text: string): number | undefined {
  const start = text.lastIndexOf('<score>');
  if (start < 0) return undefined;
  const tail = text.slice(start + '<score>'.length);
  const end = tail.indexOf('</score>');
  const inner = (end < 0 ? tail : tail.slice(0, end)).replaceAll('%', '').trim();
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(inner)) return undefined;
  return clamp(Number(inner), -100, 100) / 100;
}
