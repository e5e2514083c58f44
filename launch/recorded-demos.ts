/**
 * Demos for `serve` from recorded episodes (issue 33): `policy.demos` lists MCAP recordings (or
 * folders of them, such as another run's `serve/episodes/`), as serve writes every episode
 * (launch/episode-recorder.ts). A lab records its demos by driving the arm with Take over, a
 * gamepad or a SpaceMouse for whole episodes. Each successful recording becomes a demo record:
 * its frames through the policy's encoder with the recorded arm state, the actions as they reached
 * the arm, and progress scored by the reward model, exactly as the simulator's scripted demos are.
 * Episode folders of videos carry no actions, so they cannot be demos: they are refused by name.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../common/errors.js';
import { createLogger, type Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { actionToVector } from '../policy/environment.js';
import { scoreEpisode, type CollectedEpisode, type ShapingSettings } from '../policy/episode.js';
import type { ObservationEncoder } from '../policy/observation.js';
import { toRecord, type EpisodeRecord } from '../policy/records.js';
import { ProgressQueue, type RewardScorer } from '../policy/scorer.js';
import { isMcapPath } from '../reward/episode-mcap.js';
import { openEpisode } from '../reward/open-episode.js';
import type { CameraFrame, Observation } from '../robot/types.js';
import { readRecording } from './episode-recorder.js';

export interface RecordedDemoOptions {
  /** policy.demos: MCAP recordings and folders of them. */
  paths: readonly string[];
  config: Config;
  encoder: ObservationEncoder;
  scorer: RewardScorer;
  shaping: ShapingSettings;
  /** Each demo as soon as it is scored (the caller logs it durably). */
  onDemo: (record: EpisodeRecord) => void;
  log: Logger;
}

/** The recordings a policy.demos list names, in order; a path that is none is refused by name. */
export function demoRecordings(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    const expected = 'expected an MCAP recording with actions (as serve records every episode) or a folder of them';
    if (!existsSync(path)) throw new InputError(`policy.demos: ${path}`, `${expected}, got no such file`);
    if (statSync(path).isFile()) {
      if (!isMcapPath(path)) throw new InputError(`policy.demos: ${path}`, `${expected}, got another kind of file`);
      files.push(path);
      continue;
    }
    const inside = readdirSync(path).filter(isMcapPath).sort();
    if (inside.length === 0) {
      throw new InputError(`policy.demos: ${path}`, `${expected}, got a folder without .mcap files (an episode folder of videos carries no actions)`);
    }
    files.push(...inside.map((name) => join(path, name)));
  }
  return files;
}

/** Reads, encodes and scores the successful recordings as demo records. */
export async function loadRecordedDemos(options: RecordedDemoOptions): Promise<EpisodeRecord[]> {
  const { config, log } = options;
  const limits = { maxStepM: config.safety.maxStepM, maxYawStepRad: config.safety.maxYawStepRad };
  const size = { width: config.cameras.width, height: config.cameras.height };
  const demos: EpisodeRecord[] = [];
  const started = performance.now();
  for (const file of demoRecordings(options.paths)) {
    const recording = await readRecording(file);
    if (recording.end?.success !== true) {
      log.warn(`policy.demos: ${file} is not a success (${recording.end ? `outcome ${recording.end.outcome}` : 'the run stopped in it'}): not used as a demo`);
      continue;
    }
    const steps = recording.actions.length;
    if (recording.states.length !== steps + 1) {
      throw new InputError(file, `expected one recorded state per frame (${steps + 1} for ${steps} actions), got ${recording.states.length}`);
    }
    // Serve's recordings have no sub-tasks: one over the whole episode is right, not worth a warning per demo.
    const episode = await openEpisode(file, config, { size, log: createLogger('episode', 'error') });
    try {
      if (episode.frameCount !== steps + 1) throw new InputError(file, `expected ${steps + 1} camera frames for ${steps} actions, got ${episode.frameCount}`);
      const queue = new ProgressQueue(options.scorer.beginEpisode());
      const observations: Float32Array[] = [];
      for (let k = 0; k <= steps; k++) {
        const frames: CameraFrame[] = [];
        for (const view of config.cameras.views) {
          const image = await episode.frame(view.role, k);
          frames.push({ role: view.role, camera: view.name, width: image.width, height: image.height, rgb: image.rgb, stampMs: k });
        }
        const s = recording.states[k]!;
        const observation: Observation = { state: { eePosition: s.eePosition, eeYaw: s.eeYaw, gripperOpening: s.gripperOpening, jointPositions: s.jointPositions, stampMs: k }, frames };
        queue.push({ observation });
        observations.push(await options.encoder.encode({ observation }));
      }
      const collected: CollectedEpisode = {
        seed: recording.seed ?? 0,
        observations,
        actions: recording.actions.map((a) => actionToVector(a.applied, limits)),
        envSuccess: recording.actions.map((_, t) => t === steps - 1),
        end: 'success',
        progress: queue.all(),
      };
      // The recording's success stands as judged when it was recorded (by the operator or the environment).
      const scored = await scoreEpisode(collected, { ...options.shaping, success: 'env' });
      const record: EpisodeRecord = { ...toRecord('demo', demos.length, scored, 0.8), source: file };
      options.onDemo(record);
      demos.push(record);
    } finally {
      await episode.close();
    }
  }
  if (demos.length === 0) throw new InputError('policy.demos', `expected at least one successful recording among ${options.paths.join(', ')}, got none`);
  log.info(`demos: ${demos.length} recorded episodes read, encoded and scored (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  return demos;
}
