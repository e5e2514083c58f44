import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../common/random.js';
import { ApproximateTimeSync, type SyncedSet } from './sync.js';

/** Message value: [view, nominal frame index]. */
type Tag = [number, number];

const rng = seededRandom;

interface Arrival {
  view: number;
  stampMs: number;
  frame: number;
  arriveMs: number;
}

/** Runs arrivals in arrival order; returns the sets as lists of frame indices per view. */
function run(sync: ApproximateTimeSync<Tag>, arrivals: Arrival[]): SyncedSet<Tag>[] {
  const ordered = [...arrivals].sort((a, b) => a.arriveMs - b.arriveMs || a.view - b.view);
  return ordered.flatMap((a) => sync.add(a.view, a.stampMs, [a.view, a.frame]));
}

function frames(set: SyncedSet<Tag>): number[] {
  return set.messages.map((m) => m.value[1]);
}

const views = ['cam_high', 'cam_left_wrist', 'cam_right_wrist'];

describe('ApproximateTimeSync (message_filters ApproximateTime)', () => {
  it('picks the closest set, not the first one within the slop', () => {
    const sync = new ApproximateTimeSync<string>({ views: ['a', 'b'], queueSize: 5, slopMs: 20 });
    expect(sync.add('a', 0, 'a0')).toEqual([]);
    expect(sync.add('a', 10, 'a10')).toEqual([]);
    const sets = sync.add('b', 9, 'b9');
    expect(sets.map((s) => s.messages.map((m) => m.value))).toEqual([['a10', 'b9']]);
    expect(sets[0]!.spreadMs).toBe(1);
    // a0 was not part of any set within the slop that beat the chosen one: dropped.
    expect(sync.stats().views.map((v) => [v.view, v.synced, v.dropped])).toEqual([
      ['a', 1, 1],
      ['b', 1, 0],
    ]);
  });

  it('emits every frame of jittered 30 Hz cameras as one set, frames matched by nominal index', () => {
    const random = rng(7);
    const arrivals: Arrival[] = [];
    const lastArrival = [0, 0, 0];
    // 200 jittered frames, then 3 frames that let the search prove the last sets optimal. Each
    // camera delivers in its own order (transport delay 20..50 ms); the views interleave freely.
    for (let f = 0; f < 203; f++) {
      for (let v = 0; v < 3; v++) {
        const stampMs = f * 33.3 + (f < 200 ? (random() - 0.5) * 10 : 0); // +-5 ms jitter
        const arriveMs = Math.max(lastArrival[v]! + 0.1, stampMs + 20 + random() * 30);
        lastArrival[v] = arriveMs;
        arrivals.push({ view: v, stampMs, frame: f, arriveMs });
      }
    }
    const sync = new ApproximateTimeSync<Tag>({ views, queueSize: 10, slopMs: 15 });
    const sets = run(sync, arrivals);
    expect(sets.length).toBeGreaterThanOrEqual(200);
    sets.forEach((set, i) => {
      expect(frames(set)).toEqual([i, i, i]);
      expect(set.spreadMs).toBeLessThanOrEqual(15);
    });
    const stats = sync.stats();
    expect(stats.sets).toBe(sets.length);
    expect(stats.views.every((v) => v.received === 203 && v.dropped === 0 && v.outOfOrder === 0)).toBe(true);
  });

  it('skips frames a view dropped and drops the other views\' copies of them', () => {
    const missing = new Set([5, 6, 40]);
    const arrivals: Arrival[] = [];
    for (let f = 0; f < 60; f++) {
      for (let v = 0; v < 3; v++) {
        if (v === 1 && missing.has(f)) continue;
        const stampMs = f * 100 + v * 3;
        arrivals.push({ view: v, stampMs, frame: f, arriveMs: stampMs + 10 });
      }
    }
    const sync = new ApproximateTimeSync<Tag>({ views, queueSize: 10, slopMs: 30 });
    const sets = run(sync, arrivals);
    const got = sets.map(frames);
    for (const set of got) expect(new Set(set).size).toBe(1);
    const matched = got.map((set) => set[0]!);
    expect(matched.filter((f) => missing.has(f))).toEqual([]);
    expect(matched.length).toBeGreaterThanOrEqual(60 - missing.size - 1);
    const stats = sync.stats();
    expect(stats.views[0]!.dropped).toBe(missing.size);
    expect(stats.views[2]!.dropped).toBe(missing.size);
    expect(stats.views[1]!.dropped).toBe(0);
  });

  it('matches views that arrive out of order with each other (one view lags by several frames)', () => {
    const arrivals: Arrival[] = [];
    for (let f = 0; f < 50; f++) {
      arrivals.push({ view: 0, stampMs: f * 50, frame: f, arriveMs: f * 50 + 5 });
      arrivals.push({ view: 1, stampMs: f * 50 + 2, frame: f, arriveMs: f * 50 + 5 + 180 }); // 3-4 frames late
      arrivals.push({ view: 2, stampMs: f * 50 - 2, frame: f, arriveMs: f * 50 + 5 + 60 });
    }
    const sync = new ApproximateTimeSync<Tag>({ views, queueSize: 10, slopMs: 10 });
    const sets = run(sync, arrivals);
    expect(sets.length).toBeGreaterThanOrEqual(49);
    sets.forEach((set, i) => expect(frames(set)).toEqual([i, i, i]));
  });

  it('discards a message whose stamp goes back within its own view and counts it', () => {
    const sync = new ApproximateTimeSync<string>({ views: ['a', 'b'], queueSize: 5, slopMs: 5 });
    sync.add('a', 100, 'a100');
    sync.add('a', 90, 'a90-late');
    sync.add('a', 100, 'a100-again');
    sync.add('b', 101, 'b101');
    const sets = [...sync.add('a', 200, 'a200'), ...sync.add('b', 199, 'b199'), ...sync.add('a', 300, 'a300'), ...sync.add('b', 300, 'b300')];
    expect(sets.map((s) => s.messages.map((m) => m.value))).toEqual([
      ['a100', 'b101'],
      ['a200', 'b199'],
      ['a300', 'b300'],
    ]);
    expect(sync.stats().views[0]!.outOfOrder).toBe(2);
  });

  it('never emits a set wider than the slop', () => {
    const sync = new ApproximateTimeSync<number>({ views: ['a', 'b'], queueSize: 3, slopMs: 20 });
    const sets: SyncedSet<number>[] = [];
    for (let f = 0; f < 30; f++) {
      sets.push(...sync.add('a', f * 100, f));
      sets.push(...sync.add('b', f * 100 + 40, f));
    }
    expect(sets).toEqual([]);
    const stats = sync.stats();
    expect(stats.sets).toBe(0);
    expect(stats.views[0]!.dropped + stats.views[1]!.dropped).toBeGreaterThan(50);
  });

  it('bounds every queue to queueSize while one view is silent', () => {
    const sync = new ApproximateTimeSync<number>({ views: ['a', 'b', 'c'], queueSize: 4, slopMs: 10 });
    for (let f = 0; f < 20; f++) {
      sync.add('a', f * 10, f);
      sync.add('b', f * 10 + 1, f);
    }
    expect(sync.pending()).toEqual([4, 4, 0]);
    expect(sync.stats().views.map((v) => v.dropped)).toEqual([16, 16, 0]);
    // When the silent view comes back, the newest queued frames are matched.
    const sets = [...sync.add('c', 192, 19), ...sync.add('a', 200, 20), ...sync.add('b', 201, 20), ...sync.add('c', 202, 20)];
    expect(sets[0]!.messages.map((m) => m.value)).toEqual([19, 19, 19]);
  });

  it('reports per-view rate and latency from the arrival clock', () => {
    let clock = 1000;
    const sync = new ApproximateTimeSync<number>({ views: ['a', 'b'], queueSize: 5, slopMs: 5, now: () => clock });
    for (let f = 0; f < 11; f++) {
      clock = 1000 + f * 100; // 10 Hz arrivals
      sync.add('a', clock - 30, f); // 30 ms old on arrival
      sync.add('b', clock - 25, f);
    }
    const [a, b] = sync.stats().views;
    expect(a!.rateHz).toBeCloseTo(10, 6);
    expect(a!.latencyMs).toBe(30);
    expect(b!.meanLatencyMs).toBe(25);
    expect(sync.stats().meanSpreadMs).toBe(5);
  });

  it('rejects bad options and unknown views', () => {
    expect(() => new ApproximateTimeSync({ views: [], queueSize: 1, slopMs: 1 })).toThrow(/views/);
    expect(() => new ApproximateTimeSync({ views: ['a'], queueSize: 0, slopMs: 1 })).toThrow(/queueSize/);
    expect(() => new ApproximateTimeSync({ views: ['a', 'a'], queueSize: 1, slopMs: 1 })).toThrow(/distinct/);
    const sync = new ApproximateTimeSync({ views: ['a'], queueSize: 1, slopMs: 1 });
    expect(() => sync.add('z', 1, 0)).toThrow(/view/);
    expect(() => sync.add('a', Number.NaN, 0)).toThrow(/finite/);
  });

  it('property: sets are within the slop, rise per view, and use each message at most once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ view: fc.integer({ min: 0, max: 2 }), gap: fc.integer({ min: 1, max: 40 }), delay: fc.integer({ min: 0, max: 100 }) }), {
          maxLength: 200,
        }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 30 }),
        (steps, queueSize, slopMs) => {
          const last = [0, 0, 0];
          const arrivals = steps.map((s, k) => {
            last[s.view]! += s.gap;
            return { view: s.view, stampMs: last[s.view]!, frame: k, arriveMs: last[s.view]! + s.delay };
          });
          const sync = new ApproximateTimeSync<Tag>({ views, queueSize, slopMs });
          const sets = run(sync, arrivals);
          const used = new Set<number>();
          const previous = [-Infinity, -Infinity, -Infinity];
          for (const set of sets) {
            expect(set.spreadMs).toBeLessThanOrEqual(slopMs);
            set.messages.forEach((m, v) => {
              expect(m.value[0]).toBe(v);
              expect(m.stampMs).toBeGreaterThan(previous[v]!);
              previous[v] = m.stampMs;
              expect(used.has(m.value[1])).toBe(false);
              used.add(m.value[1]);
            });
          }
          expect(sync.pending().every((p) => p <= queueSize)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
