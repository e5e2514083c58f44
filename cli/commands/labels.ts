import type { Command } from 'commander';
import { action, withCommonOptions } from '../command.js';
import { episodeLabels, type LabelFlags } from '../episode-options.js';

export function registerLabels(program: Command): void {
  const command = program
    .command('labels')
    .description('step-wise progress labels of an episode: sample-point frame ids and their ground-truth progress')
    .argument('<episode-dir>', 'an episode_* folder, or a root holding exactly one')
    .option('--sample-factor <k>', 'raw frames per sample point (default: reward.labels.sampleFactor, 20)')
    .option('--rounding <mode>', 'points per sub-task: reference (round, as the reference code) or floor (the paper)');
  withCommonOptions(command).action(
    action('labels', async (context, dir: string, flags: LabelFlags) => {
      const { episode, labels } = await episodeLabels(dir, context.config, flags, context.log);
      await episode.close();
      const result = { frames: labels.frames, progress: labels.progress, subtasks: labels.subtasks };
      context.report(result, () =>
        [
          `${episode.name}: ${episode.frameCount} frames at ${episode.fps} fps, ${labels.subtasks} sub-tasks, ` +
            `${labels.pointsPerSubtask} intervals per sub-task, ${labels.frames.length} sample points`,
          'frame  progress',
          ...labels.frames.map((frame, i) => `${String(frame).padStart(5)}  ${labels.progress[i]!.toFixed(4)}`),
        ].join('\n'),
      );
    }),
  );
}
