/**
 * Soft actor-critic on the engine, read top to bottom like one algorithm. The action is hybrid:
 * continuous arm motion (translation, yaw) and one discrete gripper choice (open or closed).
 *
 *   actor      obs -> MLP -> (mean, logStd) per motion value, and a gripper logit
 *              motion  a = tanh(mean + std * noise)                                 (tanh-Gaussian)
 *              gripper closed with probability sigmoid(logit); its action value is +-GRIPPER_UNIT
 *              (gripperLogitLimit: logit = limit tanh(raw / limit))
 *   critics    (obs, a) -> [linear -> LayerNorm -> ReLU] x depth -> Q, twice      (layer-normalised)
 *   targets    slow Polyak copies of both critics
 *   critic     y = r + gamma^n (1 - done) (min Q'(s', a') - alpha log pi(a'|s')),  a' ~ pi(s'), n-step rows
 *   actor      mean(alpha log pi_motion - E_gripper[min Q(s, motion, gripper) - alpha log p(gripper)]):
 *              the gripper's expectation is exact (Q at both values), so the critic ranks open
 *              against closed instead of the actor following the slope of a step function
 *   alpha      learned: log alpha descends -mean(log alpha (log pi + target entropy))
 *   BC         motion: squared error to the demo action; gripper: cross-entropy to the demo's choice
 *              (qFilter: only on demo rows whose action the critics value above the policy's mode)
 *
 * Every loss, gradient and Adam update runs inside onnxruntime (one session per trainer); the only
 * TypeScript arithmetic is the Polyak average of the target critics (the engine's helper).
 */
import type { Graph, Tensor } from '../engine/graph.js';
import { concat } from '../engine/graph.js';
import { layerNorm, linear, mlp } from '../engine/layers.js';
import { squashedGaussian, temperatureLoss, twinCriticLoss } from '../engine/losses.js';
import { fanInUniform, ParamStore, polyakUpdate } from '../engine/params.js';
import type { ExecutionProviderSetting } from '../engine/runtime.js';
import { Predictor, Trainer } from '../engine/trainer.js';
import { loadCheckpoint, saveCheckpoint } from '../engine/checkpoint.js';
import type { Batch } from './replay.js';
import type { Rng } from './rng.js';

/**
 * The gripper's action value, closed (+) or open (-): what the critics see and what the arm
 * command's sign is read from (environment.ts). Demos carry the same values.
 */
export const GRIPPER_UNIT = 0.5;

export interface SacOptions {
  observationSize: number;
  actionSize: number;
  /** Hidden layer widths of actor and critics. */
  hidden: readonly number[];
  batchSize: number;
  learningRate: number;
  gamma: number;
  /** Polyak rate of the target critics. */
  tau: number;
  initialAlpha: number;
  /**
   * Rewards are multiplied by this inside the critic target. Shaped progress moves by about 0.01
   * per control step; unscaled, the entropy bonus (alpha * -log pi, summed over ~1/(1-gamma)
   * steps) drowns it. Default 1.
   */
  rewardScale?: number;
  /**
   * Weight of a behaviour-cloning term in the actor loss on the batch's demo rows: squared error
   * of the policy's mode to the demo action (as ConRFT's BC-regularised actor; 0: plain SAC).
   * Default 0.
   */
  bcWeight?: number;
  /**
   * Divide the actor's SAC term (alpha log pi - Q) by the batch's mean |Q| (no gradient through it),
   * as TD3+BC does, so that the pull of the BC term against Q does not depend on the scale of the
   * returns (pbrs, naive and sparse rewards give critics of different scales). Default false.
   */
  normaliseQ?: boolean;
  /**
   * Q-filtered BC (Nair et al. 2018): the BC term keeps only the demo rows whose action the critics
   * (min of the two) value above the policy's own deterministic action at that state, so where the
   * critics have learnt better than a demo, they and not the demo move the actor. Dropped rows
   * still count in the term's denominator. Default false.
   */
  qFilter?: boolean;
  /**
   * Bound of the gripper's log-odds, |logit| < limit, as limit * tanh(raw / limit) (0: unbounded).
   * Cloned on a demo that never hesitates, the logit runs to +-20..50, where both the critic's pull
   * on it (p (1 - p) (Q closed - Q open)) and sampled exploration vanish: RL could then never
   * change when the hand closes or opens. Default 0 (unbounded).
   */
  gripperLogitLimit?: number;
  /** Default -(actionSize - 1): one nat per motion dimension (the gripper's entropy counts on top). */
  targetEntropy?: number;
  seed: number;
  executionProvider?: ExecutionProviderSetting;
  threads?: number;
}

export interface UpdateStats {
  criticLoss: number;
  actorLoss: number;
  alpha: number;
  /** Mean log pi(a|s) of the batch (minus the policy's entropy). */
  logProb: number;
  meanQ: number;
}

const LOG_STD_MIN = -5;
const LOG_STD_MAX = 1;

interface ActorHead {
  /** Pre-tanh mean and log-std of the motion values [B, A - 1]. */
  mean: Tensor;
  logStd: Tensor;
  /** Log-odds of a closed gripper [B]. */
  gripperLogit: Tensor;
}

/** The actor network: mean and log-std (squashed into [LOG_STD_MIN, LOG_STD_MAX]) per motion value, and the gripper's logit. */
function actorHead(obs: Tensor, hidden: readonly number[], actionSize: number, gripperLogitLimit: number): ActorHead {
  const h = mlp(obs, 'actor.body', hidden, 'relu').relu();
  const mean = linear(h, 'actor.mean', actionSize - 1);
  const raw = linear(h, 'actor.log_std', actionSize - 1).tanh();
  const logStd = raw.add(1).mul((LOG_STD_MAX - LOG_STD_MIN) / 2).add(LOG_STD_MIN);
  const rawLogit = linear(h, 'actor.gripper', 1).reshape([obs.shape[0]!]);
  const gripperLogit = gripperLogitLimit > 0 ? rawLogit.div(gripperLogitLimit).tanh().mul(gripperLogitLimit) : rawLogit;
  return { mean, logStd, gripperLogit };
}

/** log sigmoid(x), stable for large |x|. */
const logSigmoid = (x: Tensor): Tensor => x.neg().softplus().neg();

/** +-GRIPPER_UNIT from a 0/1 "closed" tensor [B], as a column [B, 1]. */
const gripperColumn = (closed: Tensor): Tensor => closed.mul(2 * GRIPPER_UNIT).sub(GRIPPER_UNIT).reshape([closed.shape[0]!, 1]);

/**
 * A sampled action and its log-probability [B]: motion from the tanh-Gaussian with the first
 * A - 1 noise columns (standard normal), the gripper closed where logit + the last noise column
 * (standard logistic) is positive, which happens with probability sigmoid(logit).
 */
function samplePolicy(head: ActorHead, noise: Tensor): { action: Tensor; logProb: Tensor } {
  const A = noise.shape[1]!;
  const B = noise.shape[0]!;
  const motion = squashedGaussian(head.mean, head.logStd, noise.slice(1, 0, A - 1));
  const closed = head.gripperLogit.add(noise.slice(1, A - 1, A).reshape([B])).greater(0);
  const gripperLogProb = closed.mul(logSigmoid(head.gripperLogit)).add(closed.neg().add(1).mul(logSigmoid(head.gripperLogit.neg())));
  return { action: concat([motion.action, gripperColumn(closed)], 1), logProb: motion.logProb.add(gripperLogProb) };
}

/** Noise for `rows` sampled actions: standard normal for the motion values, standard logistic for the gripper. */
function policyNoise(rng: Rng, rows: number, actionSize: number): Float32Array {
  const noise = rng.fillNormal(new Float32Array(rows * actionSize));
  for (let r = 0; r < rows; r++) {
    const u = Math.min(Math.max(rng.next(), 1e-7), 1 - 1e-7);
    noise[r * actionSize + actionSize - 1] = Math.log(u / (1 - u));
  }
  return noise;
}

/**
 * One critic network at fixed states: action [B, A] -> Q(s, a) [B], LayerNorm after every hidden
 * linear layer. The first layer's weight [O + A, width] is used as its observation rows and its
 * action rows, so that several actions evaluated at the same states (the actor's loss: the hand
 * closed and open; the Q-filter: the demo's and the mode's action) multiply the observations
 * once, and back-propagate to the action through the A action rows only (the observation rows are
 * most of the critic's arithmetic: O = 437 against 256 per hidden layer). Same parameters, same
 * values as one linear layer on concat(obs, action).
 */
export function criticAt(obs: Tensor, name: string, hidden: readonly number[], actionSize: number): (action: Tensor) => Tensor {
  const g = obs.graph;
  const [batch, O] = obs.shape as [number, number];
  const [first, ...rest] = hidden as [number, ...number[]];
  const weight = g.param(`${name}.0.weight`, [O + actionSize, first], fanInUniform(O + actionSize));
  const bias = g.param(`${name}.0.bias`, [first], fanInUniform(O + actionSize));
  let observed: Tensor | undefined;
  return (action) => {
    observed ??= obs.matmul(weight.slice(0, 0, O)).add(bias);
    let h = layerNorm(observed.add(action.matmul(weight.slice(0, O, O + actionSize))), `${name}.0.norm`).relu();
    rest.forEach((width, i) => {
      h = layerNorm(linear(h, `${name}.${i + 1}`, width), `${name}.${i + 1}.norm`).relu();
    });
    return linear(h, `${name}.out`, 1).reshape([batch]);
  };
}

/** The pessimistic value at fixed states: action -> the smaller of the two critics' Q(s, a) [batch]. */
function minCriticAt(obs: Tensor, hidden: readonly number[], actionSize: number): (action: Tensor) => Tensor {
  const [q1, q2] = [criticAt(obs, 'q1', hidden, actionSize), criticAt(obs, 'q2', hidden, actionSize)];
  return (action) => q1(action).minimum(q2(action));
}

/** Whether a parameter belongs to what acts: the actor. */
export const isActingParameter = (name: string): boolean => name.startsWith('actor.');

/** The deterministic action: the motion's mode and the gripper's likelier value. */
const modeAction = (head: ActorHead): Tensor => concat([head.mean.tanh(), gripperColumn(head.gripperLogit.greater(0))], 1);

export class SacLearner {
  readonly store: ParamStore;
  updates = 0;
  private inspecting: Promise<Predictor> | undefined;
  private constructor(
    readonly options: Required<Omit<SacOptions, 'executionProvider' | 'threads'>> & Pick<SacOptions, 'executionProvider' | 'threads'>,
    store: ParamStore,
    private readonly criticTrainer: Trainer,
    private readonly actorTrainer: Trainer,
    private readonly alphaTrainer: Trainer,
    private readonly bcTrainer: Trainer,
    private readonly acting: Predictor,
  ) {
    this.store = store;
  }

  static async create(input: SacOptions): Promise<SacLearner> {
    if (input.actionSize < 2) throw new RangeError(`actionSize: expected motion values plus the gripper (>= 2), got ${input.actionSize}`);
    if (input.hidden.length === 0) throw new RangeError('hidden: expected at least one hidden layer width, got none');
    const options = { ...input, rewardScale: input.rewardScale ?? 1, bcWeight: input.bcWeight ?? 0, normaliseQ: input.normaliseQ ?? false, gripperLogitLimit: input.gripperLogitLimit ?? 0, qFilter: input.qFilter ?? false, targetEntropy: input.targetEntropy ?? -(input.actionSize - 1) };
    const { observationSize: O, actionSize: A, hidden, batchSize: B, gamma, gripperLogitLimit: limit } = options;
    const store = new ParamStore({ seed: options.seed });
    const runtime = { executionProvider: options.executionProvider, threads: options.threads };
    const adam = { kind: 'adam' as const, lr: options.learningRate };
    const observation = (g: Graph, name: string, batch: number): Tensor => g.input(name, [batch, O]);

    const criticTrainer = await Trainer.create({
      ...runtime,
      name: 'critic',
      store,
      optimizer: { ...adam, clipNorm: 10 },
      trainable: (n) => n.startsWith('q1.') || n.startsWith('q2.'),
      build: (g) => {
        const [obs, action, reward, nextObs, done, steps, nextNoise, alpha] = [
          observation(g, 'obs', B), g.input('action', [B, A]), g.input('reward', [B]), observation(g, 'next_obs', B),
          g.input('done', [B]), g.input('steps', [B]), g.input('next_noise', [B, A]), g.input('alpha', []),
        ];
        const nextPi = samplePolicy(actorHead(nextObs, hidden, A, limit), nextNoise);
        // Clipped double-Q target; an n-step transition bootstraps `steps` control steps on:
        // y = r + gamma^steps (1 - done) (min(Q1', Q2') - alpha log pi(a'|s')), no gradient.
        const bootstrap = steps.mul(Math.log(gamma)).exp().mul(done.neg().add(1));
        const soft = criticAt(nextObs, 'q1t', hidden, A)(nextPi.action).minimum(criticAt(nextObs, 'q2t', hidden, A)(nextPi.action)).sub(nextPi.logProb.mul(alpha));
        const target = reward.mul(options.rewardScale).add(bootstrap.mul(soft)).stopGradient();
        const q1 = criticAt(obs, 'q1', hidden, A)(action);
        const q2 = criticAt(obs, 'q2', hidden, A)(action);
        return { loss: twinCriticLoss(q1, q2, target), outputs: { mean_q: q1.add(q2).mul(0.5).mean() } };
      },
    });
    store.copyPrefix('q1.', 'q1t.');
    store.copyPrefix('q2.', 'q2t.');

    const actorTrainer = await Trainer.create({
      ...runtime,
      name: 'actor',
      store,
      optimizer: { ...adam, clipNorm: 10 },
      trainable: (n) => n.startsWith('actor.'),
      build: (g): { loss: Tensor; outputs: Record<string, Tensor> } => {
        const [obs, noise, alpha] = [observation(g, 'obs', B), g.input('noise', [B, A]), g.input('alpha', [])];
        const head = actorHead(obs, hidden, A, limit);
        const motion = squashedGaussian(head.mean, head.logStd, noise.slice(1, 0, A - 1));
        const minCritic = minCriticAt(obs, hidden, A);
        // The gripper in expectation: Q with the hand closed and open, weighted by p(closed).
        const q = (closed: boolean): Tensor => {
          const action = concat([motion.action, g.constant(new Array<number>(B).fill(closed ? GRIPPER_UNIT : -GRIPPER_UNIT), [B, 1])], 1);
          return minCritic(action);
        };
        const pClosed = head.gripperLogit.sigmoid();
        const [logClosed, logOpen] = [logSigmoid(head.gripperLogit), logSigmoid(head.gripperLogit.neg())];
        const gripperLogProb = pClosed.mul(logClosed).add(pClosed.neg().add(1).mul(logOpen)); // E[log p(gripper)]
        const expectedQ = pClosed.mul(q(true)).add(pClosed.neg().add(1).mul(q(false)));
        const logProb = motion.logProb.add(gripperLogProb);
        const rawSacLoss = logProb.mul(alpha.stopGradient()).sub(expectedQ).mean();
        const loss = options.normaliseQ ? rawSacLoss.div(expectedQ.abs().mean().stopGradient().add(1e-3)) : rawSacLoss;
        if (options.bcWeight === 0) return { loss, outputs: { log_prob: logProb.mean() } };
        // BC on demo rows, each weighted (0 on online rows): motion by squared error of the mode,
        // the gripper by cross-entropy to the demo's choice.
        const [demoAction, demo] = [g.input('action', [B, A]), g.input('demo', [B])];
        const demoClosed = demoAction.slice(1, A - 1, A).reshape([B]).greater(0);
        const crossEntropy = demoClosed.mul(logClosed).add(demoClosed.neg().add(1).mul(logOpen)).neg();
        const squaredError = head.mean.tanh().sub(demoAction.slice(1, 0, A - 1)).square().sum([1]);
        // With the Q-filter a demo row is cloned only where the demo's action beats the policy's mode.
        const kept = options.qFilter ? demo.mul(minCritic(demoAction).greater(minCritic(modeAction(head))).stopGradient()) : demo;
        const bc = squaredError.add(crossEntropy).mul(kept).sum().div(demo.sum().add(1));
        return { loss: loss.add(bc.mul(options.bcWeight)), outputs: { log_prob: logProb.mean(), bc } };
      },
    });

    const alphaTrainer = await Trainer.create({
      ...runtime,
      name: 'alpha',
      store,
      optimizer: adam,
      build: (g) => {
        const logProb = g.input('log_prob', [1]);
        const logAlpha = g.param('log_alpha', [1], { kind: 'constant', value: Math.log(options.initialAlpha) });
        return { loss: temperatureLoss(logAlpha, logProb, options.targetEntropy) };
      },
    });

    // Behaviour cloning, each row weighted (gripper switches count more, learner.ts). Motion: the
    // mean to atanh(demo action) by squared error, the spread by the Gaussian NLL around the
    // detached mean. (A plain NLL fits the mean weighted by 1 / variance: rows fitted well early
    // got a tiny spread and dominated, and whole phases, such as carrying the cube, stayed
    // underfitted.) Gripper: cross-entropy to the demo's choice.
    const bcTrainer = await Trainer.create({
      ...runtime,
      name: 'bc',
      store,
      optimizer: adam,
      trainable: (n) => n.startsWith('actor.'),
      build: (g) => {
        const [obs, action, weight] = [observation(g, 'obs', B), g.input('action', [B, A]), g.input('weight', [B])];
        const head = actorHead(obs, hidden, A, limit);
        const clipped = action.slice(1, 0, A - 1).maximum(-0.97).minimum(0.97);
        const preTanh = clipped.add(1).div(clipped.neg().add(1)).log().mul(0.5);
        const squaredError = preTanh.sub(head.mean).square().sum([1]);
        const z = preTanh.sub(head.mean.stopGradient()).div(head.logStd.exp());
        const nll = z.square().mul(0.5).add(head.logStd).sum([1]);
        const closed = action.slice(1, A - 1, A).reshape([B]).greater(0);
        const crossEntropy = closed.mul(logSigmoid(head.gripperLogit)).add(closed.neg().add(1).mul(logSigmoid(head.gripperLogit.neg()))).neg();
        return { loss: squaredError.add(nll).add(crossEntropy).mul(weight).sum().div(weight.sum().add(1e-6)) };
      },
    });

    const acting = await Predictor.create({
      ...runtime,
      name: 'acting',
      store,
      build: (g: Graph) => {
        const [obs, noise] = [observation(g, 'obs', 1), g.input('noise', [1, A])];
        const head = actorHead(obs, hidden, A, limit);
        return { sample: samplePolicy(head, noise).action, mode: modeAction(head) };
      },
    });
    return new SacLearner(options, store, criticTrainer, actorTrainer, alphaTrainer, bcTrainer, acting);
  }

  get alpha(): number {
    return Math.exp(this.store.get('log_alpha').data[0]!);
  }

  /**
   * An action: motion in [-1, 1], the gripper +-GRIPPER_UNIT; sampled (exploration) or the
   * distribution's mode (evaluation: the motion's mode, the gripper's likelier value).
   */
  async act(observation: Float32Array, rng: Rng, deterministic: boolean): Promise<Float32Array> {
    const noise = policyNoise(rng, 1, this.options.actionSize); // drawn either way: the random stream does not depend on the mode
    const out = await this.acting.run({ obs: observation, noise });
    return Float32Array.from(deterministic ? out.mode! : out.sample!);
  }

  /**
   * The deterministic action's gripper decision as the networks see it at one observation: the
   * closed-hand log-odds and the critics' value (min of the two) of the motion's mode with the hand
   * closed and open. For diagnostics and tests; the graph is built on first use.
   */
  async inspectGripper(observation: Float32Array): Promise<{ logit: number; qClosed: number; qOpen: number }> {
    if (!this.inspecting) {
      const { observationSize: O, actionSize: A, hidden, gripperLogitLimit } = this.options;
      this.inspecting = Predictor.create({
        executionProvider: this.options.executionProvider, threads: this.options.threads, name: 'inspect', store: this.store,
        build: (g: Graph) => {
          const obs = g.input('obs', [1, O]);
          const head = actorHead(obs, hidden, A, gripperLogitLimit);
          const minCritic = minCriticAt(obs, hidden, A);
          const q = (closed: boolean): Tensor => minCritic(concat([head.mean.tanh(), g.constant([closed ? GRIPPER_UNIT : -GRIPPER_UNIT], [1, 1])], 1));
          return { logit: head.gripperLogit, q_closed: q(true), q_open: q(false) };
        },
      });
    }
    const out = await (await this.inspecting).run({ obs: observation });
    return { logit: out.logit![0]!, qClosed: out.q_closed![0]!, qOpen: out.q_open![0]! };
  }

  /** One behaviour-cloning step on a batch of demo transitions (rows weighted by `batch.demo`); returns the loss. */
  async cloneStep(batch: Batch): Promise<number> {
    return (await this.bcTrainer.run({ obs: batch.observation, action: batch.action, weight: batch.demo })).loss;
  }

  /** Critics only, then the Polyak step: fits Q to the cloned policy before the actor follows Q. */
  async criticUpdate(batch: Batch, rng: Rng): Promise<{ criticLoss: number; meanQ: number }> {
    const { batchSize: B, actionSize: A, tau } = this.options;
    const criticStep = await this.criticTrainer.run({
      obs: batch.observation, action: batch.action, reward: batch.reward, next_obs: batch.nextObservation, done: batch.done, steps: batch.steps,
      next_noise: policyNoise(rng, B, A), alpha: Float32Array.of(this.alpha),
    });
    polyakUpdate(this.store, 'q1.', 'q1t.', tau);
    polyakUpdate(this.store, 'q2.', 'q2t.', tau);
    return { criticLoss: criticStep.loss, meanQ: criticStep.outputs.mean_q![0]! };
  }

  /** One SAC update: critics, actor, temperature, then the Polyak step of the target critics. */
  async update(batch: Batch, rng: Rng): Promise<UpdateStats> {
    const { batchSize: B, actionSize: A, tau } = this.options;
    const alpha = Float32Array.of(this.alpha);
    const nextNoise = policyNoise(rng, B, A);
    const criticStep = await this.criticTrainer.run({
      obs: batch.observation, action: batch.action, reward: batch.reward, next_obs: batch.nextObservation, done: batch.done, steps: batch.steps, next_noise: nextNoise, alpha,
    });
    const noise = policyNoise(rng, B, A);
    const actorStep = await this.actorTrainer.run(
      this.options.bcWeight === 0 ? { obs: batch.observation, noise, alpha } : { obs: batch.observation, noise, alpha, action: batch.action, demo: batch.demo },
    );
    const logProb = actorStep.outputs.log_prob![0]!;
    await this.alphaTrainer.run({ log_prob: Float32Array.of(logProb) });
    polyakUpdate(this.store, 'q1.', 'q1t.', tau);
    polyakUpdate(this.store, 'q2.', 'q2t.', tau);
    this.updates++;
    return { criticLoss: criticStep.loss, actorLoss: actorStep.loss, alpha: this.alpha, logProb, meanQ: criticStep.outputs.mean_q![0]! };
  }

  private get trainers(): Trainer[] {
    return [this.criticTrainer, this.actorTrainer, this.alphaTrainer, this.bcTrainer];
  }

  /** Weights (actor, critics, targets, temperature) and every optimiser's state, atomically, with a checksum. */
  save(path: string): void {
    saveCheckpoint(path, this.store, this.trainers);
  }

  /** Throws InputError (changing nothing) when the file is truncated, corrupt or of another shape. */
  load(path: string): void {
    loadCheckpoint(path, this.store, this.trainers);
  }

  async dispose(): Promise<void> {
    for (const t of this.trainers) await t.dispose();
    await this.acting.dispose();
    if (this.inspecting) await (await this.inspecting).dispose();
  }
}
