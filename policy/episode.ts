/**
 * The episode manager: reset, act until success, the time limit or a safety stop, and hand the
 * episode over with its progress still being scored. Success comes from fused progress (default),
 * from the environment's predicate, or from an operator. Success by progress is the completion
 * judge's (reward/completion.ts): fused progress >= 1 - successDelta over successWindow scored
 * steps in a row, never one frame. Progress arrives late, so a success judged by progress is
 * applied when finishing the episode: everything after the first state where the judge says done
 * is cut off (the MDP ended there).
 */
import { completionRule, DEFAULT_SUCCESS_WINDOW, firstDone } from '../reward/completion.js';
import { shapeEpisode, type ShapingMode, type SuccessSource } from '../reward/shaping.js';
import type { ActionLimits, RlEnvironment } from './environment.js';
import { vectorToAction } from './environment.js';
import type { ArmAction, Observation } from '../robot/types.js';
import type { ObservationEncoder } from './observation.js';
import type { Transition } from './replay.js';
import type { RewardScorer } from './scorer.js';
import { ProgressQueue } from './scorer.js';

/** A human at the robot: can declare success or stop the arm (the dashboard sets these). */
export interface Operator {
  successRequested(): boolean;
  /** A reason when the operator pressed stop, else undefined. */
  stopRequested(): string | undefined;
  /** Forget decisions about the previous episode (called when an episode starts). */
  newEpisode?(): void;
}

export type EpisodeEnd = 'success' | 'time-limit' | 'stopped';

/** Sees an episode as it runs and once it is scored: `dopamine rl` records each one as MCAP (launch/rl-recording.ts). */
export interface EpisodeWatcher {
  begin(observation: Observation): void;
  /** Step `step` (1-based): the command sent to the safety layer, what reached the arm, the observation after it. */
  step(step: number, proposed: ArmAction, applied: ArmAction, next: Observation, success: boolean | undefined): void;
  /** The episode as scored (progress per state, reward per step); resolves once it is recorded. */
  finish(scored: ScoredEpisode): Promise<void>;
}

export interface CollectedEpisode {
  seed: number;
  /** Policy observations s_0 .. s_T. */
  observations: Float32Array[];
  /** Actions a_0 .. a_{T-1}, policy units. */
  actions: Float32Array[];
  /** Environment success after each action (false where the environment has no predicate). */
  envSuccess: boolean[];
  end: EpisodeEnd;
  stopReason?: string;
  /** Resolves to P(s_0) .. P(s_T) once the reward model has scored every state. */
  progress: Promise<number[]>;
  /**
   * Source progress, where a live judge already decided on the scored steps (serve's run loop,
   * whose scores the progress curve only interpolates): the index of the state judged done, or
   * null for none. scoreEpisode then uses it instead of judging the curve again.
   */
  judgedDoneAt?: number | null;
}

export interface EpisodeRunOptions {
  env: RlEnvironment;
  encoder: ObservationEncoder;
  scorer: RewardScorer;
  limits: ActionLimits;
  seed: number;
  /** The policy: observation -> action in [-1, 1]^A. */
  policy: (observation: Float32Array) => Promise<Float32Array>;
  success: SuccessSource;
  successDelta: number;
  /** Source progress: scored steps in a row at or above 1 - successDelta (default DEFAULT_SUCCESS_WINDOW). */
  successWindow?: number;
  operator?: Operator;
  /** Called after every control step (the single-process learner's updates go here). */
  afterStep?: () => Promise<void>;
  /** Sees every step (recording). */
  watch?: EpisodeWatcher;
}

export async function runEpisode(o: EpisodeRunOptions): Promise<CollectedEpisode> {
  const rule = completionRule(o.successDelta, o.successWindow ?? DEFAULT_SUCCESS_WINDOW);
  const queue = new ProgressQueue(o.scorer.beginEpisode());
  o.operator?.newEpisode?.();
  let current = await o.env.reset(o.seed);
  queue.push(current);
  o.watch?.begin(current.observation);
  const observations = [await o.encoder.encode(current)];
  const actions: Float32Array[] = [];
  const envSuccess: boolean[] = [];
  let end: EpisodeEnd = 'time-limit';
  let stopReason: string | undefined;
  for (let t = 0; t < o.env.maxSteps; t++) {
    const action = await o.policy(observations[t]!);
    if (!action.every(Number.isFinite)) {
      stopReason = 'policy produced a non-finite action';
    } else if (o.operator?.stopRequested() !== undefined) {
      stopReason = `operator: ${o.operator.stopRequested()}`;
    }
    if (stopReason !== undefined) {
      await o.env.stop(stopReason);
      end = 'stopped';
      break;
    }
    const command = vectorToAction(action, o.limits);
    const step = await o.env.act(command);
    if (step.heldBy !== undefined) {
      // The safety layer forwarded nothing (e-stop, refused action): the episode ends here.
      stopReason = `safety: ${step.heldBy}`;
      end = 'stopped';
      break;
    }
    o.watch?.step(t + 1, command, step.applied ?? command, step.next.observation, step.success);
    current = step.next;
    queue.push(current);
    actions.push(action);
    observations.push(await o.encoder.encode(current));
    envSuccess.push(step.success === true);
    await o.afterStep?.();
    const progressSuccess = o.success === 'progress' && firstDone(queue.scored, rule) !== undefined;
    const done =
      progressSuccess ||
      (o.success === 'env' && step.success === true) ||
      (o.success === 'operator' && o.operator?.successRequested() === true);
    if (done) {
      end = 'success';
      break;
    }
  }
  const episode: CollectedEpisode = { seed: o.seed, observations, actions, envSuccess, end, progress: queue.all() };
  if (stopReason !== undefined) episode.stopReason = stopReason;
  return episode;
}

export interface ScoredEpisode {
  seed: number;
  observations: Float32Array[];
  actions: Float32Array[];
  envSuccess: boolean[];
  progress: number[];
  rewards: number[];
  /** The last state ends the MDP (success or safety stop); false for a time-limit cut. */
  terminal: boolean;
  success: boolean;
  end: EpisodeEnd;
  stopReason?: string;
}

export interface ShapingSettings {
  mode: ShapingMode;
  gamma: number;
  successDelta: number;
  /**
   * Source progress: scored steps in a row at or above 1 - successDelta (reward/completion.ts).
   * Older run.json files lack it: DEFAULT_SUCCESS_WINDOW (their one-frame rule is not kept: it was
   * the bug of issue 31).
   */
  successWindow?: number;
  success: SuccessSource;
  terminalPotential: number;
  successPotential: number;
  /** Scale of the potential (reward/shaping.ts; older run.json files lack it: 1). */
  potentialWeight?: number;
}

/** Index of the first state s_t (t >= 1) judged successful, or undefined. */
function firstSuccess(episode: CollectedEpisode, progress: readonly number[], s: ShapingSettings): number | undefined {
  if (s.success === 'operator') return episode.end === 'success' ? progress.length - 1 : undefined;
  if (s.success === 'progress') {
    if (episode.judgedDoneAt !== undefined) return episode.judgedDoneAt === null ? undefined : Math.min(episode.judgedDoneAt, progress.length - 1);
    return firstDone(progress, completionRule(s.successDelta, s.successWindow ?? DEFAULT_SUCCESS_WINDOW));
  }
  const t = episode.envSuccess.findIndex((flag) => flag);
  return t < 0 ? undefined : t + 1;
}

/** Awaits the episode's scores, cuts it at its first success, and shapes the rewards. */
export async function scoreEpisode(episode: CollectedEpisode, shaping: ShapingSettings): Promise<ScoredEpisode> {
  const all = await episode.progress;
  const cut = firstSuccess(episode, all, shaping);
  const last = cut ?? all.length - 1;
  const progress = all.slice(0, last + 1);
  const envSuccess = episode.envSuccess.slice(0, last);
  const success = cut !== undefined;
  const terminal = success || episode.end === 'stopped';
  // The success flag of each transition as judged above (only the last, where the episode was cut,
  // can be one), shaped with source env so that every source pays the same transition.
  const successFlags = shaping.success === 'env' ? envSuccess : envSuccess.map((_, i) => success && i === envSuccess.length - 1);
  const shaped = shapeEpisode({ progress, terminal, envSuccess: successFlags }, { ...shaping, success: 'env' });
  const out: ScoredEpisode = {
    seed: episode.seed,
    observations: episode.observations.slice(0, last + 1),
    actions: episode.actions.slice(0, last),
    envSuccess,
    progress,
    rewards: shaped.map((r) => r.reward),
    terminal,
    success,
    end: success ? 'success' : episode.end === 'success' ? 'time-limit' : episode.end,
  };
  if (episode.stopReason !== undefined) out.stopReason = episode.stopReason;
  return out;
}

/**
 * The episode's transitions for the replay buffer. With nStep > 1, each is an n-step transition:
 * the discounted sum of the next n rewards (fewer where the episode ends first) and the state n
 * steps on, so a success reaches the critic's targets in fewer bootstraps.
 */
export function transitionsOf(episode: ScoredEpisode, nStep = 1, gamma = 1): Transition[] {
  const T = episode.actions.length;
  return episode.actions.map((action, t) => {
    const steps = Math.min(nStep, T - t);
    let reward = 0;
    for (let k = steps - 1; k >= 0; k--) reward = episode.rewards[t + k]! + gamma * reward;
    return {
      observation: episode.observations[t]!,
      action,
      reward,
      nextObservation: episode.observations[t + steps]!,
      terminal: episode.terminal && t + steps === T,
      steps,
    };
  });
}

/** Semantic-trap evidence: states at or above `threshold` progress in an episode that did not succeed. */
export function highProgressSteps(episode: ScoredEpisode, threshold = 0.8): number {
  return episode.success ? 0 : episode.progress.slice(1).filter((p) => p >= threshold).length;
}
