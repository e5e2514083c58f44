/**
 * Wall-clock time behind an interface, so that watchdogs and latency figures can be driven by a
 * manual clock in tests instead of by real time.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (or since any fixed origin, for a manual clock). */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to: deterministic watchdog tests. */
export class ManualClock implements Clock {
  private time: number;

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }
}
