/** `dopamine rl` records each demo attempt and training episode as MCAP that the episode tools read back. */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/testing.js';
import { loadConfig } from '../config/load.js';
import type { EpisodeRecord, LogRecord } from '../policy/records.js';
import { RecordLog } from '../policy/run-store.js';
import { openEpisode } from '../reward/open-episode.js';
import { readRecording, recordingPath } from './episode-recorder.js';

const dir = mkdtempSync(join(tmpdir(), 'rl-recording-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const configFile = join(dir, 'cpu.yaml');
writeFileSync(configFile, 'engine:\n  executionProvider: cpu\n  threads: 1\n');
const tiny = ['--task', 'pick-place', '--reward', 'privileged', '--success', 'env', '--demos', '1', '--hidden', '32,32', '--batch-size', '32', '--eval-every', '100', '--eval-episodes', '1', '--final-eval-episodes', '1', '--max-steps', '60', '--bc-steps', '5', '--critic-warmup-steps', '5'];

describe('dopamine rl recordings', () => {
  it('writes one MCAP per training episode and per demo attempt, with camera frames, actions by source and the scored progress', async () => {
    const runDir = join(dir, 'run');
    const run = runCli(['rl', '--config', configFile, ...tiny, '--observation', 'features', '--rollouts', '1', '--run-dir', runDir], { timeoutMs: 120_000 });
    expect(run.code, run.stderr).toBe(0);
    const logged = new RecordLog<LogRecord>(join(runDir, 'episodes.log')).read().records.filter((r): r is EpisodeRecord => r.kind === 'episode' || r.kind === 'demo');
    const episode = logged.find((r) => r.kind === 'episode')!;

    const file = recordingPath(join(runDir, 'episodes'), 0);
    expect(readdirSync(join(runDir, 'episodes'))).toEqual(['episode-000000.mcap']);
    const recorded = await readRecording(file);
    expect(recorded.seed).toBe(episode.seed);
    expect(recorded.end).toMatchObject({ episode: 0, steps: episode.steps, success: episode.success });
    expect(recorded.states).toHaveLength(episode.steps + 1);
    expect(recorded.actions).toHaveLength(episode.steps);
    expect(new Set(recorded.actions.map((a) => a.origin))).toEqual(new Set(['policy']));
    // The progress the learner got, state by state, and the reward of the step into each state.
    expect(recorded.progress.map((p) => p.progress)).toEqual(episode.progress);
    expect(recorded.progress.slice(1).map((p) => p.reward)).toEqual(episode.rewards);
    const opened = await openEpisode(file, loadConfig(configFile));
    try {
      expect(opened.frameCount).toBe(episode.steps + 1);
      expect(opened.roles).toEqual(['front', 'left_wrist', 'right_wrist']);
      const frame = await opened.frame('front', episode.steps);
      expect([frame.width, frame.height]).toEqual([128, 96]);
    } finally {
      await opened.close();
    }

    // Every expert attempt, the successful one (the demo the learner got) among them, its actions tagged demo.
    const demo = logged.find((r) => r.kind === 'demo')!;
    const attempts = readdirSync(join(runDir, 'demos'));
    expect(attempts).toContain(`episode-${String(demo.attempt).padStart(6, '0')}.mcap`);
    const demoRecording = await readRecording(recordingPath(join(runDir, 'demos'), demo.attempt!));
    expect(demoRecording.end).toMatchObject({ outcome: 'success', judgedBy: 'env', success: true, steps: demo.steps });
    expect(new Set(demoRecording.actions.map((a) => a.origin))).toEqual(new Set(['demo']));
  }, 180_000);
});
