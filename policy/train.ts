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
import type { SceneLayout } from '../robot/sim/world.js';
import { systemClock } from '../common/clock.js';
import { configSchema } from '../config/schema.js';
import { EventStream } from '../robot/events.js';
import type { SafetySettings } from '../robot/safety.js';
import { actionToVector, hasPrivilegedState, PRIVILEGED_STATE_SIZE, SafeSimEnvironment, SimEnvironment, vectorToAction } from './environment.js';
import type { CollectedEpisode, EpisodeWatcher, Operator, ShapingSettings } from './episode.js';
import { DEFAULT_SUCCESS_WINDOW } from '../reward/completion.js';
import { runEpisode, scoreEpisode } from './episode.js';
import type { Learner, LearnerSettings, RecentUpdates } from './learner.js';
import { LocalLearner } from './learner.js';
import type { ObservationEncoder, ObservationMode } from './observation.js';
import { featureObservations, grmTinyFrozenEncoder, privilegedObservations } from './observation.js';
import { loadImageEncoder } from '../perception/onnx-image-encoder.js';
import { DEFAULT_POLICY_ENCODER } from '../perception/policy-encoder/paths.js';
import { adaptedRewardModel } from './adapted-reward.js';
import type { EvaluationOptions, EvaluationSlot } from './evaluation.js';
import { countSuccesses, FrozenPolicy } from './evaluation.js';
import type { EpisodeRecord, EvalPolicyRecord, EvalRecord, LogRecord } from './records.js';
import { toRecord } from './records.js';
import { Rng } from './rng.js';
import { packWeights, RecordLog, unpackWeights } from './run-store.js';
import { privilegedProgressScorer, ProgressQueue, type RewardScorer } from './scorer.js';
import { rewardModelScorer, viewsOf } from './reward-model.js';
import type { FusionOptions } from '../reward/fusion.js';
import type { ViewSet } from '../perception/images.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';
import { readReferences } from '../reward/task-references.js';
import { findTask, taskNames } from '../robot/sim/tasks.js';
import { checkRemovedSettings, checkResumeFlags, type GivenFlag } from './resume-flags.js';

/** The fusion of runs made before `fusion` was a setting: the mean of the three perspectives, no consistency weighting. */
export const LEGACY_RL_FUSION: FusionOptions = { mode: 'paper', consistency: false };

function describeFusion(f: FusionOptions): string {
  return `${f.mode ?? 'paper'}${f.consistency ? `, consistency-weighted (alpha ${f.alpha ?? 20})` : ', mean of the three perspectives'}`;
}

export interface RlSettings {
  task: string;
  /**
   * With a learner in another process: the name under which it keeps this run's episodes (several
   * actors may feed one learner). Stored, so a resumed run resends under the same name. Absent
   * (in-process learner, older run.json files): "actor".
   */
  actor?: string;
  /** privileged: the simulator's geometric progress (development stand-in); model: an ONNX GRM. */
  reward: 'privileged' | 'model';
  /**
   * The ONNX reward model; an adapted one brings its task references. Default: GRM-tiny adapted
   * one-shot on one clean expert demo of the task, cached in the run folder.
   */
  rewardModel?: string;
  /** One-shot adaptation of the default reward model. */
  adapt: { steps: number; pairs: number };
  /**
   * How the model's three hops per state become progress (`reward.fusion`). run.json files older
   * than this setting lack it: those runs fused with the plain mean (LEGACY_RL_FUSION), and resume so.
   */
  fusion?: FusionOptions;
  /** ONNX image encoder of the `features` observations (docs/policy-encoder-contract.md; default models/policy-encoder.onnx). */
  encoderModel?: string;
  /** GRM-tiny file whose frozen encoder gives the `grm-features` observations (default models/grm-tiny.onnx). */
  grmEncoderModel?: string;
  shaping: ShapingMode;
  seed: number;
  rollouts: number;
  observation: ObservationMode;
  /** Expert demos (at most 20), scripted expert with this motor/perception noise. */
  demos: number;
  demoNoise: number;
  bcSteps: number;
  /** Critic-only updates on the demos after cloning (learner.ts). */
  criticWarmupSteps: number;
  hidden: number[];
  batchSize: number;
  /** Learner updates per environment step (update-to-data ratio). */
  updatesPerStep: number;
  learningRate: number;
  gamma: number;
  tau: number;
  initialAlpha: number;
  /** Reward multiplier inside the critic target (sac.ts). */
  rewardScale: number;
  /** Weight of the BC term on demo rows in the actor loss (sac.ts; 0: plain SAC). */
  bcWeight: number;
  /**
   * The actor's SAC term divided by the batch's mean |Q| (TD3+BC's normalisation, sac.ts), so the
   * BC weight means the same under every shaping. run.json files older than it lack it: false.
   */
  normaliseQ?: boolean;
  /** Successful training rollouts join the demo buffer too (learner.ts; older run.json files lack it: false). */
  successDemos?: boolean;
  /** Bound of the actor's gripper log-odds, so RL can still move when the hand closes and opens (sac.ts; 0: unbounded; older run.json files lack it: 0). */
  gripperLogitLimit?: number;
  /** Q-filtered BC: a demo row is cloned only where the critics value its action above the policy's (sac.ts; older run.json files lack it: false). */
  qFilter?: boolean;
  /** Weight of demo steps that switch the gripper in both BC losses (learner.ts; run.json files older than it lack it: 1). */
  gripperSwitchWeight?: number;
  /** Steps per replayed transition (n-step returns). */
  nStep: number;
  /** Online control steps before the actor trains (the cloned policy collects meanwhile). */
  actorDelaySteps: number;
  bufferCapacity: number;
  evalEvery: number;
  /** Evaluation episodes at intermediate points (the curve's shape) ... */
  evalEpisodes: number;
  /** ... and at the last point (the figure that is reported against the goal). */
  finalEvalEpisodes: number;
  success: SuccessSource;
  successDelta: number;
  /** Source progress: scored steps in a row at or above 1 - successDelta (reward/completion.ts; older run.json files lack it: the default, see ShapingSettings). */
  successWindow?: number;
  terminalPotential: number;
  /** Potential of a successful terminal state (reward/shaping.ts; older run.json files lack it: 0). */
  successPotential?: number;
  /** Scale w of the pbrs potential, Phi = w P (reward/shaping.ts; older run.json files lack it: 1). */
  potentialWeight?: number;
  /** Progress counted as "near the goal" in the semantic-trap figures. */
  trapThreshold: number;
  /**
   * PRIVILEGED debugging, with observation privileged only: per-episode error (standard deviation,
   * cm per horizontal axis) of the moved object's position in the state (environment.ts).
   */
  privilegedErrorCm?: number;
  /**
   * A lab's reset: every episode (demos, rollouts, evaluation, the adaptation demo) starts near one
   * layout with the same objects (robot/sim/world.ts). Absent (and in older run.json files): the
   * task's full randomisation.
   */
  layout?: SceneLayout;
  /** Control steps per episode; default the task's time limit. */
  maxSteps?: number;
  controlHz: number;
  physicsStepS: number;
  bounds: { maxStepM: number; maxYawStepRad: number; workspaceMin: [number, number, number]; workspaceMax: [number, number, number] };
  /** What the safety layer does with an out-of-bounds action (run.json files older than the safety layer here lack it: clip). */
  onViolation?: 'clip' | 'refuse';
  camera: { width: number; height: number };
  executionProvider: ExecutionProviderSetting;
  threads: number;
}

export interface CurvePoint {
  rollouts: number;
  success: number;
  /** Evaluation episodes behind this point. */
  episodes: number;
  /** The learner's recent updates at this point: mean Q, temperature, entropy, losses (learner.ts). */
  learner?: RecentUpdates;
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
  observationSize: number;
  reward: string;
  privileged: boolean;
  demos: { used: number; attempted: number };
  curve: CurvePoint[];
  rollouts: RolloutSummary[];
  /** Semantic-trap figures over training rollouts that did not succeed. */
  trap: { failedRollouts: number; highProgressStepsPerFailedRollout: number; meanMaxProgressFailed: number; threshold: number };
  learner: { updates: number; batchSize: number; updateMs: number | null; parameters: number; where: string; actorWaitS?: number };
  /** What the safety layer between policy and arm did (rollouts, demos and evaluation episodes). */
  safety: { forwarded: number; clipped: number; refused: number; nonFinite: number; held: number; stoppedEpisodes: number };
  wallS: number;
  runDir: string;
  resumed: null | { episodesInLog: number; checkpoint: string | null; checkpointEpisodes: number; truncatedLogTail: boolean; badCheckpoints: { checkpoint: string; problem: string }[] };
}

export const DEMO_STREAM = 500_000;
const TRAIN_STREAM = 1_000_000;
const ACTOR_STREAM = 2_000_000;
const EVAL_STREAM = 3_000_000;

/** The seed of evaluation episode `episode` at the curve's point after `rollouts` rollouts (fresh per point, the same across arms). */
export function evaluationSeed(runSeed: number, rollouts: number, episode: number): number {
  return deriveSeed(runSeed, EVAL_STREAM + rollouts * 1000 + episode);
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
  /** A human judging success (success source `operator`) or stopping an episode. */
  operator?: Operator;
  /** A learner in another process (protocol.ts); default: in this process. */
  remote?: (settings: LearnerSettings, actor: string) => Promise<Learner>;
  /** Flags given on the command line (not defaults): with resume, each must agree with the stored run. */
  givenFlags?: readonly GivenFlag[];
  /** Where success comes from and why (policy/success-source.ts): the run's first line once its arguments are checked. */
  successLine?: string;
  /** Watches each demo attempt and training episode (`dopamine rl` records them as MCAP); evaluation episodes are not watched. */
  watch?: (kind: 'demo' | 'episode', index: number, seed: number) => EpisodeWatcher;
}

/** The run's simulator task behind the same safety layer as a lab arm (every demo, rollout and evaluation action passes it). */
export async function runEnvironment(settings: RlSettings, log: Logger): Promise<{ sim: SimEnvironment; env: SafeSimEnvironment }> {
  const sim = await SimEnvironment.create({
    task: settings.task, physicsStepS: settings.physicsStepS, controlHz: settings.controlHz, bounds: settings.bounds,
    cameras: settings.observation !== 'privileged' || settings.reward === 'model' ? settings.camera : undefined, maxSteps: settings.maxSteps,
    ...(settings.privilegedErrorCm ? { privilegedErrorM: settings.privilegedErrorCm / 100 } : {}),
    ...(settings.layout ? { layout: settings.layout } : {}),
  });
  // The run's caps and box; the watchdogs keep the configuration's defaults (they never fire here: nothing arms them).
  const defaults = configSchema.parse({}).safety;
  const safety: SafetySettings = { ...defaults, ...settings.bounds, onViolation: settings.onViolation ?? defaults.onViolation };
  return { sim, env: new SafeSimEnvironment(sim, safety, { clock: systemClock, events: new EventStream(systemClock), log: log.child('safety') }) };
}

/**
 * What the policy observes in this run: proprioception + the frozen policy encoder's features (or
 * the reward model's GRM-tiny features, the peer), or PRIVILEGED state (debugging).
 */
export async function runObservations(settings: RlSettings, sim: SimEnvironment): Promise<ObservationEncoder> {
  if (settings.observation === 'privileged') {
    if (!sim.hasPrivileged) throw new InputError('--observation', `privileged observations exist for pick-place and push-cube, got task ${settings.task}`);
    return privilegedObservations(PRIVILEGED_STATE_SIZE, settings.privilegedErrorCm ?? 0);
  }
  const runtime = { views: 3, executionProvider: settings.executionProvider, threads: settings.threads };
  if (settings.observation === 'grm-features') return featureObservations(await grmTinyFrozenEncoder(settings.grmEncoderModel ?? DEFAULT_GRM_TINY, runtime), 'grm-features');
  return featureObservations(await loadImageEncoder(settings.encoderModel ?? DEFAULT_POLICY_ENCODER, runtime));
}

interface EvaluationSide {
  env: SafeSimEnvironment;
  policy: FrozenPolicy;
  slot: EvaluationSlot;
}

/** A second simulator (behind its own safety layer), encoder and frozen policy copy, for evaluations beside training. */
async function evaluationSide(settings: RlSettings, learnerSettings: LearnerSettings, log: Logger): Promise<EvaluationSide> {
  const { sim, env } = await runEnvironment(settings, log.child('eval'));
  const encoder = await runObservations(settings, sim);
  const policy = await FrozenPolicy.create(learnerSettings);
  return { env, policy, slot: { env, encoder, act: (o) => policy.act(o) } };
}

/** How a run shapes its rewards (settings that older run.json files lack take their old behaviour). */
export function runShaping(s: Pick<RlSettings, 'shaping' | 'gamma' | 'successDelta' | 'successWindow' | 'success' | 'terminalPotential' | 'successPotential' | 'potentialWeight'>): ShapingSettings {
  return {
    mode: s.shaping, gamma: s.gamma, successDelta: s.successDelta, successWindow: s.successWindow ?? DEFAULT_SUCCESS_WINDOW, success: s.success,
    terminalPotential: s.terminalPotential, successPotential: s.successPotential ?? 0, potentialWeight: s.potentialWeight ?? 1,
  };
}

/** The learner's settings for a run (settings that older run.json files lack take their old behaviour). */
export function runLearnerSettings(s: RlSettings, observationSize: number, maxSteps: number): LearnerSettings {
  return {
    observationSize, hidden: s.hidden, batchSize: s.batchSize, learningRate: s.learningRate, gamma: s.gamma, tau: s.tau, initialAlpha: s.initialAlpha,
    seed: s.seed, demoCapacity: Math.max(1, (s.demos + (s.successDemos ? s.rollouts : 0)) * maxSteps), bufferCapacity: s.bufferCapacity, updatesPerStep: s.updatesPerStep, bcSteps: s.bcSteps,
    criticWarmupSteps: s.criticWarmupSteps, rewardScale: s.rewardScale, bcWeight: s.bcWeight, normaliseQ: s.normaliseQ ?? false, successDemos: s.successDemos ?? false, gripperLogitLimit: s.gripperLogitLimit ?? 0, qFilter: s.qFilter ?? false, gripperSwitchWeight: s.gripperSwitchWeight ?? 1, nStep: s.nStep, actorDelaySteps: s.actorDelaySteps,
    executionProvider: s.executionProvider, threads: s.threads,
  };
}

/**
 * The checks of a run's settings that need no simulator or model: task, demos, observations and
 * the reward's source. `scorerGiven`: the caller scores progress itself (no model file, no privileged progress).
 */
export function checkRunSettings(settings: RlSettings, scorerGiven = false): void {
  if (!findTask(settings.task)) throw new InputError('--task', `expected one of ${taskNames().join(', ')}, got ${JSON.stringify(settings.task)}`);
  if (settings.demos > 20) throw new InputError('--demos', `expected at most 20 demos, got ${settings.demos}`);
  if (settings.privilegedErrorCm && settings.observation !== 'privileged') {
    throw new InputError('--privileged-error', `expected --observation privileged (the error is put on the privileged object position), got --observation ${settings.observation}`);
  }
  const privileged = hasPrivilegedState(settings.task);
  if (settings.observation === 'privileged' && !privileged) throw new InputError('--observation', `privileged observations exist for pick-place and push-cube, got task ${settings.task}`);
  if (scorerGiven) return;
  if (settings.reward === 'model' && settings.rewardModel !== undefined && !existsSync(settings.rewardModel)) {
    throw new InputError('--reward-model', `expected an ONNX reward model file, got ${JSON.stringify(settings.rewardModel)} (no such file)`);
  }
  if (settings.reward === 'privileged' && !privileged) throw new InputError('--task', `expected a task with privileged progress (pick-place, push-cube) while no reward model is wired, got ${settings.task}`);
}

export async function train(settings: RlSettings, options: TrainOptions): Promise<RlResult> {
  const started = performance.now();
  const { runDir, log } = options;
  const runFile = join(runDir, 'run.json');
  if (options.resume) {
    if (!existsSync(runFile)) throw new InputError('--resume', `expected a run folder with run.json, got none in ${runDir}`);
    const saved = JSON.parse(readFileSync(runFile, 'utf8')) as RlSettings;
    checkRemovedSettings(saved, runFile);
    checkResumeFlags(saved, settings, options.givenFlags ?? [], runFile);
    // The stored settings win; only the number of rollouts may grow.
    settings = { ...saved, rollouts: Math.max(saved.rollouts, settings.rollouts) };
  } else if (existsSync(join(runDir, 'episodes.log'))) {
    throw new InputError('--run-dir', `expected a new or empty run folder, got an existing run in ${runDir} (use --resume to continue it)`);
  }
  // Every setting is checked before the run folder is written or anything loads.
  checkRunSettings(settings, options.scorer !== undefined);
  // The run's first line: who judges success (a resumed run keeps the source it was started with).
  if (options.successLine !== undefined) log.info(options.resume ? `success: ${settings.success} (as the stored run was started)` : options.successLine);
  if (!options.resume) {
    mkdirSync(runDir, { recursive: true });
    writeFileAtomic(runFile, Buffer.from(JSON.stringify(settings, null, 1)));
  }

  const { sim, env } = await runEnvironment(settings, log);
  // The policy's encoder first: a wrong encoder file is refused before demos or adaptation run.
  const encoder = await runObservations(settings, sim);
  let scorer = options.scorer ?? privilegedProgressScorer();
  let rewardModel: OnnxRewardModel | undefined;
  if (!options.scorer && settings.reward === 'model') {
    // Default: GRM-tiny adapted one-shot on one clean expert demo of this task (cached in the run folder).
    const path =
      settings.rewardModel ??
      (await adaptedRewardModel(sim, findTask(settings.task)!, {
        base: DEFAULT_GRM_TINY, dir: runDir, seed: deriveSeed(settings.seed, DEMO_STREAM - 10), steps: settings.adapt.steps, pairs: settings.adapt.pairs, log,
      }));
    rewardModel = await OnnxRewardModel.load(path, { executionProvider: settings.executionProvider, threads: settings.threads, logger: log });
    const stored = readReferences(path);
    const instruction = stored?.info.instructions[0] ?? findTask(settings.task)!.instructions[0]!;
    const goal = stored?.goal ?? (await expertGoal(sim, settings));
    const fusion = settings.fusion ?? LEGACY_RL_FUSION;
    const base = rewardModelScorer(rewardModel, { instruction, goal }, fusion);
    const references = stored ? `task references of ${stored.dir}` : 'goal: last frame of a clean expert episode; no task references (not adapted)';
    scorer = { ...base, label: `${base.label} (${path}; ${references}; fusion ${describeFusion(fusion)})` };
  }
  if (scorer.privileged && !sim.hasPrivileged) throw new InputError('--task', `expected a task with privileged progress (pick-place, push-cube) while no reward model is wired, got ${settings.task}`);
  log.info(`task ${settings.task}, shaping ${settings.shaping}, seed ${settings.seed}; observations: ${encoder.label}; reward: ${scorer.label}`);
  if (settings.success === 'progress' && !scorer.privileged) {
    // Measured (docs/reinforcement-learning.md, Episodes): policies learn to make the adapted GRM-tiny call success without doing the task.
    log.warn("success is judged by the reward model's progress held over reward.shaping.successWindow scored steps (reward.shaping.success: progress): a policy can still learn to game it (bench:grm-audit: 23 of 23 calls real in one run, 1 of 76 in another); on the simulator --success env (reward.shaping.success: env) judges by the simulator's predicate");
  }

  const shaping = runShaping(settings);
  const learnerSettings = runLearnerSettings(settings, encoder.size, env.maxSteps);
  const episodeLog = new RecordLog<LogRecord>(join(runDir, 'episodes.log'));

  const { records, truncatedTail } = episodeLog.read();
  if (truncatedTail) log.warn(`episodes.log: cut off a torn last line (line ${truncatedTail.line}, ${truncatedTail.bytes} bytes): an episode that was being written when the run stopped`);
  const demoRecords = records.filter((r): r is EpisodeRecord => r.kind === 'demo');
  const episodeRecords = records.filter((r): r is EpisodeRecord => r.kind === 'episode');
  // A run recorded with another encoder (before the policy encoder, `features` meant GRM-tiny's) cannot go on with this one.
  const foreign = [...demoRecords, ...episodeRecords].find((r) => r.observationSize !== encoder.size);
  if (foreign) {
    throw new InputError('--resume', `expected ${runDir} to hold a run observed with ${encoder.size} values (${encoder.label}), got episodes of ${foreign.observationSize} values: it was recorded with another encoder (start a new --run-dir)`);
  }
  const curve: CurvePoint[] = records.filter((r): r is EvalRecord => r.kind === 'eval').map((r) => ({ rollouts: r.rollouts, success: r.success, episodes: r.episodes, ...(r.learner ? { learner: r.learner } : {}) }));
  let demoAttempts = 0;
  /** Recordings still being written (they finish behind the run; waited for at its end). */
  const recordings: Promise<void>[] = [];
  let resumed: RlResult['resumed'] = null;
  if (episodeRecords.length === 0 && demoRecords.length < settings.demos) {
    // Demos: successful scripted-expert episodes, scored by the same reward model as the rollouts.
    // A run stopped while collecting them goes on after the last logged attempt.
    const firstAttempt = demoRecords.length === 0 ? 0 : (demoRecords.at(-1)!.attempt ?? demoRecords.length - 1) + 1;
    for (let j = firstAttempt; demoRecords.length < settings.demos && j < settings.demos * 3; j++) {
      demoAttempts++;
      const seed = deriveSeed(settings.seed, DEMO_STREAM + j);
      const watch = options.watch?.('demo', j, seed);
      const demo = await collectDemo(env, encoder, scorer, seed, settings, deriveSeed(settings.seed, DEMO_STREAM + 100_000 + j), watch);
      const scored = await scoreEpisode(demo, { ...shaping, success: 'env' });
      if (watch) recordings.push(watch.finish(scored));
      if (!scored.success) continue;
      const record: EpisodeRecord = { ...toRecord('demo', demoRecords.length, scored, settings.trapThreshold), attempt: j };
      episodeLog.append(record);
      demoRecords.push(record);
    }
    if (demoRecords.length < settings.demos) log.warn(`demos: only ${demoRecords.length} of ${settings.demos} wanted succeeded in ${demoAttempts} expert attempts (episodes of ${env.maxSteps} steps)`);
    log.info(`demos: ${demoRecords.length} successful; ${demoAttempts} expert attempts in this session (noise ${settings.demoNoise})`);
  }
  const local = options.remote ? undefined : await LocalLearner.create(learnerSettings, runDir, log);
  const learner: Learner = local ?? (await options.remote!(learnerSettings, settings.actor ?? 'actor'));
  // Both buffers are rebuilt from the log (a remote learner ignores records it already holds).
  for (const r of [...demoRecords, ...episodeRecords]) await learner.addRecord(r);
  const restored = local ? local.restore() : { restored: true, checkpoint: null, checkpointEpisodes: 0, problems: [] };
  if (local && restored.restored) log.info(`resumed from ${restored.checkpoint}: ${local.sac.updates} updates; ${episodeRecords.length} episodes in the log`);
  if (!local) {
    await learner.clone(); // the learner process clones once, and not at all after restoring a checkpoint
  } else if (!restored.restored) {
    if (options.resume) log.warn('no checkpoint yet: the learner starts again from behaviour cloning on the logged demos');
    await learner.clone();
    await learner.checkpoint();
  }
  if (options.resume) {
    resumed = {
      episodesInLog: episodeRecords.length, checkpoint: restored.checkpoint, checkpointEpisodes: restored.checkpointEpisodes,
      truncatedLogTail: truncatedTail !== undefined, badCheckpoints: restored.problems,
    };
  }
  await learner.sync();

  const limits = settings.bounds;
  const operator = settings.success === 'operator' ? options.operator : undefined;
  // With a learner in another process the run is bound by the learner and the actor waits on it for
  // part of every episode; an evaluation point then runs beside training, on a simulator and encoder
  // of its own with the policy frozen when the point was due, instead of pausing the collection. Not
  // with an operator (who judges one episode at a time), not in one process (no waits to fill).
  const beside = !local && operator === undefined ? await evaluationSide(settings, learnerSettings, log) : undefined;
  const evaluationOptions = (rollouts: number): EvaluationOptions => ({
    episodes: rollouts === settings.rollouts ? settings.finalEvalEpisodes : settings.evalEpisodes,
    seedOf: (j) => evaluationSeed(settings.seed, rollouts, j), limits, operator,
  });
  function recordEvaluation(rollouts: number, episodes: number, successes: number, recent: RecentUpdates | undefined): void {
    const record: EvalRecord = { kind: 'eval', rollouts, episodes, successes, success: successes / episodes, ...(recent ? { learner: recent } : {}) };
    episodeLog.append(record);
    curve.push({ rollouts, success: record.success, episodes, ...(recent ? { learner: recent } : {}) });
    const health = recent ? ` (last ${recent.updates} updates: mean Q ${recent.meanQ.toFixed(2)}, alpha ${recent.alpha.toFixed(4)}, entropy ${recent.entropy.toFixed(2)}, critic loss ${recent.criticLoss.toFixed(4)})` : '';
    log.info(`eval after ${rollouts} rollouts: ${successes}/${episodes} successes${health}`);
  }
  // Evaluations running beside training, one after another (so points are logged in order).
  let besideQueue: Promise<void> = Promise.resolve();
  function evaluateBeside(side: EvaluationSide, rollouts: number, weights: Record<string, Float32Array>, recent: RecentUpdates | undefined): void {
    besideQueue = besideQueue.then(async () => {
      side.policy.load(weights);
      const o = evaluationOptions(rollouts);
      recordEvaluation(rollouts, o.episodes, await countSuccesses([side.slot], o), recent);
    });
    besideQueue.catch(() => undefined); // a failure is raised where the queue is awaited, not as an unhandled rejection
  }
  async function evaluate(rollouts: number): Promise<void> {
    // The newest weights: a remote learner's actor copy is otherwise one episode old.
    await learner.sync();
    const { recent } = await learner.stats();
    if (beside && rollouts !== settings.rollouts) {
      const weights = learner.actorWeights();
      episodeLog.append({ kind: 'eval-policy', rollouts, weights: packWeights(weights), ...(recent ? { learner: recent } : {}) });
      evaluateBeside(beside, rollouts, weights, recent);
      return;
    }
    // The last point (the learner has nothing left to do): every simulator the run has takes episodes.
    await besideQueue;
    const slots: EvaluationSlot[] = [{ env, encoder, act: (o) => learner.act(o, new Rng(0), true) }];
    if (beside) {
      beside.policy.load(learner.actorWeights());
      slots.push(beside.slot);
    }
    const o = evaluationOptions(rollouts);
    recordEvaluation(rollouts, o.episodes, await countSuccesses(slots, o), recent);
  }
  const evaluated = (n: number): boolean => curve.some((p) => p.rollouts === n);
  const due = (n: number): boolean => n === 0 || n % settings.evalEvery === 0 || n === settings.rollouts;

  // A run stopped while an evaluation ran beside training evaluates the policy logged for it again.
  const unfinished = records.filter((r): r is EvalPolicyRecord => r.kind === 'eval-policy' && !evaluated(r.rollouts));
  for (const r of unfinished) {
    log.info(`evaluation after ${r.rollouts} rollouts did not finish before the run stopped: evaluating the policy logged for it again`);
    if (beside) {
      evaluateBeside(beside, r.rollouts, unpackWeights(r.weights), r.learner);
    } else {
      const frozen = await FrozenPolicy.create(learnerSettings);
      try {
        frozen.load(unpackWeights(r.weights));
        const o = evaluationOptions(r.rollouts);
        recordEvaluation(r.rollouts, o.episodes, await countSuccesses([{ env, encoder, act: (x) => frozen.act(x) }], o), r.learner);
      } finally {
        await frozen.dispose();
      }
    }
  }
  // A run killed during an evaluation finishes it first.
  const n0 = episodeRecords.length;
  if (due(n0) && !evaluated(n0) && !unfinished.some((r) => r.rollouts === n0)) await evaluate(n0);

  let pending: Promise<void> | undefined;
  const finalise = (index: number, collected: CollectedEpisode, watch: EpisodeWatcher | undefined): Promise<void> =>
    scoreEpisode(collected, shaping).then((scored) => {
      if (watch) recordings.push(watch.finish(scored));
      const record = toRecord('episode', index, scored, settings.trapThreshold);
      episodeLog.append(record);
      episodeRecords.push(record);
      return learner.addRecord(record).then(() => {
        log.info(`rollout ${index + 1}: ${scored.end} after ${scored.actions.length} steps, final progress ${scored.progress.at(-1)!.toFixed(2)}`);
      });
    });

  for (let i = episodeRecords.length; i < settings.rollouts; i++) {
    await learner.sync();
    const actorRng = new Rng(deriveSeed(settings.seed, ACTOR_STREAM + i));
    const seed = deriveSeed(settings.seed, TRAIN_STREAM + i);
    const watch = options.watch?.('episode', i, seed);
    const collected = await runEpisode({
      env, encoder, scorer, limits, seed, ...(watch ? { watch } : {}),
      policy: (o) => learner.act(o, actorRng, false), success: settings.success, successDelta: settings.successDelta, successWindow: shaping.successWindow,
      ...(options.operator ? { operator: options.operator } : {}),
      afterStep: () => learner.afterStep(),
    });
    // The previous episode was being scored while this one ran; log it before handing this one over.
    await pending;
    pending = finalise(i, collected, watch);
    pending.catch(() => undefined); // a scoring failure is raised where `pending` is awaited, not as an unhandled rejection
    if (due(i + 1)) {
      await pending;
      pending = undefined;
      await evaluate(i + 1);
    }
    await learner.checkpoint();
  }
  await pending;
  await besideQueue;
  await Promise.all(recordings);
  await learner.checkpoint();
  const stats = await learner.stats();
  curve.sort((a, b) => a.rollouts - b.rollouts);

  const summaries = episodeRecords.map(summary);
  const safetyCounts = env.safety.status().counts;
  if (beside) for (const [k, v] of Object.entries(beside.env.safety.status().counts)) safetyCounts[k as keyof typeof safetyCounts] += v;
  const failed = summaries.filter((s) => !s.success);
  const result: RlResult = {
    task: settings.task, shaping: settings.shaping, seed: settings.seed, observation: encoder.label, observationSize: encoder.size, reward: scorer.label, privileged: scorer.privileged || settings.observation === 'privileged',
    demos: { used: demoRecords.length, attempted: demoAttempts }, curve, rollouts: summaries,
    trap: {
      failedRollouts: failed.length, threshold: settings.trapThreshold,
      highProgressStepsPerFailedRollout: failed.length ? failed.reduce((n, s) => n + s.highProgressSteps, 0) / failed.length : 0,
      meanMaxProgressFailed: failed.length ? failed.reduce((n, s) => n + s.maxProgress, 0) / failed.length : 0,
    },
    learner: { ...stats, batchSize: settings.batchSize, where: learner.label },
    safety: { ...safetyCounts, stoppedEpisodes: episodeRecords.filter((r) => r.end === 'stopped').length },
    wallS: (performance.now() - started) / 1000, runDir, resumed,
  };
  await learner.close();
  await rewardModel?.close();
  await env.close();
  if (beside) {
    await beside.policy.dispose();
    await beside.env.close();
  }
  return result;
}

/** The views after a clean (noise 0) scripted-expert episode: the GOAL reference when the model has none. */
async function expertGoal(env: SimEnvironment, settings: RlSettings): Promise<ViewSet> {
  let last = await env.reset(deriveSeed(settings.seed, DEMO_STREAM - 1));
  const expert = env.expert(0, 0);
  for (let t = 0; t < env.maxSteps; t++) {
    const command = expert.next();
    if (!command) break;
    const step = await env.act(command);
    last = step.next;
    if (step.success === true) break;
  }
  return viewsOf(last.observation);
}

/** One scripted-expert episode through the same recording path as the policy's rollouts. */
export async function collectDemo(
  env: SafeSimEnvironment,
  encoder: ObservationEncoder,
  scorer: RewardScorer,
  seed: number,
  settings: Pick<RlSettings, 'demoNoise' | 'bounds'>,
  expertSeed: number,
  watch?: EpisodeWatcher,
): Promise<CollectedEpisode> {
  const queue = new ProgressQueue(scorer.beginEpisode());
  const first = await env.reset(seed);
  queue.push(first);
  watch?.begin(first.observation);
  const expert = env.sim.expert(settings.demoNoise, expertSeed);
  const observations = [await encoder.encode(first)];
  const actions: Float32Array[] = [];
  const envSuccess: boolean[] = [];
  let end: CollectedEpisode['end'] = 'time-limit';
  for (let t = 0; t < env.maxSteps; t++) {
    const command = expert.next();
    if (!command) break;
    const action = actionToVector(command, settings.bounds);
    const sent = vectorToAction(action, settings.bounds);
    const step = await env.act(sent);
    if (step.heldBy !== undefined) break; // the safety layer refused it: not a demo
    watch?.step(actions.length + 1, sent, step.applied ?? sent, step.next.observation, step.success);
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
