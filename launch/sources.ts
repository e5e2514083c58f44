/**
 * The two things the run loop asks of the rest of the stack: actions (the actor of the RL loop)
 * and progress (the reward model). Each names itself, so the dashboard always says where actions
 * and progress come from.
 */
import type { ArmAction, Observation } from '../robot/types.js';
import type { EpisodeSummary, ProgressPoint } from './run-loop.js';
import type { RecentUpdates } from '../policy/learner.js';
import type { ActionOrigin } from './teleop.js';

/** One control step whose action reached the arm, for a learner's replay buffer. */
export interface StepRecord {
  episode: number;
  /** 1-based index of this step in its episode. */
  step: number;
  observation: Observation;
  /** The action sent to the safety layer: the policy's, or the operator's during an intervention. */
  proposed: ArmAction;
  /**
   * Who chose it: the policy, the operator's teleop command, a hold (an intervention without a
   * fresh command), or the scripted expert of a demo (`dopamine rl`'s demos).
   */
  origin: ActionOrigin | 'demo';
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
  /** What the learner behind the actions has done, for the dashboard (none for a fixed policy). */
  learnerStatus?(): LearnerStatus;
}

/** The learner of an RL action source, as the dashboard shows it. */
export interface LearnerStatus {
  /** Gradient updates done in this run (a resumed run counts its checkpoint's too). */
  updates: number;
  /** Updates owed to the transitions received and not yet done (the learner runs between control steps). */
  owed: number;
  /** Owed updates given up because the learner fell behind the data. */
  dropped: number;
  /** Scored episodes and transitions handed to the replay buffer. */
  episodes: number;
  transitions: number;
  /** Episodes not learned from (a state the reward model could not score). */
  rejectedEpisodes: number;
  /** Transitions in the demo buffer (scripted demos and the operator's intervention steps). */
  demoTransitions: number;
  /** Of the transitions handed over, those the operator drove (they enter the demo buffer too). */
  interventionTransitions: number;
  /** Mean time of one update, ms (null before the first). */
  updateMs: number | null;
  /** Updates per second of wall time over the last 10 s or so (null before two readings). */
  updatesPerSecond: number | null;
  /** Losses, mean Q, temperature and entropy of the recent full updates (absent before the first). */
  recent?: RecentUpdates;
  lastError: string | null;
}

export interface ProgressScore {
  /** Relative progress predicted for the last transition (the GRM's hop). */
  hop: number;
  /** Fused task progress in [0, 1]. */
  progress: number;
  /** Shaped reward of the transition. */
  reward: number;
}

/** Which state of which episode a score request is for. */
export interface ScoreRequest {
  episode: number;
  /** Control steps taken in the episode when the observation was made (0 is the initial state). */
  step: number;
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
  score(observation: Observation, at: ScoreRequest): Promise<ProgressScore>;
}

/**
 * Sees every episode as it happens (the MCAP recorder). Calls come from inside the control step:
 * they only queue work.
 */
export interface EpisodeSink {
  beginEpisode(episode: number, seed: number, observation: Observation): void;
  afterStep(record: StepRecord): void;
  progress(point: ProgressPoint): void;
  endEpisode(summary: EpisodeSummary): void;
}
