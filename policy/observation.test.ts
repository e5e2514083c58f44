import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../engine/files.js';
import { createGrmTinyStore, exportGrmTiny } from '../reward/grm-tiny/io.js';
import { GRM_TINY_CONFIG } from '../reward/grm-tiny/model.js';
import { loadConfig } from '../config/load.js';
import { SimRobot } from '../robot/sim/robot.js';
import { PRIVILEGED_STATE_SIZE, RobotEnvironment, SimEnvironment, actionToVector, vectorToAction } from './environment.js';
import { runEpisode } from './episode.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { featureObservations, framesToTensor, grmTinyFrozenEncoder, privilegedObservations, randomFrozenEncoder } from './observation.js';

const bounds = { maxStepM: 0.03, maxYawStepRad: 0.1, workspaceMin: [0.25, -0.3, 0.02] as [number, number, number], workspaceMax: [0.75, 0.3, 0.45] as [number, number, number] };

describe('policy observations', () => {
  it('PRIVILEGED object positions with a per-episode error: one fixed offset per episode, on the moved object only, of about the asked size', async () => {
    const exact = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds });
    const erring = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds, privilegedErrorM: 0.02 });
    const offsets: number[] = [];
    const step = { dx: 0.01, dy: -0.01, dz: -0.01, dyaw: 0.05, gripper: 0 };
    for (let seed = 1; seed <= 40; seed++) {
      const [a, b] = [(await exact.reset(seed)).privileged!, (await erring.reset(seed)).privileged!];
      expect(b.progress).toBe(a.progress);
      expect([...b.state.slice(2)]).toEqual([...a.state.slice(2)]); // height, the bin, the yaw: exact
      const offset = [b.state[0]! - a.state[0]!, b.state[1]! - a.state[1]!];
      const [a1, b1] = [(await exact.act(step)).next.privileged!, (await erring.act(step)).next.privileged!];
      expect(b1.state[0]! - a1.state[0]!).toBeCloseTo(offset[0]!, 4); // the same offset all episode
      expect(b1.state[1]! - a1.state[1]!).toBeCloseTo(offset[1]!, 4);
      offsets.push(...offset);
    }
    // decimetres: 2 cm is 0.2; 80 draws of N(0, 0.2^2) have a root mean square within [0.15, 0.25]
    const rms = Math.sqrt(offsets.reduce((s, v) => s + v * v, 0) / offsets.length);
    expect(rms).toBeGreaterThan(0.15);
    expect(rms).toBeLessThan(0.25);
    const again = (await erring.reset(40)).privileged!.state[0]! - (await exact.reset(40)).privileged!.state[0]!;
    expect(again).toBeCloseTo(offsets[78]!, 5); // the same seed, the same error
    expect(privilegedObservations(8, 2).label).toMatch(/PRIVILEGED object positions with a per-episode error of 2 cm/);
    await exact.close();
    await erring.close();
  });

  it('proprioception + frozen image features of the three rendered views; they change when the scene does', async () => {
    const env = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds, cameras: { width: 64, height: 48 } });
    const encoder = featureObservations(await randomFrozenEncoder({ width: 64, height: 48, views: 3, seed: 7, executionProvider: 'cpu' }));
    expect(encoder.size).toBe(5 + 3 * 64);
    expect(encoder.label).toMatch(/random-init frozen encoder/);
    const a = await encoder.encode(await env.reset(1));
    const again = await encoder.encode(await env.reset(1));
    const other = await encoder.encode(await env.reset(2)); // other object poses and colours
    expect(a).toHaveLength(encoder.size);
    expect(a.every(Number.isFinite)).toBe(true);
    expect([...again]).toEqual([...a]);
    const featureDistance = Math.hypot(...a.slice(5).map((v, i) => v - other[5 + i]!));
    expect(featureDistance).toBeGreaterThan(1e-3);
    expect([...a.slice(0, 5)]).toEqual([...other.slice(0, 5)]); // same arm pose at reset
    await env.close();
  });

  it('features from the frozen GRM-tiny encoder: pooled vector + spatial-softmax keypoints per view, deterministic, scene-dependent', async () => {
    const env = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds, cameras: { width: 128, height: 96 } });
    const frozen = await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1 });
    const encoder = featureObservations(frozen);
    expect(encoder.label).toMatch(/frozen GRM-tiny encoder/);
    expect(encoder.size).toBe(5 + 3 * frozen.featureSize);
    const a = await encoder.encode(await env.reset(1));
    const again = await encoder.encode(await env.reset(1));
    const other = await encoder.encode(await env.reset(2));
    expect(a.every(Number.isFinite)).toBe(true);
    expect([...again]).toEqual([...a]);
    expect(Math.hypot(...a.slice(5).map((v, i) => v - other[5 + i]!))).toBeGreaterThan(1e-3);
    // Keypoints are expected grid positions: inside [-1, 1].
    const dim = frozen.featureSize / 3;
    for (let v = 0; v < 3; v++) {
      const keypoints = a.slice(5 + v * frozen.featureSize + dim, 5 + (v + 1) * frozen.featureSize);
      expect(keypoints.every((x) => x >= -1 && x <= 1)).toBe(true);
    }
    await expect(frozen.encode([])).rejects.toThrow(/expected 3 camera views, got 0/);
    await env.close();
  });

  it('keypoint sharpness changes only the keypoints, pulling them off the image centre; a 4x4-patch GRM-tiny file reads out the same way', async () => {
    const env = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds, cameras: { width: 128, height: 96 } });
    const frames = (await env.reset(1)).observation.frames;
    const plain = await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1 });
    const sharp = await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1, keypointSharpness: 5 });
    const a = await plain.encode(frames);
    const b = await sharp.encode(frames);
    const dim = plain.featureSize / 3;
    let spreadPlain = 0;
    let spreadSharp = 0;
    for (let v = 0; v < 3; v++) {
      const base = v * plain.featureSize;
      expect([...b.slice(base, base + dim)]).toEqual([...a.slice(base, base + dim)]); // pooled vector untouched
      for (let i = base + dim; i < base + plain.featureSize; i++) {
        spreadPlain += Math.abs(a[i]!);
        spreadSharp += Math.abs(b[i]!);
      }
    }
    expect(spreadSharp).toBeGreaterThan(1.2 * spreadPlain);

    const file = join(mkdtempSync(join(tmpdir(), 'patch4-')), 'p4.onnx');
    const config = { ...GRM_TINY_CONFIG, patch: 4 };
    writeFileAtomic(file, exportGrmTiny(createGrmTinyStore(config, 1), config, 3));
    const small = await grmTinyFrozenEncoder(file, { views: 3, executionProvider: 'cpu', threads: 1 });
    expect(small.featureSize).toBe(plain.featureSize);
    const c = await small.encode(frames);
    expect(c.every((x) => Number.isFinite(x))).toBe(true);
    await env.close();
  });

  it('privileged observations and progress are labelled and only exist for tasks that define them', async () => {
    const env = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds });
    const start = await env.reset(3);
    expect(privilegedObservations(6).label).toMatch(/PRIVILEGED/);
    expect(await privilegedObservations(PRIVILEGED_STATE_SIZE).encode(start)).toHaveLength(5 + PRIVILEGED_STATE_SIZE);
    expect(start.privileged!.progress).toBeGreaterThanOrEqual(0);
    expect(start.privileged!.progress).toBeLessThan(0.35);
    await env.close();
    const drawer = await SimEnvironment.create({ task: 'open-drawer', physicsStepS: 0.002, controlHz: 10, bounds });
    expect(drawer.hasPrivileged).toBe(false);
    expect((await drawer.reset(1)).privileged).toBeUndefined();
    await drawer.close();
  });

  it('the episode manager drives any arm behind the Robot interface (here the SimRobot), images in, no privileged state', async () => {
    const robot = await SimRobot.create(loadConfig(undefined), { task: 'push-cube', width: 64, height: 48 });
    const env = new RobotEnvironment(robot, 'push-cube', 3);
    const encoder = featureObservations(await randomFrozenEncoder({ width: 64, height: 48, views: 3, seed: 7, executionProvider: 'cpu' }));
    const scorer = { label: 'constant', privileged: false, beginEpisode: () => async () => 0.5 };
    const episode = await runEpisode({ env, encoder, scorer, limits: { maxStepM: 0.03, maxYawStepRad: 0.1 }, seed: 4, policy: async () => Float32Array.of(1, 0, 0, 0, 0), success: 'env', successDelta: 0.05 });
    expect(episode.actions).toHaveLength(3);
    expect(episode.observations.map((o) => o.length)).toEqual([encoder.size, encoder.size, encoder.size, encoder.size]);
    expect(episode.observations[3]![0]! - episode.observations[0]![0]!).toBeGreaterThan(0.03); // the hand moved along +x
    expect(await episode.progress).toEqual([0.5, 0.5, 0.5, 0.5]);
    await env.close();
  });

  it('policy actions map to the step caps and back', () => {
    const limits = { maxStepM: 0.03, maxYawStepRad: 0.1 };
    const action = vectorToAction([1, -0.5, 2, -1, -1], limits);
    expect(action).toEqual({ dx: 0.03, dy: -0.015, dz: 0.03, dyaw: -0.1, gripper: 0 });
    expect([...actionToVector(action, limits)]).toEqual([1, -0.5, 1, -1, -0.5]);
    expect(actionToVector({ ...action, gripper: 1 }, limits)[4]).toBe(0.5);
    // The gripper is binary: closed where the output is positive.
    expect(vectorToAction([0, 0, 0, 0, 0.2], limits).gripper).toBe(1);
    expect(vectorToAction([0, 0, 0, 0, -0.2], limits).gripper).toBe(0);
  });

  it('image bytes become a [-1, 1] NCHW batch; views of different sizes are refused', () => {
    const frame = (w: number, value: number) => ({ role: 'front' as const, camera: 'c', width: w, height: 1, rgb: new Uint8Array(w * 3).fill(value), stampMs: 0 });
    const t = framesToTensor([frame(2, 255), frame(2, 0)]);
    expect([...t]).toEqual([1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1]);
    expect(() => framesToTensor([frame(2, 0), frame(3, 0)])).toThrow(/expected 2x1, got 3x1/);
  });
});

describe('PRIVILEGED pick-place progress (debugging potential)', () => {
  it('counts a cube released over the bin and falling in as one step from success, not as back to reaching', async () => {
    const env = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds });
    await env.reset(3);
    const bin = env.world.bodyPosition('bin');
    env.world.placeFreeBody('cube', [bin[0], bin[1], 0.3], 0);
    const open = { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 };
    const falling = await env.act(open);
    expect(env.world.bodyPosition('cube')[2]).toBeGreaterThan(0.05); // still above the walls
    expect(falling.success).toBe(false);
    expect(falling.next.privileged!.progress).toBe(0.95); // the old potential gave about 0.1-0.3 here
    let landed = falling;
    for (let t = 0; t < 20 && landed.success !== true; t++) landed = await env.act(open);
    expect(landed.success).toBe(true);
    expect(landed.next.privileged!.progress).toBe(1);
    await env.close();
  });
});
