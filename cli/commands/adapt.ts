import type { Command } from 'commander';
import { describeValue, InputError } from '../../common/errors.js';
import { loadGrmTiny } from '../../reward/grm-tiny/io.js';
import { adaptGrmTiny } from '../../reward/grm-tiny/adapt.js';
import { DEFAULT_GRM_TINY } from '../../reward/grm-tiny/paths.js';
import { action, withCommonOptions } from '../command.js';
import { parseIntegerFlag } from '../episode-options.js';
import { openEpisodeFor } from '../reward-model.js';
import { checkEpisodePath } from '../../reward/open-episode.js';

interface AdaptFlags {
  base?: string;
  out?: string;
  minVoc?: string;
  steps?: string;
  variants?: string;
  pairs?: string;
  seed?: string;
  sampleFactor?: string;
}

/**
 * Label sample points adaptation aims for: denser than the reference's k = 20 on long demos, so
 * the fine-tuned head sees frames between the keyframe-spaced points it would otherwise skip.
 */
const TARGET_POINTS = 250;

export function registerAdapt(program: Command): void {
  const command = program
    .command('adapt')
    .description('one-shot adaptation of GRM-tiny to a new task from one demo; writes the model and the task references')
    .argument('<episode-dir>', 'the demo: an episode_* folder, a root holding exactly one, or a ROS 2 MCAP file (.mcap or a rosbag2 folder)')
    .requiredOption('--out <model.onnx>', 'where to write the adapted model (the references go to <model>.task/)')
    .option('--base <model.onnx>', `the GRM-tiny model to adapt (default ${DEFAULT_GRM_TINY})`)
    .option('--min-voc <v>', 'refuse to write a model whose demo VOC, forward or reversed, is below this (default reward.adapt.minVoc, 0.9)')
    .option('--steps <n>', 'fine-tuning steps (default reward.adapt.steps, 1200)')
    .option('--pairs <n>', 'pairs sampled from the demo (default reward.adapt.pairs, 2000)')
    .option('--variants <n>', 'appearance variants of the demo trained on besides it (default reward.adapt.variants, 4)')
    .option('--seed <n>', 'seed of pairs and training (default 1)')
    .option('--sample-factor <k>', `frames per label sample point (default reward.labels.sampleFactor, lowered towards ${TARGET_POINTS} label points on the demo)`);
  withCommonOptions(command).action(
    action('adapt', async (context, dir: string, flags: AdaptFlags) => {
      const { config, log } = context;
      if (!flags.out || !flags.out.toLowerCase().endsWith('.onnx')) throw new InputError('--out', `expected a file name ending in .onnx, got ${describeValue(flags.out)}`);
      const minVoc = flags.minVoc === undefined ? config.reward.adapt.minVoc : Number(flags.minVoc);
      if (!Number.isFinite(minVoc) || minVoc < -1 || minVoc > 1) throw new InputError('--min-voc', `expected a number in [-1, 1], got ${describeValue(flags.minVoc)}`);
      // Every flag is checked before the base model loads and the demo is probed.
      const pairs = parseIntegerFlag('--pairs', flags.pairs, config.reward.adapt.pairs, 3);
      const steps = parseIntegerFlag('--steps', flags.steps, config.reward.adapt.steps, 1, 1_000_000);
      const seed = parseIntegerFlag('--seed', flags.seed, 1, 0);
      const variants = parseIntegerFlag('--variants', flags.variants, config.reward.adapt.variants, 0, 32);
      const givenSampleFactor = flags.sampleFactor === undefined ? undefined : parseIntegerFlag('--sample-factor', flags.sampleFactor, 1, 1, 10_000);
      checkEpisodePath(dir);
      const base = flags.base ?? DEFAULT_GRM_TINY;
      const { config: modelConfig } = loadGrmTiny(base);
      const episode = await openEpisodeFor(dir, config, log, modelConfig);
      try {
        const span = episode.segments[episode.segments.length - 1]!.endFrame - episode.segments[0]!.startFrame;
        const sampleFactor = givenSampleFactor ?? Math.max(1, Math.min(config.reward.labels.sampleFactor, Math.floor(span / TARGET_POINTS)));
        const report = await adaptGrmTiny(episode, { base, out: flags.out, sampleFactor, pairs, steps, seed, variants, minVoc, logger: log });
        context.report({ ...report, sampleFactor }, () =>
          [
            `wrote ${report.out} and ${report.references} in ${report.seconds} s`,
            `trained: ${report.trained.join(', ')} (${report.trainedParameters} parameters; the image encoder is frozen), ${report.steps} steps on ${report.pairs} pairs, the demo and ${report.variants} appearance variants`,
            `demo VOC before: forward ${report.before.forward}, reversed ${report.before.reversed}; after: forward ${report.after.forward}, reversed ${report.after.reversed}`,
          ].join('\n'),
        );
      } finally {
        await episode.close();
      }
    }),
  );
}
