/** Timing of benchmark steps: milliseconds per call after a warm-up, as min / median / max. */

export interface Stats {
  min: number;
  median: number;
  max: number;
  runs: number;
}

export function stats(times: number[]): Stats {
  const sorted = [...times].sort((a, b) => a - b);
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return { min: round(sorted[0]!), median: round(sorted[Math.floor(sorted.length / 2)]!), max: round(sorted[sorted.length - 1]!), runs: times.length };
}

/** `warmup` untimed calls, then `runs` timed ones. */
export async function time(warmup: number, runs: number, step: () => unknown): Promise<Stats> {
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await step();
    times.push(performance.now() - start);
  }
  return stats(times);
}
