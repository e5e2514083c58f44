import { describe, expect, it } from 'vitest';
import { configSchema } from '../../config/schema.js';
import { SimRobot } from '../../robot/sim/robot.js';
import { kindEpisode, kindEpisodes, nearMissClasses, type EpisodeKind, type KindEpisode } from './episode-kinds.js';
import { REST_STEPS, runSimEpisode } from './sim-data.js';

const config = configSchema.parse({});
const TASK = 'pick-place';

async function collect(kind: EpisodeKind, count: number, seed = 40): Promise<KindEpisode[]> {
  const out: KindEpisode[] = [];
  for await (const e of kindEpisodes({ config, task: TASK, kind, count, seed, width: 16, height: 12 })) out.push(e);
  return out;
}

/** Every episode: one true progress per frame, in [0, 1], its kind, its predicate at the last frame. */
function wellFormed(e: KindEpisode, kind: EpisodeKind): void {
  expect(e.kind).toBe(kind);
  expect(e.progress).toHaveLength(e.episode.frameCount);
  expect(e.locations).toHaveLength(e.episode.frameCount);
  for (const p of e.progress) expect(p >= 0 && p <= 1).toBe(true);
}

describe('pick-place episodes of every kind, with true progress per frame', () => {
  it('clean: the expert to success, progress 1 at the end', async () => {
    const [clean] = await collect('clean', 1);
    wellFormed(clean!, 'clean');
    expect(clean!.success).toBe(true);
    expect(clean!.progress[clean!.progress.length - 1]).toBe(1);
    expect(clean!.episode.annotated).toBe(true);
    // then the arm rests (REST_STEPS), done all along; the sub-tasks end before the rest
    expect(clean!.progress.slice(-REST_STEPS)).toEqual(Array(REST_STEPS).fill(1));
    expect(clean!.episode.segments.at(-1)!.endFrame).toBeLessThanOrEqual(clean!.episode.frameCount - 1 - REST_STEPS);
  });

  it('an expert episode rests after its last action only when asked, its true progress per frame', async () => {
    const robot = await SimRobot.create(config, { task: TASK, render: true, width: 16, height: 12 });
    try {
      const plain = await runSimEpisode(robot, 41, 0);
      const rested = await runSimEpisode(robot, 41, 0, { restSteps: 5 });
      expect(rested.episode.frameCount).toBe(plain.episode.frameCount + 5);
      expect(rested.progress.slice(0, plain.progress.length)).toEqual(plain.progress);
      expect(rested.episode.segments).toEqual(plain.episode.segments);
      expect(plain.success && rested.success).toBe(true);
      expect(rested.progress.slice(-5)).toEqual([1, 1, 1, 1, 1]);
    } finally {
      await robot.close();
    }
  });

  it('failed: the expert stops at each phase before the task is done, never a success', async () => {
    const failed = await collect('failed', 6);
    expect(failed.map((e) => e.variant)).toEqual([
      'stop at reach above the cube',
      'stop at grasp the cube',
      'stop at lift the cube',
      'stop at carry the cube over the bin',
      'stop at release the cube into the bin',
      // stopping at "move the hand away" leaves the cube in the bin: that try is dropped.
      'wander at reach above the cube',
    ]);
    for (const e of failed) {
      wellFormed(e, 'failed');
      expect(e.success || e.reachedSuccess).toBe(false);
      expect(Math.max(...e.progress)).toBeLessThan(1);
    }
    // Stopping later in the task leaves more done.
    expect(failed[4]!.progress.at(-1)!).toBeGreaterThan(failed[1]!.progress.at(-1)!);
  });

  it('near misses: one of each class, none satisfying the success predicate at any frame, the object beside the target scoring low', async () => {
    const near = await collect('near-miss', 5);
    expect(near.map((e) => e.variant)).toEqual(nearMissClasses(TASK));
    expect(nearMissClasses(TASK)).toEqual(['beside-target', 'released-over-rim', 'grasp-without-lift', 'held-over-target', 'closed-on-nothing']);
    const byClass = Object.fromEntries(near.map((e) => [e.variant, e]));
    for (const e of near) {
      wellFormed(e, 'near-miss');
      expect(e.success).toBe(false);
      expect(e.reachedSuccess).toBe(false);
    }
    expect(byClass['beside-target']!.progress.at(-1)!).toBeLessThan(0.3);
    expect(byClass['released-over-rim']!.progress.at(-1)!).toBeLessThan(0.3);
    expect(byClass['closed-on-nothing']!.progress.at(-1)!).toBeLessThan(0.3);
    // Never lifted: the progress of a held cube (0.45 and up) is never reached.
    expect(Math.max(...byClass['grasp-without-lift']!.progress)).toBeLessThan(0.45);
    expect(Math.max(...byClass['closed-on-nothing']!.progress)).toBeLessThan(0.45);
    // Held over the bin, never let go: most of the way, not done.
    expect(byClass['held-over-target']!.progress.at(-1)!).toBeGreaterThan(0.8);
  });

  it('tries a dropped near-miss class again with the next seed, so every class gets its share', async () => {
    // From seed 72000 some closed-on-nothing tries push the cube and are dropped.
    const near = await collect('near-miss', 10, 72000);
    expect(near.map((e) => e.variant)).toEqual([...nearMissClasses(TASK), ...nearMissClasses(TASK)]);
    expect(near.at(-1)!.seed - 72000).toBeGreaterThan(9);
  });

  it('regression: a clean episode forward to success, then back to an early frame, its progress mirrored', async () => {
    const [r] = await collect('regression', 1);
    wellFormed(r!, 'regression');
    expect(r!.reachedSuccess).toBe(true);
    expect(r!.success).toBe(false);
    const p = r!.progress;
    // Played 0 .. N-1, then N-2 down to the variant's frame: the turn is frame N-1.
    const back = Number(/^back to frame (\d+)$/.exec(r!.variant)![1]);
    const turn = (p.length + 1 + back) / 2 - 1;
    expect(Number.isInteger(turn)).toBe(true);
    expect(p[turn]).toBe(1);
    expect(p[back]!).toBeLessThan(1);
    expect(p.at(-1)!).toBeLessThan(0.5);
    // The back half replays the forward half in reverse, frame for frame.
    for (let k = 1; turn + k < p.length; k++) expect(p[turn + k]).toBe(p[turn - k]);
    expect(Array.from((await r!.episode.frame('front', p.length - 1)).rgb)).toEqual(Array.from((await r!.episode.frame('front', back)).rgb));
  });

  it('is reproducible: the same seed gives the same frames and progress', async () => {
    const [a] = await collect('near-miss', 1, 77);
    const [b] = await collect('near-miss', 1, 77);
    expect(b!.progress).toEqual(a!.progress);
    const last = a!.episode.frameCount - 1;
    expect(Array.from((await b!.episode.frame('front', last)).rgb)).toEqual(Array.from((await a!.episode.frame('front', last)).rgb));
  });

  it('drops a near-miss try that reaches success or does not happen as scripted', async () => {
    // push-cube, seed 42: the cube aimed 5-8 cm beside the target passes over it on the way.
    const push = await SimRobot.create(config, { task: 'push-cube', width: 16, height: 12 });
    try {
      expect(await kindEpisode(push, 'near-miss', 42, 2)).toBeUndefined();
      expect((await kindEpisode(push, 'near-miss', 41, 1))?.success).toBe(false);
    } finally {
      await push.close();
    }
    // pick-place, seed 54: the fingers closing beside the cube push it 4.6 cm: not "closed on nothing".
    const pick = await SimRobot.create(config, { task: TASK, width: 16, height: 12 });
    try {
      expect(await kindEpisode(pick, 'near-miss', 54, 14)).toBeUndefined();
      expect((await kindEpisode(pick, 'near-miss', 49, 9))?.variant).toBe('closed-on-nothing');
    } finally {
      await pick.close();
    }
  });
});
