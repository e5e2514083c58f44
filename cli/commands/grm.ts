import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { describeValue, InputError } from '../../common/errors.js';
import { SIM_TASKS } from '../../robot/sim/tasks.js';
import { evaluateHeldOut } from '../../reward/grm-tiny/evaluate.js';
import { pretrainGrmTiny } from '../../reward/grm-tiny/pretrain.js';
import { DEFAULT_GRM_TINY } from '../../reward/grm-tiny/paths.js';
import { GRM_TINY_CONFIG } from '../../reward/grm-tiny/model.js';
import type { LocationTarget } from '../../reward/grm-tiny/sim-data.js';
import { action, withCommonOptions } from '../command.js';
import { parseIntegerFlag, parseNumberFlag, parseTasksFlag } from '../episode-options.js';

function locationTargetFlag(value: string | undefined): LocationTarget {
  if (value === undefined) return 'hand';
  if (value !== 'hand' && value !== 'image') throw new InputError('--location-target', `expected hand or image, got ${describeValue(value)}`);
  return value;
}

function patchFlag(value: string | undefined): number {
  if (value === undefined) return GRM_TINY_CONFIG.patch;
  if (!['4', '8', '16'].includes(value.trim())) throw new InputError('--patch', `expected 4, 8 or 16 (a divisor of the 64x48 input), got ${describeValue(value)}`);
  return Number(value);
}

interface PretrainFlags {
  out?: string;
  episodesPerTask?: string;
  validationPerTask?: string;
  steps?: string;
  batch?: string;
  lr?: string;
  seed?: string;
  sampleFactor?: string;
  pairs?: string;
  tasks?: string;
  locationWeight?: string;
  locationTarget?: string;
  patch?: string;
}

interface EvalFlags {
  task?: string;
  model?: string;
  clean?: string;
  failed?: string;
  nearMiss?: string;
  regression?: string;
  seed?: string;
  adaptSteps?: string;
}

export function registerGrm(program: Command): void {
  const grm = program.command('grm').description('GRM-tiny, the project\'s own reward model: pretraining in simulation and evaluation');

  const pretrain = grm
    .command('pretrain')
    .description('pretrain GRM-tiny on scripted-expert simulator episodes of every task except the held-out one')
    .option('--out <file>', `where to write the .onnx model (default ${DEFAULT_GRM_TINY})`)
    .option('--episodes-per-task <n>', 'successful training episodes per task (default 80)')
    .option('--validation-per-task <n>', 'unseen episodes per task for the check after training (default 3)')
    .option('--steps <n>', 'optimizer steps (default 12000)')
    .option('--batch <n>', 'pairs per step (default 32)')
    .option('--lr <rate>', 'peak learning rate (default 0.002)')
    .option('--seed <n>', 'seed of episodes, pairs, augmentations and initial weights (default 1)')
    .option('--sample-factor <k>', 'simulator frames per label sample point (default 2: 5 points per second at 10 Hz)')
    .option('--pairs <n>', 'pairs sampled per episode (default 200)')
    .option('--tasks <names>', 'comma-separated training tasks (default: every task not marked held-out)')
    .option('--patch <px>', 'image patch size of the encoder: 4, 8 (default) or 16')
    .option('--location-weight <w>', 'weight of the auxiliary loss that makes the encoder locate the task\'s objects (default 0: none)')
    .option('--location-target <kind>', 'with --location-weight: hand (the objects relative to the hand, the default) or image (where each object appears in each view)');
  withCommonOptions(pretrain).action(
    action('grm', async (context, flags: PretrainFlags) => {
      const out = flags.out ?? DEFAULT_GRM_TINY;
      const tasks = parseTasksFlag(flags.tasks);
      // Every flag is checked before the output folder is made.
      const settings = {
        config: context.config,
        out,
        episodesPerTask: parseIntegerFlag('--episodes-per-task', flags.episodesPerTask, 80, 1, 10_000),
        validationPerTask: parseIntegerFlag('--validation-per-task', flags.validationPerTask, 3, 0, 1000),
        steps: parseIntegerFlag('--steps', flags.steps, 12000, 1, 1_000_000),
        batch: parseIntegerFlag('--batch', flags.batch, 32, 1, 1024),
        lr: parseNumberFlag('--lr', flags.lr, 2e-3, 1e-7, 1),
        seed: parseIntegerFlag('--seed', flags.seed, 1, 0),
        sampleFactor: parseIntegerFlag('--sample-factor', flags.sampleFactor, 2, 1, 1000),
        pairsPerEpisode: parseIntegerFlag('--pairs', flags.pairs, 200, 3, 100_000),
        locationWeight: parseNumberFlag('--location-weight', flags.locationWeight, 0, 0, 1000),
        locationTarget: locationTargetFlag(flags.locationTarget),
        model: { ...GRM_TINY_CONFIG, patch: patchFlag(flags.patch) },
        threads: context.config.engine.threads,
        ...(tasks ? { tasks } : {}),
        logger: context.log,
      };
      mkdirSync(dirname(out), { recursive: true });
      const report = await pretrainGrmTiny(settings);
      context.report(report, () =>
        [
          `wrote ${report.out} (${(report.bytes / 1e6).toFixed(2)} MB, ${report.parameters} parameters)`,
          `data: ${report.episodes.train} episodes of ${report.tasks.join(', ')}; held out: ${report.heldOut.join(', ')}`,
          `training: ${report.steps} steps in ${report.seconds.train} s, loss ${report.loss.first.toFixed(3)} -> ${report.loss.last.toFixed(3)}${report.locationRmseCm ? `; location head RMSE ${report.locationRmseCm.first.toFixed(1)} -> ${report.locationRmseCm.last.toFixed(1)} cm` : ''}${report.locationRmseImage ? `; location head RMSE ${report.locationRmseImage.first.toFixed(3)} -> ${report.locationRmseImage.last.toFixed(3)} (image frame)` : ''}`,
          `unseen episodes of the training tasks: VOC fused ${report.validation.voc.fused}, MAE ${report.validation.mae} (pixel baseline VOC ${report.validation.baseline.voc}, MAE ${report.validation.baseline.mae})`,
        ].join('\n'),
      );
    }),
  );

  const evaluate = grm
    .command('eval')
    .description('evaluate on simulator rollouts of a task (default the held-out one): VOC before and after one-shot adaptation, completion classes, pixel baseline')
    .option('--task <name>', 'simulator task (default: the held-out task)')
    .option('--model <file>', `base model (default ${DEFAULT_GRM_TINY})`)
    .option('--clean <n>', 'clean (successful) rollouts (default 20)')
    .option('--failed <n>', 'failed rollouts (default 50)')
    .option('--near-miss <n>', 'near-miss rollouts: nearly done, never a success (default 50)')
    .option('--regression <n>', 'regression rollouts: forward to success, then the task undone (default 10)')
    .option('--seed <n>', 'seed of the rollouts (default 7)')
    .option('--adapt-steps <n>', 'adaptation steps on the demo (default reward.adapt.steps, 1200)');
  withCommonOptions(evaluate).action(
    action('grm', async (context, flags: EvalFlags) => {
      const task = flags.task ?? SIM_TASKS.find((t) => t.heldOut)?.name ?? 'pick-place';
      if (!SIM_TASKS.some((t) => t.name === task)) throw new InputError('--task', `expected one of ${SIM_TASKS.map((t) => t.name).join(', ')}, got ${describeValue(task)}`);
      const model = flags.model ?? DEFAULT_GRM_TINY;
      if (!existsSync(model)) throw new InputError('--model', `expected a GRM-tiny .onnx file, got ${describeValue(model)} (no such file)`);
      const report = await evaluateHeldOut({
        config: context.config,
        task,
        model,
        clean: parseIntegerFlag('--clean', flags.clean, 20, 1, 1000),
        failed: parseIntegerFlag('--failed', flags.failed, 50, 0, 1000),
        nearMiss: parseIntegerFlag('--near-miss', flags.nearMiss, 50, 0, 1000),
        regression: parseIntegerFlag('--regression', flags.regression, 10, 0, 1000),
        seed: parseIntegerFlag('--seed', flags.seed, 7, 0),
        adaptSteps: parseIntegerFlag('--adapt-steps', flags.adaptSteps, context.config.reward.adapt.steps, 1, 100_000),
        logger: context.log,
      });
      context.report(report);
    }),
  );
}
