import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_POLICY_ENCODER } from '../../perception/policy-encoder/paths.js';
import { pretrainPolicyEncoder } from '../../perception/policy-encoder/pretrain.js';
import { action, withCommonOptions } from '../command.js';
import { parseIntegerFlag, parseNumberFlag, parseTasksFlag } from '../episode-options.js';

interface PretrainEncoderFlags {
  out?: string;
  scenesPerTask?: string;
  validationPerTask?: string;
  randomScenes?: string;
  steps?: string;
  batch?: string;
  lr?: string;
  seed?: string;
  tasks?: string;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('the policy\'s own visual encoder');
  const pretrain = policy
    .command('pretrain-encoder')
    .description('pretrain the policy encoder on simulator scenes of every task except the held-out one, to locate the task\'s objects')
    .option('--out <file>', `where to write the .onnx encoder (default ${DEFAULT_POLICY_ENCODER})`)
    .option('--scenes-per-task <n>', 'training scenes per task (default 2000)')
    .option('--validation-per-task <n>', 'unseen scenes per task for the check after training (default 100)')
    .option('--random-scenes <n>', 'random scenes of the held-out task\'s world: its objects placed at random, the hand moved at random, never an episode of it (default 2000)')
    .option('--steps <n>', 'optimizer steps (default 6000)')
    .option('--batch <n>', 'scenes per step (default 32)')
    .option('--lr <rate>', 'peak learning rate (default 0.001)')
    .option('--seed <n>', 'seed of scenes, batches, augmentations and initial weights (default 1)')
    .option('--tasks <names>', 'comma-separated training tasks (default: every task not marked held-out)');
  withCommonOptions(pretrain).action(
    action('policy', async (context, flags: PretrainEncoderFlags) => {
      const out = flags.out ?? DEFAULT_POLICY_ENCODER;
      const tasks = parseTasksFlag(flags.tasks);
      // Every flag is checked before the output folder is made.
      const settings = {
        config: context.config,
        out,
        scenesPerTask: parseIntegerFlag('--scenes-per-task', flags.scenesPerTask, 2000, 1, 1_000_000),
        validationPerTask: parseIntegerFlag('--validation-per-task', flags.validationPerTask, 100, 1, 100_000),
        randomScenes: parseIntegerFlag('--random-scenes', flags.randomScenes, 2000, 0, 1_000_000),
        steps: parseIntegerFlag('--steps', flags.steps, 6000, 1, 1_000_000),
        batch: parseIntegerFlag('--batch', flags.batch, 32, 1, 1024),
        lr: parseNumberFlag('--lr', flags.lr, 1e-3, 1e-7, 1),
        seed: parseIntegerFlag('--seed', flags.seed, 1, 0),
        threads: context.config.engine.threads,
        ...(tasks ? { tasks } : {}),
        logger: context.log,
      };
      mkdirSync(dirname(out), { recursive: true });
      const report = await pretrainPolicyEncoder(settings);
      context.report(report, () =>
        [
          `wrote ${report.out} (${(report.bytes / 1e6).toFixed(2)} MB, ${report.parameters} parameters, ${report.featuresPerView} features per view)`,
          `data: ${report.scenes.train} scenes of ${report.tasks.join(', ')}${report.scenes.random > 0 ? `, ${report.scenes.random} of them random scenes of ${report.heldOut.join(', ')} (no episode)` : ''}; held out: ${report.heldOut.join(', ')}`,
          `training: ${report.steps} steps in ${report.seconds.train} s, loss ${report.loss.first.toFixed(4)} -> ${report.loss.last.toFixed(4)}`,
          `unseen scenes of the training tasks: object error (linear head) median ${report.validation.objectErrorCm.median} cm, p90 ${report.validation.objectErrorCm.p90} cm`,
        ].join('\n'),
      );
    }),
  );
}
