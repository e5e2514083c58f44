/**
 * `dopamine rl` records every demo attempt and training episode as MCAP, in the layout `serve`
 * writes (launch/episode-recorder.ts): `<run-dir>/episodes/episode-<n>.mcap` for training episode
 * n and `<run-dir>/demos/episode-<attempt>.mcap` for the scripted expert's attempts, actions
 * tagged `policy` or `demo`. The policy's progress is scored while the next episode runs, so each
 * episode's file stays open until its scores are in: its progress messages carry the fused progress
 * of each state, the shaped reward of the step that reached it, and as hop the change in fused
 * progress over that step (the scorer's own hops are not kept); latency is not measured here (null).
 */
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import type { EpisodeWatcher, ScoredEpisode } from '../policy/episode.js';
import type { SuccessSource } from '../reward/shaping.js';
import type { ArmAction, Observation } from '../robot/types.js';
import { EpisodeRecorder } from './episode-recorder.js';
import type { EpisodeOutcome } from './run-loop.js';

export interface RlRecordingOptions {
  runDir: string;
  config: Config;
  instruction: string;
  /** Who judges a training episode's success (demos are judged by the simulator). */
  success: SuccessSource;
  log: Logger;
}

/** The folders a run's recordings go to. */
export function rlRecordingFolders(runDir: string): { episodes: string; demos: string } {
  return { episodes: join(runDir, 'episodes'), demos: join(runDir, 'demos') };
}

/** A watcher per episode, each writing its own file (the previous episode's may still await its scores). */
export function rlRecorder(options: RlRecordingOptions): (kind: 'demo' | 'episode', index: number, seed: number) => EpisodeWatcher {
  const folders = rlRecordingFolders(options.runDir);
  // The simulator names its cameras by role; the recording uses the configured camera names, as serve's does.
  const names = new Map(options.config.cameras.views.map((view) => [view.role, view.name]));
  const named = (observation: Observation): Observation => ({ ...observation, frames: observation.frames.map((f) => ({ ...f, camera: names.get(f.role) ?? f.camera })) });
  return (kind, index, seed) => {
    const recorder = new EpisodeRecorder({ folder: kind === 'demo' ? folders.demos : folders.episodes, config: options.config, instruction: options.instruction, log: options.log });
    const origin = kind === 'demo' ? 'demo' : 'policy';
    const startedAt = Date.now();
    let latest: Observation | undefined;
    let envSuccess = false;
    let taken = 0;
    return {
      begin(observation: Observation): void {
        latest = named(observation);
        recorder.beginEpisode(index, seed, latest);
      },
      step(step: number, proposed: ArmAction, applied: ArmAction, next: Observation, success: boolean | undefined): void {
        envSuccess ||= success === true;
        taken = step;
        const after = named(next);
        recorder.afterStep({ episode: index, step, observation: latest!, proposed, origin, applied, next: after, ...(success === undefined ? {} : { success }), timeLimit: false });
        latest = after;
      },
      async finish(scored: ScoredEpisode): Promise<void> {
        const endedAt = Date.now();
        for (let t = 0; t < scored.progress.length; t++) {
          const progress = scored.progress[t]!;
          recorder.progress({ episode: index, step: t, progress, hop: t === 0 ? 0 : progress - scored.progress[t - 1]!, reward: t === 0 ? 0 : scored.rewards[t - 1] ?? 0, latencyMs: Number.NaN });
        }
        const outcome: EpisodeOutcome = scored.end === 'success' ? 'success' : scored.end === 'stopped' ? 'stopped' : 'time-limit';
        recorder.endEpisode({
          episode: index, outcome, success: scored.success, judgedBy: scored.end === 'success' ? (kind === 'demo' ? 'env' : options.success) : 'none',
          steps: taken, durationS: (endedAt - startedAt) / 1000, finalProgress: scored.progress.at(-1) ?? null,
          shapedReturn: scored.rewards.reduce((a, b) => a + b, 0), interventionSteps: 0, envSuccess, startedAt, endedAt,
        });
        await recorder.close();
      },
    };
  };
}
