/**
 * One training session, single process: demos -> behaviour cloning -> online SAC with RLPD
 * sampling, evaluated with the deterministic policy on fresh seeds every few rollouts; every
 * completed episode logged and the learner checkpointed, so a killed run resumes where it was.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { writeFileAtomic } from '../engine/files.js';
import type { ExecutionProviderSetting } from '../engine/runtime.js';
import type { ShapingMode, SuccessSource } from '../reward/shaping.js';
import { deriveSeed } from '../robot/sim/rng.js';
import { actionToVector, SimEnvironment, vectorToAction } from './environment.js';
import type { CollectedEpisode, ScoredEpisode, ShapingSettings } from './episode.js';
import { highProgressSteps, runEpisode, scoreEpisode, transitionsOf } from './episode.js';
import type { ObservationEncoder, ObservationMode } from './observation.js';
import { featureObservations, privilegedObservations, randomFrozenEncoder } from './observation.js';
import { allocateBatch, ReplayBuffer, sampleSymmetric } from './replay.js';
import { Rng } from './rng.js';
import { CheckpointStore, packFloats, RecordLog, unpackFloats } from './run-store.js';
import { SacLearner } from './sac.js';
import { privilegedProgressScorer, ProgressQueue, type RewardScorer } from './scorer.js';

export interface RlSettings {
  task: string;
  shaping: ShapingMode;
  seed: number;
  rollouts: number;
  observation: ObservationMode;
  /** Expert demos (at most 20), scripted expert with this motor/perception noise. */
  demos: number;
  demoNoise: number;
  bcSteps: number;
  hidden: number[];
  batchSize: number;
  /** Learner updates per environment step (update-to-data ratio). */
  updatesPerStep: number;
  learningRate: number;
  gamma: number;
  tau: number;
  initialAlpha: number;
  bufferCapacity: number;
  evalEvery: number;
  evalEpisodes: number;
  success: SuccessSource;
  successDelta: number;
  terminalPotential: number;
  /** Progress counted as "near the goal" in the semantic-trap figures. */
  trapThreshold: number;
  /** Control steps per episode; default the task's time limit. */
  maxSteps?: number;
  controlHz: number;
  physicsStepS: number;
  bounds: { maxStepM: number; maxYawStepRad: number; workspaceMin: [number, number, number]; workspaceMax: [number, number, number] };
  camera: { width: number; height: number };
  executionProvider: ExecutionProviderSetting;
  threads: number;
}

interface EpisodeRecord {
  kind: 'demo' | 'episode';
  index: number;
  seed: number;
  steps: number;
  observationSize: number;
  observations: string;
  actions: string;
  progress: number[];
  rewards: number[];
  terminal: boolean;
  success: boolean;
  end: string;
  highProgressSteps: number;
}

interface EvalRecord {
  kind: 'eval';
  rollouts: number;
  episodes: number;
  successes: number;
  success: number;
}

type LogRecord = EpisodeRecord | EvalRecord;

export interface CurvePoint {
  rollouts: number;
  success: number;
}

export interface RolloutSummary {
  index: number;
  steps: number;
  success: boolean;
  end: string;
  finalProgress: number;
  maxProgress: number;
  highProgressSteps: number;
}

export interface RlResult {
  task: string;
  shaping: ShapingMode;
  seed: number;
  observation: string;
  reward: string;
  privileged: boolean;
  demos: { used: number; attempted: number };
  curve: CurvePoint[];
  rollouts: RolloutSummary[];
  /** Semantic-trap figures over training rollouts that did not succeed. */
  trap: { failedRollouts: number; highProgressStepsPerFailedRollout: number; meanMaxProgressFailed: number; threshold: number };
  learner: { updates: number; batchSize: number; updateMs: number | null; parameters: number };
  wallS: number;
  runDir: string;
  resumed: null | { episodesInLog: number; checkpoint: string | null; checkpointEpisodes: number; truncatedLogTail: boolean; badCheckpoints: { checkpoint: string; problem: string }[] };
}

const DEMO_STREAM = 500_000;
const TRAIN_STREAM = 1_000_000;
const ACTOR_STREAM = 2_000_000;
const EVAL_STREAM = 3_000_000;

function toRecord(kind: 'demo' | 'episode', index: number, e: ScoredEpisode, settings: RlSettings): EpisodeRecord {
  const o = e.observations[0]!.length;
  const obs = new Float32Array(e.observations.length * o);
  e.observations.forEach((x, t) => obs.set(x, t * o));
  const act = new Float32Array(e.actions.length * 5);
  e.actions.forEach((a, t) => act.set(a, t * 5));
  return {
    kind, index, seed: e.seed, steps: e.actions.length, observationSize: o, observations: packFloats(obs), actions: packFloats(act),
    progress: e.progress, rewards: e.rewards, terminal: e.terminal, success: e.success, end: e.end, highProgressSteps: highProgressSteps(e, settings.trapThreshold),
  };
}

function fromRecord(r: EpisodeRecord): ScoredEpisode {
  const obs = unpackFloats(r.observations);
  const act = unpackFloats(r.actions);
  const o = r.observationSize;
  return {
    seed: r.seed,
    observations: Array.from({ length: r.steps + 1 }, (_, t) => obs.slice(t * o, t * o + o)),
    actions: Array.from({ length: r.steps }, (_, t) => act.slice(t * 5, t * 5 + 5)),
    envSuccess: [], progress: r.progress, rewards: r.rewards, terminal: r.terminal, success: r.success, end: r.end as ScoredEpisode['end'],
  };
}

function summary(r: EpisodeRecord): RolloutSummary {
  return { index: r.index, steps: r.steps, success: r.success, end: r.end, finalProgress: r.progress[r.progress.length - 1] ?? 0, maxProgress: Math.max(...r.progress), highProgressSteps: r.highProgressSteps };
}

export interface TrainOptions {
  runDir: string;
  resume: boolean;
  log: Logger;
  /** Replaces the privileged stand-in (the GRM scorer, once wired). */
  scorer?: RewardScorer;
}

export async function train(settings: RlSettings, options: TrainOptions): Promise<RlResult> {
  const started = performance.now();
  const { runDir, log } = options;
  const runFile = join(runDir, 'run.json');
  if (options.resume) {
    if (!existsSync(runFile)) throw new InputError('--resume', `expected a run folder with run.json, got none in ${runDir}`);
    const saved = JSON.parse(readFileSync(runFile, 'utf8')) as RlSettings;
    // The stored settings win; only the number of rollouts may grow.
    settings = { ...saved, rollouts: Math.max(saved.rollouts, settings.rollouts) };
  } else {
    if (existsSync(join(runDir, 'episodes.log'))) throw new InputError('--run-dir', `expected a new or empty run folder, got an existing run in ${runDir} (use --resume to continue it)`);
    mkdirSync(runDir, { recursive: true });
    writeFileAtomic(runFile, Buffer.from(JSON.stringify(settings, null, 1)));
  }
  if (settings.demos > 20) throw new InputError('--demos', `expected at most 20 demos, got ${settings.demos}`);

  const env = await SimEnvironment.create({
    task: settings.task, physicsStepS: settings.physicsStepS, controlHz: settings.controlHz, bounds: settings.bounds,
    cameras: settings.observation === 'features' ? settings.camera : undefined, maxSteps: settings.maxSteps,
  });
  const scorer = options.scorer ?? privilegedProgressScorer();
  if (scorer.privileged && !env.hasPrivileged) throw new InputError('--task', `expected a task with privileged progress (pick-place, push-cube) while no reward model is wired, got ${settings.task}`);
  let encoder: ObservationEncoder;
  if (settings.observation === 'privileged') {
    if (!env.hasPrivileged) throw new InputError('--observation', `privileged observations exist for pick-place and push-cube, got task ${settings.task}`);
    encoder = privilegedObservations(6);
  } else {
    encoder = featureObservations(await randomFrozenEncoder({ ...settings.camera, views: 3, seed: 7, executionProvider: settings.executionProvider }));
  }
  log.info(`task ${settings.task}, shaping ${settings.shaping}, seed ${settings.seed}; observations: ${encoder.label}; reward: ${scorer.label}`);

  const learner = await SacLearner.create({
    observationSize: encoder.size, actionSize: 5, hidden: settings.hidden, batchSize: settings.batchSize, learningRate: settings.learningRate,
    gamma: settings.gamma, tau: settings.tau, initialAlpha: settings.initialAlpha, seed: settings.seed, executionProvider: settings.executionProvider, threads: settings.threads,
  });
  const shaping: ShapingSettings = { mode: settings.shaping, gamma: settings.gamma, successDelta: settings.successDelta, success: settings.success, terminalPotential: settings.terminalPotential };
  const demoBuffer = new ReplayBuffer('demo buffer', Math.max(1, settings.demos * env.maxSteps), encoder.size, 5);
  const onlineBuffer = new ReplayBuffer('online buffer', settings.bufferCapacity, encoder.size, 5);
  const episodeLog = new RecordLog<LogRecord>(join(runDir, 'episodes.log'));
  const checkpoints = new CheckpointStore(runDir);
  const batch = allocateBatch(settings.batchSize, encoder.size, 5);
  let learnerRng = new Rng(settings.seed);
  const updateTimes: number[] = [];

  const { records, truncatedTail } = episodeLog.read();
  if (truncatedTail) log.warn(`episodes.log: cut off a torn last line (line ${truncatedTail.line}, ${truncatedTail.bytes} bytes): an episode that was being written when the run stopped`);
  const demoRecords = records.filter((r): r is EpisodeRecord => r.kind === 'demo');
  const episodeRecords = records.filter((r): r is EpisodeRecord => r.kind === 'episode');
  const curve: CurvePoint[] = records.filter((r): r is EvalRecord => r.kind === 'eval').map((r) => ({ rollouts: r.rollouts, success: r.success }));
  for (const r of demoRecords) for (const t of transitionsOf(fromRecord(r))) demoBuffer.add(t);
  for (const r of episodeRecords) for (const t of transitionsOf(fromRecord(r))) onlineBuffer.add(t);

  async function doUpdates(count: number): Promise<void> {
    if (demoBuffer.size === 0 && onlineBuffer.size === 0) return;
    for (let u = 0; u < count; u++) {
      const t0 = performance.now();
      sampleSymmetric(demoBuffer, onlineBuffer, batch, learnerRng);
      await learner.update(batch, learnerRng);
      updateTimes.push(performance.now() - t0);
    }
  }

  function checkpoint(extra: Record<string, unknown> = {}): void {
    checkpoints.save({ updates: learner.updates, episodes: episodeRecords.length, learnerRng: learnerRng.getState(), extra }, (path) => learner.save(path));
  }

  let demoAttempts = 0;
  let resumed: RlResult['resumed'] = null;
  if (!options.resume || demoRecords.length === 0) {
    if (episodeRecords.length > 0) throw new InputError(episodeLog.path, 'expected demo records before training episodes, got none (corrupt run)');
    // Demos: successful scripted-expert episodes, scored by the same reward model as the rollouts.
    for (let j = 0; demoRecords.length < settings.demos && j < settings.demos * 3; j++) {
      demoAttempts++;
      const demo = await collectDemo(env, encoder, scorer, deriveSeed(settings.seed, DEMO_STREAM + j), settings, deriveSeed(settings.seed, DEMO_STREAM + 100_000 + j));
      const scored = await scoreEpisode(demo, { ...shaping, success: 'env' });
      if (!scored.success) continue;
      const record = toRecord('demo', demoRecords.length, scored, settings);
      episodeLog.append(record);
      demoRecords.push(record);
      for (const t of transitionsOf(scored)) demoBuffer.add(t);
    }
    if (demoRecords.length < settings.demos) log.warn(`demos: only ${demoRecords.length} of ${settings.demos} wanted succeeded in ${demoAttempts} expert attempts (episodes of ${env.maxSteps} steps)`);
    log.info(`demos: ${demoRecords.length} successful of ${demoAttempts} expert attempts (noise ${settings.demoNoise})`);
  }
  const restored = checkpoints.loadNewest((path) => learner.load(path));
  for (const p of restored.problems) log.error(`checkpoint ${p.checkpoint} rejected: ${p.problem}; using an older one`);
  if (restored.loaded) {
    learner.updates = restored.loaded.updates;
    learnerRng.setState(restored.loaded.learnerRng);
    log.info(`resumed from ${restored.loaded.path}: ${restored.loaded.updates} updates; ${episodeRecords.length} episodes in the log`);
  } else {
    if (options.resume) log.warn('no checkpoint yet: the learner starts again from behaviour cloning on the logged demos');
    learnerRng = new Rng(settings.seed);
    await behaviourClone(learner, demoBuffer, batch, learnerRng, settings.bcSteps, log);
    checkpoint();
  }
  if (options.resume) {
    resumed = {
      episodesInLog: episodeRecords.length, checkpoint: restored.loaded?.path ?? null, checkpointEpisodes: restored.loaded?.episodes ?? 0,
      truncatedLogTail: truncatedTail !== undefined, badCheckpoints: restored.problems,
    };
  }

  const limits = settings.bounds;
  async function evaluate(rollouts: number): Promise<void> {
    let successes = 0;
    for (let j = 0; j < settings.evalEpisodes; j++) {
      const rng = new Rng(0);
      const e = await runEpisode({
        env, encoder, scorer: { label: 'none', privileged: false, beginEpisode: () => async () => 0 }, limits,
        seed: deriveSeed(settings.seed, EVAL_STREAM + rollouts * 1000 + j),
        policy: (o) => learner.act(o, rng, true), success: 'env', successDelta: 0,
      });
      await e.progress;
      if (e.end === 'success') successes++;
    }
    const record: EvalRecord = { kind: 'eval', rollouts, episodes: settings.evalEpisodes, successes, success: successes / settings.evalEpisodes };
    episodeLog.append(record);
    curve.push({ rollouts, success: record.success });
    log.info(`eval after ${rollouts} rollouts: ${successes}/${settings.evalEpisodes} successes`);
  }
  const evaluated = (n: number): boolean => curve.some((p) => p.rollouts === n);
  const due = (n: number): boolean => n === 0 || n % settings.evalEvery === 0 || n === settings.rollouts;

  // A run killed during an evaluation finishes it first.
  if (due(episodeRecords.length) && !evaluated(episodeRecords.length)) await evaluate(episodeRecords.length);

  let pending: Promise<void> | undefined;
  const finalise = (index: number, collected: CollectedEpisode): Promise<void> =>
    scoreEpisode(collected, shaping).then((scored) => {
      const record = toRecord('episode', index, scored, settings);
      episodeLog.append(record);
      episodeRecords.push(record);
      for (const t of transitionsOf(scored)) onlineBuffer.add(t);
      log.info(`rollout ${index + 1}: ${scored.end} after ${scored.actions.length} steps, final progress ${scored.progress.at(-1)!.toFixed(2)}`);
    });

  for (let i = episodeRecords.length; i < settings.rollouts; i++) {
    const actorRng = new Rng(deriveSeed(settings.seed, ACTOR_STREAM + i));
    const collected = await runEpisode({
      env, encoder, scorer, limits, seed: deriveSeed(settings.seed, TRAIN_STREAM + i),
      policy: (o) => learner.act(o, actorRng, false), success: settings.success, successDelta: settings.successDelta,
      afterStep: () => doUpdates(settings.updatesPerStep),
    });
    // The previous episode was being scored while this one ran; log it before handing this one over.
    await pending;
    pending = finalise(i, collected);
    if (due(i + 1)) {
      await pending;
      pending = undefined;
      await evaluate(i + 1);
    }
    checkpoint();
  }
  await pending;
  checkpoint();

  const summaries = episodeRecords.map(summary);
  const failed = summaries.filter((s) => !s.success);
  const result: RlResult = {
    task: settings.task, shaping: settings.shaping, seed: settings.seed, observation: encoder.label, reward: scorer.label, privileged: scorer.privileged || settings.observation === 'privileged',
    demos: { used: demoRecords.length, attempted: demoAttempts }, curve, rollouts: summaries,
    trap: {
      failedRollouts: failed.length, threshold: settings.trapThreshold,
      highProgressStepsPerFailedRollout: failed.length ? failed.reduce((n, s) => n + s.highProgressSteps, 0) / failed.length : 0,
      meanMaxProgressFailed: failed.length ? failed.reduce((n, s) => n + s.maxProgress, 0) / failed.length : 0,
    },
    learner: {
      updates: learner.updates, batchSize: settings.batchSize, parameters: learner.store.count(),
      updateMs: updateTimes.length > 10 ? updateTimes.slice(5).reduce((a, b) => a + b, 0) / (updateTimes.length - 5) : null,
    },
    wallS: (performance.now() - started) / 1000, runDir, resumed,
  };
  await learner.dispose();
  await env.close();
  return result;
}

async function behaviourClone(learner: SacLearner, demos: ReplayBuffer, batch: ReturnType<typeof allocateBatch>, rng: Rng, steps: number, log: Logger): Promise<void> {
  if (demos.size === 0 || steps === 0) return;
  let loss = 0;
  for (let s = 0; s < steps; s++) {
    demos.sampleInto(batch, 0, batch.size, rng);
    loss = await learner.cloneStep(batch);
  }
  log.info(`behaviour cloning: ${steps} steps on ${demos.size} demo transitions, final NLL ${loss.toFixed(3)}`);
}

/** One scripted-expert episode through the same recording path as the policy's rollouts. */
async function collectDemo(env: SimEnvironment, encoder: ObservationEncoder, scorer: RewardScorer, seed: number, settings: RlSettings, expertSeed: number): Promise<CollectedEpisode> {
  const queue = new ProgressQueue(scorer.beginEpisode());
  const first = await env.reset(seed);
  queue.push(first);
  const expert = env.expert(settings.demoNoise, expertSeed);
  const observations = [await encoder.encode(first)];
  const actions: Float32Array[] = [];
  const envSuccess: boolean[] = [];
  let end: CollectedEpisode['end'] = 'time-limit';
  for (let t = 0; t < env.maxSteps; t++) {
    const command = expert.next();
    if (!command) break;
    const action = actionToVector(command, settings.bounds);
    const step = await env.act(vectorToAction(action, settings.bounds));
    queue.push(step.next);
    actions.push(action);
    observations.push(await encoder.encode(step.next));
    envSuccess.push(step.success === true);
    if (step.success === true) {
      end = 'success';
      break;
    }
  }
  return { seed, observations, actions, envSuccess, end, progress: queue.all() };
}
