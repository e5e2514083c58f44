import type { Command } from 'commander';
import { InputError } from '../../common/errors.js';
import { samplePairs } from '../../reward/pairs.js';
import { action, withCommonOptions } from '../command.js';
import { episodeLabels, parseIntegerFlag, type LabelFlags } from '../episode-options.js';

interface PairFlags extends LabelFlags {
  max?: string;
  seed?: string;
}

export function registerPairs(program: Command): void {
  const command = program
    .command('pairs')
    .description('sample (BEFORE, AFTER, hop, instruction) training pairs of an episode with the reference bin strategy')
    .argument('<episode-dir>', 'an episode_* folder, or a root holding exactly one')
    .option('--max <n>', 'samples per episode, 5% of them zero-hop (default 1000)')
    .option('--seed <n>', 'random seed (default 1)')
    .option('--sample-factor <k>', 'raw frames per sample point (default: reward.labels.sampleFactor, 20)')
    .option('--rounding <mode>', 'points per sub-task: reference or floor');
  withCommonOptions(command).action(
    action('pairs', async (context, dir: string, flags: PairFlags) => {
      const max = parseIntegerFlag('--max', flags.max, 1000, 0, 1_000_000);
      const seed = parseIntegerFlag('--seed', flags.seed, 1, 0);
      const { episode, labels } = await episodeLabels(dir, context.config, flags, context.log);
      await episode.close();
      if (labels.frames.length < 3) {
        throw new InputError(dir, `expected at least 3 sample points to make pairs, got ${labels.frames.length} (lower --sample-factor)`);
      }
      const sample = samplePairs(labels.frames, episode.instructions, { max, seed });
      const result = {
        pairs: sample.pairs.map((p) => ({ before: p.before, after: p.after, hop: p.hop, instruction: p.instruction, label: p.label })),
        scoreBins: sample.scoreBins,
        gapBins: sample.gapBins,
        zeroHop: sample.zeroHop,
      };
      context.report(result, () =>
        [
          `${episode.name}: ${sample.pairs.length} pairs (${sample.pairs.length - sample.zeroHop} non-zero, ${sample.zeroHop} zero-hop) ` +
            `over ${labels.frames.length} sample points, seed ${seed}`,
          `score bins (non-zero pairs, 25 bins over [-100%, 100%]): ${sample.scoreBins.join(' ')}`,
          'before  after  label     instruction',
          ...sample.pairs.slice(0, 20).map((p) => `${String(p.before).padStart(6)} ${String(p.after).padStart(6)}  ${p.label.padEnd(8)}  ${p.instruction}`),
          ...(sample.pairs.length > 20 ? [`... ${sample.pairs.length - 20} more (use --json for all)`] : []),
        ].join('\n'),
      );
    }),
  );
}
