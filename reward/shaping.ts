/**
 * Reward shaping from fused progress (paper section 3.2, Eqs. 13-14).
 *
 *   pbrs    r = r_success + gamma * Phi(s') - Phi(s)   policy-invariant (Ng, Harada, Russell 1999)
 *   naive   r = P(s') - P(s)                           the semantic-trap baseline, for ablations
 *   sparse  r = r_success
 *
 * The potential Phi is the fused progress P, except at a terminal state (the MDP ended, not a
 * time-limit cut): a successful terminal has Phi = successPotential (default 1, the progress of
 * the goal), any other terminal (failure, safety stop) Phi = terminalPotential (default 0).
 * Why 1 at the goal: with Phi = 0 there, the success step pays r_success - P(s), about 0.1 when
 * the progress before success is 0.9, so the one transition that tells finishing from hovering
 * near the goal carries a tenth of the sparse arm's signal; the rest of the difference reaches
 * the critic only through ~1/(1 - gamma) bootstraps of the (gamma - 1) P(s') terms. Invariance is
 * kept: a success potential c adds gamma^T c exactly when the sparse reward gamma^T r_success is
 * paid, so it is PBRS of the sparse task with success reward r_success + gamma c, a positive
 * multiple of the same objective (same optimal policy). A constant at failure terminals would not
 * be (it would pay for ending the episode), hence 0 there.
 * A transition cut by a time limit is not terminal: Phi(s') = P(s') and the learner bootstraps.
 *
 * potentialWeight w scales the whole potential (Phi = w P, w at the goal): any w >= 0 keeps the
 * optimal policy (Ng et al.: every potential does), but it sets how much of the critic's target
 * is the model's opinion. Measured (README): with a reward model that a policy can drive to high
 * progress without success, w = 1 trails the sparse reward; a smaller w trusts the model less.
 * w = 0 is the sparse reward. naive and sparse do not use it.
 */
import { CompletionJudge, completionRule, DEFAULT_SUCCESS_WINDOW } from './completion.js';
import { checkFinite, clamp } from './hops.js';

export type ShapingMode = 'pbrs' | 'naive' | 'sparse';
/** Who judges success: the progress threshold, the environment, or a human operator (via envSuccess). */
export type SuccessSource = 'progress' | 'env' | 'operator';

export interface ShapingOptions {
  mode?: ShapingMode;
  gamma?: number;
  /**
   * Source `progress`: success when the completion judge (reward/completion.ts) says done, fused
   * progress >= 1 - successDelta over successWindow scored steps in a row (shapeEpisode). One
   * transition alone (shapeTransition, isSuccess) cannot see a window: it reads P(s') alone, so
   * callers that judge live pass the judge's verdict as envSuccess with source `env`.
   */
  successDelta?: number;
  /** Source `progress`: scored steps in a row at or above 1 - successDelta (default DEFAULT_SUCCESS_WINDOW). */
  successWindow?: number;
  success?: SuccessSource;
  /** Potential of a terminal state that is not a success (failure, safety stop; default 0). */
  terminalPotential?: number;
  /** Potential of a successful terminal state (default 1, the goal's progress). */
  successPotential?: number;
  /** Reward of a successful transition (default 1). */
  successReward?: number;
  /** Scale w of the potential, Phi = w P (default 1; pbrs only). */
  potentialWeight?: number;
}

export interface Transition {
  /** Fused progress of the state acted from, P(s). */
  progress: number;
  /** Fused progress of the state reached, P(s'). */
  nextProgress: number;
  /** s' ends the episode (success, failure, e-stop); false for a time-limit cut. */
  terminal: boolean;
  /** Success as judged by the environment or the operator (sources `env` and `operator`). */
  envSuccess?: boolean | undefined;
}

export interface ShapedReward {
  reward: number;
  success: boolean;
  /** gamma * Phi(s') - Phi(s) (reported for every mode; added to the reward in pbrs). */
  shaping: number;
  potential: number;
  nextPotential: number;
}

interface ResolvedOptions {
  mode: ShapingMode;
  gamma: number;
  successDelta: number;
  successWindow: number;
  success: SuccessSource;
  terminalPotential: number;
  successPotential: number;
  successReward: number;
  potentialWeight: number;
}

function resolve(options: ShapingOptions): ResolvedOptions {
  const gamma = checkFinite(options.gamma ?? 0.99, 'gamma');
  if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`gamma: expected in (0, 1], got ${gamma}`);
  const potentialWeight = checkFinite(options.potentialWeight ?? 1, 'potential weight');
  if (!(potentialWeight >= 0)) throw new RangeError(`potential weight: expected a number >= 0, got ${potentialWeight}`);
  return {
    mode: options.mode ?? 'pbrs',
    gamma,
    successDelta: clamp(checkFinite(options.successDelta ?? 0.05, 'success delta'), 0, 1),
    successWindow: completionRule(0, options.successWindow ?? DEFAULT_SUCCESS_WINDOW).window,
    success: options.success ?? 'progress',
    terminalPotential: checkFinite(options.terminalPotential ?? 0, 'terminal potential'),
    successPotential: checkFinite(options.successPotential ?? 1, 'success potential'),
    successReward: checkFinite(options.successReward ?? 1, 'success reward'),
    potentialWeight,
  };
}

/** Whether s' counts as success under the options. */
export function isSuccess(transition: Transition, options: ShapingOptions = {}): boolean {
  const o = resolve(options);
  if (o.success === 'progress') return checkFinite(transition.nextProgress, 'next progress') >= 1 - o.successDelta;
  return transition.envSuccess === true;
}

/** The reward of one transition, for an RL loop. */
export function shapeTransition(transition: Transition, options: ShapingOptions = {}): ShapedReward {
  const o = resolve(options);
  const p = clamp(checkFinite(transition.progress, 'progress'), 0, 1);
  const q = clamp(checkFinite(transition.nextProgress, 'next progress'), 0, 1);
  const success = o.success === 'progress' ? q >= 1 - o.successDelta : transition.envSuccess === true;
  const sparse = success ? o.successReward : 0;
  const w = o.potentialWeight;
  const potential = w * p;
  const nextPotential = w * (transition.terminal ? (success ? o.successPotential : o.terminalPotential) : q);
  const shaping = o.gamma * nextPotential - potential;
  let reward: number;
  if (o.mode === 'pbrs') reward = sparse + shaping;
  else if (o.mode === 'naive') reward = q - p;
  else reward = sparse;
  return { reward, success, shaping, potential, nextPotential };
}

export interface EpisodeShapingInput {
  /** Fused progress of states s_0 .. s_T. */
  progress: readonly number[];
  /** Whether s_T ends the episode (default true); false for a time-limit cut. */
  terminal?: boolean;
  /** Environment or operator success of s_1 .. s_T (sources `env` and `operator`). */
  envSuccess?: readonly boolean[];
}

/**
 * Rewards r_0 .. r_{T-1} of a recorded episode; only the last state may be terminal. Source
 * `progress`: the completion judge reads P(s_1) .. P(s_T) in order, and only the transition into
 * the state where it first says done is a success (a spike of fewer than successWindow steps is
 * none).
 */
export function shapeEpisode(input: EpisodeShapingInput, options: ShapingOptions = {}): ShapedReward[] {
  const { progress } = input;
  const terminalAtEnd = input.terminal ?? true;
  const o = resolve(options);
  const judge = o.success === 'progress' ? new CompletionJudge({ threshold: 1 - o.successDelta, window: o.successWindow }) : undefined;
  const judged: ShapingOptions = judge ? { ...options, success: 'env' } : options;
  const rewards: ShapedReward[] = [];
  for (let t = 0; t + 1 < progress.length; t++) {
    let envSuccess = input.envSuccess?.[t];
    if (judge) {
      const before = judge.done;
      envSuccess = judge.push(checkFinite(progress[t + 1]!, 'next progress')) && !before;
    }
    rewards.push(
      shapeTransition(
        {
          progress: progress[t]!,
          nextProgress: progress[t + 1]!,
          terminal: terminalAtEnd && t + 2 === progress.length,
          envSuccess,
        },
        judged,
      ),
    );
  }
  return rewards;
}

/** Discounted return sum_t gamma^t r_t. */
export function discountedReturn(rewards: readonly number[], gamma: number): number {
  let total = 0;
  let discount = 1;
  for (const r of rewards) {
    total += discount * r;
    discount *= gamma;
  }
  return total;
}
