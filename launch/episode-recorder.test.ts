import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import { openEpisode } from '../reward/open-episode.js';
import type { ArmAction, CameraRole, Observation } from '../robot/types.js';
import { EpisodeRecorder, readRecording, recordingPath } from './episode-recorder.js';
import type { EpisodeSummary } from './run-loop.js';
import type { StepRecord } from './sources.js';

const config = configSchema.parse({});
const ROLES: [CameraRole, string][] = [
  ['front', 'cam_high'],
  ['left_wrist', 'cam_left_wrist'],
  ['right_wrist', 'cam_right_wrist'],
];

function warnings(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (m: string): void => void lines.push(m);
  const log = { debug: () => {}, info: () => {}, warn: push, error: push, child: () => log } as unknown as Logger;
  return { log, lines };
}

/** A flat colour per view that changes with the step, so a frame read back shows which one it is. */
function observation(step: number): Observation {
  const frames = ROLES.map(([role, camera], v) => {
    const rgb = new Uint8Array(64 * 48 * 3);
    for (let p = 0; p < 64 * 48; p++) rgb.set([20 * step, 60 + 60 * v, 200 - 20 * step], p * 3);
    return { role, camera, width: 64, height: 48, rgb, stampMs: 1000 + 100 * step };
  });
  const state = { eePosition: [0.4 + 0.01 * step, 0, 0.2] as [number, number, number], eeYaw: 0.1 * step, gripperOpening: 1, jointPositions: [0.1 * step, 0.2], stampMs: 1000 + 100 * step };
  return { state, frames };
}

const action = (dx: number): ArmAction => ({ dx, dy: 0, dz: 0, dyaw: 0, gripper: 1 });

function step(episode: number, k: number, origin: StepRecord['origin']): StepRecord {
  return { episode, step: k, observation: observation(k - 1), proposed: action(0.02), origin, applied: action(0.01), next: observation(k), timeLimit: false };
}

function summary(episode: number, steps: number): EpisodeSummary {
  return {
    episode,
    outcome: 'success',
    success: true,
    judgedBy: 'env',
    steps,
    durationS: 1,
    finalProgress: 0.9,
    shapedReturn: 0.5,
    interventionSteps: 2,
    envSuccess: true,
    startedAt: 0,
    endedAt: 1000,
  };
}

describe('EpisodeRecorder', () => {
  it('writes one MCAP per episode that openEpisode reads frame by frame and readRecording reads step by step', async () => {
    const folder = join(mkdtempSync(join(tmpdir(), 'dopamine-recorder-')), 'episodes');
    const recorder = new EpisodeRecorder({ folder, config, instruction: 'push the cube', log: warnings().log });
    recorder.beginEpisode(3, 42, observation(0));
    const origins: StepRecord['origin'][] = ['policy', 'operator', 'operator', 'hold'];
    origins.forEach((origin, i) => recorder.afterStep(step(3, i + 1, origin)));
    recorder.progress({ episode: 3, step: 2, progress: 0.4, hop: 0.2, reward: 0.1, latencyMs: 5 });
    recorder.progress({ episode: 4, step: 1, progress: 0.9, hop: 0.2, reward: 0.1, latencyMs: 5 }); // another episode's: dropped
    recorder.endEpisode(summary(3, 4));
    await recorder.close();

    const file = recordingPath(folder, 3);
    expect(readdirSync(folder)).toEqual(['episode-000003.mcap']);
    const episode = await openEpisode(file, config);
    try {
      expect(episode.frameCount).toBe(5);
      expect(episode.roles).toEqual(['front', 'left_wrist', 'right_wrist']);
      expect(episode.instructions).toEqual(['push the cube']);
      const frame = await episode.frame('left_wrist', 3);
      // JPEG is lossy: the flat colour comes back within a few levels.
      expect(Math.abs(frame.rgb[0]! - 60)).toBeLessThan(6);
      expect(Math.abs(frame.rgb[1]! - 120)).toBeLessThan(6);
      expect(Math.abs(frame.rgb[2]! - 140)).toBeLessThan(6);
    } finally {
      await episode.close();
    }
    const recorded = await readRecording(file);
    expect(recorded.seed).toBe(42);
    expect(recorded.states.map((s) => s.frame)).toEqual([0, 1, 2, 3, 4]);
    expect(recorded.states[4]!.eePosition[0]).toBeCloseTo(0.44, 6);
    expect(recorded.actions.map((a) => a.origin)).toEqual(origins);
    expect(recorded.actions[0]!.applied.dx).toBeCloseTo(0.01, 9);
    expect(recorded.actions[0]!.proposed.dx).toBeCloseTo(0.02, 9);
    expect(recorded.progress).toEqual([{ step: 2, progress: 0.4, hop: 0.2, reward: 0.1, latencyMs: 5 }]);
    expect(recorded.end).toMatchObject({ outcome: 'success', judgedBy: 'env', steps: 4, interventionSteps: 2, envSuccess: true });
  });

  it('leaves only a .partial for an episode being written, and closes one the run stopped in without an end marker', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dopamine-recorder-'));
    const recorder = new EpisodeRecorder({ folder, config, instruction: 'push the cube', log: warnings().log });
    recorder.beginEpisode(1, 2, observation(0));
    recorder.afterStep(step(1, 1, 'policy'));
    await recorder.flushed();
    expect(readdirSync(folder)).toEqual(['episode-000001.mcap.partial']);
    await recorder.close();
    expect(readdirSync(folder)).toEqual(['episode-000001.mcap']);
    const recorded = await readRecording(recordingPath(folder, 1));
    expect(recorded.end).toBeNull();
    expect(recorded.actions).toHaveLength(1);
  });

  it('a recording that cannot be written is dropped with one warning; the next episode is recorded again', async () => {
    const root = mkdtempSync(join(tmpdir(), 'dopamine-recorder-'));
    const folder = join(root, 'episodes');
    const { log, lines } = warnings();
    const recorder = new EpisodeRecorder({ folder, config, instruction: 'push the cube', log });
    rmSync(folder, { recursive: true });
    writeFileSync(folder, 'not a folder'); // every file under it fails to open (ENOTDIR)
    recorder.beginEpisode(1, 2, observation(0));
    recorder.afterStep(step(1, 1, 'policy'));
    recorder.endEpisode(summary(1, 1));
    await recorder.flushed();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/episode 1: could not start .*episode-000001\.mcap/);
    rmSync(folder);
    mkdirSync(folder);
    recorder.beginEpisode(2, 3, observation(0));
    recorder.endEpisode(summary(2, 0));
    await recorder.close();
    expect(existsSync(recordingPath(folder, 2))).toBe(true);
    expect(lines).toHaveLength(1);
  });

  it('readRecording names a file without the recorder\'s channels', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dopamine-recorder-'));
    const file = join(folder, 'x.mcap');
    writeFileSync(file, 'not mcap');
    await expect(readRecording(file)).rejects.toThrow(/x\.mcap: expected a complete MCAP recording/);
  });
});
