/** Success rate of the scripted expert over seeded episodes, without cameras (fast). */
import type { Config } from '../../config/schema.js';
import { runExpertEpisode } from './expert.js';
import { episodeSeed, expertSeed } from './record.js';
import { SimRobot } from './robot.js';

export interface ExpertReport {
  task: string;
  episodes: number;
  noise: number;
  seed: number;
  successes: number;
  successRate: number;
  meanSteps: number;
  /** Per episode: its seed, success and control steps. */
  results: Array<{ seed: number; success: boolean; steps: number }>;
}

export async function evaluateExpert(config: Config, options: { task: string; episodes: number; noise: number; seed: number }): Promise<ExpertReport> {
  const robot = await SimRobot.create(config, { task: options.task, render: false });
  try {
    const results = [];
    for (let i = 0; i < options.episodes; i++) {
      const seed = episodeSeed(options.seed, i);
      const episode = runExpertEpisode(robot.world, { seed, noise: options.noise, expertSeed: expertSeed(seed), stepLimit: robot.stepLimit });
      results.push({ seed, success: episode.success, steps: episode.steps });
    }
    const successes = results.filter((r) => r.success).length;
    return {
      task: options.task,
      episodes: options.episodes,
      noise: options.noise,
      seed: options.seed,
      successes,
      successRate: successes / options.episodes,
      meanSteps: results.reduce((sum, r) => sum + r.steps, 0) / options.episodes,
      results,
    };
  } finally {
    await robot.close();
  }
}
