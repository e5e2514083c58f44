/**
 * The online RL loop inside `dopamine serve`: a SAC actor drives the arm (through the run loop and
 * its safety layer), the reward model scores the camera views asynchronously into fused progress
 * and shaped rewards, and the in-process learner trains between control steps on scored episodes.
 *
 * One object plays both parts the run loop asks for: `actions` (the actor, which also collects
 * each episode's policy observations and applied actions) and `progress` (the reward model,
 * which keeps each episode's fused progress per step). When an episode ends, its last state is
 * scored, states the run loop did not ask about (stride, or skipped while the model was busy)
 * get their progress interpolated between their scored neighbours, the episode is shaped by the
 * reward core, logged durably and handed to the learner. The control step never waits for the
 * reward model; it waits for at most one learner update (the actor and the learner share weights),
 * and updates start only when they fit in the slack of the control period.
 */
import { mkdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { writeFileAtomic } from '../engine/files.js';
import type { ViewSet } from '../perception/images.js';
import { actionToVector, vectorToAction, type ActionLimits } from '../policy/environment.js';
import { scoreEpisode, type CollectedEpisode, type EpisodeEnd, type ShapingSettings } from '../policy/episode.js';
import { LocalLearner, type Learner, type LearnerSettings, type LearnerStats } from '../policy/learner.js';
import { defaultActorName } from '../policy/actor-name.js';
import { readPem, readToken } from '../policy/learner-credentials.js';
import { LEARNER_DEFAULTS } from '../policy/learner-defaults.js';
import { rewardModelScorer } from '../policy/reward-model.js';
import { demoRecordings, loadRecordedDemos } from './recorded-demos.js';
import { recordSimDemos } from './serve-demos.js';
import { loadImageEncoder } from '../perception/onnx-image-encoder.js';
import { DEFAULT_POLICY_ENCODER } from '../perception/policy-encoder/paths.js';
import { featureObservations, type ObservationEncoder } from '../policy/observation.js';
import { toRecord, type EpisodeRecord, type LogRecord } from '../policy/records.js';
import { viewsOf } from '../policy/reward-model.js';
import { Rng } from '../policy/rng.js';
import { RecordLog, type CheckpointProblem } from '../policy/run-store.js';
import { ProgressFusion } from '../reward/fusion.js';
import { predictFusedStep, type RewardModel } from '../reward/model.js';
import { CompletionJudge, completionRule } from '../reward/completion.js';
import { shapeTransition } from '../reward/shaping.js';
import type { ArmAction, CameraFrame, Observation } from '../robot/types.js';
import { NEW_RUN_COUNTS, type EpisodePoint, type EpisodeReplay, type EpisodeSummary, type RunCounts } from './run-loop.js';
import type { ActionSource, LearnerStatus, ProgressScore, ProgressSource, ScoreRequest, StepRecord } from './sources.js';

/** The task as the reward model is told it. */
export interface ServeReferences {
  instruction: string;
  goal: ViewSet;
  /** Where the goal came from (logged, shown in the progress label). */
  source: string;
}

/** Demo-buffer rows: the operator's intervention steps (and demos), half of every batch once there are any (RLPD). */
const DEMO_CAPACITY = 50_000;
/** Owed updates kept at most, in control steps' worth: the learner never runs an old backlog for minutes. */
const BACKLOG_STEPS = 50;
/** An update starts only when it should end within this share of the control period after the step began. */
const STEP_BUDGET = 0.85;

/** Runs async work on one resource at a time, in call order (ONNX sessions reuse their buffers). */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

interface AgentEpisode {
  index: number;
  initial: Observation;
  first: ViewSet;
  previous: ViewSet;
  previousProgress: number;
  fusion: ProgressFusion;
  /** Policy observations s_0 .. s_{T-1} (s_T is encoded when the episode ends). */
  observations: Float32Array[];
  /** Applied actions a_0 .. a_{T-1}, policy units. */
  actions: Float32Array[];
  /** Indices t of the actions the operator chose (an intervention's commands; holds are not among them). */
  interventionSteps: number[];
  /** Indices t of an intervention's steps without a fresh command (the arm held). */
  heldSteps: number[];
  envSuccess: boolean[];
  last: Observation;
  /** Fused progress by step (0: the initial state). */
  progress: Map<number, number>;
  requested: Set<number>;
  failure: string | null;
  /** The completion judge over the scored steps, for the reward shown live (the run loop's own judge ends the episode). */
  judge: CompletionJudge;
}

export interface ServeAgentOptions {
  config: Config;
  model: RewardModel;
  references: ServeReferences;
  /** The learner's folder: episode log, checkpoints, settings (resumed when they match). */
  runDir: string;
  /**
   * Steps follow the control clock (a real arm): learner updates run in the slack of each period,
   * at policy.serve.updatesPerStep. false (the simulator, unpaced): policy.updatesPerStep updates
   * before each action, as `dopamine rl` does.
   */
  paced: boolean;
  log: Logger;
}

export class ServeAgent {
  readonly actions: ActionSource;
  readonly progress: ProgressSource;
  /** Checkpoints refused at start (corrupt or incompatible), newest first; the learner resumed from an older one. */
  rejectedCheckpoints: readonly CheckpointProblem[] = [];
  /** Where the run loop's counts continue: from the episodes the run folder logged (NEW_RUN_COUNTS in a new folder). */
  resumedCounts: RunCounts = { ...NEW_RUN_COUNTS };
  /** The episodes the run folder logged, for the charts (empty in a new folder). */
  resumedHistory: EpisodePoint[] = [];
  /** Each logged episode's curves by episode index, for the dashboard's replay. */
  private readonly replays = new Map<number, EpisodeReplay>();
  private episode: AgentEpisode | null = null;
  private nextIndex = 1;
  private lastEncoded: { observation: Observation; vector: Float32Array } | null = null;
  private readonly encoderLane = new Serial();
  private readonly modelLane = new Serial();
  private readonly learnerLane = new Serial();
  private readonly actorRng: Rng;
  private readonly finishing = new Set<Promise<void>>();
  private readonly episodeLog: RecordLog<LogRecord>;
  private recordIndex: number;
  private owed = 0;
  private working = false;
  private closed = false;
  /** (time, updates) readings for the update rate, oldest first. */
  private readonly rateReadings: { at: number; updates: number }[] = [];
  private readonly status: Omit<LearnerStatus, 'updates' | 'owed' | 'updateMs' | 'demoTransitions' | 'updatesPerSecond' | 'recent'> = {
    dropped: 0, episodes: 0, transitions: 0, rejectedEpisodes: 0, interventionTransitions: 0, lastError: null,
  };
  /** A learner in another process: its figures as last asked (every 2 s), the demo transitions sent. */
  private remoteStats: LearnerStats | null = null;
  private remoteStatsTimer: NodeJS.Timeout | undefined;
  private sentDemoTransitions = 0;
  private updateTotalMs = 0;
  private updatesTimed = 0;
  /** Recent update time (moving average), ms: whether the next one fits before the next step. */
  private updateMsAverage = 0;
  private stepStartedAt = 0;
  private readonly periodMs: number;
  private readonly limits: ActionLimits;
  private readonly shaping: ShapingSettings;

  private constructor(
    private readonly options: ServeAgentOptions,
    private readonly encoder: ObservationEncoder,
    private readonly frameSize: { width: number; height: number },
    private readonly learner: Learner,
    /** The learner in this process; null when it runs in another (policy.serve.learner). */
    private readonly local: LocalLearner | null,
    logged: number,
  ) {
    const { config } = options;
    this.limits = { maxStepM: config.safety.maxStepM, maxYawStepRad: config.safety.maxYawStepRad };
    const s = config.reward.shaping;
    this.shaping = serveShaping(config);
    this.actorRng = new Rng(config.policy.seed + 1);
    this.periodMs = 1000 / config.robot.controlHz;
    this.episodeLog = new RecordLog<LogRecord>(join(options.runDir, 'episodes.log'));
    this.recordIndex = logged;
    const policyLabel = `SAC policy learning online (${learner.label}; observations: ${encoder.label})`;
    this.actions = {
      label: policyLabel,
      beginEpisode: (initial) => this.begin(initial),
      next: (observation) => this.act(observation),
      afterStep: (record) => this.afterStep(record),
      endEpisode: (summary) => this.end(summary),
      learnerStatus: () => this.learnerStatus(),
    };
    this.progress = {
      // Paths inside the working folder are shown relative to it (labels end up in screenshots and telemetry).
      label: `fused progress from ${options.model.name.replaceAll(`${process.cwd()}/`, '')} (goal: ${options.references.source}), ${s.mode} shaping`,
      beginEpisode: (initial) => this.begin(initial),
      score: (observation, at) => this.score(observation, at),
    };
  }

  /** Builds the encoder and learner, and resumes the learner from `runDir` when it holds a serve run of the same settings. */
  static async create(options: ServeAgentOptions): Promise<ServeAgent> {
    const { config, log, runDir } = options;
    const frameSize = { width: config.cameras.width, height: config.cameras.height };
    // The policy sees its own frozen encoder (policy.encoder.model, or the shipped one), whichever
    // reward backend scores progress.
    const encoder = featureObservations(
      await loadImageEncoder(config.policy.encoder.model ?? DEFAULT_POLICY_ENCODER, { views: config.cameras.views.length, executionProvider: config.engine.executionProvider, threads: config.engine.threads }),
    );
    const p = config.policy;
    // Recorded episodes (any robot), or scripted-expert demos on the simulator; without demos
    // there is nothing to clone, warm the critics on or hold the actor back for.
    const recordings = Array.isArray(p.demos) ? demoRecordings(p.demos) : null;
    const demos = recordings ? recordings.length : config.robot.backend === 'sim' ? (p.demos as number) : 0;
    if (!recordings && config.robot.backend !== 'sim' && (p.demos as number) > 0) {
      log.info(`policy.demos: ${p.demos as number} scripted-expert demos exist on the simulator only; on robot.backend ${config.robot.backend}, list recorded episodes (MCAP files or folders of them) to start from demos`);
    }
    const d = LEARNER_DEFAULTS;
    const settings: LearnerSettings = {
      observationSize: encoder.size, hidden: [...d.hidden], batchSize: p.batchSize, learningRate: p.learningRate, gamma: config.reward.shaping.gamma,
      tau: d.tau, initialAlpha: d.initialAlpha, seed: p.seed, demoCapacity: DEMO_CAPACITY, bufferCapacity: d.bufferCapacity,
      // Paced (a real arm): updates fit in the slack of each control period; unpaced (the simulator): as `dopamine rl`.
      updatesPerStep: options.paced ? p.serve.updatesPerStep : p.updatesPerStep,
      bcSteps: demos > 0 ? d.bcSteps : 0, criticWarmupSteps: demos > 0 ? d.criticWarmupSteps : 0, bcWeight: demos > 0 ? d.bcWeight : 0,
      actorDelaySteps: demos > 0 ? d.actorDelaySteps : 0, rewardScale: d.rewardScale, nStep: d.nStep, gripperSwitchWeight: d.gripperSwitchWeight,
      executionProvider: config.engine.executionProvider, threads: config.engine.threads,
    };
    // What must match for a stored run to be continued (the rest may change between starts).
    const identity = { kind: 'serve', task: config.robot.task, observation: encoder.label.replaceAll(`${process.cwd()}/`, ''), observationSize: encoder.size, hidden: settings.hidden, cameras: frameSize };
    mkdirSync(runDir, { recursive: true });
    const identityFile = join(runDir, 'serve.json');
    const logFile = join(runDir, 'episodes.log');
    if (existsSync(identityFile)) {
      const stored = JSON.parse(readFileSync(identityFile, 'utf8')) as unknown;
      if (JSON.stringify(stored) !== JSON.stringify(identity)) {
        throw new InputError('policy.runDir', `expected ${runDir} to hold a serve run of ${JSON.stringify(identity)}, got ${JSON.stringify(stored)} (choose another policy.runDir)`);
      }
    } else if (existsSync(logFile)) {
      throw new InputError('policy.runDir', `expected ${runDir} to be new or a serve run, got an episode log without serve.json (choose another policy.runDir)`);
    } else {
      writeFileAtomic(identityFile, Buffer.from(`${JSON.stringify(identity, null, 1)}\n`));
    }
    const remote = config.policy.serve.learner;
    const local = remote ? null : await LocalLearner.create(settings, runDir, log);
    const episodeLog = new RecordLog<LogRecord>(logFile);
    const { records, truncatedTail } = episodeLog.read();
    if (truncatedTail) log.warn(`${logFile}: cut off a torn last line (an episode being written when serve stopped)`);
    const episodes = records.filter((r): r is EpisodeRecord => r.kind === 'episode');
    let demoRecords = records.filter((r): r is EpisodeRecord => r.kind === 'demo');
    // Demos are recorded before the first episode only (a run that has learned keeps what it had).
    const scorer = rewardModelScorer(options.model, options.references, config.reward.fusion);
    if (recordings && demoRecords.length === 0 && episodes.length === 0) {
      demoRecords = await loadRecordedDemos({ paths: p.demos as string[], config, encoder, scorer, shaping: serveShaping(config), onDemo: (record) => episodeLog.append(record), log });
    } else if (!recordings && demos > demoRecords.length && episodes.length === 0) {
      demoRecords = await recordSimDemos({ config, encoder, scorer, shaping: serveShaping(config), logged: demoRecords, onDemo: (record) => episodeLog.append(record), log });
    }
    let learner: Learner;
    let problems: readonly CheckpointProblem[] = [];
    if (local) {
      for (const record of [...demoRecords, ...episodes]) await local.addRecord(record);
      const restored = local.restore();
      problems = restored.problems;
      // A new learner starts from the demos, as `dopamine rl` does: cloning, then the critics' warm-up.
      if (!restored.restored && demoRecords.length > 0) await local.clone();
      if (episodes.length > 0 || restored.restored) {
        log.info(`learner resumed from ${runDir}: ${episodes.length} logged episodes, ${restored.restored ? `checkpoint ${restored.checkpoint} (${local.sac.updates} updates)` : 'no checkpoint'}`);
      }
      learner = local;
    } else {
      learner = await connectRemoteLearner(config, settings, log);
      try {
        // The learner keeps what it has (by actor and index) and restores itself: resending is safe.
        for (const record of [...demoRecords, ...episodes]) await learner.addRecord(record);
        // Once per learner (cloning the demos when there are any); the learner trains only after it.
        await learner.clone();
        await learner.sync();
      } catch (error) {
        await learner.close();
        throw error;
      }
      log.info(`${learner.label}: sent ${demoRecords.length} demos and ${episodes.length} logged episodes`);
    }
    const agent = new ServeAgent(options, encoder, frameSize, learner, local, episodes.length);
    agent.rejectedCheckpoints = problems;
    agent.sentDemoTransitions = demoRecords.reduce((n, r) => n + r.steps, 0) + episodes.reduce((n, r) => n + (r.interventionSteps?.length ?? 0), 0);
    if (!local) agent.watchRemoteLearner();
    agent.resumedCounts = loggedCounts(episodes);
    for (const record of episodes) agent.keepReplay(record);
    agent.resumedHistory = episodes.map((r) => ({
      episode: r.seed,
      outcome: (r.outcome ?? r.end) as EpisodePoint['outcome'],
      steps: r.steps,
      interventionSteps: (r.interventionSteps?.length ?? 0) + (r.heldSteps ?? 0),
    }));
    agent.nextIndex = agent.resumedCounts.nextEpisode;
    agent.status.episodes = episodes.length;
    agent.status.transitions = episodes.reduce((n, r) => n + r.steps, 0);
    agent.status.interventionTransitions = episodes.reduce((n, r) => n + (r.interventionSteps?.length ?? 0), 0);
    return agent;
  }

  /** A logged episode's curves (null when the run folder did not log it). */
  replay(episode: number): EpisodeReplay | null {
    return this.replays.get(episode) ?? null;
  }

  private keepReplay(record: EpisodeRecord): void {
    // The run loop's episode index is logged as the seed.
    this.replays.set(record.seed, {
      episode: record.seed, outcome: record.outcome ?? record.end, steps: record.steps, progress: record.progress, rewards: record.rewards, interventionSteps: record.interventionSteps ?? [],
    });
  }

  /** What the reward model is told about the task. */
  get references(): ServeReferences {
    return this.options.references;
  }

  learnerStatus(): LearnerStatus {
    const now = performance.now();
    const updates = this.local ? this.local.sac.updates : (this.remoteStats?.updates ?? 0);
    const readings = this.rateReadings;
    if (readings.length === 0 || now - readings.at(-1)!.at >= 1000) readings.push({ at: now, updates });
    while (readings.length > 2 && now - readings[1]!.at > 10_000) readings.shift();
    const oldest = readings[0]!;
    const recent = this.local ? this.local.recentUpdates() : this.remoteStats?.recent;
    return {
      ...this.status,
      updatesPerSecond: now - oldest.at >= 1000 ? ((updates - oldest.updates) * 1000) / (now - oldest.at) : null,
      ...(recent ? { recent } : {}),
      updates,
      owed: this.owed,
      demoTransitions: this.local ? this.local.demos.size : this.sentDemoTransitions,
      updateMs: this.local ? (this.updatesTimed > 0 ? this.updateTotalMs / this.updatesTimed : null) : (this.remoteStats?.updateMs ?? null),
    };
  }

  /** A learner in another process trains on its own: ask it for its figures every 2 s (the dashboard and /metrics show them). */
  private watchRemoteLearner(): void {
    const ask = (): void => {
      void this.learner.stats().then(
        (stats) => {
          this.remoteStats = stats;
        },
        (error: unknown) => {
          this.status.lastError = `learner stats: ${error instanceof Error ? error.message : String(error)}`;
        },
      );
    };
    ask();
    this.remoteStatsTimer = setInterval(ask, 2000);
    this.remoteStatsTimer.unref();
  }

  /** Waits for episodes being finished, stops the learner, checkpoints, closes learner and model. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.finishing]);
    clearInterval(this.remoteStatsTimer);
    await this.learnerLane.run(async () => {
      if (this.status.episodes > 0) await this.learner.checkpoint();
      await this.learner.close();
    });
    await this.modelLane.run(() => this.options.model.close());
  }

  // ---- episode ------------------------------------------------------------------------------

  /** Called by both parts at an episode start (the run loop calls each); the second call is a no-op. */
  private begin(initial: Observation): void {
    if (this.episode?.initial === initial) return;
    const fusion = new ProgressFusion(this.options.config.reward.fusion);
    const views = viewsOf(initial);
    this.episode = {
      index: this.nextIndex++,
      initial,
      first: views,
      previous: views,
      previousProgress: fusion.progress,
      fusion,
      observations: [],
      actions: [],
      interventionSteps: [],
      heldSteps: [],
      envSuccess: [],
      last: initial,
      progress: new Map([[0, fusion.progress]]),
      requested: new Set([0]),
      failure: null,
      judge: new CompletionJudge(completionRule(this.shaping.successDelta, this.shaping.successWindow)),
    };
  }

  private async act(observation: Observation): Promise<ArmAction> {
    this.stepStartedAt = performance.now();
    const vector = await this.encode(observation);
    this.lastEncoded = { observation, vector };
    if (!this.options.paced && this.owed > 0) await this.updateOwed();
    const action = await this.learnerLane.run(() => this.learner.act(vector, this.actorRng, false));
    return vectorToAction(action, this.limits);
  }

  private afterStep(record: StepRecord): void {
    const episode = this.episode;
    if (!episode) return;
    const encoded = this.lastEncoded?.observation === record.observation ? this.lastEncoded.vector : undefined;
    if (!encoded) {
      episode.failure ??= `step ${record.step}: the acted-on observation was not encoded`;
      return;
    }
    if (record.origin === 'operator') episode.interventionSteps.push(episode.actions.length);
    if (record.origin === 'hold') episode.heldSteps.push(episode.actions.length);
    episode.observations.push(encoded);
    // What reached the arm (after the safety layer's clipping) is what caused the transition.
    episode.actions.push(actionToVector(record.applied, this.limits));
    episode.envSuccess.push(record.success === true);
    episode.last = record.next;
    // A learner in this process trains between steps; one in another process trains on its own.
    if (this.local && this.local.online.size > 0 && this.options.config.policy.serve.updatesPerStep > 0) {
      const perStep = this.options.config.policy.serve.updatesPerStep;
      this.owed += perStep;
      const cap = perStep * BACKLOG_STEPS;
      if (this.owed > cap) {
        this.status.dropped += this.owed - cap;
        this.owed = cap;
      }
      if (this.options.paced) this.kickLearner();
    }
  }

  /** Unpaced: every owed update, now (the next action waits for them). */
  private async updateOwed(): Promise<void> {
    try {
      await this.learnerLane.run(async () => {
        while (this.owed > 0 && !this.closed) {
          const started = performance.now();
          await this.local!.update(1);
          this.updateTotalMs += performance.now() - started;
          this.updatesTimed++;
          this.owed--;
        }
      });
    } catch (error) {
      this.status.lastError = `learner update failed: ${error instanceof Error ? error.message : String(error)}`;
      this.options.log.error(this.status.lastError);
      this.owed = 0;
    }
  }

  private end(summary: EpisodeSummary): void {
    const episode = this.episode;
    this.episode = null;
    if (!episode || episode.actions.length === 0) return;
    const done = this.finish(episode, summary).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      this.status.rejectedEpisodes++;
      this.status.lastError = message;
      this.options.log.warn(`episode ${episode.index} not learned from: ${message}`);
    });
    this.finishing.add(done);
    void done.finally(() => this.finishing.delete(done));
  }

  // ---- reward model -------------------------------------------------------------------------

  private score(observation: Observation, at: ScoreRequest): Promise<ProgressScore> {
    const episode = this.episode;
    if (!episode) return Promise.reject(new Error('reward model: no episode is running'));
    return this.scoreState(episode, at.step, observation);
  }

  /** One fused step on the newest state (model calls run one at a time, in order). */
  private scoreState(episode: AgentEpisode, step: number, observation: Observation): Promise<ProgressScore> {
    episode.requested.add(step);
    return this.modelLane.run(async () => {
      try {
        const views = viewsOf(observation);
        const task = { instruction: this.options.references.instruction, start: episode.first, goal: this.options.references.goal };
        const hops = await predictFusedStep(this.options.model, task, episode.previous, views);
        const fused = episode.fusion.step({ incremental: hops.incremental, fromStart: hops.fromStart, fromGoal: hops.fromGoal });
        // The reward shown live: shaping between the last two scored states (the learner's rewards come from the whole episode).
        // Source progress: a success only where the completion judge first says done, never from one frame.
        const wasDone = episode.judge.done;
        const done = episode.judge.push(fused.progress) && !wasDone;
        const live = this.shaping.success === 'progress' ? { ...this.shaping, success: 'env' as const } : this.shaping;
        const reward = shapeTransition({ progress: episode.previousProgress, nextProgress: fused.progress, terminal: false, envSuccess: done }, live).reward;
        episode.previous = views;
        episode.previousProgress = fused.progress;
        episode.progress.set(step, fused.progress);
        return { hop: hops.incremental, progress: fused.progress, reward };
      } catch (error) {
        episode.failure ??= `reward model on step ${step}: ${error instanceof Error ? error.message : String(error)}`;
        throw error;
      }
    });
  }

  /** Scores the last state, shapes the episode, logs it and hands it to the learner. */
  private async finish(episode: AgentEpisode, summary: EpisodeSummary): Promise<void> {
    const steps = episode.actions.length;
    if (!episode.requested.has(steps)) void this.scoreState(episode, steps, episode.last).catch(() => undefined);
    await this.modelLane.run(async () => undefined); // every request of this episode has been answered
    if (episode.failure !== null) throw new Error(episode.failure);
    const final = await this.encode(episode.last);
    const end: EpisodeEnd = summary.outcome === 'success' ? 'success' : summary.outcome === 'time-limit' ? 'time-limit' : 'stopped';
    const collected: CollectedEpisode = {
      seed: summary.episode,
      observations: [...episode.observations, final],
      actions: episode.actions,
      envSuccess: episode.envSuccess,
      end,
      progress: Promise.resolve(interpolateProgress(episode.progress, steps)),
    };
    if (end === 'stopped') collected.stopReason = summary.outcome;
    // Source progress: learn from the run loop's judgement (the one the dashboard shows), made on
    // the scored steps; this curve only interpolates them. An operator's mark stands as given.
    if (this.shaping.success === 'progress') collected.judgedDoneAt = loopJudgement(summary);
    const scored = await scoreEpisode(collected, this.shaping);
    // A success judged done before the end cuts the episode there: the steps after it are not learned from.
    const kept = scored.actions.length;
    const driven = episode.interventionSteps.filter((t) => t < kept);
    const held = episode.heldSteps.filter((t) => t < kept).length;
    const record: EpisodeRecord = {
      ...toRecord('episode', this.recordIndex++, scored, 0.8),
      outcome: summary.outcome,
      ...(driven.length > 0 ? { interventionSteps: driven } : {}),
      ...(held > 0 ? { heldSteps: held } : {}),
    };
    this.episodeLog.append(record);
    this.keepReplay(record);
    await this.learnerLane.run(() => this.learner.addRecord(record));
    if (!this.local) {
      this.sentDemoTransitions += driven.length;
      // The policy the next episode acts with: the learner's newest weights.
      await this.learnerLane.run(() => this.learner.sync());
    }
    this.status.episodes++;
    this.status.transitions += record.steps;
    this.status.interventionTransitions += driven.length;
    if (this.status.episodes % this.options.config.policy.serve.checkpointEvery === 0) await this.learnerLane.run(() => this.learner.checkpoint());
  }

  // ---- encoder and learner -------------------------------------------------------------------

  private encode(observation: Observation): Promise<Float32Array> {
    const frames = observation.frames.map((frame) => resizeNearest(frame, this.frameSize));
    return this.encoderLane.run(() => this.encoder.encode({ observation: { ...observation, frames } }));
  }

  /**
   * Works off owed updates one at a time in the slack after a control step: an update starts only
   * when it should end before STEP_BUDGET of the period has passed since the step began, so a
   * busy machine slows the learner (owed updates grow, then are dropped), not the control loop.
   * Called after every step.
   */
  private kickLearner(): void {
    if (this.working || this.closed) return;
    this.working = true;
    void (async () => {
      try {
        while (this.owed > 0 && !this.closed) {
          await new Promise((resolve) => setImmediate(resolve));
          if (performance.now() + this.updateMsAverage > this.stepStartedAt + STEP_BUDGET * this.periodMs) {
            // Let the estimate decay while skipping, so one slow update (or a busy spell) does not stop the learner for good.
            this.updateMsAverage *= 0.9;
            break;
          }
          await this.learnerLane.run(async () => {
            if (this.closed) return;
            const started = performance.now();
            await this.local!.update(1);
            const took = performance.now() - started;
            this.updateTotalMs += took;
            this.updatesTimed++;
            // The first update also builds the sessions' buffers: it does not predict the next ones.
            if (this.updatesTimed > 1) this.updateMsAverage = this.updatesTimed === 2 ? took : 0.8 * this.updateMsAverage + 0.2 * took;
          });
          this.owed--;
        }
      } catch (error) {
        this.status.lastError = `learner update failed: ${error instanceof Error ? error.message : String(error)}`;
        this.options.log.error(this.status.lastError);
        this.owed = 0;
      } finally {
        this.working = false;
      }
    })();
  }
}

/**
 * policy.serve.learner: the learner process `serve` sends its episodes to (its settings are this
 * arm's, updates per received transition policy.updatesPerStep, as `dopamine rl`'s).
 */
async function connectRemoteLearner(config: Config, settings: LearnerSettings, log: Logger): Promise<Learner> {
  const remote = config.policy.serve.learner!;
  const match = /^(.+):(\d+)$/.exec(remote.address)!;
  let token: string;
  if (remote.tokenFile !== undefined) {
    token = readToken('policy.serve.learner.tokenFile', remote.tokenFile);
  } else {
    token = process.env[remote.tokenEnv]?.trim() ?? '';
    if (token === '') throw new InputError('policy.serve.learner.tokenFile', `expected the learner's token file (rl-learner keeps it in <its run folder>/learner.token) or ${remote.tokenEnv} set`);
  }
  const ca = remote.ca !== undefined ? readPem('policy.serve.learner.ca', remote.ca) : undefined;
  const { RemoteLearner } = await import('../policy/protocol.js');
  return RemoteLearner.connect(
    { ...settings, updatesPerStep: config.policy.updatesPerStep },
    {
      host: match[1]!, port: Number(match[2]), token, actor: remote.actor ?? defaultActorName(config.policy.runDir), ...(ca ? { ca } : {}),
      callTimeoutMs: 30_000, reconnectForMs: 120_000, log,
    },
  );
}

/** How `serve` shapes rewards: the configuration's reward.shaping. */
function serveShaping(config: Config): ShapingSettings {
  const s = config.reward.shaping;
  // startServing resolves who judges (policy/success-source.ts) before the agent is made.
  if (s.success === undefined) throw new Error('serve: reward.shaping.success must be resolved before the learner starts');
  return {
    mode: s.mode, gamma: s.gamma, successDelta: s.successDelta, successWindow: s.successWindow, success: s.success,
    terminalPotential: s.terminalPotential, successPotential: s.successPotential, potentialWeight: s.potentialWeight,
  };
}

/**
 * The run loop's counts after the logged serve episodes: the episode index (logged as the seed)
 * after the last one, and the rollouts (episodes judged success, failure or time-limit) and successes among them.
 */
export function loggedCounts(episodes: readonly EpisodeRecord[]): RunCounts {
  let last = 0;
  let rollouts = 0;
  let successes = 0;
  for (const record of episodes) {
    last = Math.max(last, record.seed);
    const outcome = record.outcome ?? record.end;
    if (outcome === 'success' || outcome === 'failure' || outcome === 'time-limit') rollouts++;
    if (outcome === 'success') successes++;
  }
  return { nextEpisode: last + 1, rollouts, successes };
}

/** P(s_0) .. P(s_T) from the scored steps (0 and T always among them), linear between scored neighbours. */
/**
 * Where the run loop judged an episode done (success source progress), as scoreEpisode takes it:
 * the control step of the scored state where the completion judge said done, the last step for an
 * operator's success mark, or null for no success.
 */
export function loopJudgement(summary: Pick<EpisodeSummary, 'outcome' | 'judgedBy' | 'steps' | 'doneAtStep'>): number | null {
  if (summary.outcome !== 'success') return null;
  return summary.judgedBy === 'progress' ? (summary.doneAtStep ?? summary.steps) : summary.steps;
}

export function interpolateProgress(scored: ReadonlyMap<number, number>, steps: number): number[] {
  const known = [...scored.keys()].filter((t) => t >= 0 && t <= steps).sort((a, b) => a - b);
  if (known[0] !== 0 || known.at(-1) !== steps) throw new Error(`progress: expected scores of steps 0 and ${steps}, got steps ${known.join(', ')}`);
  const out = new Array<number>(steps + 1);
  for (let k = 0; k < known.length; k++) {
    const a = known[k]!;
    const b = known[k + 1];
    out[a] = scored.get(a)!;
    if (b === undefined) break;
    for (let t = a + 1; t < b; t++) out[t] = scored.get(a)! + ((scored.get(b)! - scored.get(a)!) * (t - a)) / (b - a);
  }
  return out;
}

/** The frame at the encoder's size (nearest neighbour; frames of the configured size pass through). */
function resizeNearest(frame: CameraFrame, size: { width: number; height: number }): CameraFrame {
  if (frame.width === size.width && frame.height === size.height) return frame;
  const rgb = new Uint8Array(size.width * size.height * 3);
  for (let y = 0; y < size.height; y++) {
    const sy = Math.min(frame.height - 1, Math.floor(((y + 0.5) * frame.height) / size.height));
    for (let x = 0; x < size.width; x++) {
      const sx = Math.min(frame.width - 1, Math.floor(((x + 0.5) * frame.width) / size.width));
      const from = (sy * frame.width + sx) * 3;
      const to = (y * size.width + x) * 3;
      rgb[to] = frame.rgb[from]!;
      rgb[to + 1] = frame.rgb[from + 1]!;
      rgb[to + 2] = frame.rgb[from + 2]!;
    }
  }
  return { ...frame, width: size.width, height: size.height, rgb };
}
