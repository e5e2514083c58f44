/** Opening a reward model from a `--model` value (an .onnx file or an http(s) URL) and the configuration. */
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import type { Episode } from '../reward/episode.js';
import { openEpisodeFolder } from '../reward/episode-folder.js';
import type { RewardModel } from '../reward/model.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';
import { OpenAiRewardModel } from '../reward/openai-backend.js';

export function isUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/**
 * Opens an episode for scoring or adaptation. For ONNX models each camera is decoded forward, at
 * twice the model's input size (ffmpeg scaling after the configured crop), reading on instead of
 * seeking and keeping every frame cached, so a pass over the episode costs about one ffmpeg run
 * per camera; for a server model, frames keep their source size.
 */
export async function openEpisodeFor(dir: string, config: Config, log: Logger, modelSize: { width: number; height: number } | undefined): Promise<Episode> {
  if (!modelSize) return openEpisodeFolder(dir, { views: config.cameras.views, log });
  return openEpisodeFolder(dir, {
    views: config.cameras.views,
    log,
    size: { width: 2 * modelSize.width, height: 2 * modelSize.height },
    // Forward jumps of any length read on (no seeking); every decoded frame stays cached.
    seekThreshold: 1_000_000,
    cacheBytes: 2 * 1024 ** 3,
  });
}

/** Opens a reward model. Crops are not applied here: episodes opened with openEpisodeFor are already cropped. */
export async function openRewardModel(model: string, config: Config, log: Logger): Promise<RewardModel> {
  if (isUrl(model)) {
    const openai = config.reward.openai;
    return new OpenAiRewardModel({
      url: model,
      model: openai.model,
      promptTemplate: openai.promptTemplate,
      timeoutMs: openai.timeoutMs,
      retries: openai.retries,
      concurrency: openai.concurrency,
      temperature: openai.temperature,
      logger: log,
    });
  }
  return OnnxRewardModel.load(model, {
    executionProvider: config.engine.executionProvider,
    threads: config.engine.threads,
    logger: log,
  });
}
