/**
 * The two things the run loop asks of the rest of the stack: actions (the actor of the RL loop)
 * and progress (the reward model). Each names itself, so the dashboard always says where actions
 * and progress come from.
 */
import type { ArmAction, Observation } from '../robot/types.js';
import type { EpisodeSummary } from './run-loop.js';

/** One control step whose action reached the arm, for a learner's replay buffer. */
export interface StepRecord {
  episode: number;
  /** 1-based index of this step in its episode. */
  step: number;
  observation: Observation;
  /** The action the policy sent. */
  proposed: ArmAction;
  /** The action that reached the arm (after the safety layer's clipping). */
  applied: ArmAction;
  next: Observation;
  /** The environment's success predicate, when it has one. */
  success?: boolean;
  timeLimit: boolean;
}

export interface ActionSource {
  /** Shown on the dashboard and in logs: what produces the actions. */
  readonly label: string;
  /** Called at each episode start with the first observation. */
  beginEpisode?(initial: Observation): void;
  /** The next action for this observation (may be async, e.g. a network on the GPU). */
  next(observation: Observation): ArmAction | Promise<ArmAction>;
  /**
   * Called after each step whose action reached the arm (keep it quick: it runs inside the
   * control step). Rewards arrive separately and later, as progress updates keyed by step.
   */
  afterStep?(record: StepRecord): void;
  /** Called when an episode ends, with its summary. */
  endEpisode?(summary: EpisodeSummary): void;
}

export interface ProgressScore {
  /** Relative progress predicted for the last transition (the GRM's hop). */
  hop: number;
  /** Fused task progress in [0, 1]. */
  progress: number;
  /** Shaped reward of the transition. */
  reward: number;
}

export interface ProgressSource {
  /** Shown on the dashboard and in logs: what judges progress. */
  readonly label: string;
  /** Called at each episode start with the first observation (the reference frame). */
  beginEpisode(initial: Observation): void;
  /**
   * Scores the newest observation of the episode. The run loop never awaits it inside the
   * control step: one request is in flight at a time, and observations arriving meanwhile
   * collapse to the newest one.
   */
  score(observation: Observation): Promise<ProgressScore>;
}
