/**
 * The reward model `serve` scores with, from the configuration: an ONNX GRM (reward.model, default
 * the shipped GRM-tiny) or a GRM behind an OpenAI-compatible server (reward.backend openai,
 * reward.openai.*). The task it is told: an adapted model's own references (instruction and goal
 * images from its demo); else, on the simulator, the task's instruction and the views at the end
 * of a clean scripted-expert episode; a lab arm without references is refused (no goal to show).
 */
import { existsSync } from 'node:fs';
import { describeValue, InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import type { RewardModel } from '../reward/model.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';
import { OpenAiRewardModel } from '../reward/openai-backend.js';
import { readReferences } from '../reward/task-references.js';
import { viewsOf } from '../policy/reward-model.js';
import { runExpertEpisode } from '../robot/sim/expert.js';
import { SimRobot } from '../robot/sim/robot.js';
import type { CameraRole } from '../robot/types.js';
import type { ServeReferences } from './serve-agent.js';

export interface ServeReward {
  model: RewardModel;
  references: ServeReferences;
  /** The model file or server URL. */
  where: string;
}

export async function openServeReward(config: Config, log: Logger): Promise<ServeReward> {
  const reward = config.reward;
  const crops: Partial<Record<CameraRole, readonly [number, number, number, number]>> = {};
  for (const view of config.cameras.views) if (view.crop) crops[view.role] = view.crop;
  let model: RewardModel;
  let where: string;
  let stored: ReturnType<typeof readReferences>;
  if (reward.backend === 'openai') {
    where = reward.openai.url;
    if (!/^https?:\/\//i.test(where)) throw new InputError('reward.openai.url', `expected an http(s) URL, got ${describeValue(where)}`);
    model = new OpenAiRewardModel({
      url: where,
      model: reward.openai.model,
      promptTemplate: reward.openai.promptTemplate,
      timeoutMs: reward.openai.timeoutMs,
      retries: reward.openai.retries,
      concurrency: reward.openai.concurrency,
      temperature: reward.openai.temperature,
      logger: log,
    });
  } else {
    where = reward.model ?? DEFAULT_GRM_TINY;
    if (!existsSync(where)) throw new InputError('reward.model', `expected an ONNX reward model file, got ${describeValue(where)} (no such file)`);
    stored = readReferences(where);
    model = await OnnxRewardModel.load(where, { executionProvider: config.engine.executionProvider, threads: config.engine.threads, crops, logger: log });
  }
  try {
    const references = stored
      ? { instruction: stored.info.instructions[0]!, goal: stored.goal, source: `task references of ${stored.dir}` }
      : await simulatorReferences(config);
    log.info(`reward model: ${model.name} (${where}); instruction "${references.instruction}"; goal: ${references.source}`);
    return { model, references, where };
  } catch (error) {
    await model.close();
    throw error;
  }
}

/** The task's instruction and the views after a clean scripted-expert episode on a world of its own. */
async function simulatorReferences(config: Config): Promise<ServeReferences> {
  if (config.robot.backend !== 'sim') {
    throw new InputError('reward.model', 'expected an adapted model with task references (`dopamine adapt <demo> --out m.onnx`) on a lab arm: its goal images come from the demo; got a model without references');
  }
  const robot = await SimRobot.create(config);
  try {
    const seed = config.robot.sim.seed;
    const run = runExpertEpisode(robot.world, { seed, noise: 0, expertSeed: seed });
    const goal = viewsOf(await robot.observe());
    const outcome = run.success ? 'succeeded' : 'did not succeed';
    return { instruction: robot.task.instructions[0]!, goal, source: `last views of a clean scripted-expert episode (seed ${seed}, ${outcome} after ${run.steps} steps)` };
  } finally {
    await robot.close();
  }
}
