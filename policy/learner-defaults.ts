/**
 * Learner settings `dopamine rl` and `serve` share, as defaults (docs/rl-options.md has the
 * measurement behind each): SAC with RLPD, cloning and a critic warm-up on the demos, 5-step
 * targets, demo steps that switch the gripper weighed 6, the actor held back for its first 1,000
 * online steps while the critics learn.
 */
export const LEARNER_DEFAULTS = {
  hidden: [256, 256],
  tau: 0.005,
  initialAlpha: 0.01,
  rewardScale: 10,
  bcSteps: 2000,
  criticWarmupSteps: 1000,
  bcWeight: 4,
  gripperSwitchWeight: 6,
  nStep: 5,
  actorDelaySteps: 1000,
  bufferCapacity: 200_000,
} as const;
