/**
 * The benchmark set-up of an RL run (bench/rl.ts, bench/rl-localisation.ts): pick-place, 20 demos
 * with expert noise 0.3, 100 control steps per episode, SAC at batch 256 with one update per step,
 * the simulator's success predicate, one onnxruntime thread. Each benchmark overrides what it varies.
 */
import type { Config } from '../../config/schema.js';
import type { RlSettings } from '../../policy/train.js';

export function benchRlSettings(config: Config): RlSettings {
  return {
    task: 'pick-place',
    reward: 'model',
    adapt: { steps: config.reward.adapt.steps, pairs: config.reward.adapt.pairs },
    shaping: 'pbrs',
    seed: 1,
    rollouts: 150,
    observation: 'features',
    demos: 20,
    demoNoise: 0.3,
    bcSteps: 2000,
    criticWarmupSteps: 1000,
    hidden: [256, 256],
    batchSize: 256,
    updatesPerStep: 1,
    learningRate: config.policy.learningRate,
    gamma: config.reward.shaping.gamma,
    tau: 0.005,
    initialAlpha: 0.01,
    rewardScale: 10,
    bcWeight: 4,
    gripperSwitchWeight: 6,
    nStep: 5,
    actorDelaySteps: 1000,
    bufferCapacity: 200_000,
    evalEvery: 25,
    evalEpisodes: 10,
    finalEvalEpisodes: 50,
    success: 'env',
    successDelta: config.reward.shaping.successDelta,
    successWindow: config.reward.shaping.successWindow,
    terminalPotential: config.reward.shaping.terminalPotential,
    successPotential: config.reward.shaping.successPotential,
    potentialWeight: config.reward.shaping.potentialWeight,
    fusion: config.reward.fusion,
    trapThreshold: 0.8,
    maxSteps: 100,
    controlHz: config.robot.controlHz,
    physicsStepS: config.robot.sim.physicsStepS,
    bounds: { maxStepM: config.safety.maxStepM, maxYawStepRad: config.safety.maxYawStepRad, workspaceMin: config.safety.workspaceMin, workspaceMax: config.safety.workspaceMax },
    onViolation: config.safety.onViolation,
    camera: { width: config.cameras.width, height: config.cameras.height },
    executionProvider: 'cpu',
    // One intra-op thread: the machine's cores are shared, and batch-256 MLP steps gain little from more.
    threads: 1,
  };
}
