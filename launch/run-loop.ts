/**
 * The run loop: episodes of control steps at the robot's rate, actions from an ActionSource
 * through the safety layer, progress scored asynchronously by a ProgressSource (never inside the
 * control step), and the operator's controls (start, pause, resume, stop, mark, e-stop, reset).
 * It publishes what happens as updates for the dashboard and telemetry.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { EventStream } from '../robot/events.js';
import { CompletionJudge, completionRule, DEFAULT_SUCCESS_WINDOW } from '../reward/completion.js';
import { EstopLatchedError, type SafeRobot, type SafetyStatus } from '../robot/safety.js';
import type { ArmState, Observation } from '../robot/types.js';
import type { ActionSource, EpisodeSink, LearnerStatus, ProgressScore, ProgressSource, StepRecord } from './sources.js';
import { Intervention, type TeleopCommand } from './teleop.js';

export type RunState = 'idle' | 'running' | 'paused' | 'stopped';
export type EpisodeOutcome = 'success' | 'failure' | 'time-limit' | 'stopped' | 'estop';
export type SuccessJudge = 'progress' | 'env' | 'operator';

export interface ProgressPoint extends ProgressScore {
  episode: number;
  /** Control step of the observation that was scored. */
  step: number;
  /** Answer time of the progress source, ms. */
  latencyMs: number;
}

export interface EpisodeSummary {
  episode: number;
  outcome: EpisodeOutcome;
  success: boolean;
  /** Who decided the outcome: progress threshold, environment, operator, or none (time limit, stop, e-stop). */
  judgedBy: 'progress' | 'env' | 'operator' | 'none';
  steps: number;
  durationS: number;
  finalProgress: number | null;
  /** Judge 'progress' and a success: the control step of the scored state where the completion judge said done. */
  doneAtStep?: number;
  /** Sum of the shaped rewards scored in this episode. */
  shapedReturn: number;
  /** Steps taken while the operator had the arm (their commands, or holds waiting for one). */
  interventionSteps: number;
  /**
   * The environment's own success predicate held at some step (the simulator's; absent for an arm
   * without one): what happened, whoever judged the outcome.
   */
  envSuccess?: boolean;
  startedAt: number;
  endedAt: number;
}

/** One episode of the run, as the success and intervention charts need it (logged ones of earlier sessions too). */
export interface EpisodePoint {
  episode: number;
  outcome: EpisodeOutcome;
  steps: number;
  interventionSteps: number;
}

/** A logged episode as the dashboard replays it: its curves, step by step. */
export interface EpisodeReplay {
  episode: number;
  outcome: string;
  steps: number;
  /** Fused progress P(s_0) .. P(s_T) (scored steps, the ones between interpolated). */
  progress: number[];
  /** Shaped reward of each step, as the learner got it. */
  rewards: number[];
  /** Steps (0-based) the operator drove. */
  interventionSteps: number[];
}

export interface RewardStats {
  answered: number;
  errors: number;
  /** Observations not scored because one request was still in flight. */
  skipped: number;
  /** Requests that re-scored a held state to learn whether a silent model is back. */
  probes: number;
  lastError: string | null;
  lastMs: number | null;
  meanMs: number | null;
  p95Ms: number | null;
}

export interface RunSnapshot {
  state: RunState;
  estopped: boolean;
  /** The operator has the arm: teleop commands replace the policy's actions. */
  intervention: boolean;
  sources: { robot: string; actions: string; progress: string };
  controlHz: number;
  /** Steps follow the control clock (false: as fast as the simulator goes). */
  paced: boolean;
  episode: { index: number; steps: number; startedAt: number | null; points: ProgressPoint[] } | null;
  episodes: EpisodeSummary[];
  /** Every episode of the run folder, earlier sessions first (the charts continue across restarts). */
  history: EpisodePoint[];
  successRate: number | null;
  rollouts: number;
  reward: RewardStats;
  safety: SafetyStatus;
  deadlines: { steps: number; missed: number };
  /** Control steps as measured: work per step (action, safety, arm) and the period between step starts, ms. */
  control: { workMeanMs: number | null; workP95Ms: number | null; periodMeanMs: number | null; periodP95Ms: number | null; periodMaxMs: number | null };
  /** The learner behind the actions, when they come from one. */
  learner: LearnerStatus | null;
}

export type RunUpdate =
  | { type: 'state'; state: RunState; estopped: boolean }
  | { type: 'intervention'; active: boolean; source: string }
  | { type: 'progress'; point: ProgressPoint }
  | { type: 'episode-start'; episode: number; at: number }
  | { type: 'episode'; summary: EpisodeSummary; successRate: number | null; rollouts: number }
  | { type: 'step'; episode: number; step: number; held: string | null; state: ArmState };

/**
 * Where a run's counts continue from (a resumed run folder): the next episode's index, and the
 * rollouts and successes already judged. A new run starts at { nextEpisode: 1, rollouts: 0, successes: 0 }.
 */
export interface RunCounts {
  nextEpisode: number;
  rollouts: number;
  successes: number;
}

export const NEW_RUN_COUNTS: Readonly<RunCounts> = { nextEpisode: 1, rollouts: 0, successes: 0 };

function checkRunCounts(counts: RunCounts): RunCounts {
  const { nextEpisode, rollouts, successes } = counts;
  const whole = (n: number, min: number): boolean => Number.isSafeInteger(n) && n >= min;
  if (!whole(nextEpisode, 1) || !whole(rollouts, 0) || !whole(successes, 0) || successes > rollouts) {
    throw new RangeError(`run counts: expected whole numbers with nextEpisode >= 1 and 0 <= successes <= rollouts, got ${JSON.stringify(counts)}`);
  }
  return counts;
}

export interface RunLoopOptions {
  robot: SafeRobot;
  actions: ActionSource;
  progress: ProgressSource;
  events: EventStream;
  clock: Clock;
  log: Logger;
  /** Steps per episode (the robot may end an episode earlier through timeLimit). */
  episodeSteps: number;
  successJudge: SuccessJudge;
  /**
   * Judge 'progress': the completion judge (reward/completion.ts) ends the episode as a success
   * when the fused progress of successWindow scored steps in a row is >= 1 - successDelta.
   */
  successDelta: number;
  /** Scored steps in a row (default DEFAULT_SUCCESS_WINDOW). */
  successWindow?: number;
  /** First episode seed; episode i uses seed + i. */
  seed?: number;
  /** Episodes kept in the table (older ones still count in the success rate). */
  keepEpisodes?: number;
  /** Ask for a score every n-th control step (default 1; the newest state wins while the model is busy). */
  scoreEvery?: number;
  /** Counts to continue from (a resumed run); default NEW_RUN_COUNTS. */
  counts?: RunCounts;
  /**
   * true (default): one step per control period of the wall clock (a real arm). false: the next
   * step as soon as this one is done (the simulator, which has no clock to keep); no deadlines.
   */
  paced?: boolean;
  /** Episodes the run folder logged in earlier sessions (default none). */
  history?: readonly EpisodePoint[];
  /** Sees every episode as it happens: the run folder's MCAP recording (default none). */
  recorder?: EpisodeSink;
}

interface Episode {
  index: number;
  steps: number;
  startedAt: number;
  points: ProgressPoint[];
  shapedReturn: number;
  interventionSteps: number;
  /** undefined while the robot has reported no success predicate. */
  envSuccess: boolean | undefined;
  lastProgress: number | null;
  /** The completion judge of this episode, fed every scored step. */
  judge: CompletionJudge;
  /** Control step of the scored state where the judge said done. */
  doneAtStep: number | null;
  observation: Observation;
  /** robot.estopCount when the episode began: any e-stop since ends it (the arm was stopped). */
  estopGeneration: number;
}

/** A held run asks a silent reward model again at most this often, ms. */
const REWARD_PROBE_INTERVAL_MS = 1000;

export class RunLoop {
  private state: RunState = 'idle';
  private episode: Episode | null = null;
  private nextEpisodeIndex: number;
  private readonly episodes: EpisodeSummary[] = [];
  private readonly history: EpisodePoint[];
  private successes: number;
  private rollouts: number;
  private readonly listeners = new Set<(update: RunUpdate) => void>();
  private loop: Promise<void> | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  private readonly steps = { steps: 0, missed: 0 };
  private readonly reward: { answered: number; errors: number; skipped: number; probes: number; lastError: string | null; latencies: number[] } = {
    answered: 0,
    errors: 0,
    skipped: 0,
    probes: 0,
    lastError: null,
    latencies: [],
  };
  private scoring = false;
  private lastProbeAt = -Infinity;
  private pendingScore: { observation: Observation; step: number; episode: number } | null = null;
  private readonly periodMs: number;
  private readonly rule: ReturnType<typeof completionRule>;
  /** Recent per-step work and step-to-step periods, ms (ring of the last 500). */
  private readonly workTimes: number[] = [];
  private readonly periods: number[] = [];
  private lastStepStart: number | null = null;
  private readonly intervention = new Intervention();

  constructor(private readonly options: RunLoopOptions) {
    this.periodMs = 1000 / options.robot.controlHz;
    this.rule = completionRule(options.successDelta, options.successWindow ?? DEFAULT_SUCCESS_WINDOW);
    const counts = checkRunCounts(options.counts ?? NEW_RUN_COUNTS);
    this.nextEpisodeIndex = counts.nextEpisode;
    this.rollouts = counts.rollouts;
    this.successes = counts.successes;
    this.history = [...(options.history ?? [])];
  }

  onUpdate(listener: (update: RunUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get runState(): RunState {
    return this.state;
  }

  // ---- operator controls ----------------------------------------------------------------------

  /** Starts (or restarts after stop) the run; a new episode begins. */
  start(source: string): void {
    if (this.state === 'running' || this.state === 'paused') return;
    this.options.robot.clearRewardHold(`run started (${source})`);
    this.setState('running', source, 'run started');
    this.ensureLoop();
  }

  pause(source: string): void {
    if (this.state !== 'running') return;
    this.setState('paused', source, 'run paused');
  }

  resume(source: string): void {
    if (this.state !== 'paused') return;
    this.setState('running', source, 'run resumed');
  }

  /** Ends the current episode (outcome 'stopped') and stops; start() begins again. */
  stop(source: string): void {
    if (this.state === 'idle' || this.state === 'stopped') return;
    this.endEpisode('stopped', 'none');
    this.setIntervention(false, source);
    this.setState('stopped', source, 'run stopped');
  }

  /** The operator judges the current episode; it ends with that outcome. Returns false without one. */
  mark(outcome: 'success' | 'failure', source: string): boolean {
    if (!this.episode) return false;
    this.options.events.emit('mark', `episode ${this.episode.index} marked ${outcome}`, source);
    this.endEpisode(outcome, 'operator');
    return true;
  }

  /** Latches the e-stop; the arm stops and the run pauses until resetEstop(). */
  async estop(source: string, reason: string): Promise<void> {
    const stopping = this.options.robot.estop(source, reason); // latches synchronously
    this.endEpisode('estop', 'none');
    // After a reset the policy drives again until the operator takes over anew.
    this.setIntervention(false, source);
    this.notify({ type: 'state', state: this.state, estopped: true });
    await stopping;
  }

  /** Releases the e-stop; the run continues as it was (running or paused) with a new episode. */
  resetEstop(source: string): boolean {
    const released = this.options.robot.resetEstop(source);
    if (released) {
      if (this.state === 'running') this.options.robot.armActorWatchdog();
      this.notify({ type: 'state', state: this.state, estopped: false });
      this.wake?.();
    }
    return released;
  }

  /**
   * Starts (true) or ends (false) an operator intervention; false when nothing changed. While one
   * is active the newest teleop command replaces the policy's action each step, through the
   * safety layer; without a command in the last TELEOP_TIMEOUT_MS the arm holds.
   */
  setIntervention(active: boolean, source: string): boolean {
    if (!this.intervention.set(active, source, this.options.clock.now())) return false;
    const detail = active ? 'operator took over the arm' : 'operator handed the arm back to the policy';
    this.options.events.emit('intervention', detail, source);
    this.options.log.info(`${detail} (${source})`);
    this.notify({ type: 'intervention', active, source });
    return true;
  }

  /** The operator's newest teleop command; false (ignored) when no intervention is active. */
  teleop(command: TeleopCommand): boolean {
    return this.intervention.teleop(command, this.options.clock.now());
  }

  get interventionActive(): boolean {
    return this.intervention.active;
  }

  /** Records the reason of an e-stop that latched before its reason could be read (see SafeRobot.describeLatch). */
  explainEstop(count: number, reason: string, source: string): void {
    this.options.robot.describeLatch(count, reason, source);
  }

  // ---- views ----------------------------------------------------------------------------------

  get estopped(): boolean {
    return this.options.robot.estopped;
  }

  /** How many times the e-stop has latched. */
  get estopCount(): number {
    return this.options.robot.estopCount;
  }

  snapshot(): RunSnapshot {
    const latencies = [...this.reward.latencies].sort((a, b) => a - b);
    const mean = latencies.length > 0 ? latencies.reduce((s, v) => s + v, 0) / latencies.length : null;
    return {
      state: this.state,
      estopped: this.options.robot.estopped,
      intervention: this.intervention.active,
      sources: { robot: this.options.robot.name, actions: this.options.actions.label, progress: this.options.progress.label },
      controlHz: this.options.robot.controlHz,
      paced: this.options.paced ?? true,
      episode: this.episode
        ? { index: this.episode.index, steps: this.episode.steps, startedAt: this.episode.startedAt, points: [...this.episode.points] }
        : null,
      episodes: [...this.episodes],
      history: [...this.history],
      successRate: this.successRate(),
      rollouts: this.rollouts,
      reward: {
        answered: this.reward.answered,
        errors: this.reward.errors,
        skipped: this.reward.skipped,
        probes: this.reward.probes,
        lastError: this.reward.lastError,
        lastMs: this.reward.latencies.at(-1) ?? null,
        meanMs: mean,
        p95Ms: latencies.length > 0 ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.95))]! : null,
      },
      safety: this.options.robot.status(),
      deadlines: { ...this.steps },
      control: {
        workMeanMs: mean_(this.workTimes),
        workP95Ms: quantile(this.workTimes, 0.95),
        periodMeanMs: mean_(this.periods),
        periodP95Ms: quantile(this.periods, 0.95),
        periodMaxMs: this.periods.length > 0 ? Math.max(...this.periods) : null,
      },
      learner: this.options.actions.learnerStatus?.() ?? null,
    };
  }

  /** Stops the loop (the arm is held: no further actions) and waits for it to finish. */
  async close(): Promise<void> {
    this.closed = true;
    this.options.robot.disarmActorWatchdog();
    this.wake?.();
    await this.loop;
  }

  // ---- the loop -------------------------------------------------------------------------------

  private ensureLoop(): void {
    if (this.loop) return;
    this.loop = this.run().catch((error: unknown) => {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.options.log.error(`run loop failed: ${message}`);
      this.options.events.emit('fault', `run loop failed: ${error instanceof Error ? error.message : String(error)}`, 'loop');
      this.loop = null;
      void this.estop('loop', 'run loop failed');
    });
  }

  private async run(): Promise<void> {
    const { robot, actions, clock } = this.options;
    while (!this.closed) {
      // An e-stop the loop did not issue (a joint-limit fault, or one that came and went while
      // we awaited): the arm was stopped, so this episode cannot go on.
      if (this.episode && (robot.estopped || this.episode.estopGeneration !== robot.estopCount)) {
        this.endEpisode('estop', 'none');
        this.notify({ type: 'state', state: this.state, estopped: robot.estopped });
      }
      if (this.state !== 'running' || robot.estopped) {
        robot.disarmActorWatchdog();
        this.lastStepStart = null;
        await this.sleep(this.periodMs);
        continue;
      }
      if (!this.episode) {
        try {
          await this.beginEpisode();
        } catch (error) {
          if (error instanceof EstopLatchedError) continue;
          throw error;
        }
        if (this.episode && this.state === 'running') robot.armActorWatchdog();
        continue;
      }
      const started = clock.now();
      // Period between consecutive steps of one episode (a pause, reset or hold breaks the chain).
      if (this.lastStepStart !== null) record(this.periods, started - this.lastStepStart);
      this.lastStepStart = null;
      const episode = this.episode;
      // The actor is asked even during an intervention: it encodes the observation the step's transition starts from.
      const policyAction = await actions.next(episode.observation);
      // Paused, stopped or e-stopped while the actor thought: drop its action.
      if (this.state !== 'running' || robot.estopped || this.episode !== episode || this.closed) continue;
      const { action, origin } = this.intervention.action(policyAction, clock.now(), robot.controlHz);
      const before = episode.observation;
      const result = await robot.act(action);
      if (this.episode !== episode) continue;
      episode.observation = result.observation;
      this.steps.steps++;
      if (result.applied) {
        episode.steps++;
        if (origin !== 'policy') episode.interventionSteps++;
        if (result.success !== undefined) episode.envSuccess = episode.envSuccess === true || result.success;
        if (episode.steps % (this.options.scoreEvery ?? 1) === 0) this.requestScore(result.observation, episode);
        const step: StepRecord = {
          episode: episode.index,
          step: episode.steps,
          observation: before,
          proposed: action,
          origin,
          applied: result.applied,
          next: result.observation,
          ...(result.success === undefined ? {} : { success: result.success }),
          timeLimit: result.timeLimit,
        };
        actions.afterStep?.(step);
        this.options.recorder?.afterStep(step);
      } else if (robot.heldForReward) {
        // Held steps ask for no score, so nothing would ever end the hold: probe the silent model
        // with the held state until it answers (its answer releases the hold).
        this.probeReward(result.observation, episode);
      }
      this.notify({ type: 'step', episode: episode.index, step: episode.steps, held: result.heldBy ?? null, state: result.observation.state });

      const judge = this.options.successJudge;
      if (judge === 'env' && result.success === true) this.endEpisode('success', 'env');
      else if (judge === 'progress' && episode.judge.done) this.endEpisode('success', 'progress');
      else if (result.timeLimit || episode.steps >= this.options.episodeSteps) this.endEpisode('time-limit', 'none');

      const elapsed = clock.now() - started;
      record(this.workTimes, elapsed);
      if (this.episode === episode && result.applied) this.lastStepStart = started;
      if (this.options.paced === false) {
        await new Promise((resolve) => setImmediate(resolve)); // timers, sockets and scores get their turn
        continue;
      }
      if (elapsed > this.periodMs) this.steps.missed++;
      await this.sleep(Math.max(0, this.periodMs - elapsed));
    }
  }

  private async beginEpisode(): Promise<void> {
    const index = this.nextEpisodeIndex;
    const generation = this.options.robot.estopCount;
    const seed = (this.options.seed ?? 0) + index;
    const observation = await this.options.robot.reset(seed);
    // E-stopped while the arm was resetting: that reset does not count, the next one will.
    if (this.options.robot.estopped || this.options.robot.estopCount !== generation) return;
    this.nextEpisodeIndex++;
    this.options.actions.beginEpisode?.(observation);
    this.options.progress.beginEpisode(observation);
    this.pendingScore = null;
    this.episode = {
      index,
      steps: 0,
      startedAt: this.options.clock.now(),
      points: [],
      shapedReturn: 0,
      interventionSteps: 0,
      envSuccess: undefined,
      lastProgress: null,
      judge: new CompletionJudge(this.rule),
      doneAtStep: null,
      observation,
      estopGeneration: generation,
    };
    this.options.recorder?.beginEpisode(index, seed, observation);
    this.options.events.emit('episode', `episode ${index} started`, 'loop');
    this.notify({ type: 'episode-start', episode: index, at: this.episode.startedAt });
  }

  private endEpisode(outcome: EpisodeOutcome, judgedBy: EpisodeSummary['judgedBy']): void {
    const episode = this.episode;
    if (!episode) return;
    this.episode = null;
    this.pendingScore = null;
    this.options.robot.disarmActorWatchdog();
    const now = this.options.clock.now();
    const summary: EpisodeSummary = {
      episode: episode.index,
      outcome,
      success: outcome === 'success',
      judgedBy,
      steps: episode.steps,
      durationS: (now - episode.startedAt) / 1000,
      finalProgress: episode.lastProgress,
      ...(outcome === 'success' && judgedBy === 'progress' && episode.doneAtStep !== null ? { doneAtStep: episode.doneAtStep } : {}),
      shapedReturn: episode.shapedReturn,
      interventionSteps: episode.interventionSteps,
      ...(episode.envSuccess === undefined ? {} : { envSuccess: episode.envSuccess }),
      startedAt: episode.startedAt,
      endedAt: now,
    };
    // Rollouts the success rate counts: episodes that ran to a judgement (not stopped or e-stopped).
    if (outcome === 'success' || outcome === 'failure' || outcome === 'time-limit') {
      this.rollouts++;
      if (outcome === 'success') this.successes++;
    }
    this.episodes.push(summary);
    this.history.push({ episode: summary.episode, outcome, steps: summary.steps, interventionSteps: summary.interventionSteps });
    try {
      this.options.actions.endEpisode?.(summary);
    } catch (error) {
      this.options.log.warn(`action source endEpisode failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.options.recorder?.endEpisode(summary);
    const keep = this.options.keepEpisodes ?? 200;
    if (this.episodes.length > keep) this.episodes.splice(0, this.episodes.length - keep);
    this.options.events.emit('episode', `episode ${episode.index} ended: ${outcome} after ${episode.steps} steps`, 'loop');
    this.notify({ type: 'episode', summary, successRate: this.successRate(), rollouts: this.rollouts });
  }

  private successRate(): number | null {
    return this.rollouts > 0 ? this.successes / this.rollouts : null;
  }

  private probeReward(observation: Observation, episode: Episode): void {
    const now = this.options.clock.now();
    if (this.scoring || now - this.lastProbeAt < REWARD_PROBE_INTERVAL_MS) return;
    this.lastProbeAt = now;
    this.reward.probes++;
    this.requestScore(observation, episode);
  }

  /** One request in flight; newer observations replace a waiting one (counted as skipped). */
  private requestScore(observation: Observation, episode: Episode): void {
    const request = { observation, step: episode.steps, episode: episode.index };
    if (this.scoring) {
      if (this.pendingScore) this.reward.skipped++;
      this.pendingScore = request;
      return;
    }
    void this.score(request);
  }

  private async score(request: { observation: Observation; step: number; episode: number }): Promise<void> {
    const { robot, progress, clock } = this.options;
    this.scoring = true;
    robot.noteRewardRequest();
    const started = clock.now();
    try {
      const result = await progress.score(request.observation, { episode: request.episode, step: request.step });
      const latencyMs = clock.now() - started;
      robot.noteRewardAnswer(true);
      this.reward.answered++;
      this.reward.latencies.push(latencyMs);
      if (this.reward.latencies.length > 200) this.reward.latencies.shift();
      const episode = this.episode;
      if (episode && episode.index === request.episode) {
        const point: ProgressPoint = { ...result, episode: request.episode, step: request.step, latencyMs };
        episode.points.push(point);
        episode.shapedReturn += result.reward;
        episode.lastProgress = result.progress;
        const before = episode.judge.done;
        if (episode.judge.push(result.progress) && !before) episode.doneAtStep = request.step;
        this.options.recorder?.progress(point);
        this.notify({ type: 'progress', point });
      }
    } catch (error) {
      robot.noteRewardAnswer(false);
      this.reward.errors++;
      this.reward.lastError = error instanceof Error ? error.message : String(error);
      this.options.events.emit('reward-error', this.reward.lastError, 'loop');
    } finally {
      this.scoring = false;
    }
    const next = this.pendingScore;
    this.pendingScore = null;
    if (next && this.episode?.index === next.episode) void this.score(next);
  }

  private setState(state: RunState, source: string, detail: string): void {
    this.state = state;
    if (state === 'running') this.options.robot.armActorWatchdog();
    else this.options.robot.disarmActorWatchdog();
    this.options.events.emit('run', detail, source);
    this.options.log.info(`${detail} (${source})`);
    this.notify({ type: 'state', state, estopped: this.options.robot.estopped });
    this.wake?.();
  }

  private notify(update: RunUpdate): void {
    for (const listener of this.listeners) {
      try {
        listener(update);
      } catch (error) {
        this.options.log.warn(`update listener failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => {
        clearTimeout(timer);
        done();
      };
      function done(): void {
        resolve();
      }
      this.wake = wake;
    });
  }
}

function record(ring: number[], value: number): void {
  ring.push(value);
  if (ring.length > 500) ring.shift();
}

function mean_(values: readonly number[]): number | null {
  return values.length > 0 ? values.reduce((s, v) => s + v, 0) / values.length : null;
}

function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}
