/**
 * `dopamine rl`: one online RL training session on the simulator; prints the success-rate curve
 * (deterministic policy on fresh seeds every few rollouts) and the run's figures.
 */
import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { action, withCommonOptions } from '../command.js';
import type { LearnerSettings } from '../../policy/learner.js';
import { LEARNER_DEFAULTS } from '../../policy/learner-defaults.js';
import type { RlResult, RlSettings } from '../../policy/train.js';
import { RL_FLAG_SETTINGS } from '../../policy/resume-flags.js';
import { chooseSuccess } from '../../policy/success-source.js';
import { actorToken, LEARNER_TOKEN_ENV, LEARNER_TOKEN_FILE, learnerAddress, readPem } from '../../policy/learner-credentials.js';
import { ACTOR_NAME, defaultActorName } from '../../policy/actor-name.js';
import type { ActorsResult } from '../../policy/actors.js';
import type { SceneLayout } from '../../robot/sim/world.js';
import { findTask, taskNames } from '../../robot/sim/tasks.js';

/** Flags `--actors` sets for each actor itself (or that make no sense there). */
const ACTORS_OWN_FLAGS: ReadonlySet<string> = new Set(['--actors', '--run-dir', '--seed', '--rollouts', '--resume', '--json', '--config', '--learner-max-lag']);

interface RlOptions {
  config?: string;
  task?: string;
  rollouts?: string;
  shaping?: string;
  success?: string;
  seed?: string;
  runDir?: string;
  resume?: boolean;
  observation?: string;
  privilegedError?: string;
  demos?: string;
  hidden?: string;
  batchSize?: string;
  updatesPerStep?: string;
  evalEvery?: string;
  evalEpisodes?: string;
  finalEvalEpisodes?: string;
  criticWarmupSteps?: string;
  bcWeight?: string;
  normaliseQ?: boolean;
  successDemos?: boolean;
  potentialWeight?: string;
  gripperLogitLimit?: string;
  qFilter?: boolean;
  actorDelay?: string;
  maxSteps?: string;
  bcSteps?: string;
  learner?: string;
  learnerMaxLag?: string;
  learnerTokenFile?: string;
  learnerCa?: string;
  actorName?: string;
  actors?: string;
  record?: boolean;
  reward?: string;
  rewardModel?: string;
  layoutSpread?: string;
  layoutSeed?: string;
}

function integer(flag: string, value: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new InputError(flag, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function nonNegative(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InputError(flag, `expected a number >= 0, got ${JSON.stringify(value)}`);
  return n;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new InputError(flag, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** The lab-reset layout from the flags, else the configuration; none: the task's full randomisation. */
function layoutSetting(options: RlOptions, configured: SceneLayout | undefined): { layout?: SceneLayout } {
  const seed = integer('--layout-seed', options.layoutSeed, 0);
  if (options.layoutSpread === undefined) {
    if (!configured) {
      if (seed !== undefined) throw new InputError('--layout-seed', 'expected --layout-spread as well (or robot.sim.layout in the configuration)');
      return {};
    }
    return { layout: { ...configured, seed: seed ?? configured.seed } };
  }
  const spread = Number(options.layoutSpread);
  if (options.layoutSpread.trim() === '' || !(spread >= 0 && spread <= 1)) {
    throw new InputError('--layout-spread', `expected a fraction from 0 to 1, got ${JSON.stringify(options.layoutSpread)}`);
  }
  return { layout: { seed: seed ?? configured?.seed ?? 0, spread } };
}

function human(result: RlResult): string {
  const lines = [
    `task ${result.task}, shaping ${result.shaping}, seed ${result.seed}`,
    `observations: ${result.observation}`,
    `reward: ${result.reward}`,
    'rollouts  success',
    ...result.curve.map((p) => `${String(p.rollouts).padStart(8)}  ${(100 * p.success).toFixed(0)}%`),
    `learner: ${result.learner.updates} updates at batch ${result.learner.batchSize}, ${result.learner.updateMs?.toFixed(1) ?? '-'} ms each${result.learner.actorWaitS === undefined ? '' : `; the actor waited ${result.learner.actorWaitS.toFixed(1)} s for it`}; wall ${result.wallS.toFixed(1)} s`,
  ];
  return lines.join('\n');
}

export function registerRl(program: Command): void {
  const command = program
    .command('rl')
    .description('train a policy online on the simulator (SAC + RLPD, shaped progress reward) and print the success-rate curve; each learner option and the measurement behind it: docs/rl-options.md')
    .option('--task <name>', 'simulator task (default robot.task; the held-out task is pick-place)')
    .option('--rollouts <n>', 'training episodes (default 150; with --resume the stored number, or more if given)')
    .option('--shaping <mode>', 'pbrs | naive | sparse (default reward.shaping.mode)')
    .option('--success <source>', "who ends an episode as a success: progress (the reward model's fused progress held over reward.shaping.successWindow scored steps; a policy can still learn to game it: docs/reinforcement-learning.md) | env (the simulator's predicate) | operator (the person at the terminal) (default: reward.shaping.success when set, else the model's judgement only where its audits trust it, policy/success-source.ts; the first line says which)")
    .option('--potential-weight <w>', 'pbrs only: scale w of the potential, Phi = w P; any w keeps the optimal policy, a smaller one trusts the reward model less (0: the sparse reward; default reward.shaping.potentialWeight)')
    .option('--seed <n>', 'seed of demos, learner, actor and evaluation episodes (default policy.seed)')
    .option('--run-dir <dir>', 'folder of the episode log and checkpoints (default policy.runDir)')
    .option('--resume', 'continue the run in --run-dir with its stored settings (a flag that would change one is refused; --rollouts may grow)')
    .option('--reward <source>', 'model (an ONNX GRM, fused progress: the headline set-up) | privileged (the simulator\'s geometric progress, a debugging stand-in)', 'model')
    .option('--reward-model <file>', 'ONNX reward model for --reward model (default: GRM-tiny adapted one-shot on one clean expert demo of the task, cached in the run folder); an adapted model brings its task references')
    .option('--observation <kind>', 'features (proprioception + the frozen policy encoder\'s image features: policy.encoder.model or models/policy-encoder.onnx) | grm-features (the reward model\'s frozen GRM-tiny encoder instead, the earlier set-up) | privileged (debugging only)', 'features')
    .option('--privileged-error <cm>', 'with --observation privileged: per-episode error (sd, cm per horizontal axis) of the moved object\'s position, a detector that good (debugging: how precise image features must be)')
    .option('--layout-spread <f>', 'a lab\'s reset: every episode starts near one layout with the same objects, each randomised range narrowed to this fraction, 0 to 1 (default robot.sim.layout.spread; absent: the task\'s full randomisation)')
    .option('--layout-seed <n>', 'with --layout-spread: seed of that layout (default robot.sim.layout.seed, 0)')
    .option('--demos <n>', 'expert demos for the demo buffer and behaviour cloning, at most 20 (default policy.demos)')
    .option('--hidden <sizes>', 'hidden layer widths of actor and critics, comma-separated', LEARNER_DEFAULTS.hidden.join(','))
    .option('--batch-size <n>', 'learner batch (default policy.batchSize)')
    .option('--updates-per-step <n>', 'learner updates per control step (default policy.updatesPerStep)')
    .option('--eval-every <n>', 'evaluate after every n rollouts', '10')
    .option('--eval-episodes <n>', 'evaluation episodes (fresh seeds) per intermediate point', '10')
    .option('--final-eval-episodes <n>', 'evaluation episodes at the last point (the reported figure)', '50')
    .option('--max-steps <n>', 'control steps per episode (default: the task time limit)')
    .option('--bc-steps <n>', 'behaviour-cloning steps on the demos before RL', String(LEARNER_DEFAULTS.bcSteps))
    .option('--bc-weight <w>', 'weight of the behaviour-cloning term on demo rows in the actor loss (0: plain SAC)', String(LEARNER_DEFAULTS.bcWeight))
    .option('--normalise-q', 'divide the actor\'s SAC term by the batch\'s mean |Q| (TD3+BC), so the BC weight means the same under every shaping')
    .option('--gripper-logit-limit <l>', 'bound of the actor\'s gripper log-odds (0: unbounded): cloned unbounded, they saturate and RL can no longer move when the hand closes or opens', '0')
    .option('--q-filter', 'Q-filtered behaviour cloning: a demo row is cloned only where the critics value its action above the policy\'s own')
    .option('--success-demos', 'each successful training rollout joins the demo buffer too (behaviour cloning then covers it)')
    .option('--actor-delay <steps>', 'online control steps before the actor trains (the critic trains from the start)', String(LEARNER_DEFAULTS.actorDelaySteps))
    .option('--critic-warmup-steps <n>', 'critic-only updates on the demos after cloning, before RL', String(LEARNER_DEFAULTS.criticWarmupSteps))
    .option('--learner <host:port>', 'use a learner process started with `dopamine rl-learner` (docs/actor-learner-protocol.md); evaluation points before the last then run beside training, on a second simulator with the policy frozen at the point')
    .option('--learner-max-lag <updates>', 'with --learner: at each episode start wait until the learner owes at most this many updates for the episodes sent (0: all done; default: never wait)')
    .option('--learner-token-file <file>', `with --learner: the learner's token (rl-learner keeps it in <its run folder>/${LEARNER_TOKEN_FILE}; default: $${LEARNER_TOKEN_ENV})`)
    .option('--learner-ca <pem>', 'with --learner: trust this certificate and talk TLS (a learner started with --tls-cert)')
    .option('--actor-name <name>', 'with --learner: the name under which the learner keeps this run\'s episodes, one per actor (default: <host>-<run folder name>; stored with the run)')
    .option('--no-record', 'do not record each demo attempt and training episode as MCAP (<run-dir>/demos, <run-dir>/episodes)')
    .option('--actors <n>', 'several simulator workers, 2-16, feeding one learner: starts `rl-learner` and n actors (each its own run folder <run-dir>/actor-<i>, seed + i, rollouts / n) and reports each actor\'s curve');
  withCommonOptions(command).action(
    action('rl', async (context, options: RlOptions) => {
      const c = context.config;
      // A task name is the cheapest check of all: before the run folder, the simulator or a model.
      const task = options.task ?? c.robot.task;
      if (!findTask(task)) throw new InputError(options.task === undefined ? 'robot.task' : '--task', `expected one of ${taskNames().join(', ')}, got ${JSON.stringify(task)}`);
      // Who judges success: the model only where its audits trust it (the run's first line says which, once its arguments are checked).
      const successSource = chooseSuccess(oneOf('--success', options.success, ['progress', 'env', 'operator'] as const), c.reward.shaping.success, { simulator: true });
      const hidden = (options.hidden ?? LEARNER_DEFAULTS.hidden.join(',')).split(',').map((s) => integer('--hidden', s, 1, 4096)!);
      const settings: RlSettings = {
        task,
        reward: oneOf('--reward', options.reward, ['privileged', 'model'] as const)!,
        ...(options.rewardModel !== undefined ? { rewardModel: options.rewardModel } : {}),
        adapt: { steps: c.reward.adapt.steps, pairs: c.reward.adapt.pairs },
        shaping: oneOf('--shaping', options.shaping, ['pbrs', 'naive', 'sparse'] as const) ?? c.reward.shaping.mode,
        seed: integer('--seed', options.seed, 0) ?? c.policy.seed,
        // With --resume and no --rollouts, 0 keeps the stored number (train takes the larger).
        rollouts: integer('--rollouts', options.rollouts, 0, 100_000) ?? (options.resume === true ? 0 : 150),
        observation: oneOf('--observation', options.observation, ['features', 'grm-features', 'privileged'] as const)!,
        ...(c.policy.encoder.model !== undefined ? { encoderModel: c.policy.encoder.model } : {}),
        ...(options.privilegedError !== undefined ? { privilegedErrorCm: nonNegative('--privileged-error', options.privilegedError)! } : {}),
        demos: integer('--demos', options.demos, 0, 20) ?? Math.min(20, typeof c.policy.demos === 'number' ? c.policy.demos : 10),
        demoNoise: 0.3,
        bcSteps: integer('--bc-steps', options.bcSteps, 0)!,
        criticWarmupSteps: integer('--critic-warmup-steps', options.criticWarmupSteps, 0)!,
        hidden,
        batchSize: integer('--batch-size', options.batchSize, 2) ?? c.policy.batchSize,
        updatesPerStep: integer('--updates-per-step', options.updatesPerStep, 0, 64) ?? c.policy.updatesPerStep,
        learningRate: c.policy.learningRate,
        gamma: c.reward.shaping.gamma,
        tau: LEARNER_DEFAULTS.tau,
        initialAlpha: LEARNER_DEFAULTS.initialAlpha,
        rewardScale: LEARNER_DEFAULTS.rewardScale,
        bcWeight: nonNegative('--bc-weight', options.bcWeight)!,
        normaliseQ: options.normaliseQ === true,
        successDemos: options.successDemos === true,
        gripperLogitLimit: nonNegative('--gripper-logit-limit', options.gripperLogitLimit)!,
        qFilter: options.qFilter === true,
        // Measured, not options (docs/rl-options.md): a demo step that switches the gripper weighs 6
        // in both cloning losses, and replayed transitions are 5-step.
        gripperSwitchWeight: LEARNER_DEFAULTS.gripperSwitchWeight,
        nStep: LEARNER_DEFAULTS.nStep,
        actorDelaySteps: integer('--actor-delay', options.actorDelay, 0)!,
        bufferCapacity: LEARNER_DEFAULTS.bufferCapacity,
        evalEvery: integer('--eval-every', options.evalEvery, 1)!,
        evalEpisodes: integer('--eval-episodes', options.evalEpisodes, 1)!,
        finalEvalEpisodes: integer('--final-eval-episodes', options.finalEvalEpisodes, 1)!,
        success: successSource.success,
        successDelta: c.reward.shaping.successDelta,
        successWindow: c.reward.shaping.successWindow,
        terminalPotential: c.reward.shaping.terminalPotential,
        successPotential: c.reward.shaping.successPotential,
        potentialWeight: nonNegative('--potential-weight', options.potentialWeight) ?? c.reward.shaping.potentialWeight,
        fusion: c.reward.fusion,
        trapThreshold: 0.8,
        ...layoutSetting(options, c.robot.sim.layout),
        maxSteps: integer('--max-steps', options.maxSteps, 1),
        controlHz: c.robot.controlHz,
        physicsStepS: c.robot.sim.physicsStepS,
        bounds: { maxStepM: c.safety.maxStepM, maxYawStepRad: c.safety.maxYawStepRad, workspaceMin: c.safety.workspaceMin, workspaceMax: c.safety.workspaceMax },
        onViolation: c.safety.onViolation,
        camera: { width: c.cameras.width, height: c.cameras.height },
        executionProvider: c.engine.executionProvider,
        threads: c.engine.threads,
      };
      if (settings.maxSteps === undefined) delete settings.maxSteps;
      const runDir = options.runDir ?? c.policy.runDir;
      const remote = options.learner === undefined ? undefined : learnerAddress(options.learner);
      const maxLagUpdates = integer('--learner-max-lag', options.learnerMaxLag, 0);
      if (maxLagUpdates !== undefined && !remote && options.actors === undefined) throw new InputError('--learner-max-lag', 'expected --learner host:port as well (the in-process learner never lags)');
      for (const [flag, value] of [['--learner-token-file', options.learnerTokenFile], ['--learner-ca', options.learnerCa], ['--actor-name', options.actorName]] as const) {
        if (value !== undefined && !remote) throw new InputError(flag, 'expected --learner host:port as well (it is about a learner in another process)');
      }
      if (options.actorName !== undefined && !ACTOR_NAME.test(options.actorName)) throw new InputError('--actor-name', `expected letters, digits and _.:@- (at most 128, starting with a letter or digit), got ${JSON.stringify(options.actorName)}`);
      if (remote) settings.actor = options.actorName ?? defaultActorName(runDir);

      if (options.actors !== undefined) {
        const actors = integer('--actors', options.actors, 2, 16)!;
        if (remote) throw new InputError('--actors', 'expected no --learner (--actors starts its own learner process)');
        if (settings.success === 'operator') throw new InputError('--actors', 'expected a success source other than operator (one person at one terminal judges one episode at a time)');
        if (settings.rollouts % actors !== 0) throw new InputError('--rollouts', `expected a multiple of --actors ${actors} (each actor runs rollouts / actors), got ${settings.rollouts}`);
        // Each actor is `dopamine rl` itself with the flags given here, its own folder, seed and name.
        const given = command.options.filter((o) => o.long !== undefined && !ACTORS_OWN_FLAGS.has(o.long) && command.getOptionValueSource(o.attributeName()) === 'cli');
        const flags = given.flatMap((o) => {
          const value: unknown = command.getOptionValue(o.attributeName());
          return typeof value === 'boolean' ? [o.long!] : [o.long!, String(value)];
        });
        const { runActors } = await import('../../policy/actors.js');
        const result = await runActors({
          actors, runDir, seed: settings.seed, rollouts: settings.rollouts, resume: options.resume === true, flags, log: context.log,
          ...(options.config !== undefined ? { config: options.config } : {}), ...(maxLagUpdates === undefined ? {} : { maxLagUpdates }),
        });
        context.report(result, (r) => (r as ActorsResult).actors.map((a) => `actor ${a.name} (${a.runDir}):\n${human(a.result)}`).join('\n\n'));
        return;
      }
      // The training stack (onnxruntime, MuJoCo) loads only when a session runs, so every other
      // command starts fast.
      const token = remote ? actorToken(options.learnerTokenFile) : '';
      const ca = options.learnerCa !== undefined ? readPem('--learner-ca', options.learnerCa) : undefined;
      const { train } = await import('../../policy/train.js');
      const { rlRecorder } = await import('../../launch/rl-recording.js');
      const { RemoteLearner } = await import('../../policy/protocol.js');
      // reward.shaping.success: operator: the person at the terminal judges each episode.
      const operator =
        settings.success === 'operator'
          ? new (await import('../../policy/operator.js')).LineOperator(process.stdin, (line) =>
              context.log.warn(`operator: unknown input ${JSON.stringify(line)} (expected s or success, x or stop)`),
            )
          : undefined;
      if (operator) context.log.info('operator: type s + Enter when the running episode has succeeded, x + Enter to stop it');
      // Given on the command line, not commander's defaults: with --resume each must match the stored run.
      const givenFlags = command.options
        .filter((option) => option.long !== undefined && RL_FLAG_SETTINGS[option.long] !== undefined && command.getOptionValueSource(option.attributeName()) === 'cli')
        .map((option) => ({ flag: option.long!, key: RL_FLAG_SETTINGS[option.long!]! }));
      const training = train(settings, {
        runDir,
        resume: options.resume === true,
        givenFlags,
        successLine: successSource.line,
        log: context.log,
        ...(options.record === false ? {} : { watch: rlRecorder({ runDir, config: c, instruction: findTask(task)!.instructions[0]!, success: settings.success, log: context.log.child('record') }) }),
        ...(operator ? { operator } : {}),
        ...(remote
          ? {
              remote: (learnerSettings: LearnerSettings, actor: string) =>
                RemoteLearner.connect(learnerSettings, {
                  ...remote, token, actor, ...(ca ? { ca } : {}), callTimeoutMs: 30_000, reconnectForMs: 120_000, log: context.log, ...(maxLagUpdates === undefined ? {} : { maxLagUpdates }),
                }),
            }
          : {}),
      });
      const result = await training.finally(() => operator?.close());
      context.report(result, (r) => human(r as RlResult));
    }),
  );
}
