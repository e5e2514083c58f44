/**
 * Synchronises N camera views by header stamp with the ApproximateTime policy of ROS
 * message_filters (the C++ `approximate_time` policy, with `max_interval_duration` = slop, no
 * age penalty and no inter-message lower bounds):
 *
 * - every view has a queue; once every queue holds a message the search runs over the queue heads;
 * - the *candidate* is a set of one head per view; its *pivot* is the view with the latest head
 *   when the candidate was first made (sets are found in pivot order);
 * - without a candidate, a head set wider than the slop, or whose pivot view has dropped messages,
 *   loses its earliest head (deleted) and the search goes on; otherwise it becomes the candidate;
 * - with a candidate, the earliest head moves aside ("past"); a head set is better when its
 *   spread is smaller than the candidate's, measured as message_filters does
 *   (end - candidateEnd < start - candidateStart);
 * - the candidate is emitted when the pivot view's head is the earliest (every set for this pivot
 *   has been seen), or when it is provably optimal (any later set is at least as wide), or when a
 *   virtual search over the empty queues proves that no later message can give a better set;
 * - a queue holding more than queueSize messages (queued plus moved aside) loses its oldest
 *   message, which cancels the candidate search.
 *
 * Stamps of one view must rise: message_filters assumes it and only warns; here a stamp at or
 * before the previous one of the same view is dropped and counted as out of order.
 */

export interface Stamped<T> {
  stampMs: number;
  value: T;
}

/** One synchronised set: one message per view, in view order. */
export interface SyncedSet<T> {
  messages: Stamped<T>[];
  /** Latest minus earliest stamp of the set, ms. */
  spreadMs: number;
}

export interface ViewStats {
  view: string;
  /** Messages offered. */
  received: number;
  /** Messages that went out in a synchronised set. */
  synced: number;
  /** Messages discarded by the policy: queue overflow, not part of any set within the slop. */
  dropped: number;
  /** Messages whose stamp did not rise (discarded). */
  outOfOrder: number;
  /** Arrival rate over the recent window, Hz (0 before two arrivals). */
  rateHz: number;
  /** Arrival time minus header stamp of the last message, ms (null before the first). */
  latencyMs: number | null;
  /** Mean of that latency over the recent window, ms. */
  meanLatencyMs: number | null;
}

/** A plain object the dashboard and `calibrate check` show as it is. */
export interface SyncStats {
  queueSize: number;
  slopMs: number;
  sets: number;
  /** Mean and largest stamp spread of the emitted sets, ms. */
  meanSpreadMs: number | null;
  maxSpreadMs: number | null;
  views: ViewStats[];
}

export interface ApproximateTimeOptions {
  /** Views by name, in the order of the emitted sets. */
  views: readonly string[];
  queueSize: number;
  slopMs: number;
  /** Arrival clock for rate and latency, ms (default Date.now). */
  now?: () => number;
  /** Arrivals kept for the rate and latency window (default 30). */
  window?: number;
}

const NO_PIVOT = -1;

interface ViewCounters {
  received: number;
  synced: number;
  dropped: number;
  outOfOrder: number;
  lastStampMs: number;
  arrivals: number[];
  latencies: number[];
}

export class ApproximateTimeSync<T> {
  readonly views: readonly string[];
  readonly queueSize: number;
  readonly slopMs: number;
  private readonly queues: Stamped<T>[][];
  private readonly past: Stamped<T>[][];
  private readonly hasDropped: boolean[];
  private nonEmpty = 0;
  private candidate: Stamped<T>[] | null = null;
  private candidateStart = 0;
  private candidateEnd = 0;
  private pivot = NO_PIVOT;
  private pivotTime = 0;
  private readonly listeners: ((set: SyncedSet<T>) => void)[] = [];
  /** Sets emitted by the message being added; listeners run after the policy is done with it. */
  private outbox: SyncedSet<T>[] = [];
  private readonly counters: ViewCounters[];
  private readonly now: () => number;
  private readonly window: number;
  private sets = 0;
  private spreadSum = 0;
  private spreadMax: number | null = null;

  constructor(options: ApproximateTimeOptions) {
    if (options.views.length < 1) throw new RangeError('views: expected at least one view');
    if (new Set(options.views).size !== options.views.length) throw new RangeError(`views: expected distinct names, got ${options.views.join(', ')}`);
    if (!Number.isInteger(options.queueSize) || options.queueSize < 1) throw new RangeError(`queueSize: expected a positive integer, got ${options.queueSize}`);
    if (!(options.slopMs >= 0)) throw new RangeError(`slopMs: expected a number >= 0, got ${options.slopMs}`);
    this.views = [...options.views];
    this.queueSize = options.queueSize;
    this.slopMs = options.slopMs;
    this.now = options.now ?? Date.now;
    this.window = options.window ?? 30;
    const n = this.views.length;
    this.queues = Array.from({ length: n }, () => []);
    this.past = Array.from({ length: n }, () => []);
    this.hasDropped = new Array<boolean>(n).fill(false);
    this.counters = Array.from({ length: n }, () => ({
      received: 0,
      synced: 0,
      dropped: 0,
      outOfOrder: 0,
      lastStampMs: -Infinity,
      arrivals: [],
      latencies: [],
    }));
  }

  /** Called with every synchronised set, in emission order. */
  onSet(listener: (set: SyncedSet<T>) => void): void {
    this.listeners.push(listener);
  }

  /** Offers one message of view `view` (its name or index). Returns the sets emitted by it. */
  add(view: string | number, stampMs: number, value: T): SyncedSet<T>[] {
    const i = typeof view === 'number' ? view : this.views.indexOf(view);
    if (!Number.isInteger(i) || i < 0 || i >= this.views.length) throw new RangeError(`view: expected one of ${this.views.join(', ')}, got ${String(view)}`);
    if (!Number.isFinite(stampMs)) throw new RangeError(`stamp of ${this.views[i]}: expected a finite number, got ${stampMs}`);
    const counter = this.counters[i]!;
    const arrival = this.now();
    counter.received += 1;
    pushWindow(counter.arrivals, arrival, this.window);
    pushWindow(counter.latencies, arrival - stampMs, this.window);
    if (stampMs <= counter.lastStampMs) {
      counter.outOfOrder += 1;
      return [];
    }
    counter.lastStampMs = stampMs;

    this.outbox = [];
    this.insert(i, { stampMs, value });
    const emitted = this.outbox;
    this.outbox = [];
    for (const set of emitted) for (const listener of this.listeners) listener(set);
    return emitted;
  }

  stats(): SyncStats {
    return {
      queueSize: this.queueSize,
      slopMs: this.slopMs,
      sets: this.sets,
      meanSpreadMs: this.sets === 0 ? null : this.spreadSum / this.sets,
      maxSpreadMs: this.spreadMax,
      views: this.views.map((view, i) => {
        const c = this.counters[i]!;
        const first = c.arrivals[0];
        const last = c.arrivals[c.arrivals.length - 1];
        const span = first === undefined || last === undefined ? 0 : last - first;
        return {
          view,
          received: c.received,
          synced: c.synced,
          dropped: c.dropped,
          outOfOrder: c.outOfOrder,
          rateHz: c.arrivals.length >= 2 && span > 0 ? ((c.arrivals.length - 1) * 1000) / span : 0,
          latencyMs: c.latencies.length === 0 ? null : c.latencies[c.latencies.length - 1]!,
          meanLatencyMs: c.latencies.length === 0 ? null : c.latencies.reduce((a, b) => a + b, 0) / c.latencies.length,
        };
      }),
    };
  }

  /** Messages waiting per view (queued plus moved aside), for tests and the dashboard. */
  pending(): number[] {
    return this.queues.map((q, i) => q.length + this.past[i]!.length);
  }

  private insert(i: number, message: Stamped<T>): void {
    const queue = this.queues[i]!;
    queue.push(message);
    if (queue.length === 1) {
      this.nonEmpty += 1;
      if (this.nonEmpty === this.views.length) this.process();
    }
    // process() may have left queueSize + 1 messages in this view.
    if (queue.length + this.past[i]!.length > this.queueSize) {
      this.nonEmpty = 0;
      for (let k = 0; k < this.views.length; k++) this.recover(k, Infinity);
      queue.shift();
      this.counters[i]!.dropped += 1;
      this.hasDropped[i] = true;
      if (this.pivot !== NO_PIVOT) {
        this.candidate = null;
        this.pivot = NO_PIVOT;
        this.process();
      }
    }
  }

  /** Moves up to `count` messages set aside back to the front of the queue of view k. */
  private recover(k: number, count: number): void {
    const queue = this.queues[k]!;
    const past = this.past[k]!;
    const moves = Math.min(count, past.length);
    for (let m = 0; m < moves; m++) queue.unshift(past.pop()!);
    if (queue.length > 0) this.nonEmpty += 1;
  }

  private deleteFront(k: number): void {
    this.queues[k]!.shift();
    this.counters[k]!.dropped += 1;
    if (this.queues[k]!.length === 0) this.nonEmpty -= 1;
  }

  private moveFrontToPast(k: number): void {
    this.past[k]!.push(this.queues[k]!.shift()!);
    if (this.queues[k]!.length === 0) this.nonEmpty -= 1;
  }

  /** The head set's boundaries: latest head (ties: last view) and earliest head (ties: first view). */
  private bounds(virtual: boolean): { start: number; startIndex: number; end: number; endIndex: number } {
    let start = Infinity;
    let end = -Infinity;
    let startIndex = 0;
    let endIndex = 0;
    for (let k = 0; k < this.views.length; k++) {
      const t = virtual ? this.virtualTime(k) : this.queues[k]![0]!.stampMs;
      if (t < start) {
        start = t;
        startIndex = k;
      }
      if (t >= end) {
        end = t;
        endIndex = k;
      }
    }
    return { start, startIndex, end, endIndex };
  }

  /** Earliest stamp the next message of view k can have (no rate bound: its last one, at least the pivot). */
  private virtualTime(k: number): number {
    const queue = this.queues[k]!;
    if (queue.length > 0) return queue[0]!.stampMs;
    const past = this.past[k]!;
    return Math.max(past[past.length - 1]!.stampMs, this.pivotTime);
  }

  private makeCandidate(): void {
    this.candidate = this.queues.map((q) => q[0]!);
    this.past.forEach((past, k) => {
      this.counters[k]!.dropped += past.length;
      past.length = 0;
    });
  }

  private process(): void {
    const n = this.views.length;
    while (this.nonEmpty === n) {
      const { start, startIndex, end, endIndex } = this.bounds(false);
      for (let k = 0; k < n; k++) if (k !== endIndex) this.hasDropped[k] = false;
      if (this.pivot === NO_PIVOT) {
        if (end - start > this.slopMs || this.hasDropped[endIndex]) {
          this.deleteFront(startIndex);
          continue;
        }
        this.makeCandidate();
        this.candidateStart = start;
        this.candidateEnd = end;
        this.pivot = endIndex;
        this.pivotTime = end;
        this.moveFrontToPast(startIndex);
      } else {
        if (end - this.candidateEnd >= start - this.candidateStart) {
          this.moveFrontToPast(startIndex);
        } else {
          this.makeCandidate();
          this.candidateStart = start;
          this.candidateEnd = end;
          this.moveFrontToPast(startIndex);
        }
      }

      if (startIndex === this.pivot) {
        this.publishCandidate();
      } else if (end - this.candidateEnd >= this.pivotTime - this.candidateStart) {
        this.publishCandidate();
      } else if (this.nonEmpty < n) {
        const moves = new Array<number>(n).fill(0);
        for (;;) {
          const v = this.bounds(true);
          if (v.end - this.candidateEnd >= this.pivotTime - this.candidateStart) {
            this.publishCandidate();
            break;
          }
          if (v.end - this.candidateEnd < v.start - this.candidateStart) {
            // An optimistic later set could beat the candidate: wait for more messages.
            this.nonEmpty = 0;
            for (let k = 0; k < n; k++) this.recover(k, moves[k]!);
            break;
          }
          this.moveFrontToPast(v.startIndex);
          moves[v.startIndex]! += 1;
        }
      }
    }
  }

  private publishCandidate(): void {
    const messages = this.candidate!;
    this.candidate = null;
    this.pivot = NO_PIVOT;
    this.nonEmpty = 0;
    for (let k = 0; k < this.views.length; k++) {
      this.recover(k, Infinity);
      // recover() counted the queue as non-empty before the candidate's own message leaves it.
      const queue = this.queues[k]!;
      if (queue.length > 0) this.nonEmpty -= 1;
      queue.shift();
      if (queue.length > 0) this.nonEmpty += 1;
      this.counters[k]!.synced += 1;
    }
    const stamps = messages.map((m) => m.stampMs);
    const spreadMs = Math.max(...stamps) - Math.min(...stamps);
    this.sets += 1;
    this.spreadSum += spreadMs;
    this.spreadMax = this.spreadMax === null ? spreadMs : Math.max(this.spreadMax, spreadMs);
    this.outbox.push({ messages, spreadMs });
  }
}

function pushWindow(values: number[], value: number, size: number): void {
  values.push(value);
  if (values.length > size) values.shift();
}
