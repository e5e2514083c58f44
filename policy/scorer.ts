/**
 * Where progress comes from, and how it reaches transitions without the control loop waiting.
 *
 * A RewardScorer scores one episode's observations in order and answers each with the fused
 * progress P(s_t) in [0, 1], asynchronously. The control loop only pushes observations into a
 * ProgressQueue and reads what has been scored so far; it never awaits a score. Transitions get
 * their reward once every state of the episode is scored, and only then enter the replay buffer.
 */
import type { EnvObservation } from './environment.js';

export interface RewardScorer {
  /** Shown in logs and results: what judges progress. */
  readonly label: string;
  /** Reads simulator state the real reward model could not see. */
  readonly privileged: boolean;
  /** A scorer for one new episode: call it with s_0, s_1, ... in order; each call resolves to P(s_t). */
  beginEpisode(): (observation: EnvObservation) => Promise<number>;
}

/**
 * PRIVILEGED development stand-in for the reward model: the simulator's geometric task progress,
 * delivered asynchronously (next event-loop turn) through the same path the GRM uses.
 */
export function privilegedProgressScorer(): RewardScorer {
  return {
    label: 'PRIVILEGED simulator progress (development stand-in for the GRM)',
    privileged: true,
    beginEpisode: () => (observation) =>
      new Promise((resolve, reject) => {
        setImmediate(() => {
          if (observation.privileged) resolve(observation.privileged.progress);
          else reject(new Error('privileged progress requested but the environment gives none for this task'));
        });
      }),
  };
}

/** The scores of one episode as they arrive, in order; scoring runs one observation at a time. */
export class ProgressQueue {
  private readonly values: number[] = [];
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown;
  private pushed = 0;

  constructor(private readonly score: (observation: EnvObservation) => Promise<number>) {}

  /** Queue an observation; returns at once. */
  push(observation: EnvObservation): void {
    this.pushed++;
    this.tail = this.tail.then(async () => {
      if (this.failure !== undefined) return;
      try {
        const p = await this.score(observation);
        if (!Number.isFinite(p)) throw new Error(`reward model returned a non-finite progress (${p})`);
        this.values.push(Math.max(0, Math.min(1, p)));
      } catch (error) {
        this.failure = error;
      }
    });
  }

  /** Progress known so far (a prefix of the episode's states). */
  get scored(): readonly number[] {
    return this.values;
  }

  /** Every pushed observation's progress; rejects if the scorer failed. */
  async all(): Promise<number[]> {
    await this.tail;
    if (this.failure !== undefined) throw this.failure;
    if (this.values.length !== this.pushed) throw new Error(`scored ${this.values.length} of ${this.pushed} observations`);
    return [...this.values];
  }
}
