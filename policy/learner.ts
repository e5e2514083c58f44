/**
 * The learner side of the loop, behind one small interface so the actor does not care whether it
 * runs in the same process (LocalLearner) or in another one over TCP (RemoteLearner in
 * protocol.ts): it hands over scored demos and episodes, asks for actions, and lets the learner
 * train. The LocalLearner owns the SAC learner, both replay buffers and the checkpoints.
 */
import type { Logger } from '../common/log.js';
import type { ExecutionProviderSetting } from '../engine/runtime.js';
import { transitionsOf } from './episode.js';
import type { EpisodeRecord } from './records.js';
import { fromRecord } from './records.js';
import { allocateBatch, ReplayBuffer, sampleSymmetric, type Batch, type Transition } from './replay.js';
import { Rng } from './rng.js';
import type { CheckpointProblem, CheckpointState } from './run-store.js';
import { CheckpointStore } from './run-store.js';
import { isActingParameter, SacLearner, type UpdateStats } from './sac.js';

export interface LearnerSettings {
  observationSize: number;
  hidden: number[];
  batchSize: number;
  learningRate: number;
  gamma: number;
  tau: number;
  initialAlpha: number;
  seed: number;
  demoCapacity: number;
  bufferCapacity: number;
  updatesPerStep: number;
  bcSteps: number;
  /** Critic-only updates on the demos after cloning, before the actor starts following Q. */
  criticWarmupSteps: number;
  /** Reward multiplier inside the critic target (sac.ts). */
  rewardScale: number;
  /** Weight of the BC term on demo rows in the actor loss (sac.ts; 0: plain SAC). */
  bcWeight: number;
  /** The actor's SAC term divided by the batch's mean |Q| (sac.ts; absent: false). */
  normaliseQ?: boolean;
  /**
   * Each successful training episode also enters the demo buffer (absent: false): the BC term
   * then covers what the policy itself got right, and RLPD's demo half samples it (self-imitation).
   */
  successDemos?: boolean;
  /** Bound of the gripper's log-odds (sac.ts; absent or 0: unbounded). */
  gripperLogitLimit?: number;
  /** Q-filtered BC: demo rows cloned only where the critics value the demo's action above the policy's (sac.ts; absent: false). */
  qFilter?: boolean;
  /**
   * Weight, in both behaviour-cloning losses, of a demo step whose gripper command differs from
   * the one before (absent: 1, no extra weight). A demo closes (and opens) the gripper once, at a
   * state barely different from the ones before it labelled the other way.
   */
  gripperSwitchWeight?: number;
  /** Steps per replayed transition (n-step returns; 1: one-step). */
  nStep: number;
  /** Online control steps before the actor and temperature train (the critic trains from the start). */
  actorDelaySteps: number;
  executionProvider: ExecutionProviderSetting;
  threads: number;
}

export interface Learner {
  readonly label: string;
  /** Adds a scored demo or training episode (records already added, by actor, kind and index, are ignored). */
  addRecord(record: EpisodeRecord): Promise<void>;
  /** Behaviour cloning on the demos, before RL (when no checkpoint was restored). */
  clone(): Promise<void>;
  /** Called after every control step: the in-process learner trains here. */
  afterStep(): Promise<void>;
  /** Called at each episode start: a remote actor fetches the newest policy here. */
  sync(): Promise<void>;
  act(observation: Float32Array, rng: Rng, deterministic: boolean): Promise<Float32Array>;
  /** A copy of the actor network's weights `act` uses now (an evaluation that runs on while training does freezes them). */
  actorWeights(): Record<string, Float32Array>;
  /** Checkpoint now (the in-process learner; a remote learner checkpoints itself). */
  checkpoint(): Promise<void>;
  stats(): Promise<LearnerStats>;
  close(): Promise<void>;
}

/**
 * How the learner's recent SAC updates went (means over the last RECENT_WINDOW full updates):
 * what a person watching a run checks first. Q drifting past the largest possible return, a
 * temperature running away, or the entropy collapsing show here before the success curve moves.
 */
export interface RecentUpdates {
  /** Full updates (critic, actor, temperature) behind the means; critic-only updates are not counted. */
  updates: number;
  criticLoss: number;
  actorLoss: number;
  /** Mean Q of the batch, in the critic's scaled reward units. */
  meanQ: number;
  /** The entropy temperature after the newest update. */
  alpha: number;
  /** Minus the mean log-probability of the policy's sampled actions (nats). */
  entropy: number;
}

export interface LearnerStats {
  updates: number;
  updateMs: number | null;
  parameters: number;
  /** Time the actor spent waiting for a remote learner to catch up (bounded lag). */
  actorWaitS?: number;
  /** Absent until the first full update (cloning, critic warm-up and the actor delay come first). */
  recent?: RecentUpdates;
}

/** Full updates averaged in `LearnerStats.recent`. */
export const RECENT_WINDOW = 200;

export interface RestoreReport {
  checkpoint: string | null;
  checkpointEpisodes: number;
  problems: CheckpointProblem[];
}

/**
 * Gives the demo steps that switch the gripper (its command's sign differs from the previous
 * step's; an episode starts open) the weight `weight`, in place. Without it the cloned policy
 * never closed the hand at the cube nor opened it over the bin, deterministically (README).
 */
export function weighGripperSwitches(transitions: Transition[], weight: number): void {
  let previous = -1;
  for (const t of transitions) {
    const gripper = t.action[4]!;
    if ((gripper > 0) !== (previous > 0)) t.weight = weight;
    previous = gripper;
  }
}

/** A copy of the actor network's parameters of a SAC learner. */
export function actorWeightsOf(sac: SacLearner): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of sac.store.names()) if (isActingParameter(name)) out[name] = Float32Array.from(sac.store.get(name).data);
  return out;
}

export class LocalLearner implements Learner {
  readonly label = 'in-process learner';
  readonly demos: ReplayBuffer;
  readonly online: ReplayBuffer;
  private readonly batch: Batch;
  private rng: Rng;
  private readonly seen = new Set<string>();
  private readonly updateTimes: number[] = [];
  /** The newest full updates' statistics, at most RECENT_WINDOW (see stats). */
  private readonly recentStats: UpdateStats[] = [];
  private readonly checkpoints: CheckpointStore;
  private episodes = 0;
  private onlineTransitions = 0;

  private constructor(
    readonly sac: SacLearner,
    readonly settings: LearnerSettings,
    runDir: string,
    private readonly log: Logger,
  ) {
    this.demos = new ReplayBuffer('demo buffer', Math.max(1, settings.demoCapacity), settings.observationSize, 5);
    this.online = new ReplayBuffer('online buffer', settings.bufferCapacity, settings.observationSize, 5);
    this.batch = allocateBatch(settings.batchSize, settings.observationSize, 5);
    this.rng = new Rng(settings.seed);
    this.checkpoints = new CheckpointStore(runDir);
  }

  static async create(settings: LearnerSettings, runDir: string, log: Logger): Promise<LocalLearner> {
    const sac = await SacLearner.create({ ...settings, actionSize: 5 });
    return new LocalLearner(sac, settings, runDir, log);
  }

  async addRecord(record: EpisodeRecord): Promise<void> {
    // Demos are the run's own; episodes belong to the actor that collected them.
    const key = record.kind === 'episode' && record.actor !== undefined ? `${record.actor}/episode/${record.index}` : `${record.kind}/${record.index}`;
    if (this.seen.has(key)) return;
    if (record.observationSize !== this.settings.observationSize) {
      throw new RangeError(`${key}: expected observations of ${this.settings.observationSize} values, got ${record.observationSize}`);
    }
    const buffer = record.kind === 'demo' ? this.demos : this.online;
    const transitions = transitionsOf(fromRecord(record), this.settings.nStep, this.settings.gamma);
    if (record.kind === 'demo') weighGripperSwitches(transitions, this.settings.gripperSwitchWeight ?? 1);
    for (const t of transitions) buffer.add(t);
    const driven = record.kind === 'episode' ? (record.interventionSteps ?? []) : [];
    const outside = driven.find((t) => !(Number.isInteger(t) && t >= 0 && t < transitions.length));
    if (outside !== undefined) throw new RangeError(`${key}: expected intervention steps from 0 to ${transitions.length - 1}, got ${outside}`);
    // The operator's corrections are demonstrations of what to do in states the policy reached.
    for (const t of driven) this.demos.add(transitions[t]!);
    if (record.kind === 'episode' && record.success && this.settings.successDemos === true) {
      // The online buffer has copied these rows already; weighed as demos, they enter the demo buffer too.
      weighGripperSwitches(transitions, this.settings.gripperSwitchWeight ?? 1);
      for (const t of transitions) this.demos.add(t);
    }
    this.seen.add(key);
    if (record.kind === 'episode') {
      this.episodes++;
      this.onlineTransitions += transitions.length;
    }
  }

  /** Restores the newest good checkpoint (reporting bad ones); false when there is none. */
  restore(): RestoreReport & { restored: boolean } {
    const { loaded, problems } = this.checkpoints.loadNewest((path) => this.sac.load(path));
    for (const p of problems) this.log.error(`checkpoint ${p.checkpoint} rejected: ${p.problem}; using an older one`);
    if (!loaded) return { restored: false, checkpoint: null, checkpointEpisodes: 0, problems };
    this.sac.updates = loaded.updates;
    this.rng.setState(loaded.learnerRng);
    return { restored: true, checkpoint: loaded.path, checkpointEpisodes: loaded.episodes, problems };
  }

  async clone(): Promise<void> {
    this.rng = new Rng(this.settings.seed);
    if (this.demos.size === 0 || this.settings.bcSteps === 0) return;
    let loss = 0;
    for (let s = 0; s < this.settings.bcSteps; s++) {
      this.demos.sampleInto(this.batch, 0, this.batch.size, this.rng);
      loss = await this.sac.cloneStep(this.batch);
    }
    this.log.info(`behaviour cloning: ${this.settings.bcSteps} steps on ${this.demos.size} demo transitions, final loss ${loss.toFixed(3)}`);
    // An untrained critic would drag the cloned actor anywhere on its first updates; fit Q to the
    // demos (with the cloned policy's next actions) first.
    let critic = { criticLoss: 0, meanQ: 0 };
    for (let s = 0; s < this.settings.criticWarmupSteps; s++) {
      this.demos.sampleInto(this.batch, 0, this.batch.size, this.rng);
      critic = await this.sac.criticUpdate(this.batch, this.rng);
    }
    if (this.settings.criticWarmupSteps > 0) {
      this.log.info(`critic warm-up: ${this.settings.criticWarmupSteps} steps on the demos, critic loss ${critic.criticLoss.toFixed(4)}, mean Q ${critic.meanQ.toFixed(3)}`);
    }
  }

  /** `count` SAC updates on RLPD batches (nothing while both buffers are empty). */
  async update(count: number): Promise<void> {
    if (this.demos.size === 0 && this.online.size === 0) return;
    for (let u = 0; u < count; u++) {
      const t0 = performance.now();
      sampleSymmetric(this.demos, this.online, this.batch, this.rng);
      // The actor holds still (the cloned policy collects) until the critic has seen online data.
      if (this.onlineTransitions < this.settings.actorDelaySteps) {
        await this.sac.criticUpdate(this.batch, this.rng);
        this.sac.updates++;
        this.updateTimes.push(performance.now() - t0);
        continue;
      }
      const stats = await this.sac.update(this.batch, this.rng);
      this.updateTimes.push(performance.now() - t0);
      this.recentStats.push(stats);
      if (this.recentStats.length > RECENT_WINDOW) this.recentStats.shift();
      if (this.sac.updates % 2000 === 0) {
        this.log.info(`update ${this.sac.updates}: critic loss ${stats.criticLoss.toFixed(4)}, mean Q ${stats.meanQ.toFixed(3)}, alpha ${stats.alpha.toFixed(4)}, log pi ${stats.logProb.toFixed(2)}`);
      }
    }
  }

  /**
   * Updates still owed for the online transitions received (updatesPerStep each), for a learner
   * that trains as data arrives. Derived from the update count, so it survives a restart.
   */
  get owed(): number {
    return Math.max(0, this.onlineTransitions * this.settings.updatesPerStep - this.sac.updates);
  }

  async afterStep(): Promise<void> {
    await this.update(this.settings.updatesPerStep);
  }

  async sync(): Promise<void> {}

  act(observation: Float32Array, rng: Rng, deterministic: boolean): Promise<Float32Array> {
    return this.sac.act(observation, rng, deterministic);
  }

  async checkpoint(extra: CheckpointState['extra'] = {}): Promise<void> {
    this.checkpoints.save({ updates: this.sac.updates, episodes: this.episodes, learnerRng: this.rng.getState(), extra }, (path) => this.sac.save(path));
  }

  /** The actor network's weights (what a remote actor needs). */
  actorWeights(): Record<string, Float32Array> {
    return actorWeightsOf(this.sac);
  }

  async stats(): Promise<LearnerStats> {
    const t = this.updateTimes;
    const recent = this.recentUpdates();
    return {
      updates: this.sac.updates, parameters: this.sac.store.count(), updateMs: t.length > 10 ? t.slice(5).reduce((a, b) => a + b, 0) / (t.length - 5) : null,
      ...(recent ? { recent } : {}),
    };
  }

  /** Means over the last RECENT_WINDOW full updates; undefined before the first. */
  recentUpdates(): RecentUpdates | undefined {
    const r = this.recentStats;
    if (r.length === 0) return undefined;
    const mean = (pick: (s: UpdateStats) => number): number => r.reduce((sum, s) => sum + pick(s), 0) / r.length;
    return { updates: r.length, criticLoss: mean((s) => s.criticLoss), actorLoss: mean((s) => s.actorLoss), meanQ: mean((s) => s.meanQ), alpha: r.at(-1)!.alpha, entropy: -mean((s) => s.logProb) };
  }

  async close(): Promise<void> {
    await this.sac.dispose();
  }
}
