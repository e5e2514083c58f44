/** Seeded random numbers: every randomisation of the simulator goes through one of these. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  uniform(low: number, high: number): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: small, fast and good enough for poses, colours and noise. */
export function createRng(seed: number): Rng {
  let state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    uniform: (low, high) => low + (high - low) * next(),
    normal: () => {
      const u = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/** Derives an independent seed for a sub-stream (episode i of a run, the noise of an episode). */
export function deriveSeed(seed: number, stream: number): number {
  return createRng(seed * 7919 + stream * 104729 + 17).next() * 2 ** 31 >>> 0;
}

/**
 * A lab's reset: the same objects every episode, placed near one fixed layout. Every range a task
 * draws from gives `anchor + spread * (episode - anchor)`, where `anchor` comes from the layout's
 * stream and `episode` from the episode's, so each position and angle stays within `spread` of its
 * range around the layout's value; plain draws (colours, picks) come from the layout's stream
 * alone, so the objects look the same every episode. `spread` 1 is the task's full range around
 * the layout (positions differ every episode; colours do not).
 */
export function createLayoutRng(layoutSeed: number, episodeSeed: number, spread: number): Rng {
  const layout = createRng(layoutSeed);
  const episode = createRng(episodeSeed);
  const next = (): number => layout.next();
  return {
    next,
    uniform: (low, high) => {
      const anchor = layout.uniform(low, high);
      return anchor + spread * (episode.uniform(low, high) - anchor);
    },
    normal: () => {
      const anchor = layout.normal();
      return anchor + spread * (episode.normal() - anchor);
    },
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}
