import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { describeValue, InputError } from '../../common/errors.js';
import type { ViewSet } from '../../perception/images.js';
import type { Logger } from '../../common/log.js';
import type { Config } from '../../config/schema.js';
import { completionRule } from '../../reward/completion.js';
import { checkEpisodePath, mcapFileOf, openEpisode } from '../../reward/open-episode.js';
import { DEFAULT_GRM_TINY } from '../../reward/grm-tiny/paths.js';
import type { TaskReferences } from '../../reward/model.js';
import { OnnxRewardModel } from '../../reward/onnx-backend.js';
import { OpenAiRewardModel } from '../../reward/openai-backend.js';
import { writePlot } from '../../reward/plot.js';
import { episodeViews, SCORE_MODES, scoreFrames, strideFrames, type ScoreMode } from '../../reward/scoring.js';
import { decodeImage, readReferences } from '../../reward/task-references.js';
import { action, withCommonOptions } from '../command.js';
import { parseIntegerFlag } from '../episode-options.js';
import { isUrl, openEpisodeFor, openRewardModel } from '../reward-model.js';

interface ScoreFlags {
  model?: string;
  mode?: string;
  stride?: string;
  goal?: string;
  plot?: string;
}

/** A goal given with --goal: an image file (front view, repeated in the wrist slots) or an episode's (folder or MCAP) last frame. */
function checkGoalPath(value: string): void {
  if (!existsSync(value)) throw new InputError('--goal', `expected an image file, an episode folder or an .mcap file, got ${describeValue(value)} (no such path)`);
}

async function goalFromFlag(value: string, config: Config, log: Logger): Promise<{ views: ViewSet; source: string }> {
  checkGoalPath(value);
  if (statSync(value).isDirectory() || mcapFileOf(value) !== undefined) {
    const goalEpisode = await openEpisode(value, config, { log });
    try {
      const views = await episodeViews(goalEpisode, goalEpisode.frameCount - 1);
      return { views, source: `last frame of ${value}` };
    } finally {
      await goalEpisode.close();
    }
  }
  const bytes = new Uint8Array(readFileSync(value));
  await decodeImage(bytes, '--goal');
  return { views: { front: bytes }, source: `image ${value}` };
}

export function registerScore(program: Command): void {
  const command = program
    .command('score')
    .description('score a recorded episode with a reward model: per-step hop and progress, VOC, completion class')
    .argument('<episode-dir>', 'an episode_* folder, a root holding exactly one, or a ROS 2 MCAP file (.mcap or a rosbag2 folder)')
    .option('--model <model>', `an .onnx reward model or the http(s) URL of an OpenAI-compatible GRM server (default ${DEFAULT_GRM_TINY})`)
    .option('--mode <mode>', `progress estimate: ${SCORE_MODES.join(', ')} (default fused)`)
    .option('--stride <n>', 'score every n-th frame (default: about 3 frames per second of video)')
    .option('--goal <image|episode-dir|file.mcap>', "goal reference (default: the adapted model's references, else the episode's last frame)")
    .option('--plot <file.png>', 'also draw the progress and hop curves as a PNG');
  withCommonOptions(command).action(
    action('score', async (context, dir: string, flags: ScoreFlags) => {
      const { config, log } = context;
      const modelName = flags.model ?? config.reward.model ?? DEFAULT_GRM_TINY;
      const mode = (flags.mode ?? 'fused') as ScoreMode;
      if (!SCORE_MODES.includes(mode)) throw new InputError('--mode', `expected one of ${SCORE_MODES.join(', ')}, got ${describeValue(flags.mode)}`);
      if (flags.plot !== undefined && !flags.plot.toLowerCase().endsWith('.png')) throw new InputError('--plot', `expected a .png file name, got ${describeValue(flags.plot)}`);
      // Every argument is checked before the model loads and the video is probed (the stride's
      // upper bound, the episode's last frame, is checked once the episode is open).
      parseIntegerFlag('--stride', flags.stride, 1, 1);
      checkEpisodePath(dir);
      if (flags.goal !== undefined) checkGoalPath(flags.goal);
      const model = await openRewardModel(modelName, config, log);
      const size = model instanceof OnnxRewardModel ? model.contract : undefined;
      let episode: Awaited<ReturnType<typeof openEpisodeFor>>;
      try {
        episode = await openEpisodeFor(dir, config, log, size);
      } catch (error) {
        await model.close();
        throw error;
      }
      try {
        const stride = parseIntegerFlag('--stride', flags.stride, Math.max(1, Math.round(episode.fps / 3)), 1, episode.frameCount - 1);
        const stored = isUrl(modelName) ? undefined : readReferences(modelName);
        let goal: { views: ViewSet; source: string };
        if (flags.goal !== undefined) goal = await goalFromFlag(flags.goal, config, log);
        else if (stored) goal = { views: stored.goal, source: `adapted model references ${stored.dir}` };
        else goal = { views: await episodeViews(episode, episode.frameCount - 1), source: `last frame of the episode (${episode.frameCount - 1})` };
        const task: TaskReferences = {
          instruction: stored?.info.instructions[0] ?? episode.instructions[0]!,
          // START is the judged episode's own first frame (reference practice); the references give goal and instruction.
          start: await episodeViews(episode, 0),
          goal: goal.views,
        };
        const frames = strideFrames(episode.frameCount, stride);
        log.info(`${episode.name}: scoring ${frames.length} frames (stride ${stride}) in ${mode} mode with ${model.name}; goal: ${goal.source}`);
        const rule = completionRule(config.reward.shaping.successDelta, config.reward.shaping.successWindow);
        const score = await scoreFrames(model, episode, task, frames, { mode, fusion: config.reward.fusion, completion: rule });
        const round = (x: number): number => Math.round(x * 10_000) / 10_000;
        const result = {
          episode: episode.name,
          model: modelName,
          mode,
          stride,
          goal: goal.source,
          start: 'first frame of the episode',
          instruction: task.instruction,
          steps: score.steps.map((s) => ({ frame: s.frame, hop: round(s.hop), progress: round(s.progress) })),
          voc: round(score.voc),
          completion: score.completion,
          // How `completion` was judged (reward.shaping.successDelta and successWindow), and the paper's Eq. 58 class.
          completionRule: { threshold: round(rule.threshold), window: rule.window },
          completionPaper: score.completionPaper,
          ...(score.perspectiveVoc ? { perspectiveVoc: { incremental: round(score.perspectiveVoc.incremental), forward: round(score.perspectiveVoc.forward), backward: round(score.perspectiveVoc.backward) } } : {}),
          ...(model instanceof OpenAiRewardModel ? { metrics: model.metrics } : {}),
          ...(flags.plot ? { plot: flags.plot } : {}),
        };
        if (flags.plot) await writePlot(flags.plot, score.steps, `${episode.name}: ${mode} progress (VOC ${result.voc}, ${score.completion})`);
        context.report(result, () =>
          [
            `${episode.name}: ${mode} progress, VOC ${result.voc}, completion ${score.completion} (progress >= ${round(rule.threshold)} over ${rule.window} scored steps; Eq. 58: ${score.completionPaper}); goal: ${goal.source}`,
            ' frame      hop  progress',
            ...result.steps.map((s) => `${String(s.frame).padStart(6)} ${s.hop.toFixed(4).padStart(8)} ${s.progress.toFixed(4).padStart(9)}`),
          ].join('\n'),
        );
      } finally {
        await model.close();
        await episode.close();
      }
    }),
  );
}
