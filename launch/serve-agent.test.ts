import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { InputError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import { configSchema, type Config } from '../config/schema.js';
import { waitFor } from '../dashboard/testing.js';
import { viewsOf } from '../policy/reward-model.js';
import type { EpisodeRecord, LogRecord } from '../policy/records.js';
import { RecordLog } from '../policy/run-store.js';
import { ProgressFusion } from '../reward/fusion.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { predictFusedStep } from '../reward/model.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';
import { SimRobot } from '../robot/sim/robot.js';
import { RecordingRobot } from '../robot/testing.js';
import type { ArmAction, Observation, StepResult } from '../robot/types.js';
import { readRecording, recordingPath } from './episode-recorder.js';
import type { ProgressPoint } from './run-loop.js';
import { openEpisode } from '../reward/open-episode.js';
import { startServing, type Serving } from './serve.js';
import { interpolateProgress, loopJudgement } from './serve-agent.js';
import { scoreEpisode, type CollectedEpisode } from '../policy/episode.js';
import { firstDone } from '../reward/completion.js';

const log = createLogger('test', process.env.DOPAMINE_LOG === undefined ? 'silent' : undefined);

/** Keeps every observation the simulator returns, per episode (index = RunLoop episode - 1), by step. */
class ObservingRobot extends RecordingRobot {
  readonly episodes: Observation[][] = [];
  override async reset(seed?: number): Promise<Observation> {
    const observation = await super.reset(seed);
    this.episodes.push([observation]);
    return observation;
  }
  override async act(action: ArmAction): Promise<StepResult> {
    const result = await super.act(action);
    this.episodes.at(-1)!.push(result.observation);
    return result;
  }
}

function serveConfig(runDir: string): Config {
  // Short episodes so that several end (and get learned from) within seconds.
  // At the control rate and without demos: these tests are about the loop, the model and the folder.
  return configSchema.parse({ robot: { controlHz: 10, episodeSeconds: 1.5, sim: { realtime: true } }, dashboard: { port: 0 }, policy: { runDir, batchSize: 32, demos: 0 } });
}

describe('serve on the simulator runs the RL loop with the reward model', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'dopamine-serve-rl-'));
  let serving: Serving;
  let observing: ObservingRobot;
  let recorded: RecordingRobot;
  const points: ProgressPoint[] = [];

  beforeAll(async () => {
    const config = serveConfig(runDir);
    observing = new ObservingRobot(await SimRobot.create(config));
    recorded = new RecordingRobot(observing);
    serving = await startServing(config, log, { robot: recorded, clock: systemClock, autoStart: true });
    serving.loop.onUpdate((update) => {
      if (update.type === 'progress') points.push(update.point);
    });
  }, 60_000);
  afterAll(async () => {
    await serving?.shutdown('tests done');
  });

  it('names the SAC policy and the reward model as its sources', () => {
    const { sources } = serving.loop.snapshot();
    expect(sources.actions).toMatch(/^SAC policy learning online/);
    expect(sources.progress).toMatch(/^fused progress from onnx .*grm-tiny\.onnx/);
    expect(sources.progress).not.toMatch(/stand-in/);
  });

  it('scores progress with the reward model, learns from rewarded transitions, and the e-stop still stops the arm', async () => {
    const agent = serving.agent!;
    await waitFor(() => (serving.loop.snapshot().learner?.updates ?? 0) >= 1 && (serving.loop.snapshot().learner?.episodes ?? 0) >= 2, 'two learned episodes and a learner update', 60_000);

    // The progress of a finished episode is the reward model's: replaying the same views through
    // GRM-tiny and the fusion gives the same values, step by step.
    const episode = 1;
    const shown = points.filter((p) => p.episode === episode).sort((a, b) => a.step - b.step);
    expect(shown.length).toBeGreaterThan(5);
    const observations = observing.episodes[episode - 1]!;
    const model = await OnnxRewardModel.load(DEFAULT_GRM_TINY, { executionProvider: 'cpu', logger: log });
    try {
      const fusion = new ProgressFusion(serving.config.reward.fusion);
      const start = viewsOf(observations[0]!);
      const task = { instruction: agent.references.instruction, start, goal: agent.references.goal };
      let previous = start;
      for (const point of shown) {
        const views = viewsOf(observations[point.step]!);
        const hops = await predictFusedStep(model, task, previous, views);
        const fused = fusion.step(hops);
        expect(point.hop).toBeCloseTo(hops.incremental, 4);
        expect(point.progress).toBeCloseTo(fused.progress, 4);
        previous = views;
      }
    } finally {
      await model.close();
    }
    // It changes with the scene (the arm moves under a random policy).
    expect(new Set(shown.map((p) => p.progress.toFixed(4))).size).toBeGreaterThan(2);

    // Transitions carry shaped rewards from that progress, and the log holds them durably.
    const logged = new RecordLog<LogRecord>(join(runDir, 'serve', 'episodes.log')).read().records.filter((r): r is EpisodeRecord => r.kind === 'episode');
    expect(logged.length).toBeGreaterThanOrEqual(2);
    const first = logged[0]!;
    expect(first.rewards).toHaveLength(first.steps);
    expect(first.progress).toHaveLength(first.steps + 1);
    expect(first.rewards.every(Number.isFinite)).toBe(true);
    expect(first.rewards.some((r) => r !== 0)).toBe(true);
    for (const point of shown) if (point.step < first.progress.length) expect(first.progress[point.step]).toBeCloseTo(point.progress, 6);
    // PBRS (time-limit cut, not terminal): r_t = gamma P(s_t+1) - P(s_t) while nothing succeeded.
    const gamma = serving.config.reward.shaping.gamma;
    if (!first.success) first.rewards.forEach((r, t) => expect(r).toBeCloseTo(gamma * first.progress[t + 1]! - first.progress[t]!, 6));
    expect(serving.loop.snapshot().learner!.updates).toBeGreaterThanOrEqual(1);
    // What the dashboard's learner panel shows: the recent losses and entropy, the update rate.
    await waitFor(() => serving.loop.snapshot().learner!.updatesPerSecond !== null, 'an update rate', 30_000);
    const learner = serving.loop.snapshot().learner!;
    expect(learner.updatesPerSecond!).toBeGreaterThan(0);
    expect(Number.isFinite(learner.recent!.criticLoss) && Number.isFinite(learner.recent!.entropy)).toBe(true);
    // The simulator's own predicate is reported with every episode, whoever judged it.
    expect(serving.loop.snapshot().episodes.every((e) => typeof e.envSuccess === 'boolean')).toBe(true);

    // The e-stop latches: robot.stop is called and no action reaches the arm until it is reset.
    await waitFor(() => serving.loop.snapshot().episode !== null, 'a running episode');
    await serving.loop.estop('test', 'test e-stop');
    expect(recorded.stopCalls).toHaveLength(1);
    const count = recorded.received.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(recorded.received.length).toBe(count);
    expect(serving.loop.snapshot().estopped).toBe(true);
    serving.loop.resetEstop('test');
    await waitFor(() => recorded.received.length > count, 'actions after the e-stop reset');
  }, 120_000);

  it('records every episode as MCAP in the run folder: the frames openEpisode (score, labels) reads, the actions with their source', async () => {
    const folder = join(runDir, 'serve', 'episodes');
    const logged = new RecordLog<LogRecord>(join(runDir, 'serve', 'episodes.log')).read().records.filter((r): r is EpisodeRecord => r.kind === 'episode');
    expect(logged.length).toBeGreaterThanOrEqual(2);
    for (const record of logged.slice(0, 2)) {
      const file = recordingPath(folder, record.seed); // serve logs each episode with its run-loop index as the seed
      await waitFor(() => existsSync(file), `the recording of episode ${record.seed}`, 30_000);
      const recording = await readRecording(file);
      const steps = recording.end!.steps;
      expect(steps).toBeGreaterThanOrEqual(record.steps); // the log may cut a success where the judge said done
      expect(recording.actions).toHaveLength(steps);
      expect(recording.actions.every((a) => a.origin === 'policy')).toBe(true);
      expect(recording.states).toHaveLength(steps + 1);
      const episode = await openEpisode(file, serving.config);
      try {
        expect(episode.frameCount).toBe(steps + 1);
        expect(episode.roles).toEqual(serving.config.cameras.views.map((v) => v.role));
        const frame = await episode.frame('front', steps);
        expect([frame.width, frame.height]).toEqual([serving.config.cameras.width, serving.config.cameras.height]);
      } finally {
        await episode.close();
      }
      // The dashboard's replay reads the same file.
      const headers = { authorization: `Bearer ${serving.dashboard.token}` };
      const replay = (await (await fetch(`${serving.dashboard.url}api/episodes/${record.seed}`, { headers })).json()) as { recording: { frames: number } | null };
      expect(replay.recording?.frames).toBe(steps + 1);
      const jpeg = await fetch(`${serving.dashboard.url}api/episodes/${record.seed}/frames/${steps}?view=front`, { headers });
      expect(jpeg.status).toBe(200);
      expect(jpeg.headers.get('content-type')).toBe('image/jpeg');
    }
  }, 60_000);
});

describe('serve on the simulator with its defaults: demos, then as fast as the simulator goes', () => {
  it('records the demos at the first start (a restart reuses them), starts from them, and does its updates before each action', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'dopamine-serve-demos-'));
    const config = configSchema.parse({ robot: { controlHz: 10, episodeSeconds: 1.5 }, dashboard: { port: 0 }, policy: { runDir, batchSize: 32, demos: 2 } });
    expect(config.robot.sim.realtime).toBe(false);
    const logFile = join(runDir, 'serve', 'episodes.log');
    const demosIn = () => new RecordLog<LogRecord>(logFile).read().records.filter((r): r is EpisodeRecord => r.kind === 'demo');
    const first = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: false });
    let demoTransitions: number;
    try {
      const demos = demosIn();
      expect(demos).toHaveLength(2);
      for (const demo of demos) {
        expect(demo.success).toBe(true);
        expect(demo.rewards.every(Number.isFinite)).toBe(true);
      }
      const status = first.loop.snapshot().learner!;
      demoTransitions = status.demoTransitions;
      expect(demoTransitions).toBe(demos.reduce((n, d) => n + d.steps, 0));
      expect(status.episodes).toBe(0); // demos are not the policy's episodes
      expect(first.loop.snapshot().paced).toBe(false);
      first.loop.start('test');
      await waitFor(() => first.loop.snapshot().rollouts >= 2, 'two episodes', 60_000);
      await waitFor(() => first.loop.snapshot().learner!.updates > 0, 'learner updates', 60_000);
      // Unpaced, the learner is never behind by more than one step's updates and drops none.
      const learner = first.loop.snapshot().learner!;
      expect(learner.owed).toBeLessThanOrEqual(config.policy.updatesPerStep);
      expect(learner.dropped).toBe(0);
      expect(first.loop.snapshot().deadlines.missed).toBe(0);
    } finally {
      await first.shutdown('test: first session done');
    }
    const second = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: false });
    try {
      expect(demosIn()).toHaveLength(2);
      expect(second.loop.snapshot().learner!.demoTransitions).toBe(demoTransitions);
    } finally {
      await second.shutdown('test done');
    }
  }, 180_000);
});

describe('serve learns from an intervention in an episode the judge cut short', () => {
  it('keeps only the intervention steps before the cut (the rest of the episode is not learned from)', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'dopamine-serve-cut-'));
    // Any progress is "done" after two scored steps: the run loop ends the episode when that answer
    // arrives, a few unpaced steps after the state it judged, and the learner cuts it there.
    const config = configSchema.parse({
      robot: { controlHz: 10, episodeSeconds: 3 },
      dashboard: { port: 0 },
      policy: { runDir, batchSize: 32, demos: 0 },
      reward: { shaping: { success: 'progress', successDelta: 1, successWindow: 2 } },
    });
    const serving = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: false });
    const feed = setInterval(() => serving.loop.teleop({ translation: [0, 0.05, 0], yaw: 0, gripper: 'open' }), 5);
    try {
      serving.loop.setIntervention(true, 'test');
      serving.loop.start('test');
      await waitFor(() => (serving.loop.snapshot().learner?.episodes ?? 0) + (serving.loop.snapshot().learner?.rejectedEpisodes ?? 0) >= 3, 'three finished episodes', 60_000);
      const learner = serving.loop.snapshot().learner!;
      expect(learner.lastError).toBeNull();
      expect(learner.rejectedEpisodes).toBe(0);
      const logged = new RecordLog<LogRecord>(join(runDir, 'serve', 'episodes.log')).read().records.filter((r): r is EpisodeRecord => r.kind === 'episode');
      const summaries = serving.loop.snapshot().episodes;
      // At least one episode was cut before its last step, and its operator steps all lie before the cut.
      expect(logged.some((r) => r.steps < summaries.find((e) => e.episode === r.seed)!.steps)).toBe(true);
      for (const r of logged) expect(r.interventionSteps!.every((t) => t < r.steps)).toBe(true);
      expect(learner.interventionTransitions).toBe(logged.reduce((n, r) => n + (r.interventionSteps?.length ?? 0), 0));
    } finally {
      clearInterval(feed);
      await serving.shutdown('test done');
    }
  }, 120_000);
});

describe('serve with reward.backend openai', () => {
  it('scores the views through the configured OpenAI-compatible server', async () => {
    const requests: { model: string; messages: unknown[] }[] = [];
    // A stand-in GRM server: every query answers a hop of +5%.
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        requests.push(JSON.parse(body) as (typeof requests)[number]);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: '<score>+5%</score>' } }] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const config = configSchema.parse({
      robot: { controlHz: 10, episodeSeconds: 1, sim: { realtime: true } },
      dashboard: { port: 0 },
      policy: { runDir: mkdtempSync(join(tmpdir(), 'dopamine-serve-openai-')), batchSize: 32, demos: 0 },
      reward: { backend: 'openai', openai: { url, model: 'test-grm' } },
    });
    const serving = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: true });
    const points: ProgressPoint[] = [];
    serving.loop.onUpdate((update) => {
      if (update.type === 'progress') points.push(update.point);
    });
    try {
      await waitFor(() => points.length >= 3, 'three scored steps', 30_000);
      expect(serving.loop.snapshot().sources.progress).toMatch(/^fused progress from openai/);
      expect(requests.length).toBeGreaterThanOrEqual(9); // three perspectives per scored state
      expect(requests.every((r) => r.model === 'test-grm')).toBe(true);
      for (const point of points) expect(point.hop).toBeCloseTo(0.05, 6);
      expect(points.at(-1)!.progress).toBeGreaterThan(0);
    } finally {
      await serving.shutdown('test done');
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);
});

describe('serve learner folder', () => {
  it('refuses a policy.runDir holding another kind of run', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'dopamine-serve-other-'));
    mkdirSync(join(runDir, 'serve'));
    writeFileSync(join(runDir, 'serve', 'episodes.log'), '');
    const config = serveConfig(runDir);
    const failure = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: false }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InputError);
    expect((failure as Error).message).toMatch(/policy\.runDir: .*without serve\.json/);
  }, 60_000);
});

describe('serve learner checkpoints', () => {
  it('shows a rejected checkpoint on the dashboard as an event, not only on stderr', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'dopamine-serve-ckpt-'));
    const config = serveConfig(runDir);
    // A good checkpoint of this serve run (the learner's own writer), then a newer corrupt copy.
    const first = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: false });
    await (first.agent as unknown as { learner: { checkpoint(): Promise<void> } }).learner.checkpoint();
    await first.shutdown('test: checkpoint written');
    const checkpoints = join(runDir, 'serve', 'checkpoints');
    cpSync(join(checkpoints, '000000000'), join(checkpoints, '000000001'), { recursive: true });
    writeFileSync(join(checkpoints, '000000001', 'learner.ckpt'), 'not a checkpoint');

    const serving = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: false });
    try {
      const rejected = serving.events.recent().filter((e) => e.kind === 'checkpoint');
      expect(rejected).toHaveLength(1);
      expect(rejected[0]!.detail).toMatch(/checkpoint .*000000001 rejected: learner\.ckpt: expected sha256 .*\(corrupt\); the learner resumed from an older one/);
    } finally {
      await serving.shutdown('test done');
    }
  }, 120_000);
});

/** A logger that keeps every line (scope and message) and prints nothing. */
function capturingLogger(lines: string[], scope = 'test'): Logger {
  const keep = (message: string): void => void lines.push(`[${scope}] ${message}`);
  return { debug: keep, info: keep, warn: keep, error: keep, child: (sub) => capturingLogger(lines, `${scope}:${sub}`) };
}

describe('serve resumes a run folder', () => {
  it('continues the episode numbering, rollouts and successes the folder recorded, and logs one line per episode', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'dopamine-serve-resume-'));
    const config = serveConfig(runDir);
    const lines: string[] = [];
    const first = await startServing(config, capturingLogger(lines), { robot: await SimRobot.create(config), clock: systemClock, autoStart: true });
    try {
      await waitFor(() => first.loop.snapshot().rollouts >= 2, 'two judged episodes', 60_000);
    } finally {
      await first.shutdown('test: first session done');
    }
    const before = first.loop.snapshot();
    // Episodes with steps are logged (the one the shutdown e-stopped too); the next one follows the last.
    const lastIndex = Math.max(...before.episodes.filter((e) => e.steps > 0).map((e) => e.episode));
    const successes = before.episodes.filter((e) => e.outcome === 'success').length;
    expect(before.rollouts).toBeGreaterThanOrEqual(2);

    // Who judges success is said once at the start: on the simulator, its predicate while the model's audits fall short.
    expect(lines.filter((line) => line.startsWith('[test] success: '))).toEqual([expect.stringMatching(/^\[test\] success: the simulator's predicate .*not the reward model's judgement/)]);
    expect(before.episodes.every((e) => e.judgedBy !== 'progress')).toBe(true);
    // One line per finished episode on the log, as `dopamine rl` logs its rollouts.
    const episodeLines = lines.filter((line) => line.startsWith('[test:episode] '));
    expect(episodeLines.length).toBe(before.episodes.length);
    const judged = before.episodes[0]!;
    expect(['time-limit', 'success']).toContain(judged.outcome);
    expect(episodeLines[0]).toMatch(
      new RegExp(`^\\[test:episode\\] episode 1: ${judged.outcome} after ${judged.steps} steps, final progress \\d\\.\\d\\d, shaped return -?\\d+\\.\\d{3}; success \\d+% of 1 rollouts; learner: \\d+ updates, \\d+ episodes learned$`),
    );

    const second = await startServing(config, log, { robot: await SimRobot.create(config), clock: systemClock, autoStart: true });
    try {
      const resumed = second.loop.snapshot();
      expect(resumed.rollouts).toBe(before.rollouts);
      expect(resumed.successRate).toBeCloseTo(successes / before.rollouts, 12);
      expect(resumed.learner!.episodes).toBeGreaterThanOrEqual(before.rollouts);
      // The charts continue: every logged episode of the first session is in the run's history.
      const logged = before.episodes.filter((e) => e.steps > 0);
      expect(resumed.history.map((h) => [h.episode, h.outcome, h.steps])).toEqual(logged.map((e) => [e.episode, e.outcome === 'failure' ? 'stopped' : e.outcome, e.steps]));
      await waitFor(() => second.loop.snapshot().episodes.length >= 1, 'an episode of the second session', 60_000);
      const next = second.loop.snapshot();
      expect(next.episodes[0]!.episode).toBe(lastIndex + 1);
      expect(next.rollouts).toBe(before.rollouts + (['success', 'failure', 'time-limit'].includes(next.episodes[0]!.outcome) ? 1 : 0));
    } finally {
      await second.shutdown('test done');
    }
  }, 180_000);
});

describe('interpolateProgress', () => {
  it('keeps scored steps and fills the steps between linearly', () => {
    const progress = interpolateProgress(new Map([[0, 0], [2, 0.4], [5, 0.1]]), 5);
    expect(progress).toHaveLength(6);
    [0, 0.2, 0.4, 0.3, 0.2, 0.1].forEach((expected, t) => expect(progress[t]).toBeCloseTo(expected, 12));
  });
  it('refuses progress without the first or last state', () => {
    expect(() => interpolateProgress(new Map([[0, 0], [3, 0.5]]), 4)).toThrow(/steps 0 and 4/);
  });
});

describe('loopJudgement: serve learns from the run loop\'s completion judgement (issue 31)', () => {
  const shaping = { mode: 'sparse', gamma: 0.9, successDelta: 0.05, successWindow: 3, success: 'progress', terminalPotential: 0, successPotential: 1 } as const;
  // Scored every 4th step: 0.96 at steps 4 and 8 only (two scored steps), the steps between interpolated.
  const progress = interpolateProgress(new Map([[0, 0], [4, 0.96], [8, 0.96], [12, 0.5]]), 12);
  const episode = (judgedDoneAt: number | null): CollectedEpisode => ({
    seed: 1, observations: progress.map(() => Float32Array.of(0)), actions: progress.slice(1).map(() => Float32Array.of(0)), envSuccess: progress.slice(1).map(() => false),
    end: judgedDoneAt === null ? 'time-limit' : 'success', progress: Promise.resolve(progress), judgedDoneAt,
  });

  it('two scored steps at 0.96 are no success, though the interpolated curve holds 5 control steps', async () => {
    expect(firstDone(progress, { threshold: 0.95, window: 3 })).toBe(6); // judging the interpolation would say done
    const summary = { outcome: 'time-limit', judgedBy: 'none', steps: 12 } as const;
    expect(loopJudgement(summary)).toBeNull();
    const scored = await scoreEpisode(episode(loopJudgement(summary)), shaping);
    expect(scored).toMatchObject({ success: false, end: 'time-limit', terminal: false });
    expect(scored.rewards.every((r) => r === 0)).toBe(true);
  });

  it('a loop success is cut at the step the judge said done; an operator mark at the last step', async () => {
    expect(loopJudgement({ outcome: 'success', judgedBy: 'progress', steps: 12, doneAtStep: 8 })).toBe(8);
    expect(loopJudgement({ outcome: 'success', judgedBy: 'operator', steps: 12 })).toBe(12);
    expect(loopJudgement({ outcome: 'failure', judgedBy: 'operator', steps: 12 })).toBeNull();
    const scored = await scoreEpisode(episode(8), shaping);
    expect(scored).toMatchObject({ success: true, end: 'success', terminal: true });
    expect(scored.actions).toHaveLength(8);
    expect(scored.rewards.at(-1)).toBe(1);
  });
});
