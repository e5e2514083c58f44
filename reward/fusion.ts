/**
 * Multi-Perspective Progress Fusion (paper section 3.1.3, Eqs. 6-8). At each step t the reward
 * model gives three hops for the current state s_t:
 *   incremental  H(s_{t-1}, s_t)   -> P_I = Eq. 5 applied to the previous progress
 *   from start   H(s_init, s_t)    -> P_F = progress of a hop from progress 0 (= H when H >= 0)
 *   from goal    H(s_goal, s_t)    -> P_B = progress of a hop from progress 1 (= 1 + H when H <= 0)
 * fused as their mean. `paper` mode recurses P_I on the fused previous value (Eq. 8);
 * `independent` mode averages three separately accumulated curves (newer reference practice).
 * The optional consistency-weighted update trusts the anchored estimates only when they agree.
 * Every estimate is kept in [0, 1]; NaN or infinite hops are refused with a RangeError.
 */
import { checkFinite, clamp, progressAfterHop } from './hops.js';

export type FusionMode = 'paper' | 'independent';

export interface FusionOptions {
  mode?: FusionMode;
  /** Consistency-weighted update (section 3.1.3; the paper uses it in simulation with alpha = 20). */
  consistency?: boolean;
  alpha?: number;
  /** Added to the mean anchored progress in the disagreement ratio (the paper gives none). */
  eps?: number;
  /** Progress of the first state (default 0). */
  initial?: number;
}

/** The three hops the model gives for one new state. */
export interface FusionHops {
  /** H(s_{t-1}, s_t). */
  incremental: number;
  /** H(s_init, s_t). */
  fromStart: number;
  /** H(s_goal, s_t). */
  fromGoal: number;
}

export interface FusedStep {
  /** The fused progress P*(s_t), in [0, 1]. */
  progress: number;
  incremental: number;
  forward: number;
  backward: number;
  /** Consistency weight w in [0, 1] (1 when the consistency update is off). */
  weight: number;
}

export class ProgressFusion {
  private readonly mode: FusionMode;
  private readonly consistency: boolean;
  private readonly alpha: number;
  private readonly eps: number;
  private readonly initial: number;
  private fused: number;
  private incrementalCurve: number;

  constructor(options: FusionOptions = {}) {
    this.mode = options.mode ?? 'paper';
    this.consistency = options.consistency ?? false;
    this.alpha = checkFinite(options.alpha ?? 20, 'alpha');
    this.eps = checkFinite(options.eps ?? 1e-3, 'eps');
    if (this.alpha < 0) throw new RangeError(`alpha: expected >= 0, got ${this.alpha}`);
    if (!(this.eps > 0)) throw new RangeError(`eps: expected > 0, got ${this.eps}`);
    this.initial = clamp(checkFinite(options.initial ?? 0, 'initial progress'), 0, 1);
    this.fused = this.initial;
    this.incrementalCurve = this.initial;
  }

  /** P*(s_t) of the latest state (the initial progress before any step). */
  get progress(): number {
    return this.fused;
  }

  reset(initial = this.initial): void {
    this.fused = clamp(checkFinite(initial, 'initial progress'), 0, 1);
    this.incrementalCurve = this.fused;
  }

  step(hops: FusionHops): FusedStep {
    const hInc = checkFinite(hops.incremental, 'incremental hop');
    const hStart = checkFinite(hops.fromStart, 'hop from start');
    const hGoal = checkFinite(hops.fromGoal, 'hop from goal');
    const forward = progressAfterHop(0, hStart);
    const backward = progressAfterHop(1, hGoal);
    const previousBase = this.mode === 'paper' ? this.fused : this.incrementalCurve;
    const incremental = progressAfterHop(previousBase, hInc);
    let progress: number;
    let weight = 1;
    if (this.consistency) {
      const anchored = (forward + backward) / 2;
      const disagreement = Math.abs(backward - forward) / (anchored + this.eps);
      weight = Math.exp(-this.alpha * disagreement * disagreement);
      const increment = incremental - previousBase;
      progress = this.fused + (weight / 2) * (anchored - this.fused + increment);
    } else {
      progress = (incremental + forward + backward) / 3;
    }
    this.incrementalCurve = incremental;
    this.fused = clamp(progress, 0, 1);
    return { progress: this.fused, incremental, forward, backward, weight };
  }
}

/** Fused progress of a whole sequence of hop triples. */
export function fuseProgress(steps: readonly FusionHops[], options: FusionOptions = {}): FusedStep[] {
  const fusion = new ProgressFusion(options);
  return steps.map((hops) => fusion.step(hops));
}
