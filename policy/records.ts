/** Episodes as they are logged and sent between actor and learner: JSON with float arrays packed. */
import type { ScoredEpisode } from './episode.js';
import { highProgressSteps } from './episode.js';
import type { RecentUpdates } from './learner.js';
import { packFloats, unpackFloats } from './run-store.js';

export interface EpisodeRecord {
  kind: 'demo' | 'episode';
  index: number;
  seed: number;
  steps: number;
  observationSize: number;
  /** (steps + 1) x observationSize float32, base64. */
  observations: string;
  /** steps x 5 float32, base64. */
  actions: string;
  progress: number[];
  rewards: number[];
  terminal: boolean;
  success: boolean;
  end: string;
  highProgressSteps: number;
  /** Demos: which expert attempt this was (attempts that failed are not logged). */
  attempt?: number;
  /**
   * Serve: how the run loop ended the episode (success, failure, time-limit, stopped, estop; a
   * failure the operator marked is logged with end 'stopped'). Absent in `dopamine rl` logs and older serve logs.
   */
  outcome?: string;
  /**
   * Serve: the transitions (0-based step indices) the operator drove during an intervention. They
   * enter the demo buffer as well as the online one (HIL-SERL). Absent: none.
   */
  interventionSteps?: number[];
  /** Serve: steps of an intervention without a fresh command (the arm held). Absent: none. */
  heldSteps?: number;
  /** Demos from a recording (policy.demos lists recordings): the file it was read from. */
  source?: string;
  /**
   * Episodes a learner received over gRPC: the name of the actor that sent them (several actors
   * feed one learner; an episode is keyed by actor, kind and index). Absent: the run's only actor.
   */
  actor?: string;
}

export interface EvalRecord {
  kind: 'eval';
  rollouts: number;
  episodes: number;
  successes: number;
  success: number;
  /** The learner's recent updates when this evaluation ran (absent before the first full update, and in logs older than the field). */
  learner?: RecentUpdates;
}

/**
 * The policy an evaluation point is measured with, logged when the evaluation starts running beside
 * training (a learner in another process): a run stopped before the point's EvalRecord was written
 * evaluates the same weights again when it resumes.
 */
export interface EvalPolicyRecord {
  kind: 'eval-policy';
  rollouts: number;
  /** The actor network's parameters, float32 base64 by name. */
  weights: Record<string, string>;
  /** The learner's recent updates when the weights were taken (goes into the EvalRecord). */
  learner?: RecentUpdates;
}

export type LogRecord = EpisodeRecord | EvalRecord | EvalPolicyRecord;

export function toRecord(kind: 'demo' | 'episode', index: number, e: ScoredEpisode, trapThreshold: number): EpisodeRecord {
  const o = e.observations[0]!.length;
  const obs = new Float32Array(e.observations.length * o);
  e.observations.forEach((x, t) => obs.set(x, t * o));
  const act = new Float32Array(e.actions.length * 5);
  e.actions.forEach((a, t) => act.set(a, t * 5));
  return {
    kind, index, seed: e.seed, steps: e.actions.length, observationSize: o, observations: packFloats(obs), actions: packFloats(act),
    progress: e.progress, rewards: e.rewards, terminal: e.terminal, success: e.success, end: e.end, highProgressSteps: highProgressSteps(e, trapThreshold),
  };
}

export function fromRecord(r: EpisodeRecord): ScoredEpisode {
  const obs = unpackFloats(r.observations);
  const act = unpackFloats(r.actions);
  const o = r.observationSize;
  if (obs.length !== (r.steps + 1) * o || act.length !== r.steps * 5 || r.rewards.length !== r.steps) {
    throw new RangeError(`${r.kind} ${r.index}: expected ${r.steps + 1} observations of ${o}, ${r.steps} actions and rewards, got ${obs.length / o}, ${act.length / 5}, ${r.rewards.length}`);
  }
  return {
    seed: r.seed,
    observations: Array.from({ length: r.steps + 1 }, (_, t) => obs.slice(t * o, t * o + o)),
    actions: Array.from({ length: r.steps }, (_, t) => act.slice(t * 5, t * 5 + 5)),
    envSuccess: [], progress: r.progress, rewards: r.rewards, terminal: r.terminal, success: r.success, end: r.end as ScoredEpisode['end'],
  };
}
