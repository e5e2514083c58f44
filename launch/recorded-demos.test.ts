import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { createLogger } from '../common/log.js';
import { configSchema, type Config } from '../config/schema.js';
import type { EpisodeRecord, LogRecord } from '../policy/records.js';
import { RecordLog } from '../policy/run-store.js';
import { ScriptedExpert } from '../robot/sim/expert.js';
import { SimRobot } from '../robot/sim/robot.js';
import { EpisodeRecorder, readRecording, recordingPath } from './episode-recorder.js';
import { demoRecordings } from './recorded-demos.js';
import type { EpisodeSummary } from './run-loop.js';
import { startServing } from './serve.js';

const log = createLogger('test', process.env.DOPAMINE_LOG === undefined ? 'silent' : undefined);

function summary(episode: number, steps: number, success: boolean): EpisodeSummary {
  return {
    episode,
    outcome: success ? 'success' : 'time-limit',
    success,
    judgedBy: success ? 'env' : 'none',
    steps,
    durationS: steps / 10,
    finalProgress: null,
    shapedReturn: 0,
    interventionSteps: steps,
    envSuccess: success,
    startedAt: 0,
    endedAt: steps * 100,
  };
}

/** Episode 1: the scripted expert drives the simulator to success, as an operator's Take over would; episode 2: it stops after 5 steps. */
async function recordEpisodes(config: Config, folder: string): Promise<void> {
  const robot = await SimRobot.create(config);
  const recorder = new EpisodeRecorder({ folder, config, instruction: 'push the cube', log });
  try {
    for (const [episode, limit] of [[1, 400], [2, 5]] as const) {
      let observation = await robot.reset(episode);
      recorder.beginEpisode(episode, episode, observation);
      const expert = new ScriptedExpert(robot.world, { noise: 0, seed: episode });
      let steps = 0;
      let success = false;
      while (steps < limit && !success) {
        const command = expert.next();
        if (!command) break;
        const result = await robot.act(command);
        steps++;
        success = result.success === true;
        recorder.afterStep({ episode, step: steps, observation, proposed: command, origin: 'operator', applied: command, next: result.observation, success, timeLimit: false });
        observation = result.observation;
      }
      recorder.endEpisode(summary(episode, steps, success));
    }
  } finally {
    await recorder.close();
    await robot.close();
  }
}

describe('policy.demos lists recorded episodes', () => {
  it('serve starts from the successful recordings: encoded, scored and logged as demos, in the demo buffer', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dopamine-recorded-demos-'));
    const folder = join(root, 'recordings');
    const base = { robot: { controlHz: 10, episodeSeconds: 1.5 }, dashboard: { port: 0 } };
    await recordEpisodes(configSchema.parse(base), folder);
    const recording = await readRecording(recordingPath(folder, 1));
    expect(recording.end?.success).toBe(true);

    const runDir = join(root, 'run');
    const config = configSchema.parse({ ...base, policy: { runDir, batchSize: 32, demos: [folder] } });
    const serving = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: false });
    try {
      const demos = new RecordLog<LogRecord>(join(runDir, 'serve', 'episodes.log')).read().records.filter((r): r is EpisodeRecord => r.kind === 'demo');
      // The failed recording (episode 2) is not a demo.
      expect(demos.map((d) => d.source)).toEqual([recordingPath(folder, 1)]);
      const demo = demos[0]!;
      expect(demo.success).toBe(true);
      expect(demo.steps).toBe(recording.actions.length);
      expect(demo.rewards.every(Number.isFinite)).toBe(true);
      expect(new Set(demo.progress.map((p) => p.toFixed(3))).size).toBeGreaterThan(2); // the reward model scored the recorded frames
      const learner = serving.loop.snapshot().learner!;
      expect(learner.demoTransitions).toBe(demo.steps);
      expect(learner.episodes).toBe(0);
    } finally {
      await serving.shutdown('test done');
    }
  }, 180_000);

  it('names a path that holds no recordings, and an episode folder of videos', () => {
    const root = mkdtempSync(join(tmpdir(), 'dopamine-recorded-demos-'));
    const videos = join(root, 'episode_001');
    mkdirSync(videos);
    writeFileSync(join(videos, 'cam_high.mp4'), '');
    expect(() => demoRecordings([videos])).toThrow(/policy\.demos: .*episode_001: expected an MCAP recording with actions .*an episode folder of videos carries no actions/);
    expect(() => demoRecordings([join(root, 'missing.mcap')])).toThrow(/missing\.mcap: expected an MCAP recording .*got no such file/);
    expect(() => demoRecordings([join(videos, 'cam_high.mp4')])).toThrow(/cam_high\.mp4: expected an MCAP recording .*got another kind of file/);
  });
});
