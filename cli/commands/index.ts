/** Every sub-command, in the order `dopamine --help` lists them. Later parts add theirs here. */
import type { Command } from 'commander';
import { registerAdapt } from './adapt.js';
import { registerCalibrate } from './calibrate.js';
import { registerConfig } from './config.js';
import { registerDoctor } from './doctor.js';
import { registerGrm } from './grm.js';
import { registerLabels } from './labels.js';
import { registerLaunch } from './launch.js';
import { registerMcap } from './mcap.js';
import { registerPairs } from './pairs.js';
import { registerPolicy } from './policy.js';
import { registerRl } from './rl.js';
import { registerRlLearner } from './rl-learner.js';
import { registerRos2 } from './ros2.js';
import { registerScore } from './score.js';
import { registerServe } from './serve.js';
import { registerSim } from './sim.js';

export const commandRegistrations: ReadonlyArray<(program: Command) => void> = [
  registerServe,
  registerConfig,
  registerDoctor,
  registerLabels,
  registerPairs,
  registerSim,
  registerGrm,
  registerAdapt,
  registerScore,
  registerRl,
  registerRlLearner,
  registerPolicy,
  registerMcap,
  registerRos2,
  registerCalibrate,
  registerLaunch,
];
