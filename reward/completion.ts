/**
 * When is a task done? The completion judge (issue 31): a policy can drive a process reward
 * model to a high progress for one frame without doing the task, so "done" is never read from
 * one frame. The judge is fed the fused progress of each scored step of an episode after the
 * start state s_0 (whose progress is the fixed initial value, not a judgement) and says done at
 * the first scored step t such that the progress of the last `window` scored steps
 * (t - window + 1 .. t) is >= `threshold` (= 1 - reward.shaping.successDelta). So:
 *
 *   - a run of fewer than `window` scored steps at or above the threshold never counts (window
 *     >= 2: never one frame);
 *   - any scored step below the threshold starts the count again;
 *   - the earliest done is scored step `window` (s_0 is step 0): never within the first
 *     `window` scored steps of an episode.
 *
 * Once done, the judge stays done (the episode ends there). The same rule serves `rl` (where the
 * episode is cut), `serve` (the run loop ends the episode; the dashboard shows that outcome) and
 * `score` (the episode's completion class). The window is counted in scored steps, so it means
 * more control steps when the model scores every n-th step.
 */
import type { Completion } from './evaluation.js';
import { checkFinite } from './hops.js';

export interface CompletionRule {
  /** Progress at or above this counts towards done (1 - successDelta). */
  threshold: number;
  /** Scored steps in a row at or above the threshold that make done (>= 2). */
  window: number;
}

/** reward.shaping.successWindow's default: measured on `dopamine grm eval` curves (docs/reward-model.md, "When is a task done?"). */
export const DEFAULT_SUCCESS_WINDOW = 6;
/** reward.shaping.successDelta's default. */
export const DEFAULT_SUCCESS_DELTA = 0.05;

/** The shortest window: one frame never says done. */
export const MIN_SUCCESS_WINDOW = 2;

/** The rule of reward.shaping.successDelta and successWindow; throws RangeError on values out of range. */
export function completionRule(successDelta: number = DEFAULT_SUCCESS_DELTA, successWindow: number = DEFAULT_SUCCESS_WINDOW): CompletionRule {
  checkFinite(successDelta, 'success delta');
  if (!(successDelta >= 0 && successDelta <= 1)) throw new RangeError(`success delta: expected a number in [0, 1], got ${successDelta}`);
  if (!Number.isSafeInteger(successWindow) || successWindow < MIN_SUCCESS_WINDOW) {
    throw new RangeError(`success window: expected a whole number of scored steps >= ${MIN_SUCCESS_WINDOW}, got ${successWindow}`);
  }
  return { threshold: 1 - successDelta, window: successWindow };
}

function checkRule(rule: CompletionRule): CompletionRule {
  if (!Number.isSafeInteger(rule.window) || rule.window < MIN_SUCCESS_WINDOW) {
    throw new RangeError(`success window: expected a whole number of scored steps >= ${MIN_SUCCESS_WINDOW}, got ${rule.window}`);
  }
  checkFinite(rule.threshold, 'success threshold');
  return rule;
}

/** The streaming judge of one episode: push the fused progress of each scored step after s_0, in order. */
export class CompletionJudge {
  private readonly rule: CompletionRule;
  private run = 0;
  private count = 0;
  private doneStep: number | undefined;

  constructor(rule: CompletionRule) {
    this.rule = checkRule(rule);
  }

  /** Feeds the next scored step; returns whether the episode is done (now or before). */
  push(progress: number): boolean {
    checkFinite(progress, 'progress');
    this.count++;
    if (this.doneStep !== undefined) return true;
    this.run = progress >= this.rule.threshold ? this.run + 1 : 0;
    if (this.run >= this.rule.window) this.doneStep = this.count;
    return this.doneStep !== undefined;
  }

  get done(): boolean {
    return this.doneStep !== undefined;
  }

  /** Scored steps fed so far. */
  get steps(): number {
    return this.count;
  }

  /** The scored step (1 = the first after s_0) at which the judge said done, or undefined. */
  get doneAt(): number | undefined {
    return this.doneStep;
  }

  /** Scored steps in a row at or above the threshold, up to now. */
  get streak(): number {
    return this.run;
  }

  /** A new episode. */
  reset(): void {
    this.run = 0;
    this.count = 0;
    this.doneStep = undefined;
  }
}

/**
 * Index t >= 1 of the first state judged done in a curve P(s_0) .. P(s_T) of scored states
 * (s_0 is the start and never counts), or undefined.
 */
export function firstDone(progress: readonly number[], rule: CompletionRule): number | undefined {
  const judge = new CompletionJudge(rule);
  for (let t = 1; t < progress.length; t++) if (judge.push(progress[t]!)) return t;
  return undefined;
}

/**
 * The episode's completion class under the judge: success when the judge says done somewhere in
 * the curve P(s_0) .. P(s_T); otherwise partial when the mean of the last third (the last
 * ceil(T / 3) values, as Eq. 58) is >= 0.4, else failure.
 */
export function judgeCompletion(progress: readonly number[], rule: CompletionRule): Completion {
  if (progress.length === 0) throw new RangeError('completion: expected at least one progress value');
  progress.forEach((p, i) => checkFinite(p, `progress ${i}`));
  if (firstDone(progress, rule) !== undefined) return 'success';
  const tail = progress.slice(progress.length - Math.ceil(progress.length / 3));
  const mean = tail.reduce((a, b) => a + b, 0) / tail.length;
  return mean >= 0.4 ? 'partial' : 'failure';
}
